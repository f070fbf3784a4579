package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/pipeline"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// importRoute is the cross-cluster blue/green: inventory-ver1 runs in cluster A, inventory-ver2 in
// cluster B, which exports it; A's route splits 50/50 between its Service and the ServiceImport.
const importRoute = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: inventory
spec:
  parentRefs:
  - name: my-hotel
    sectionName: http
  rules:
  - backendRefs:
    - name: inventory-ver1
      kind: Service
      port: 8090
      weight: 50
    - name: inventory-ver2
      group: application-networking.k8s.aws
      kind: ServiceImport
      weight: 50
`

// TestMultiClusterExportImport: two API servers with their own Pod ranges, two controllers with
// their own cluster name and VPC, one Local Lattice. B exports inventory-ver2, A's route imports
// it; 1,000 requests split within ±5 points of 50/50 across the clusters; scaling B's backend
// makes target calls only; restarting B's controller after a change made while it was down
// converges; so does restarting A's, during whose absence B's export was deleted and held (its
// status saying why) by the rule of A still forwarding to it; deleting the export moves all
// traffic to A's backend and the route says why; both clusters have a Gateway my-hotel,
// so they share one service network, and deleting everything in both clusters leaves nothing in
// Lattice and no object stuck on a finalizer.
func TestMultiClusterExportImport(t *testing.T) {
	a := startEnv(t, "127.0.68.1")
	a.owner.ClusterName = "cluster-a"
	b := &env{cluster: cluster.Start(t, cluster.Options{}), lattice: a.lattice, dp: a.dp, client: a.client,
		owner: model.Owner{AccountID: accountID, ClusterName: "cluster-b", VPCID: "vpc-0e2e000000000000b"}}
	b.kubeconfig = b.controllerKubeconfig(t)
	// Imports are re-resolved every 2 seconds, so that the test sees exports come and go quickly.
	fast := deploy.Config{ImportTTL: 2 * time.Second}
	ca := a.startController(t, harness.ControllerOptions{Name: "lattice-gateway-a", Deploy: fast})
	cb := b.startController(t, harness.ControllerOptions{Name: "lattice-gateway-b", Deploy: fast})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(hotelDir(t), name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	if err := a.cluster.Apply(ctx, read("gatewayclass.yaml")+"\n---\n"+read("my-hotel-gateway.yaml")+"\n---\n"+read("inventory-ver1.yaml")+"\n---\n"+harness.Manifest(t, "inventory-ver2-import.yaml", nil)+"\n---\n"+importRoute); err != nil {
		t.Fatal(err)
	}
	// B has a Gateway my-hotel too: both clusters share one service network, each with its VPC.
	if err := b.cluster.Apply(ctx, read("gatewayclass.yaml")+"\n---\n"+read("my-hotel-gateway.yaml")+"\n---\n"+read("inventory-ver2.yaml")); err != nil {
		t.Fatal(err)
	}

	// Before the export, A's import resolves to nothing, and the route says so.
	routeResolvedRefs := func() *metav1.Condition {
		r := &gwv1.HTTPRoute{}
		if err := a.cluster.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "inventory"}, r); err != nil || len(r.Status.Parents) == 0 {
			return nil
		}
		return meta.FindStatusCondition(r.Status.Parents[0].Conditions, string(gwv1.RouteConditionResolvedRefs))
	}
	unresolved := func() bool {
		c := routeResolvedRefs()
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == string(gwv1.RouteReasonBackendNotFound) &&
			strings.Contains(c.Message, "ServiceImport default/inventory-ver2: no HTTP export of default/inventory-ver2 found")
	}
	harness.Eventually(t, time.Minute, harness.That(unresolved, func() string { return fmt.Sprintf("ResolvedRefs %+v", routeResolvedRefs()) }))

	// Programmed already: the import's share goes to a group without targets meanwhile.
	route := &gwv1.HTTPRoute{}
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		return a.cluster.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "inventory"}, route) == nil &&
			route.Annotations[status.AnnotationDomainName] != "" && len(route.Status.Parents) > 0 &&
			harness.IsTrue(route.Status.Parents[0].Conditions, status.ConditionProgrammed, route.Generation)
	}, func() string { return fmt.Sprintf("route inventory not Programmed: %+v", route.Status) }))
	dnsName := route.Annotations[status.AnnotationDomainName]
	ips, err := cluster.ResolveDNS(dnsName, a.dp.DNSAddr())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ips[0].String() + ":" + strconv.Itoa(80+listenerPortOffset) + "/"
	dial := cluster.PodDialer(t)
	send := func(n int) map[string]int { return cluster.Apps(cluster.SendRequests(n, url, dnsName, dial)) }

	a.lattice.ResetCounts()
	exported := time.Now()
	if err := b.cluster.Apply(ctx, harness.Manifest(t, "inventory-ver2-export.yaml", nil)); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		se := &v1alpha1.ServiceExport{}
		if err := b.cluster.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "inventory-ver2"}, se); err != nil {
			return false
		}
		return exportCondition(se, v1alpha1.ServiceExportExported) == "True" && exportCondition(se, v1alpha1.ServiceExportValid) == "True"
	}, func() string {
		se := &v1alpha1.ServiceExport{}
		err := b.cluster.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "inventory-ver2"}, se)
		return fmt.Sprintf("ServiceExport inventory-ver2 not Exported: %v finalizers %v status %+v", err, se.Finalizers, se.Status)
	}))
	t.Logf("export in cluster B: %d Lattice and Tagging API calls (%v)", a.lattice.Counts().Total(), opsOf(a.lattice.Counts()))
	a.lattice.ResetCounts()
	// The first request cluster B's pods serve through cluster A's route.
	harness.Eventually(t, time.Minute, harness.That(func() bool { return send(10)["inventory-ver2"] > 0 },
		func() string { return fmt.Sprint(send(10)) }))
	t.Logf("ServiceExport created in B to first request served by B through A's route: %v", time.Since(exported).Round(10*time.Millisecond))
	t.Logf("import in cluster A: %d Lattice and Tagging API calls (%v)", a.lattice.Counts().Total(), opsOf(a.lattice.Counts()))
	harness.Eventually(t, 30*time.Second, harness.That(func() bool {
		c := routeResolvedRefs()
		return c != nil && c.Status == metav1.ConditionTrue
	}, func() string { return fmt.Sprintf("ResolvedRefs %+v", routeResolvedRefs()) }))

	// Both of B's pods pass their health checks before the split is measured.
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		got := send(40)
		return got["inventory-ver1"]+got["inventory-ver2"] == 40 && got["inventory-ver1"] > 0 && got["inventory-ver2"] > 0
	}, func() string { return fmt.Sprint(send(40)) }))
	const n = 1000
	got := send(n)
	share := float64(got["inventory-ver1"]) / n
	t.Logf("%d requests across clusters: %v (A's share %.3f)", n, got, share)
	if got["inventory-ver1"]+got["inventory-ver2"] != n || share < 0.45 || share > 0.55 {
		t.Errorf("split %v, want inventory-ver1 (cluster A) 0.50±0.05 of %d", got, n)
	}

	// Scaling B's backend changes its export's targets and nothing else, in either cluster.
	scaleVer2 := func(replicas int) {
		t.Helper()
		patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)))
		if err := b.cluster.Client.Patch(ctx, &appsv1.Deployment{ObjectMeta: objMeta("default", "inventory-ver2")}, patch); err != nil {
			t.Fatal(err)
		}
	}
	ver2Targets := func(n int) {
		t.Helper()
		harness.Eventually(t, time.Minute, harness.That(func() bool {
			return len(targetsOf(a.lattice.Store().Snapshot(), ver2Export)) == n
		}, func() string { return fmt.Sprint(targetsOf(a.lattice.Store().Snapshot(), ver2Export)) }))
	}
	a.lattice.ResetCounts()
	scaleVer2(1)
	ver2Targets(1)
	scaleCalls := a.lattice.Counts()
	t.Logf("scale inventory-ver2 in B to 1: API calls %v", opsOf(scaleCalls))
	if targetCalls := scaleCalls.Op("RegisterTargets") + scaleCalls.Op("DeregisterTargets"); scaleCalls.Mutating() != targetCalls {
		t.Errorf("scaling B's backend made %d mutating calls, %d of them target calls; only target calls are expected: %v",
			scaleCalls.Mutating(), targetCalls, opsOf(scaleCalls))
	}
	if scaleCalls.Op("DeregisterTargets") == 0 {
		t.Error("no DeregisterTargets call after scaling B's backend down")
	}
	// Converged: the same resources as before, none twice.
	converged := func(when string) {
		t.Helper()
		inv := a.latticeInventory()
		if d := duplicates(inv); len(d) > 0 {
			t.Errorf("%s: duplicates %v", when, d)
		}
		// A's inventory-ver1 and target-less groups, B's export; one network with both VPCs.
		want := map[string]int{"ServiceNetwork": 1, "VPCAssociation": 2, "Service": 1, "ServiceAssociation": 1, "Listener": 1, "TargetGroup": 3}
		for kind, n := range want {
			if len(inv[kind]) != n {
				t.Errorf("%s: %d %s, want %d: %v", when, len(inv[kind]), kind, n, inv[kind])
			}
		}
	}
	converged("after scaling")

	// Restarting B's controller with a change made while it was down: it converges.
	cb.Stop(t)
	a.lattice.ResetCounts()
	scaleVer2(2)
	b.startController(t, harness.ControllerOptions{Name: "lattice-gateway-b2", Deploy: fast})
	ver2Targets(2)
	t.Logf("B restarted with inventory-ver2 scaled to 2 meanwhile: API calls %v", opsOf(a.lattice.Counts()))
	converged("after restarting B")
	harness.Eventually(t, time.Minute, harness.That(func() bool { got := send(20); return got["inventory-ver2"] > 0 && got["inventory-ver1"] > 0 },
		func() string { return fmt.Sprint(send(20)) }))

	// Restarting A's controller: while it is down, its route changes and B's export is deleted.
	// B cannot delete the target group A's rule still forwards to: the ServiceExport stays, says
	// why, and goes once A, restarted, moves its rule away.
	ca.Stop(t)
	if err := a.cluster.Client.Patch(ctx, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "inventory")}, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"rules":[{"backendRefs":[{"name":"inventory-ver1","kind":"Service","port":8090,"weight":80},`+
			`{"name":"inventory-ver2","group":"application-networking.k8s.aws","kind":"ServiceImport","weight":20}]}]}}`))); err != nil {
		t.Fatal(err)
	}
	if err := b.cluster.Client.Delete(ctx, &v1alpha1.ServiceExport{ObjectMeta: objMeta("default", "inventory-ver2")}); err != nil {
		t.Fatal(err)
	}
	held := &v1alpha1.ServiceExport{}
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		if err := b.cluster.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "inventory-ver2"}, held); err != nil {
			return false
		}
		for _, c := range held.Status.Conditions {
			if c.Type == v1alpha1.ServiceExportExported && c.Status == corev1.ConditionFalse && c.Reason != nil && *c.Reason == pipeline.ReasonWithdrawalFailed &&
				c.Message != nil && strings.Contains(*c.Message, "ConflictException") {
				return true
			}
		}
		return false
	}, func() string {
		return fmt.Sprintf("ServiceExport inventory-ver2 being deleted: finalizers %v status %+v", held.Finalizers, held.Status)
	}))
	t.Logf("export held while A's rule forwards to it: %s", *exportConditionOf(held, v1alpha1.ServiceExportExported).Message)
	a.startController(t, harness.ControllerOptions{Name: "lattice-gateway-a2", Deploy: fast})

	// Deleting the export: all traffic to A's backend, the route (its change made while A was
	// down taken) says why, the export is gone.
	harness.RouteCondition(t, a.cluster.Client, "default", "inventory", "my-hotel", string(gwv1.RouteConditionResolvedRefs), metav1.ConditionFalse, string(gwv1.RouteReasonBackendNotFound))
	harness.RouteCondition(t, a.cluster.Client, "default", "inventory", "my-hotel", status.ConditionProgrammed, metav1.ConditionTrue, status.ReasonProgrammed)
	harness.Eventually(t, time.Minute, harness.That(unresolved, func() string { return fmt.Sprintf("ResolvedRefs %+v", routeResolvedRefs()) }))
	// The import's share goes to the group without targets, which Local Lattice's data plane
	// hands to the groups with targets: all requests reach A.
	harness.Eventually(t, 30*time.Second, harness.That(func() bool { got := send(20); return got["inventory-ver2"] == 0 && got["inventory-ver1"] > 0 },
		func() string { return fmt.Sprint(send(20)) }))
	b.waitGone(t, &v1alpha1.ServiceExport{ObjectMeta: objMeta("default", "inventory-ver2")})
	if d := duplicates(a.latticeInventory()); len(d) > 0 {
		t.Errorf("after restarting A: duplicates %v", d)
	}

	// Deleting everything in both clusters leaves nothing in Lattice and nothing stuck.
	inA := []client.Object{
		&gwv1.HTTPRoute{ObjectMeta: objMeta("default", "inventory")},
		&v1alpha1.ServiceImport{ObjectMeta: objMeta("default", "inventory-ver2")},
		&gwv1.Gateway{ObjectMeta: objMeta("default", "my-hotel")},
		&gwv1.GatewayClass{ObjectMeta: objMeta("", "amazon-vpc-lattice")},
		&appsv1.Deployment{ObjectMeta: objMeta("default", "inventory-ver1")},
		&corev1.Service{ObjectMeta: objMeta("default", "inventory-ver1")},
	}
	inB := []client.Object{
		&gwv1.Gateway{ObjectMeta: objMeta("default", "my-hotel")},
		&gwv1.GatewayClass{ObjectMeta: objMeta("", "amazon-vpc-lattice")},
		&appsv1.Deployment{ObjectMeta: objMeta("default", "inventory-ver2")},
		&corev1.Service{ObjectMeta: objMeta("default", "inventory-ver2")},
	}
	for c, objs := range map[*env][]client.Object{a: inA, b: inB} {
		for _, obj := range objs {
			if err := client.IgnoreNotFound(c.cluster.Client.Delete(ctx, obj)); err != nil {
				t.Fatal(err)
			}
		}
	}
	a.waitGone(t, inA...)
	b.waitGone(t, inB...)
	harness.Eventually(t, 2*time.Minute, harness.That(func() bool { return total(a.latticeInventory()) == 0 },
		func() string { return fmt.Sprint(a.latticeInventory()) }))
}

// ver2Export prefixes the name of B's target group exporting inventory-ver2.
const ver2Export = "k8s-default-inventory-ver2-"

func exportCondition(se *v1alpha1.ServiceExport, typ v1alpha1.ServiceExportConditionType) string {
	if c := exportConditionOf(se, typ); c != nil {
		return string(c.Status)
	}
	return ""
}

func exportConditionOf(se *v1alpha1.ServiceExport, typ v1alpha1.ServiceExportConditionType) *v1alpha1.ServiceExportCondition {
	for i := range se.Status.Conditions {
		if se.Status.Conditions[i].Type == typ {
			return &se.Status.Conditions[i]
		}
	}
	return nil
}
