package deploy_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// TestCrashBetweenAnyTwoOperations stops a deployer after its k-th mutating call (whose answer
// is lost) for every k of a create, an update and a delete, then lets a fresh deployer (a
// restarted controller with an empty cache) finish: it must reach exactly the model, with no
// duplicate, and leave nothing behind when the model is emptied.
func TestCrashBetweenAnyTwoOperations(t *testing.T) {
	ctx := context.Background()
	empty := &model.Model{}
	cases := []struct {
		name   string
		before *model.Model // applied without faults first
		target *model.Model
		// checkpoint: the first deployer stopped gracefully, leaving spec hash tags.
		checkpoint bool
	}{
		{"create", nil, seed(), false},
		{"update", seed(), changed(), false},
		{"update after checkpoint", seed(), changed(), true},
		{"delete", seed(), empty, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// prepare starts Lattice in the case's initial state; tr carries every client's
			// connections so that they can be closed before the server.
			prepare := func() (*api.Server, *http.Transport) {
				srv := startLattice(t, api.Faults{})
				tr := &http.Transport{}
				if c.before != nil {
					d := newDeployer(t, newClient(t, srv, 3, tr))
					if _, err := d.Apply(ctx, c.before); err != nil {
						t.Fatal(err)
					}
					if c.checkpoint {
						if n, err := d.Checkpoint(ctx); err != nil || n == 0 {
							t.Fatalf("checkpoint: %d tags, %v", n, err)
						}
					}
				}
				srv.ResetCounts()
				return srv, tr
			}
			srv, tr := prepare()
			if _, err := newDeployer(t, newClient(t, srv, 3, tr)).Apply(ctx, c.target); err != nil {
				t.Fatal(err)
			}
			total := int(srv.Counts().Mutating())
			tr.CloseIdleConnections()
			_ = srv.Close()
			t.Logf("%d mutating calls, each one crashed after", total)
			if total < 5 {
				t.Fatalf("only %d mutating calls: the case does not exercise much", total)
			}
			for k := 1; k <= total; k++ {
				srv, tr := prepare()
				crashing := newClient(t, srv, 1, &crashAfter{n: k, next: tr})
				if res, err := newDeployer(t, crashing).Apply(ctx, c.target); err == nil && allProgrammed(res) {
					t.Fatalf("k=%d: the crash did not interrupt the apply", k)
				}
				res, err := newDeployer(t, newClient(t, srv, 3, tr)).Apply(ctx, c.target)
				if err != nil || !allProgrammed(res) {
					t.Fatalf("k=%d: fresh deployer did not converge: %s", k, describeFailure(res, err))
				}
				checkState(t, srv, c.target)
				if _, err := newDeployer(t, newClient(t, srv, 3, tr)).Apply(ctx, empty); err != nil {
					t.Fatalf("k=%d: delete: %v", k, err)
				}
				checkState(t, srv, empty)
				tr.CloseIdleConnections()
				_ = srv.Close()
			}
		})
	}
}

// changed is the seed with a rule added, weights changed, a backend added and the listener
// port of rates changed: a mix of every kind of update.
func changed() *model.Model {
	m := seed()
	inv := svc(m, "inventory")
	inv.TargetGroups = append(inv.TargetGroups, tg("inventory-ver3", "10.244.5.1"))
	inv.Listeners[0].Rules[0].Action = forward("inventory-ver1", 20, "inventory-ver2", 40, "inventory-ver3", 40)
	rates := svc(m, "rates")
	rules := append(rates.Listeners[0].Rules, rule("rates", 3, prefix("/rates"), forward("review", 1)))
	rates.Listeners = []model.Listener{listener(8080, rules...)}
	return m
}
