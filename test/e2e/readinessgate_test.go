package e2e

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/readiness"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

// gateController starts a controller replica serving the readiness-gate webhook that
// InstallReadinessWebhook registered, with the gate's re-check at 100 ms, and waits until the
// webhook answers (failurePolicy Fail refuses pods in labelled namespaces until then).
func (e *env) gateController(t *testing.T, name string, port int, certDir string) *harness.Controller {
	t.Helper()
	recheck := readiness.Recheck
	readiness.Recheck = 100 * time.Millisecond
	t.Cleanup(func() { readiness.Recheck = recheck })
	c := e.startController(t, harness.ControllerOptions{Name: name, WebhookPort: port, WebhookCertDir: certDir})
	harness.Eventually(t, time.Minute, func() error {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	})
	return c
}

// TestReadinessGateLifecycle: a pod gated while its route is not programmed yet gets its
// condition once it is; a pod of a Service no route uses gets no gate; a controller restart
// leaves the conditions of ready pods alone.
func TestReadinessGateLifecycle(t *testing.T) {
	e := startEnv(t, "127.0.74.1")
	port, certDir := harness.InstallReadinessWebhook(t, e.cluster.Config)
	first := e.gateController(t, "gate-first", port, certDir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	k := e.cluster.Client
	const ns = "shop"

	t.Run("pod gated before its route is programmed gets True once it is", func(t *testing.T) {
		// Every Lattice call fails: the controller sees the route but cannot program it.
		if err := e.lattice.SetFaults(api.Faults{ErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		e.applyClass(t)
		e.apply(t, fmt.Sprintf(rolloutNamespace, ns, readiness.NamespaceLabel+": enabled"))
		// A route status shows the controller's cache, which the webhook reads, holds the route.
		harness.Eventually(t, time.Minute, func() error {
			var r gwv1.HTTPRoute
			if err := k.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &r); err != nil {
				return err
			}
			if len(harness.ParentConditions(r.Status.Parents, "sn")) == 0 {
				return fmt.Errorf("route has no status yet")
			}
			if harness.IsTrue(harness.ParentConditions(r.Status.Parents, "sn"), "Programmed", r.Generation) {
				return fmt.Errorf("route Programmed although every Lattice call fails")
			}
			return nil
		})
		e.apply(t, fmt.Sprintf(rolloutDeployment, ns, workloads.StartupDelayEnv, "0s", preStopSleep, 1))
		pod := waitPod(t, ctx, k, ns, func(p *corev1.Pod) error {
			if gate := gateCondition(p); gate == nil || gate.Status != corev1.ConditionFalse {
				return fmt.Errorf("pod %s gated %v, gate condition %+v", p.Name, readiness.Gated(p), gate)
			}
			return nil
		})
		if !readiness.Gated(pod) || podReady(pod) {
			t.Fatalf("pod %s: gated %v, ready %v; want gated and not ready", pod.Name, readiness.Gated(pod), podReady(pod))
		}
		if err := e.lattice.SetFaults(api.Faults{}); err != nil {
			t.Fatal(err)
		}
		harness.RouteProgrammed(t, k, ns, "web", "sn", time.Minute)
		waitPod(t, ctx, k, ns, func(p *corev1.Pod) error {
			if gate := gateCondition(p); p.Name != pod.Name || gate == nil || gate.Status != corev1.ConditionTrue || !podReady(p) {
				return fmt.Errorf("pod %s: gate condition %+v, ready %v", p.Name, gate, podReady(p))
			}
			return nil
		})
	})

	t.Run("pod of a Service no route uses gets no gate", func(t *testing.T) {
		e.apply(t, fmt.Sprintf(unrelatedApp, ns))
		pod := &corev1.Pod{ObjectMeta: objMeta(ns, "other")}
		harness.Eventually(t, time.Minute, func() error {
			if err := k.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
				return err
			}
			if !podReady(pod) {
				return fmt.Errorf("pod %s not ready: %+v", pod.Name, pod.Status.Conditions)
			}
			return nil
		})
		if readiness.Gated(pod) {
			t.Errorf("pod of Service other, which no route uses, got the gate: %+v", pod.Spec.ReadinessGates)
		}
	})

	// Last: the second replica stops with this subtest.
	t.Run("controller restart keeps the conditions of ready pods", func(t *testing.T) {
		scaleTo(t, ctx, k, ns, 2)
		waitReady(t, ctx, k, ns, 2)
		flips := watchGateFlips(t, e, ns)
		first.Stop(t)
		e.gateController(t, "gate-second", port, certDir)
		// A pod created now is gated by the new replica and turns Ready through it: by then the
		// new replica has synced and looked at every gated pod.
		scaleTo(t, ctx, k, ns, 3)
		waitReady(t, ctx, k, ns, 3)
		if f := flips(); len(f) > 0 {
			t.Errorf("gate conditions changed across the restart: %v", f)
		}
	})
}

// unrelatedApp is a pod and its Service in a namespace labelled for the webhook, that no route
// or ServiceExport uses.
const unrelatedApp = `
apiVersion: v1
kind: Service
metadata: {name: other, namespace: %[1]s}
spec:
  selector: {app: other}
  ports: [{protocol: TCP, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: %[1]s, labels: {app: other}}
spec:
  containers: [{name: echo, image: nginx, ports: [{containerPort: 8080}]}]
`

// watchNamespacePods runs h for the pods of namespace ns, from a synced informer, until t ends.
func (e *env) watchNamespacePods(t *testing.T, ns string, h cache.ResourceEventHandlerFuncs) {
	t.Helper()
	factory := informers.NewSharedInformerFactoryWithOptions(e.cluster.Clientset, 0, informers.WithNamespace(ns))
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(h); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	t.Cleanup(func() {
		close(stop)
		factory.Shutdown()
	})
}

func gateCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == readiness.GateType {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func scaleTo(t *testing.T, ctx context.Context, k client.Client, ns string, n int) {
	t.Helper()
	if err := k.Patch(ctx, &appsv1.Deployment{ObjectMeta: objMeta(ns, "web")},
		client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n))); err != nil {
		t.Fatal(err)
	}
}

