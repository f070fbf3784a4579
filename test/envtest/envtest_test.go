// Package envtest_test proves the integration-test harness: a kube-apiserver built from source,
// with the Gateway API CRDs, accepts and defaults Gateway API objects.
package envtest_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
)

func TestGatewayAPIObjectsRoundTrip(t *testing.T) {
	cfg := testenv.Start(t)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := gwv1.Install(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	gc := &gwv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: "amazon-vpc-lattice"},
		Spec:       gwv1.GatewayClassSpec{ControllerName: "application-networking.k8s.aws/gateway-api-controller"},
	}
	gw := &gwv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: "my-hotel", Namespace: "default"},
		Spec: gwv1.GatewaySpec{
			GatewayClassName: "amazon-vpc-lattice",
			Listeners:        []gwv1.Listener{{Name: "http", Protocol: gwv1.HTTPProtocolType, Port: 80}},
		},
	}
	path := "/parking"
	route := &gwv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: "rates", Namespace: "default"},
		Spec: gwv1.HTTPRouteSpec{
			CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "my-hotel"}}},
			Rules: []gwv1.HTTPRouteRule{{
				Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Value: &path}}},
				BackendRefs: []gwv1.HTTPBackendRef{{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: "parking", Port: new(gwv1.PortNumber(8090))}}}},
			}},
		},
	}
	for _, obj := range []client.Object{gc, gw, route} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}

	var gotGW gwv1.Gateway
	if err := c.Get(ctx, client.ObjectKeyFromObject(gw), &gotGW); err != nil {
		t.Fatal(err)
	}
	if from := gotGW.Spec.Listeners[0].AllowedRoutes.Namespaces.From; from == nil || *from != gwv1.NamespacesFromSame {
		t.Errorf("apiserver did not default allowedRoutes.namespaces.from to Same: %v", from)
	}
	if len(gotGW.Status.Conditions) == 0 || gotGW.Status.Conditions[0].Reason != "Pending" {
		t.Errorf("apiserver did not default Gateway status to Pending: %+v", gotGW.Status.Conditions)
	}
	var gotRoute gwv1.HTTPRoute
	if err := c.Get(ctx, client.ObjectKeyFromObject(route), &gotRoute); err != nil {
		t.Fatal(err)
	}
	if pm := gotRoute.Spec.Rules[0].Matches[0].Path; pm.Type == nil || *pm.Type != gwv1.PathMatchPathPrefix {
		t.Errorf("apiserver did not default the path match type to PathPrefix: %+v", pm)
	}

	// CEL validation comes from the real server, not a fake client.
	bad := route.DeepCopy()
	bad.ResourceVersion = ""
	bad.Name = "invalid"
	bad.Spec.Rules[0].Matches[0].Path.Value = new("not-absolute")
	if err := c.Create(ctx, bad); err == nil {
		t.Error("apiserver accepted a relative path match; CEL validation is not running")
	}
}
