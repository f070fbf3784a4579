package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	latticetypes "github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

func routesAndGateway() []client.Object {
	return []client.Object{
		&gwv1.HTTPRoute{ObjectMeta: objMeta("default", "inventory")},
		&gwv1.HTTPRoute{ObjectMeta: objMeta("default", "rates")},
		&gwv1.Gateway{ObjectMeta: objMeta("default", "my-hotel")},
	}
}

func (e *env) deleteAll(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		if err := e.cluster.Client.Delete(context.Background(), obj); err != nil {
			t.Fatalf("delete %T %s: %v", obj, obj.GetName(), err)
		}
	}
}

func (e *env) latticeEmpty(t *testing.T) {
	t.Helper()
	harness.Eventually(t, time.Minute, harness.That(func() bool { return total(e.latticeInventory()) == 0 }, func() string { return fmt.Sprint(e.latticeInventory()) }))
}

// TestDeletionInAnyOrder deletes the GatewayClass first (upstream #115 left Gateway and route
// finalizers stuck that way), and also removes the class from under its Gateway.
func TestDeletionInAnyOrder(t *testing.T) {
	e := startEnv(t, "127.0.63.1")
	e.startController(t, harness.ControllerOptions{})
	ctx := context.Background()
	k := e.cluster.Client
	class := &gwv1.GatewayClass{ObjectMeta: objMeta("", "amazon-vpc-lattice")}

	t.Run("class first: blocked by gateway-exists until the Gateway goes", func(t *testing.T) {
		if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
			t.Fatal(err)
		}
		harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", 2*time.Minute)
		e.deleteAll(t, class)
		// The class is Terminating but still serves: a route change is still programmed.
		if err := k.Patch(ctx, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "inventory")}, client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"rules":[{"backendRefs":[{"name":"inventory-ver1","port":8090,"weight":80},{"name":"inventory-ver2","port":8090,"weight":20}]}]}}`))); err != nil {
			t.Fatal(err)
		}
		harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", time.Minute)
		if err := k.Get(ctx, client.ObjectKeyFromObject(class), class); err != nil || class.DeletionTimestamp == nil {
			t.Fatalf("class should be Terminating, held by its finalizer: %v %v", err, class.Finalizers)
		}
		e.deleteAll(t, routesAndGateway()...)
		e.waitGone(t, append(routesAndGateway(), class)...)
		e.latticeEmpty(t)
	})

	t.Run("class removed from under a live Gateway: finalizers released", func(t *testing.T) {
		if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
			t.Fatal(err)
		}
		harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", 2*time.Minute)
		// Someone strips the gateway-exists finalizer, so the class really disappears first.
		e.deleteAll(t, class)
		if err := k.Patch(ctx, class, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))); err != nil {
			t.Fatal(err)
		}
		e.waitGone(t, class)
		// Without its class the Gateway is no longer ours: Lattice is cleaned and our finalizers
		// are released, so deleting the objects later completes at once.
		e.latticeEmpty(t)
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			for _, obj := range routesAndGateway() {
				if err := k.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil || len(obj.GetFinalizers()) > 0 {
					return false
				}
			}
			return true
		}, func() string { return "finalizers still present" }))
		e.deleteAll(t, routesAndGateway()...)
		e.waitGone(t, routesAndGateway()...)
	})
}

// TestRestartMidApply stops the controller while it is creating the walkthrough's resources
// (every Lattice call takes 40 ms), starts a new one, and checks it converges to exactly the
// walkthrough's resources: nothing leaked, nothing duplicated.
func TestRestartMidApply(t *testing.T) {
	e := startEnv(t, "127.0.64.1")
	if err := e.lattice.SetFaults(api.Faults{APILatency: 40 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	first := e.startController(t, harness.ControllerOptions{Name: "restart-first"})
	ctx := context.Background()
	if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		return e.lattice.Counts().Mutating() >= 6
	}, func() string { return fmt.Sprint(e.lattice.Counts()) }))
	first.Stop(t)
	midway := e.latticeInventory()
	t.Logf("stopped after %d mutating calls; Lattice holds %v", e.lattice.Counts().Mutating(), midway)
	if total(midway) == 0 {
		t.Fatal("nothing was created before the stop; the test did not interrupt an apply")
	}

	e.lattice.ResetCounts()
	second := e.startController(t, harness.ControllerOptions{Name: "restart-second"})
	harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", 2*time.Minute)
	harness.RouteProgrammed(t, e.cluster.Client, "default", "rates", "my-hotel", time.Minute)
	inv := e.latticeInventory()
	t.Logf("after restart: %v; second controller made %v", inv, opsOf(e.lattice.Counts()))
	if d := duplicates(inv); len(d) > 0 {
		t.Errorf("duplicates: %v", d)
	}
	want := map[string]int{"ServiceNetwork": 1, "VPCAssociation": 1, "Service": 2, "ServiceAssociation": 2, "Listener": 2, "TargetGroup": 4}
	for kind, n := range want {
		if len(inv[kind]) != n {
			t.Errorf("%d %s, want %d: %v", len(inv[kind]), kind, n, inv[kind])
		}
	}
	if w := second.Counter(t, "lattice_gateway_status_writes_total", "", ""); w == 0 {
		t.Error("second controller wrote no status")
	}
	e.deleteAll(t, routesAndGateway()...)
	e.waitGone(t, routesAndGateway()...)
	e.latticeEmpty(t)
}

// TestLeaderElection runs two replicas: only the leader calls Lattice and writes statuses; when it
// stops, the other takes over.
func TestLeaderElection(t *testing.T) {
	e := startEnv(t, "127.0.65.1")
	a := e.startController(t, harness.ControllerOptions{Name: "replica-a", LeaderElect: true})
	b := e.startController(t, harness.ControllerOptions{Name: "replica-b", LeaderElect: true})
	ctx := context.Background()
	if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
		t.Fatal(err)
	}
	harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", 2*time.Minute)
	harness.RouteProgrammed(t, e.cluster.Client, "default", "rates", "my-hotel", time.Minute)
	writes := func(r *harness.Controller) float64 {
		return r.Counter(t, "lattice_gateway_status_writes_total", "", "") + r.Counter(t, "aws_api_calls_total", "", "")
	}
	leader, follower := a, b
	if writes(b) > 0 {
		leader, follower = b, a
	}
	t.Logf("leader %s: %.0f status writes, %.0f Lattice calls; follower %s: %.0f, %.0f", leader.Name,
		leader.Counter(t, "lattice_gateway_status_writes_total", "", ""), leader.Counter(t, "aws_api_calls_total", "", ""),
		follower.Name, follower.Counter(t, "lattice_gateway_status_writes_total", "", ""), follower.Counter(t, "aws_api_calls_total", "", ""))
	if writes(leader) == 0 || writes(follower) != 0 {
		t.Fatalf("writes: leader %.0f, follower %.0f; want only the leader to write", writes(leader), writes(follower))
	}

	leader.Stop(t)
	if err := e.cluster.Client.Patch(ctx, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "inventory")}, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"rules":[{"backendRefs":[{"name":"inventory-ver1","port":8090,"weight":90},{"name":"inventory-ver2","port":8090,"weight":10}]}]}}`))); err != nil {
		t.Fatal(err)
	}
	harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", time.Minute)
	if writes(follower) == 0 {
		t.Error("the new leader wrote nothing")
	}
	if d := duplicates(e.latticeInventory()); len(d) > 0 {
		t.Errorf("duplicates after failover: %v", d)
	}
}

