package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
)

// invalidRoutes are routes with one problem each, next to the walkthrough's valid ones.
const invalidRoutes = `
apiVersion: v1
kind: Namespace
metadata:
  name: team
---
apiVersion: v1
kind: Service
metadata:
  name: billing
  namespace: team
spec:
  ports:
  - port: 8090
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: regex-path
spec:
  parentRefs:
  - name: my-hotel
  rules:
  - matches:
    - path:
        type: RegularExpression
        value: /park.*
    backendRefs:
    - name: parking
      port: 8090
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: missing-backend
spec:
  parentRefs:
  - name: my-hotel
  rules:
  - backendRefs:
    - name: parking
      port: 8090
    - name: does-not-exist
      port: 8090
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: cross-namespace
spec:
  parentRefs:
  - name: my-hotel
  rules:
  - backendRefs:
    - name: billing
      namespace: team
      port: 8090
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: other-namespace
  namespace: team
spec:
  parentRefs:
  - name: my-hotel
    namespace: default
  rules:
  - backendRefs:
    - name: billing
      port: 8090
`

const referenceGrant = `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: default-routes-to-billing
  namespace: team
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    namespace: default
  to:
  - group: ""
    kind: Service
`

// TestInvalidInputs checks that each broken route gets the condition the Gateway API spec asks
// for, while the valid routes keep serving traffic.
func TestInvalidInputs(t *testing.T) {
	e := startEnv(t, "127.0.62.1")
	e.startController(t, controllerOpts{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Another cluster already owns a Lattice service named as the rates route's would be: a
	// Lattice-side refusal that must reach the route's status, not only the logs.
	other := "210987654321/other-cluster/vpc-0other"
	lc := e.latticeClient()
	if _, err := lc.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("rates-default"),
		Tags: map[string]string{"application-networking.k8s.aws/ManagedBy": other}}); err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.Apply(ctx, invalidRoutes); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ns, name          string
		condType, reason  string
		status            metav1.ConditionStatus
		programmed        bool
		hasLatticeService bool
	}{
		{"default", "regex-path", "Accepted", "UnsupportedValue", metav1.ConditionFalse, false, false},
		{"default", "missing-backend", "ResolvedRefs", "BackendNotFound", metav1.ConditionFalse, true, true},
		{"default", "cross-namespace", "ResolvedRefs", "RefNotPermitted", metav1.ConditionFalse, true, true},
		{"team", "other-namespace", "Accepted", "NotAllowedByListeners", metav1.ConditionFalse, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.routeCondition(t, tt.ns, tt.name, tt.condType, tt.status, tt.reason)
			c := condition(parentConds(r.Status.Parents, "my-hotel"), tt.condType)
			t.Logf("%s/%s: %s=%s %s: %s", tt.ns, tt.name, c.Type, c.Status, c.Reason, c.Message)
			if got := isTrue(parentConds(r.Status.Parents, "my-hotel"), "Programmed", r.Generation); got != tt.programmed {
				t.Errorf("Programmed = %v, want %v: %s", got, tt.programmed, describeConds(parentConds(r.Status.Parents, "my-hotel")))
			}
			if got := r.Annotations[status.AnnotationDomainName] != ""; got != tt.hasLatticeService {
				t.Errorf("has Lattice DNS annotation = %v, want %v", got, tt.hasLatticeService)
			}
		})
	}

	t.Run("lattice ownership conflict", func(t *testing.T) {
		r := e.routeCondition(t, "default", "rates", "Programmed", metav1.ConditionFalse, "Invalid")
		c := condition(parentConds(r.Status.Parents, "my-hotel"), "Programmed")
		t.Logf("default/rates: Programmed=%s %s: %s", c.Status, c.Reason, c.Message)
		if !strings.Contains(c.Message, "owned by "+other) {
			t.Errorf("Programmed message %q does not name the owner %s", c.Message, other)
		}
		if !e.hasEvent(t, "default", "rates", "FailedDeployModel") {
			t.Error("no FailedDeployModel event (upstream's reason) for rates")
		}
	})

	// The valid routes are unaffected.
	inventory := e.routeProgrammed(t, "default", "inventory", "my-hotel", time.Minute)

	t.Run("events carry upstream's reasons", func(t *testing.T) {
		for _, want := range []struct{ ns, name, reason string }{
			{"default", "inventory", "DeploySucceed"},
			{"team", "other-namespace", "FailedBuildModel"},
			{"default", "rates", "FailedDeployModel"},
		} {
			if !e.hasEvent(t, want.ns, want.name, want.reason) {
				t.Errorf("no %s event for %s/%s", want.reason, want.ns, want.name)
			}
		}
	})
	dnsName := inventory.Annotations[status.AnnotationDomainName]
	ips, err := cluster.ResolveDNS(dnsName, e.dp.DNSAddr())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ips[0].String() + ":" + strconv.Itoa(80+listenerPortOffset) + "/"
	eventually(t, time.Minute, func() string { return "inventory not answering" }, func() bool {
		got := cluster.Apps(cluster.SendRequests(20, url, dnsName, cluster.PodDialer(t)))
		return got["inventory-ver1"]+got["inventory-ver2"] == 20
	})

	// A ReferenceGrant resolves the cross-namespace reference without touching the route.
	if err := e.cluster.Apply(ctx, referenceGrant); err != nil {
		t.Fatal(err)
	}
	e.routeCondition(t, "default", "cross-namespace", "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
}

// routeCondition waits until our parent status for my-hotel has the condition.
func (e *env) routeCondition(t *testing.T, ns, name, typ string, status metav1.ConditionStatus, reason string) *gwv1.HTTPRoute {
	t.Helper()
	r := &gwv1.HTTPRoute{}
	eventually(t, time.Minute, func() string {
		return fmt.Sprintf("%s/%s: want %s=%s/%s, have %s", ns, name, typ, status, reason, describeConds(parentConds(r.Status.Parents, "my-hotel")))
	}, func() bool {
		if err := e.cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			return false
		}
		c := condition(parentConds(r.Status.Parents, "my-hotel"), typ)
		return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == r.Generation
	})
	return r
}
