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
)

const otherKinds = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: amazon-vpc-lattice
spec:
  controllerName: application-networking.k8s.aws/gateway-api-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: kinds
spec:
  gatewayClassName: amazon-vpc-lattice
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    tls:
      options:
        application-networking.k8s.aws/certificate-arn: arn:aws:acm:us-west-2:123456789012:certificate/0e2e
  - name: tls
    port: 8443
    protocol: TLS
    tls:
      mode: Passthrough
---
apiVersion: v1
kind: Service
metadata:
  name: greeter
spec:
  ports:
  - name: grpc
    port: 50051
---
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  ports:
  - name: tls
    port: 5432
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: greeter
spec:
  parentRefs:
  - name: kinds
    sectionName: https
  hostnames:
  - greeter.example.com
  rules:
  - matches:
    - method:
        service: helloworld.Greeter
    backendRefs:
    - name: greeter
      port: 50051
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata:
  name: db
spec:
  parentRefs:
  - name: kinds
    sectionName: tls
  hostnames:
  - db.example.com
  rules:
  - backendRefs:
    - name: db
      port: 5432
`

// TestGRPCAndTLSRoutes checks the other route kinds through the controller: their own
// finalizers, Accepted and Programmed status, the Lattice listener protocols, and cleanup.
func TestGRPCAndTLSRoutes(t *testing.T) {
	e := startEnv(t, "127.0.67.1")
	e.startController(t, controllerOpts{})
	ctx := context.Background()
	k := e.cluster.Client
	if err := e.cluster.Apply(ctx, otherKinds); err != nil {
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
		eventually(t, time.Minute, func() string {
			return fmt.Sprintf("%T %s: finalizers %v, %s", tt.obj, tt.obj.GetName(), tt.obj.GetFinalizers(), describeConds(parentConds(tt.status(), "kinds")))
		}, func() bool {
			if err := k.Get(ctx, client.ObjectKeyFromObject(tt.obj), tt.obj); err != nil {
				return false
			}
			conds := parentConds(tt.status(), "kinds")
			return isTrue(conds, "Accepted", tt.obj.GetGeneration()) && isTrue(conds, "Programmed", tt.obj.GetGeneration()) &&
				slices.Contains(tt.obj.GetFinalizers(), tt.finalizer)
		})
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