// TestDriftRepaired changes Lattice behind the controller's back (a target deregistered, a
// listener deleted); with a resync period the controller puts both back.
func TestDriftRepaired(t *testing.T) {
	e := startEnv(t, "127.0.66.1")
	e.startController(t, harness.ControllerOptions{Resync: time.Second})
	ctx := context.Background()
	if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
		t.Fatal(err)
	}
	harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", 2*time.Minute)
	harness.RouteProgrammed(t, e.cluster.Client, "default", "rates", "my-hotel", time.Minute)
	const ver1 = "k8s-default-inventory-ver1"
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		return len(targetsOf(e.lattice.Store().Snapshot(), ver1)) == 2
	}, func() string { return fmt.Sprint(targetsOf(e.lattice.Store().Snapshot(), ver1)) }))
	before := e.latticeInventory()

	snap := e.lattice.Store().Snapshot()
	e.lattice.ResetCounts()
	lc := e.client
	for _, tg := range snap.TargetGroups {
		if strings.HasPrefix(tg.Name, ver1) {
			if _, err := lc.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: aws.String(tg.ID),
				Targets: []latticetypes.Target{{Id: aws.String(tg.Targets[0].ID), Port: aws.Int32(tg.Targets[0].Port)}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var listener store.Listener
	for _, svc := range snap.Services {
		if svc.Name == "rates-default" {
			for _, l := range snap.Listeners {
				if l.ServiceID == svc.ID {
					listener = l
				}
			}
		}
	}
	if _, err := lc.DeleteListener(ctx, &vpclattice.DeleteListenerInput{ServiceIdentifier: aws.String(listener.ServiceID), ListenerIdentifier: aws.String(listener.ID)}); err != nil {
		t.Fatal(err)
	}
	t.Logf("drift: deregistered one %s target, deleted listener %s of rates-default", ver1, listener.Name)

	harness.Eventually(t, time.Minute, harness.That(func() bool {
		inv := e.latticeInventory()
		return len(targetsOf(e.lattice.Store().Snapshot(), ver1)) == 2 && len(inv["Listener"]) == len(before["Listener"]) && len(inv["Rule"]) == len(before["Rule"])
	}, func() string { return fmt.Sprint(e.latticeInventory(), targetsOf(e.lattice.Store().Snapshot(), ver1)) }))
	if d := duplicates(e.latticeInventory()); len(d) > 0 {
		t.Errorf("duplicates after repair: %v", d)
	}
	calls := e.lattice.Counts()
	t.Logf("repair calls (including the test's own two): %v", opsOf(calls))
	if calls.Op("RegisterTargets") == 0 || calls.Op("CreateListener") == 0 {
		t.Errorf("no RegisterTargets/CreateListener after the drift: %v", opsOf(calls))
	}
}
