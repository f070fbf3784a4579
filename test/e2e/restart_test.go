package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// TestGracefulRestartReadsNoResource: a controller that stops gracefully tags what it applied
// (spec hash tags); the next one, started into the same world, programs nothing and reads no
// resource one by one — only the discovery lists and Tagging API pages.
func TestGracefulRestartReadsNoResource(t *testing.T) {
	e := startEnv(t, "127.0.83.1")
	first := e.startController(t, harness.ControllerOptions{Name: "graceful-first"})
	if err := e.cluster.ApplyDir(context.Background(), hotelDir(t)); err != nil {
		t.Fatal(err)
	}
	harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", 2*time.Minute)
	harness.RouteProgrammed(t, e.cluster.Client, "default", "rates", "my-hotel", time.Minute)
	first.Stop(t)
	// 2 services and 4 target groups.
	if n := e.lattice.Counts().Op("TagResource"); n != 6 {
		t.Fatalf("graceful stop tagged %d resources, want 6; calls %v", n, opsOf(e.lattice.Counts()))
	}

	e.lattice.ResetCounts()
	e.startController(t, harness.ControllerOptions{Name: "graceful-second"})
	// Wait until the second controller has discovered and its calls have settled.
	last := int64(-1)
	harness.Eventually(t, time.Minute, func() error {
		n := e.lattice.Counts().Total()
		defer func() { last = n }()
		if e.lattice.Counts().Op("ListServices") == 0 || n != last {
			return fmt.Errorf("still calling Lattice: %v", opsOf(e.lattice.Counts()))
		}
		return nil
	})
	// A late pass (a requeue, an EndpointSlice event) would show up here.
	time.Sleep(2 * time.Second)
	calls := e.lattice.Counts()
	t.Logf("second controller: %v", opsOf(calls))
	if calls.Mutating() != 0 {
		t.Errorf("restart into an unchanged world made %d mutating calls: %v", calls.Mutating(), opsOf(calls))
	}
	for _, op := range []string{"ListListeners", "GetListener", "ListRules", "GetRule", "ListTargets", "ListTagsForResource",
		"ListServiceNetworkServiceAssociations"} {
		if n := calls.Op(op); n != 0 {
			t.Errorf("restart read %s %d times: %v", op, n, opsOf(calls))
		}
	}
	harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", time.Minute)
}
