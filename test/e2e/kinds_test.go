package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// TestGRPCAndTLSRoutes checks the other route kinds through the controller: their own
// finalizers, Accepted and Programmed status, the Lattice listener protocols, and cleanup.
func TestGRPCAndTLSRoutes(t *testing.T) {
	e := startEnv(t, "127.0.67.1")
	e.startController(t, harness.ControllerOptions{})
	ctx := context.Background()
	k := e.cluster.Client
	if err := e.cluster.Apply(ctx, harness.Manifest(t, "grpc-and-tls-routes.yaml", nil)); err != nil {
		t.Fatal(err)
	}
	type kindCase struct {
		obj       client.Object
		finalizer string
		status    func() []gwv1.RouteParentStatus
	}
	grpc, tls := &gwv1.GRPCRoute{ObjectMeta: objMeta("default", "greeter")}, &gwv1.TLSRoute{ObjectMeta: objMeta("default", "db")}
	tests := []kindCase{
		{grpc, kubernetes.FinalizerGRPCRoute, func() []gwv1.RouteParentStatus { return grpc.Status.Parents }},
		{tls, kubernetes.FinalizerTLSRoute, func() []gwv1.RouteParentStatus { return tls.Status.Parents }},
	}
	for _, tt := range tests {
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			if err := k.Get(ctx, client.ObjectKeyFromObject(tt.obj), tt.obj); err != nil {
				return false
			}
			conds := harness.ParentConditions(tt.status(), "kinds")
			return harness.IsTrue(conds, "Accepted", tt.obj.GetGeneration()) && harness.IsTrue(conds, "Programmed", tt.obj.GetGeneration()) &&
				slices.Contains(tt.obj.GetFinalizers(), tt.finalizer)
		}, func() string {
			return fmt.Sprintf("%T %s: finalizers %v, %s", tt.obj, tt.obj.GetName(), tt.obj.GetFinalizers(), harness.Describe(harness.ParentConditions(tt.status(), "kinds")))
		}))
	}
	protocols := map[string]string{}
	snap := e.lattice.Store().Snapshot()
	for _, l := range snap.Listeners {
		for _, s := range snap.Services {
			if s.ID == l.ServiceID {
				protocols[s.Name] = fmt.Sprintf("%s:%d", l.Protocol, l.Port)
			}
		}
	}
	t.Logf("Lattice listeners: %v", protocols)
	if protocols["greeter-default"] != "HTTPS:443" || protocols["db-default"] != "TLS_PASSTHROUGH:8443" {
		t.Errorf("listeners = %v, want greeter-default HTTPS:443 and db-default TLS_PASSTHROUGH:8443", protocols)
	}

	gw := &gwv1.Gateway{ObjectMeta: objMeta("default", "kinds")}
	e.deleteAll(t, grpc, tls, gw)
	e.waitGone(t, grpc, tls, gw)
	e.latticeEmpty(t)
}
