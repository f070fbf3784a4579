package deploy_test

import (
	"context"
	"maps"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// TestTargetStatuses: the statuses of a Kubernetes Service's targets come from ListTargets of
// the target groups tagged with that Service, also for a deployer that only discovered them
// (a restarted controller) and for one asked before it discovered anything (the gate of a
// restarted controller runs before its first Apply).
func TestTargetStatuses(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	ctx := context.Background()
	d := newDeployer(t, newClient(t, srv, 3, nil))
	if _, err := d.Apply(ctx, seed()); err != nil {
		t.Fatal(err)
	}
	// Health checks are on for HTTP1 and the first check has not passed: INITIAL, as on AWS.
	want := map[model.Target]string{{IP: "10.244.1.1", Port: 8090}: "INITIAL", {IP: "10.244.1.2", Port: 8090}: "INITIAL"}
	restarted := newDeployer(t, newClient(t, srv, 3, nil))
	if err := restarted.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := newDeployer(t, newClient(t, srv, 3, nil))
	for name, dep := range map[string]interface {
		TargetStatuses(context.Context, string, string) (map[model.Target]string, error)
	}{"deployer": d, "restarted": restarted, "fresh": fresh} {
		got, err := dep.TargetStatuses(ctx, "default", "inventory-ver1")
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Errorf("%s: statuses %v, want %v", name, got, want)
		}
		if got, err := dep.TargetStatuses(ctx, "other", "inventory-ver1"); err != nil || len(got) != 0 {
			t.Errorf("%s: a Service of another namespace has targets %v (%v)", name, got, err)
		}
	}
}
