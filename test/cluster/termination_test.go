package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
)

func TestShutdownTime(t *testing.T) {
	secs := func(n int64) *int64 { return &n }
	exec := func(cmd ...string) *corev1.Lifecycle {
		return &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}}
	}
	for _, tc := range []struct {
		name       string
		lifecycles []*corev1.Lifecycle
		grace      *int64
		deletion   *int64
		want       time.Duration
	}{
		{name: "no hook", want: 0},
		{name: "sleep action", lifecycles: []*corev1.Lifecycle{{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}}, want: 5 * time.Second},
		{name: "exec sleep", lifecycles: []*corev1.Lifecycle{exec("sleep", "7")}, want: 7 * time.Second},
		{name: "exec /bin/sleep with unit", lifecycles: []*corev1.Lifecycle{exec("/bin/sleep", "1.5s")}, want: 1500 * time.Millisecond},
		{name: "shell script", lifecycles: []*corev1.Lifecycle{exec("/bin/sh", "-c", "echo bye; sleep 3 && true")}, want: 3 * time.Second},
		{name: "minutes", lifecycles: []*corev1.Lifecycle{exec("sh", "-c", "sleep 1m")}, grace: secs(120), want: time.Minute},
		{name: "not a sleep", lifecycles: []*corev1.Lifecycle{exec("nginx", "-s", "quit")}, want: 0},
		{name: "bad operand", lifecycles: []*corev1.Lifecycle{exec("sleep", "forever")}, want: 0},
		{name: "http hook", lifecycles: []*corev1.Lifecycle{{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/quit"}}}}, want: 0},
		{name: "longest container wins", lifecycles: []*corev1.Lifecycle{exec("sleep", "2"), nil, exec("sleep", "4")}, want: 4 * time.Second},
		{name: "default grace caps", lifecycles: []*corev1.Lifecycle{exec("sleep", "3600")}, want: 30 * time.Second},
		{name: "pod grace caps", lifecycles: []*corev1.Lifecycle{exec("sleep", "10")}, grace: secs(2), want: 2 * time.Second},
		{name: "delete option caps", lifecycles: []*corev1.Lifecycle{exec("sleep", "10")}, grace: secs(60), deletion: secs(1), want: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionGracePeriodSeconds: tc.deletion},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: tc.grace}}
			for i, l := range tc.lifecycles {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: fmt.Sprint("c", i), Lifecycle: l})
			}
			if got := shutdownTime(pod); got != tc.want {
				t.Errorf("shutdownTime = %s, want %s", got, tc.want)
			}
		})
	}
}

const rollingApp = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: hotel
spec:
  replicas: 2
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations: {version: "1"}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
      - name: web
        image: public.ecr.aws/x2j8p8w7/http-server:latest
        lifecycle:
          preStop:
            sleep: {seconds: 3}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: hotel
spec:
  selector: {app: web}
  ports:
  - {protocol: TCP, port: 80, targetPort: 8090}
`

// testRollingUpdate: a rolling update (maxSurge 1, maxUnavailable 0) never leaves fewer than
// the wanted number of ready pods, and every old pod, once terminating, stays an endpoint marked
// terminating and keeps answering until its preStop sleep ends; then it is removed and its server
// closed.
func testRollingUpdate(t *testing.T, ctx context.Context, c *Cluster, dial dataplane.DialFunc) {
	if err := c.Apply(ctx, rollingApp); err != nil {
		t.Fatal(err)
	}
	waitSlice(t, ctx, c, "hotel", "web", 2)
	old := readyPods(t, ctx, c, "hotel", "app=web")
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "hotel", Name: "web"}}
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"template":{"metadata":{"annotations":{"version":"2"}}}}}`))
	if err := c.Client.Patch(ctx, d, patch); err != nil {
		t.Fatal(err)
	}
	seenTerminating := map[string]bool{}
	for {
		var pods corev1.PodList
		if err := c.Client.List(ctx, &pods, client.InNamespace("hotel"), client.MatchingLabels{"app": "web"}); err != nil {
			t.Fatal(err)
		}
		ready, oldLeft := 0, 0
		for _, p := range pods.Items {
			if !slices.Contains(old, p.Name) {
				if p.DeletionTimestamp == nil && condition(&p, corev1.PodReady) == corev1.ConditionTrue {
					ready++
				}
				continue
			}
			oldLeft++
			if p.DeletionTimestamp == nil {
				ready++
				continue
			}
			if !seenTerminating[p.Name] {
				seenTerminating[p.Name] = true
				// The sleep runs for 3 s: the pod answers and is a terminating endpoint meanwhile.
				if got := SendRequests(1, "http://"+p.Status.PodIP+":8090/", "", dial); got[p.Name] != 1 {
					t.Errorf("terminating pod %s in its preStop sleep answered %v", p.Name, got)
				}
				assertTerminatingEndpoint(t, ctx, c, p.Status.PodIP)
			}
		}
		if ready < 2 {
			t.Fatalf("%d ready pods during a rollout with maxUnavailable 0: %+v", ready, pods.Items)
		}
		if oldLeft == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("old pods still there: %v", oldLeft)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if len(seenTerminating) != 2 {
		t.Errorf("saw %v terminating, want both old pods %v", seenTerminating, old)
	}
	waitSlice(t, ctx, c, "hotel", "web", 2)
	// Gone at once (grace 0 skips the sleep), so that the namespace deletion that follows does
	// not wait for a grace period.
	if err := c.Client.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace("hotel"), client.MatchingLabels{"app": "web"}, client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
}

// assertTerminatingEndpoint checks that the EndpointSlice lists ip as terminating and serving
// (the pod still Ready), which the controller takes as "deregister now".
func assertTerminatingEndpoint(t *testing.T, ctx context.Context, c *Cluster, ip string) {
	t.Helper()
	var last []discoveryv1.Endpoint
	for {
		var list discoveryv1.EndpointSliceList
		if err := c.Client.List(ctx, &list, client.InNamespace("hotel"), client.MatchingLabels{discoveryv1.LabelServiceName: "web"}); err != nil {
			t.Fatal(err)
		}
		last = nil
		for _, s := range list.Items {
			for _, ep := range s.Endpoints {
				last = append(last, ep)
				cond := ep.Conditions
				if slices.Contains(ep.Addresses, ip) && cond.Terminating != nil && *cond.Terminating &&
					cond.Serving != nil && *cond.Serving && cond.Ready != nil && !*cond.Ready {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no terminating, serving endpoint %s: %+v", ip, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// testGraceCapsPreStop: a preStop sleep longer than the grace period is cut short.
func testGraceCapsPreStop(t *testing.T, ctx context.Context, c *Cluster) {
	grace := int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sleepy", Namespace: "hotel"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "web", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sleep", "3600"}}}}}},
		},
	}
	if err := c.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if err := WaitFor(ctx, c.Client, pod, func(p *corev1.Pod) bool { return condition(p, corev1.PodReady) == corev1.ConditionTrue }); err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(PodAddr(netip.MustParseAddr(pod.Status.PodIP)), 8080)
	if err := c.Client.Delete(ctx, pod); err != nil {
		t.Fatal(err)
	}
	// Within the test's deadline, far less than the hour the hook asks for.
	for {
		err := c.Client.Get(ctx, client.ObjectKeyFromObject(pod), &corev1.Pod{})
		if apierrors.IsNotFound(err) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("pod with grace 1 s and a 1 h preStop sleep still there: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitClosed(t, ctx, addr)
}
