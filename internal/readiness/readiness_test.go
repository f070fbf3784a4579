package readiness_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/internal/readiness"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// health stands in for Lattice's ListTargets: target IP -> status.
type health struct {
	mu sync.Mutex
	m  map[string]string
}

func (h *health) set(ip, status string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m[ip] = status
}

func (h *health) TargetStatuses(_ context.Context, namespace, name string) (map[model.Target]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[model.Target]string{}
	if namespace == "apps" && name == "web" {
		for ip, s := range h.m {
			out[model.Target{IP: ip, Port: 8080}] = s
		}
	}
	return out, nil
}

// start runs a real kube-apiserver with the webhook installed and a manager serving it and the
// gate controller with health; it returns a client of the apiserver.
func start(t *testing.T, h readiness.TargetHealth) (context.Context, client.Client) {
	t.Helper()
	var wh *envtest.WebhookInstallOptions
	cfg := testenv.StartWith(t, func(env *envtest.Environment) {
		env.WebhookInstallOptions.MutatingWebhooks = []*admissionv1.MutatingWebhookConfiguration{harness.ReadinessWebhook()}
		wh = &env.WebhookInstallOptions
	})
	scheme, err := kubernetes.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: scheme, Logger: logr.Discard(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          webhook.NewServer(webhook.Options{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir}),
	})
	if err != nil {
		t.Fatal(err)
	}
	readiness.Recheck = 200 * time.Millisecond
	if err := readiness.Setup(mgr, testenv.UniqueControllerName(strings.ToLower(t.Name())), h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, c
}

// objects creates objs in order.
func objects(ctx context.Context, t *testing.T, c client.Client, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
}

func service(ns, name, app string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Port: 80}}}}
}

func gateway(ns, name, class string) *gwv1.Gateway {
	return &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: gwv1.GatewaySpec{GatewayClassName: gwv1.ObjectName(class),
		Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}}}
}

// latticeApp creates namespace apps, labelled for the webhook, with Service web behind HTTPRoute
// web on a Gateway of the lattice class.
func latticeApp(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	objects(ctx, t, c,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps", Labels: map[string]string{readiness.NamespaceLabel: "enabled"}}},
		&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "lattice"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultControllerName}},
		gateway("apps", "sn", "lattice"), service("apps", "web", "web"), route("apps", "web", "sn", "web"))
}

// newPod creates a pod, retrying while the webhook server is not listening yet (failurePolicy
// Fail rejects pods until then).
func newPod(ctx context.Context, t *testing.T, c client.Client, ns, name, app string) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := c.Create(ctx, p)
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("create pod %s/%s: %v", ns, name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// endpoint gives pod the IP and makes it a not-ready endpoint of Service web, as the kubelet and
// the EndpointSlice controller would.
func endpoint(ctx context.Context, t *testing.T, c client.Client, pod *corev1.Pod, ip string) {
	t.Helper()
	pod.Status.PodIP, pod.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	notReady := false
	objects(ctx, t, c, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: pod.Namespace, Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady},
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name}}},
	})
}

// TestGate: on a real kube-apiserver, only pods behind a Service that a lattice route uses get
// the gate, in labelled namespaces; a gated pod's condition follows its target's health.
func TestGate(t *testing.T) {
	h := &health{m: map[string]string{}}
	ctx, c := start(t, h)
	latticeApp(ctx, t, c)
	objects(ctx, t, c,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "plain"}},
		&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}, Spec: gwv1.GatewayClassSpec{ControllerName: "example.com/other"}},
		gateway("apps", "other", "elsewhere"), gateway("plain", "sn", "lattice"),
		service("apps", "unrelated", "unrelated"), service("apps", "foreign", "foreign"), service("plain", "web", "web"),
		route("apps", "foreign", "other", "foreign"), route("plain", "web", "sn", "web"),
	)
	web := newPod(ctx, t, c, "apps", "web-1", "web")
	for _, p := range []*corev1.Pod{newPod(ctx, t, c, "apps", "unrelated-1", "unrelated"), newPod(ctx, t, c, "apps", "foreign-1", "foreign"),
		newPod(ctx, t, c, "plain", "web-1", "web")} {
		if readiness.Gated(p) {
			t.Errorf("pod %s/%s got the gate", p.Namespace, p.Name)
		}
	}
	if !readiness.Gated(web) {
		t.Fatalf("pod behind a lattice route has no gate: %+v", web.Spec.ReadinessGates)
	}
	// The pod becomes an endpoint of its Service; Lattice is still checking it.
	h.set("10.244.0.7", "INITIAL")
	endpoint(ctx, t, c, web, "10.244.0.7")
	key := types.NamespacedName{Namespace: "apps", Name: "web-1"}
	waitCondition(t, c, key, corev1.ConditionFalse, "INITIAL")
	h.set("10.244.0.7", "HEALTHY")
	waitCondition(t, c, key, corev1.ConditionTrue, "TargetHealthy")
}

func route(ns, name, gateway, backend string) *gwv1.HTTPRoute {
	return &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: gwv1.HTTPRouteSpec{
		CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: gwv1.ObjectName(gateway)}}},
		Rules: []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{
			BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(backend), Port: ptr(gwv1.PortNumber(80))}}}}}},
	}}
}

func ptr[T any](v T) *T { return &v }

func waitCondition(t *testing.T, c client.Client, key types.NamespacedName, status corev1.ConditionStatus, reason string) {
	t.Helper()
	var last []corev1.PodCondition
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var p corev1.Pod
		if err := c.Get(context.Background(), key, &p); err != nil {
			t.Fatal(err)
		}
		last = p.Status.Conditions
		for _, cond := range p.Status.Conditions {
			if cond.Type == readiness.GateType && cond.Status == status && cond.Reason == reason {
				return
			}
		}
	}
	t.Fatalf("pod %s: gate condition never %s/%s; conditions %+v", key, status, reason, last)
}