// waitPod waits until the namespace has exactly one pod of Deployment web and cond holds for it.
func waitPod(t *testing.T, ctx context.Context, k client.Client, ns string, cond func(*corev1.Pod) error) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	harness.Eventually(t, time.Minute, func() error {
		var list corev1.PodList
		if err := k.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return err
		}
		if len(list.Items) != 1 {
			return fmt.Errorf("%d pods, want 1", len(list.Items))
		}
		pod = &list.Items[0]
		return cond(pod)
	})
	return pod
}

func waitReady(t *testing.T, ctx context.Context, k client.Client, ns string, n int) {
	t.Helper()
	harness.Eventually(t, time.Minute, func() error {
		var list corev1.PodList
		if err := k.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return err
		}
		ready := 0
		for i := range list.Items {
			p := &list.Items[i]
			if !readiness.Gated(p) {
				return fmt.Errorf("pod %s has no gate", p.Name)
			}
			if g := gateCondition(p); podReady(p) && g != nil && g.Status == corev1.ConditionTrue {
				ready++
			}
		}
		if ready != n || len(list.Items) != n {
			return fmt.Errorf("%d of %d pods ready with the gate True, want %d", ready, len(list.Items), n)
		}
		return nil
	})
}

// watchGateFlips records every change of the gate condition of the namespace's pods that were
// True when the watch started; the result lists them.
func watchGateFlips(t *testing.T, e *env, ns string) func() []string {
	var mu sync.Mutex
	var flips []string
	e.watchNamespacePods(t, ns, cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			was, is := gateCondition(oldObj.(*corev1.Pod)), gateCondition(newObj.(*corev1.Pod))
			if was == nil || was.Status != corev1.ConditionTrue || (is != nil && is.Status == corev1.ConditionTrue) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			flips = append(flips, fmt.Sprintf("%s: %+v -> %+v", newObj.(*corev1.Pod).Name, *was, is))
		},
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return flips
	}
}
