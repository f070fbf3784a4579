package readiness_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/readiness"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// TestGateListenerSetParent: a route attached to a lattice Gateway only through a ListenerSet
// gates its backends' pods; one through a ListenerSet of another class's Gateway, or naming a
// ListenerSet that does not exist, does not.
func TestGateListenerSetParent(t *testing.T) {
	ctx, c := start(t, &health{m: map[string]string{}})
	all := gwv1.NamespacesFromAll
	lattice := gateway("infra", "sn", "lattice")
	lattice.Spec.AllowedListeners = &gwv1.AllowedListeners{Namespaces: &gwv1.ListenerNamespaces{From: &all}}
	objects(ctx, t, c,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps", Labels: map[string]string{readiness.NamespaceLabel: "enabled"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "infra"}},
		&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "lattice"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultControllerName}},
		&gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}, Spec: gwv1.GatewayClassSpec{ControllerName: "example.com/other"}},
		lattice, gateway("apps", "other", "elsewhere"),
		listenerSet("apps", "ours", "infra", "sn"), listenerSet("apps", "theirs", "", "other"),
		service("apps", "web", "web"), service("apps", "foreign", "foreign"), service("apps", "dangling", "dangling"),
		listenerSetRoute("apps", "web", "ours", "web"), listenerSetRoute("apps", "foreign", "theirs", "foreign"),
		listenerSetRoute("apps", "dangling", "missing", "dangling"),
	)
	if web := newPod(ctx, t, c, "apps", "web-1", "web"); !readiness.Gated(web) {
		t.Errorf("pod behind a route on a lattice Gateway's ListenerSet has no gate: %+v", web.Spec.ReadinessGates)
	}
	for _, app := range []string{"foreign", "dangling"} {
		if p := newPod(ctx, t, c, "apps", app+"-1", app); readiness.Gated(p) {
			t.Errorf("pod %s got the gate", p.Name)
		}
	}
}

// listenerSet attaches one HTTP listener to Gateway gateway of namespace gatewayNS (the
// ListenerSet's own when empty).
func listenerSet(ns, name, gatewayNS, gateway string) *gwv1.ListenerSet {
	ls := &gwv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: gwv1.ListenerSetSpec{
		ParentRef: gwv1.ParentGatewayReference{Name: gwv1.ObjectName(gateway)},
		Listeners: []gwv1.ListenerEntry{{Name: "extra", Port: 8080, Protocol: gwv1.HTTPProtocolType}},
	}}
	if gatewayNS != "" {
		ls.Spec.ParentRef.Namespace = ptr(gwv1.Namespace(gatewayNS))
	}
	return ls
}

// listenerSetRoute is route with a single parentRef, to ListenerSet set.
func listenerSetRoute(ns, name, set, backend string) *gwv1.HTTPRoute {
	r := route(ns, name, set, backend)
	r.Spec.ParentRefs[0].Kind = ptr(gwv1.Kind("ListenerSet"))
	return r
}
