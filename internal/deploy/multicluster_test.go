package deploy_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/go-logr/logr/testr"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// clusterDeployer is the deployer of another cluster of the same account, in its own VPC, with
// the Tagging API client that resolves imports; imports are resolved again on every Apply.
func clusterDeployer(t *testing.T, srv *api.Server, owner model.Owner) *deploy.Deployer {
	tagging := rgta.New(rgta.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	return deploy.New(newClient(t, srv, 3, nil), deploy.Config{Owner: owner, Tagging: tagging, ImportTTL: time.Nanosecond,
		WaitInitial: time.Millisecond, WaitTimeout: 10 * time.Second}, testr.New(t))
}

// exportModel is cluster B's model: inventory-ver2 exported on port 8090 for HTTP.
func exportModel(owner model.Owner, targets ...string) *model.Model {
	g := model.TargetGroup{Name: "k8s-default-inventory-ver2-8090-http1-b", Backend: model.BackendKey{Namespace: "default", Name: "inventory-ver2", Port: 8090},
		Type: model.TargetGroupTypeIP, Port: 8090, Protocol: model.ProtocolHTTP, ProtocolVersion: model.ProtocolVersionHTTP1,
		IPAddressType: model.IPAddressTypeIPv4, VPCID: owner.VPCID,
		Tags: map[string]string{model.TagManagedBy: owner.ManagedBy(), model.TagClusterName: owner.ClusterName, model.TagServiceName: "inventory-ver2",
			model.TagServiceNamespace: "default", model.TagSourceTypeKey: model.SourceTypeServiceExport, model.TagProtocolVersion: model.ProtocolVersionHTTP1,
			model.TagExportedPort: "8090"}}
	for _, ip := range targets {
		g.Targets = append(g.Targets, model.Target{IP: ip, Port: 8090})
	}
	return &model.Model{Exports: []model.Export{{Key: model.ExportKey{Namespace: "default", Name: "inventory-ver2"}, TargetGroups: []model.TargetGroup{g}}}}
}

// importModel is cluster A's seed walkthrough with inventory-ver2 imported instead of local.
func importModel() *model.Model {
	m := seed()
	inv := &m.Services[0]
	fallback := model.TargetGroup{Name: "k8s-default-inventory-unresolved", Type: model.TargetGroupTypeIP, Port: 80, Protocol: model.ProtocolHTTP,
		ProtocolVersion: model.ProtocolVersionHTTP1, IPAddressType: model.IPAddressTypeIPv4, VPCID: vpcID, Tags: tags()}
	inv.TargetGroups = []model.TargetGroup{inv.TargetGroups[0], fallback}
	inv.Listeners[0].Rules[0].Action = model.Action{Forward: []model.WeightedTargetGroup{{TargetGroup: "inventory-ver1", Weight: 50},
		{Weight: 50, Import: &model.ImportRef{Namespace: "default", Name: "inventory-ver2", RouteType: "HTTP", Import: "default/inventory-ver2", Fallback: fallback.Name}}}}
	return m
}

func inventoryRule(t *testing.T, srv *api.Server) string {
	t.Helper()
	for _, line := range describe(srv.Store().Snapshot()) {
		if strings.HasPrefix(line, "rule inventory-default 80 all ") {
			return line
		}
	}
	t.Fatal("no rule inventory-default/80/all")
	return ""
}

// TestExportImportAcrossClusters: cluster B exports a Service, cluster A's route imports it and
// forwards to B's target group, found by tag; B withdrawing the export is refused by Lattice
// while A's rule uses it (reported on the export only), A moves the share to its target-less group
// on its next Apply, and B's deletion then succeeds.
func TestExportImportAcrossClusters(t *testing.T) {
	ctx := context.Background()
	srv := startLattice(t, api.Faults{})
	ownerA := model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID}
	ownerB := model.Owner{AccountID: account, ClusterName: "cluster-b", VPCID: "vpc-0bbbbbbbbbbbbbbbb"}
	a, b := clusterDeployer(t, srv, ownerA), clusterDeployer(t, srv, ownerB)

	// A first: the import resolves to nothing and A's route says so.
	res, err := a.Apply(ctx, importModel())
	if err != nil {
		t.Fatal(err)
	}
	inv := model.RouteKey{Kind: model.KindHTTPRoute, Namespace: "default", Name: "inventory"}
	if r := res.Routes[inv]; !r.Programmed || len(r.UnresolvedImports) != 1 || !strings.Contains(r.UnresolvedImports[0], "no HTTP export of default/inventory-ver2") {
		t.Fatalf("before the export: %+v", r)
	}
	if got := inventoryRule(t, srv); !strings.Contains(got, "inventory-ver1:50,k8s-default-inventory-unresolved:50") {
		t.Fatalf("before the export the import's share goes to the target-less group: %s", got)
	}
	if res.ImportRefresh <= 0 {
		t.Errorf("ImportRefresh = %v with an import in the model", res.ImportRefresh)
	}

	res, err = b.Apply(ctx, exportModel(ownerB, "10.244.16.1", "10.244.16.2"))
	if err != nil {
		t.Fatal(err)
	}
	exp := model.ExportKey{Namespace: "default", Name: "inventory-ver2"}
	if r := res.Exports[exp]; !r.Programmed {
		t.Fatalf("export: %+v", r)
	}

	// A's next Apply finds B's export by tag: only the rule changes.
	res, err = a.Apply(ctx, importModel())
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Routes[inv]; !r.Programmed || len(r.UnresolvedImports) != 0 {
		t.Fatalf("after the export: %+v", r)
	}
	if got := inventoryRule(t, srv); !strings.Contains(got, "inventory-ver1:50,k8s-default-inventory-ver2-8090-http1-b:50") {
		t.Fatalf("after the export the rule forwards to B's target group: %s", got)
	}
	p, err := a.Plan(ctx, importModel())
	if err != nil || p.Len() != 0 {
		t.Fatalf("steady state plan: %v %v", p, err)
	}

	// B withdraws the export while A still forwards to it: Lattice refuses, the export alone says so.
	res, err = b.Apply(ctx, &model.Model{})
	if err != nil {
		t.Fatalf("a refused withdrawal must not fail the Apply: %v", err)
	}
	if r := res.Exports[exp]; r.Programmed || !r.Deleted || !strings.Contains(r.Message, "ConflictException") {
		t.Fatalf("withdrawal while in use: %+v", r)
	}
	// A stops resolving the withdrawn export; then B's deletion goes through.
	if _, err := a.Apply(ctx, importModel()); err != nil {
		t.Fatal(err)
	}
	if got := inventoryRule(t, srv); !strings.Contains(got, "inventory-ver1:50,k8s-default-inventory-unresolved:50") {
		t.Fatalf("after the withdrawal: %s", got)
	}
	res, err = b.Apply(ctx, &model.Model{})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Exports[exp]; !r.Programmed || !r.Deleted {
		t.Fatalf("withdrawal once unused: %+v", r)
	}
	if slices.ContainsFunc(describe(srv.Store().Snapshot()), func(l string) bool { return strings.Contains(l, "inventory-ver2-8090") }) {
		t.Fatal("the exported target group is still there")
	}
}

