package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// TestInvalidInputs checks that each broken route gets the condition the Gateway API spec asks
// for, while the valid routes keep serving traffic.
func TestInvalidInputs(t *testing.T) {
	e := startEnv(t, "127.0.62.1")
	e.startController(t, harness.ControllerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Another cluster already owns a Lattice service named as the rates route's would be: a
	// Lattice-side refusal that must reach the route's status, not only the logs.
	other := "210987654321/other-cluster/vpc-0other"
	lc := e.client
	if _, err := lc.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("rates-default"),
		Tags: map[string]string{"application-networking.k8s.aws/ManagedBy": other}}); err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.Apply(ctx, harness.Manifest(t, "invalid-routes.yaml", nil)); err != nil {
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
			r := harness.RouteCondition(t, e.cluster.Client, tt.ns, tt.name, "my-hotel", tt.condType, tt.status, tt.reason)
			c := harness.Condition(harness.ParentConditions(r.Status.Parents, "my-hotel"), tt.condType)
			t.Logf("%s/%s: %s=%s %s: %s", tt.ns, tt.name, c.Type, c.Status, c.Reason, c.Message)
			if got := harness.IsTrue(harness.ParentConditions(r.Status.Parents, "my-hotel"), "Programmed", r.Generation); got != tt.programmed {
				t.Errorf("Programmed = %v, want %v: %s", got, tt.programmed, harness.Describe(harness.ParentConditions(r.Status.Parents, "my-hotel")))
			}
			if got := r.Annotations[status.AnnotationDomainName] != ""; got != tt.hasLatticeService {
				t.Errorf("has Lattice DNS annotation = %v, want %v", got, tt.hasLatticeService)
			}
		})
	}

	t.Run("lattice ownership conflict", func(t *testing.T) {
		r := harness.RouteCondition(t, e.cluster.Client, "default", "rates", "my-hotel", "Programmed", metav1.ConditionFalse, "Invalid")
		c := harness.Condition(harness.ParentConditions(r.Status.Parents, "my-hotel"), "Programmed")
		t.Logf("default/rates: Programmed=%s %s: %s", c.Status, c.Reason, c.Message)
		if !strings.Contains(c.Message, "owned by "+other) {
			t.Errorf("Programmed message %q does not name the owner %s", c.Message, other)
		}
		if !e.hasEvent(t, "default", "rates", "FailedDeployModel") {
			t.Error("no FailedDeployModel event (upstream's reason) for rates")
		}
	})

	// The valid routes are unaffected.
	inventory := harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", time.Minute)

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
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		got := cluster.Apps(cluster.SendRequests(20, url, dnsName, cluster.PodDialer(t)))
		return got["inventory-ver1"]+got["inventory-ver2"] == 20
	}, func() string { return "inventory not answering" }))

	// A ReferenceGrant resolves the cross-namespace reference without touching the route.
	if err := e.cluster.Apply(ctx, harness.Manifest(t, "reference-grant.yaml", nil)); err != nil {
		t.Fatal(err)
	}
	harness.RouteCondition(t, e.cluster.Client, "default", "cross-namespace", "my-hotel", "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
}
