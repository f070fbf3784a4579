package pipeline

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

const ours = gwv1.GatewayController(translate.DefaultControllerName)

func TestOwnership(t *testing.T) {
	ns := func(s string) *gwv1.Namespace { n := gwv1.Namespace(s); return &n }
	in := &translate.Input{
		GatewayClasses: []gwv1.GatewayClass{
			{ObjectMeta: metav1.ObjectMeta{Name: "amazon-vpc-lattice"}, Spec: gwv1.GatewayClassSpec{ControllerName: ours}},
			{ObjectMeta: metav1.ObjectMeta{Name: "istio"}, Spec: gwv1.GatewayClassSpec{ControllerName: "istio.io/gateway-controller"}},
		},
		Gateways: []gwv1.Gateway{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "my-hotel"}, Spec: gwv1.GatewaySpec{GatewayClassName: "amazon-vpc-lattice"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "mesh"}, Spec: gwv1.GatewaySpec{GatewayClassName: "istio"}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "orphan"}, Spec: gwv1.GatewaySpec{GatewayClassName: "deleted-class"}},
		},
		ListenerSets: []gwv1.ListenerSet{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "extra"}, Spec: gwv1.ListenerSetSpec{ParentRef: gwv1.ParentGatewayReference{Name: "my-hotel", Namespace: ns("infra")}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "infra", Name: "mesh-extra"}, Spec: gwv1.ListenerSetSpec{ParentRef: gwv1.ParentGatewayReference{Name: "mesh"}}},
		},
	}
	own := newOwnership(in, string(ours))
	group := func(s string) *gwv1.Group { g := gwv1.Group(s); return &g }
	kind := func(s string) *gwv1.Kind { k := gwv1.Kind(s); return &k }
	tests := []struct {
		name    string
		routeNS string
		parents []gwv1.ParentReference
		want    bool
	}{
		{"our gateway in the route's namespace", "infra", []gwv1.ParentReference{{Name: "my-hotel"}}, true},
		{"our gateway in another namespace", "apps", []gwv1.ParentReference{{Name: "my-hotel", Namespace: ns("infra")}}, true},
		{"namespace defaults to the route's", "apps", []gwv1.ParentReference{{Name: "my-hotel"}}, false},
		{"another controller's gateway", "infra", []gwv1.ParentReference{{Name: "mesh"}}, false},
		{"gateway of a vanished class", "infra", []gwv1.ParentReference{{Name: "orphan"}}, false},
		{"one of several parents", "infra", []gwv1.ParentReference{{Name: "mesh"}, {Name: "my-hotel"}}, true},
		{"a Service parent (mesh) is not a gateway", "infra", []gwv1.ParentReference{{Name: "my-hotel", Group: group(""), Kind: kind("Service")}}, false},
		{"a ListenerSet of our gateway", "apps", []gwv1.ParentReference{{Name: "extra", Kind: kind("ListenerSet")}}, true},
		{"a ListenerSet of another controller's gateway", "infra", []gwv1.ParentReference{{Name: "mesh-extra", Kind: kind("ListenerSet")}}, false},
		{"a Gateway parentRef does not name a ListenerSet", "apps", []gwv1.ParentReference{{Name: "extra"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: tt.routeNS, Name: "r"},
				Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: tt.parents}}}
			if got := own.owns(r); got != tt.want {
				t.Errorf("ownsRoute = %v, want %v", got, tt.want)
			}
		})
	}
}