// TestSharedServiceNetworkReleased: two clusters whose Gateways share the service network
// my-hotel (A created it, B joined with its VPC). Whichever leaves first, nothing fails and
// nothing is left behind once both have left: the owner leaving first releases the network, the
// last one deletes it.
func TestSharedServiceNetworkReleased(t *testing.T) {
	ownerB := model.Owner{AccountID: account, ClusterName: "cluster-b", VPCID: "vpc-0bbbbbbbbbbbbbbbb"}
	joinB := &model.Model{ServiceNetworks: []model.ServiceNetwork{{Name: "my-hotel", Gateway: model.GatewayKey{Namespace: "default", Name: "my-hotel"},
		VPCAssociation: &model.VPCAssociation{VPCID: ownerB.VPCID}, Tags: map[string]string{model.TagManagedBy: ownerB.ManagedBy()}}}}
	for _, ownerFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "owner leaves first", false: "joiner leaves first"}[ownerFirst], func(t *testing.T) {
			ctx := context.Background()
			srv := startLattice(t, api.Faults{})
			a := clusterDeployer(t, srv, model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID})
			b := clusterDeployer(t, srv, ownerB)
			if _, err := a.Apply(ctx, seed()); err != nil {
				t.Fatal(err)
			}
			res, err := b.Apply(ctx, joinB)
			if err != nil || !res.Gateways[joinB.ServiceNetworks[0].Gateway].Programmed {
				t.Fatalf("B joins: %v %+v", err, res)
			}
			first, second := a, b
			if !ownerFirst {
				first, second = b, a
			}
			if _, err := first.Apply(ctx, &model.Model{}); err != nil {
				t.Fatalf("first to leave: %v", err)
			}
			if snap := srv.Store().Snapshot(); len(snap.ServiceNetworks) != 1 || len(snap.VPCAssociations) != 1 {
				t.Fatalf("after the first left, the other still uses the network: %v", describe(snap))
			}
			if _, err := second.Apply(ctx, &model.Model{}); err != nil {
				t.Fatalf("last to leave: %v", err)
			}
			if left := describe(srv.Store().Snapshot()); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
}
