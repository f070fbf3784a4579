package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// TestSeedWalkthrough is the product's story with examples/hotel applied unchanged.
func TestSeedWalkthrough(t *testing.T) {
	e := startEnv(t, "127.0.61.1")
	ctl := e.startController(t, harness.ControllerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k := e.cluster.Client

	// The controller is running (its caches synced) once it accepts the GatewayClass; timing
	// starts after that, so it measures reconciling, not start-up.
	class, err := os.ReadFile(filepath.Join(hotelDir(t), "gatewayclass.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.Apply(ctx, string(class)); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		gc := &gwv1.GatewayClass{}
		return k.Get(ctx, client.ObjectKey{Name: "amazon-vpc-lattice"}, gc) == nil && harness.IsTrue(gc.Status.Conditions, "Accepted", gc.Generation)
	}, func() string { return "GatewayClass not accepted" }))
	begin := time.Now()
	if err := e.cluster.ApplyDir(ctx, hotelDir(t)); err != nil {
		t.Fatal(err)
	}
	inventory := harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", 2*time.Minute)
	harness.RouteProgrammed(t, e.cluster.Client, "default", "rates", "my-hotel", time.Minute)
	programmedAfter := time.Since(begin)

	gc := &gwv1.GatewayClass{}
	if err := k.Get(ctx, client.ObjectKey{Name: "amazon-vpc-lattice"}, gc); err != nil {
		t.Fatal(err)
	}
	if !harness.IsTrue(gc.Status.Conditions, "Accepted", gc.Generation) {
		t.Errorf("GatewayClass not Accepted: %s", harness.Describe(gc.Status.Conditions))
	}
	if !slices.Contains(gc.Finalizers, gwv1.GatewayClassFinalizerGatewaysExist) {
		t.Errorf("GatewayClass finalizers = %v, want the gateway-exists finalizer", gc.Finalizers)
	}
	gw := &gwv1.Gateway{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: "default", Name: "my-hotel"}, gw); err != nil {
		t.Fatal(err)
	}
	if !harness.IsTrue(gw.Status.Conditions, "Accepted", gw.Generation) || !harness.IsTrue(gw.Status.Conditions, "Programmed", gw.Generation) {
		t.Errorf("Gateway not Accepted+Programmed: %s", harness.Describe(gw.Status.Conditions))
	}
	if !slices.Contains(gw.Finalizers, kubernetes.FinalizerGateway) || !slices.Contains(inventory.Finalizers, kubernetes.FinalizerHTTPRoute) {
		t.Errorf("finalizers: gateway %v, route %v", gw.Finalizers, inventory.Finalizers)
	}
	dnsName := inventory.Annotations[status.AnnotationDomainName]
	if dnsName == "" || inventory.Annotations[status.AnnotationServiceARN] == "" {
		t.Fatalf("route annotations = %v, want DNS name and service ARN", inventory.Annotations)
	}

	// Economy: what it cost to get here, before any traffic or change.
	calls := e.lattice.Counts()
	statusWrites := ctl.Counter(t, "lattice_gateway_status_writes_total", "", "")
	routeWrites := ctl.Counter(t, "lattice_gateway_status_writes_total", "kind", "HTTPRoute")
	t.Logf("walkthrough: Programmed %s after apply; %d Lattice API calls (%d mutating) for 2 routes + 1 gateway; status writes: %.0f total, %.0f HTTPRoute (%.1f per route)",
		programmedAfter.Round(time.Millisecond), calls.Total(), calls.Mutating(), statusWrites, routeWrites, routeWrites/2)
	t.Logf("walkthrough calls by operation: %v; finalizer/annotation patches: %.0f (%.0f on HTTPRoutes)", opsOf(calls),
		ctl.Counter(t, "lattice_gateway_metadata_writes_total", "", ""), ctl.Counter(t, "lattice_gateway_metadata_writes_total", "kind", "HTTPRoute"))
	if n, sum := ctl.Histogram(t, "lattice_gateway_route_convergence_seconds"); n > 0 {
		t.Logf("route convergence: %d observations, mean %.2fs", n, sum/float64(n))
	}

	// Pods keep becoming ready after the routes are Programmed; wait for every replica's target.
	replicas := map[string]int{"k8s-default-inventory-ver1-": 2, "k8s-default-inventory-ver2-": 2, "k8s-default-parking-": 1, "k8s-default-review-": 1}
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		for prefix, n := range replicas {
			if len(targetsOf(e.lattice.Store().Snapshot(), prefix)) != n {
				return false
			}
		}
		return true
	}, func() string { return fmt.Sprint(e.latticeInventory()["TargetGroup"]) }))

	// Steady state: an event that changes nothing (a new label on the Gateway) re-runs the whole
	// world but makes no Lattice call and no status write.
	e.lattice.ResetCounts()
	if err := k.Patch(ctx, gw, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"touched":"yes"}}}`))); err != nil {
		t.Fatal(err)
	}
	// A reconcile takes milliseconds; give it ample time to (not) act.
	time.Sleep(2 * time.Second)
	if c := e.lattice.Counts(); c.Total() != 0 {
		t.Errorf("steady state made Lattice calls: %v", opsOf(c))
	}
	if w := ctl.Counter(t, "lattice_gateway_status_writes_total", "", ""); w != statusWrites {
		t.Errorf("steady state wrote statuses: %.0f writes, %.0f before", w, statusWrites)
	}
	if !e.hasEvent(t, "default", "inventory", "DeploySucceed") {
		t.Error("no DeploySucceed event (upstream's reason) for HTTPRoute inventory")
	}

	ips, err := cluster.ResolveDNS(dnsName, e.dp.DNSAddr())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ips[0].String() + ":" + strconv.Itoa(80+listenerPortOffset) + "/"
	dial := cluster.PodDialer(t)
	send := func(n int) map[string]int { return cluster.Apps(cluster.SendRequests(n, url, dnsName, dial)) }
	// Targets start INITIAL until their first health check; wait for both versions to answer.
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		got := send(20)
		return got["inventory-ver1"]+got["inventory-ver2"] == 20 && got["inventory-ver1"] > 0 && got["inventory-ver2"] > 0
	}, func() string { return fmt.Sprint(send(20)) }))

	const n = 1000
	// Tolerance: ±5 percentage points (the data plane's smooth weighted round robin is exact over
	// a period; the tolerance covers health-check transitions during the run).
	checkSplit := func(wantVer1 float64) {
		t.Helper()
		got := send(n)
		v1, v2 := got["inventory-ver1"], got["inventory-ver2"]
		share := float64(v1) / float64(n)
		t.Logf("%d requests: %v (ver1 share %.3f, want %.2f±0.05)", n, got, share, wantVer1)
		if v1+v2 != n || share < wantVer1-0.05 || share > wantVer1+0.05 {
			t.Errorf("split %v, want ver1 share %.2f±0.05 of %d", got, wantVer1, n)
		}
	}
	checkSplit(0.5)

	for path, app := range map[string]string{"/parking": "parking", "/review": "review"} {
		ratesDNS := harness.RouteProgrammed(t, e.cluster.Client, "default", "rates", "my-hotel", time.Minute).Annotations[status.AnnotationDomainName]
		rips, err := cluster.ResolveDNS(ratesDNS, e.dp.DNSAddr())
		if err != nil {
			t.Fatal(err)
		}
		got := cluster.Apps(cluster.SendRequests(20, "http://"+rips[0].String()+":"+strconv.Itoa(80+listenerPortOffset)+path, ratesDNS, dial))
		if got[app] != 20 {
			t.Errorf("rates %s: %v, want all 20 to %s", path, got, app)
		}
	}

	// Weights 90/10.
	e.lattice.ResetCounts()
	patch := []byte(`{"spec":{"rules":[{"backendRefs":[{"name":"inventory-ver1","kind":"Service","port":8090,"weight":90},{"name":"inventory-ver2","kind":"Service","port":8090,"weight":10}]}]}}`)
	if err := k.Patch(ctx, &gwv1.HTTPRoute{ObjectMeta: inventory.ObjectMeta}, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	harness.RouteProgrammed(t, e.cluster.Client, "default", "inventory", "my-hotel", time.Minute)
	t.Logf("weights 90/10: Lattice calls %v", opsOf(e.lattice.Counts()))
	checkSplit(0.9)

	// Scale ver1 to 0: only target calls.
	e.lattice.ResetCounts()
	dep := &appsv1.Deployment{}
	if err := k.Get(ctx, client.ObjectKey{Namespace: "default", Name: "inventory-ver1"}, dep); err != nil {
		t.Fatal(err)
	}
	if err := k.Patch(ctx, dep, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"replicas":0}}`))); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		return len(targetsOf(e.lattice.Store().Snapshot(), "k8s-default-inventory-ver1")) == 0
	}, func() string {
		return fmt.Sprint(targetsOf(e.lattice.Store().Snapshot(), "k8s-default-inventory-ver1"))
	}))
	scaleCalls := e.lattice.Counts()
	t.Logf("scale inventory-ver1 to 0: Lattice calls %v", opsOf(scaleCalls))
	for op := range scaleCalls {
		if op != "DeregisterTargets" && op != "RegisterTargets" && op != "ListTargets" {
			t.Errorf("scaling made a %s call; only target calls are expected", op)
		}
	}
	if scaleCalls.Op("DeregisterTargets") == 0 {
		t.Error("no DeregisterTargets call after scaling to 0")
	}
	// ver1's target group is empty now, so the data plane hands its share to ver2: every
	// request reaches ver2, with no rule change.
	got := send(n)
	t.Logf("after scaling ver1 to 0, %d requests: %v", n, got)
	if got["inventory-ver2"] != n {
		t.Errorf("after scaling ver1 to 0: %v, want all %d requests on inventory-ver2", got, n)
	}

	// Delete the routes and the Gateway: nothing of ours stays in Lattice, no finalizer stays.
	for _, obj := range []client.Object{
		&gwv1.HTTPRoute{ObjectMeta: objMeta("default", "inventory")},
		&gwv1.HTTPRoute{ObjectMeta: objMeta("default", "rates")},
		&gwv1.Gateway{ObjectMeta: objMeta("default", "my-hotel")},
	} {
		if err := k.Delete(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	e.waitGone(t, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "inventory")}, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "rates")},
		&gwv1.Gateway{ObjectMeta: objMeta("default", "my-hotel")})
	harness.Eventually(t, 30*time.Second, harness.That(func() bool { return total(e.latticeInventory()) == 0 }, func() string { return fmt.Sprint(e.latticeInventory()) }))
	// The GatewayClass lost its gateway-exists finalizer with its last Gateway and can go.
	if err := k.Delete(ctx, &gwv1.GatewayClass{ObjectMeta: objMeta("", "amazon-vpc-lattice")}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, &gwv1.GatewayClass{ObjectMeta: objMeta("", "amazon-vpc-lattice")})
}

func opsOf[M ~map[string]map[int]int64](counts M) map[string]int64 {
	out := map[string]int64{}
	for op, codes := range counts {
		for _, v := range codes {
			out[op] += v
		}
	}
	return out
}

// waitGone waits until every object is deleted, that is, no finalizer held it back.
func (e *env) waitGone(t *testing.T, objs ...client.Object) { waitGoneIn(t, e.cluster.Client, objs...) }

// waitGoneIn is waitGone reading through k, whose scheme may know more kinds (the policies).
func waitGoneIn(t *testing.T, k client.Client, objs ...client.Object) {
	t.Helper()
	for _, obj := range objs {
		key := client.ObjectKeyFromObject(obj)
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			return apierrors.IsNotFound(k.Get(context.Background(), key, obj))
		}, func() string {
			return fmt.Sprintf("%T %s still exists with finalizers %v", obj, key, obj.GetFinalizers())
		}))
	}
}

func objMeta(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
