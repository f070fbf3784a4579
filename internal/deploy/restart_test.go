package deploy_test

import (
	"context"
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// TestRestartTrustsSpecHashes: after a checkpoint, a restart into an unchanged world reads only
// the discovery pages; targets changed by a controller that then crashed are read again (its
// change removed the tag first); drift made by hand survives a restart but not a Refresh.
func TestRestartTrustsSpecHashes(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	client := newClient(t, srv, 3, nil)
	ctx := context.Background()
	m := manyRoutes(40) // 40 services + 80 target groups + 1 network: two GetResources pages
	d := newTaggingDeployer(t, srv, client)
	if res, err := d.Apply(ctx, m); err != nil || !allProgrammed(res) {
		t.Fatalf("first apply: %s", describeFailure(res, err))
	}
	srv.ResetCounts()
	if n, err := d.Checkpoint(ctx); err != nil || n != 120 {
		t.Fatalf("checkpoint wrote %d tags (%v), want 120: one per service and target group", n, err)
	}
	if got, want := calls(srv), map[string]int64{"TagResource": 120}; !maps.Equal(got, want) {
		t.Fatalf("checkpoint calls %v, want %v", got, want)
	}
	srv.ResetCounts()
	if n, err := d.Checkpoint(ctx); err != nil || n != 0 || len(calls(srv)) != 0 {
		t.Fatalf("second checkpoint: %d tags, %v, calls %v", n, err, calls(srv))
	}

	// The service network's access log subscriptions are read as before: one network.
	pages := plus(discovery, map[string]int64{"GetResources": 2, "ListAccessLogSubscriptions": 1})
	restart := func(step string, m *model.Model, want map[string]int64) {
		t.Helper()
		srv.ResetCounts()
		d = newTaggingDeployer(t, srv, client)
		if res, err := d.Apply(ctx, m); err != nil || !allProgrammed(res) {
			t.Fatalf("%s: %s", step, describeFailure(res, err))
		}
		if got := calls(srv); !maps.Equal(got, want) {
			t.Fatalf("%s: calls\n got %v\nwant %v", step, got, want)
		}
	}
	restart("restart, unchanged world", m, pages)
	checkState(t, srv, m)

	// A pod of route-000 replaced: the targets the tag vouched for are known without a read,
	// the tag goes before they change; the controller then crashes (no checkpoint), and the
	// next start reads that target group alone.
	tgs := svc(m, "route-000").TargetGroups
	tgs[0].Targets = []model.Target{{IP: "10.9.0.1", Port: 8090}}
	srv.ResetCounts()
	if _, err := d.SyncTargets(ctx, m, []string{tgs[0].Name}); err != nil {
		t.Fatal(err)
	}
	if got, want := calls(srv), map[string]int64{"UntagResource": 1, "RegisterTargets": 1, "DeregisterTargets": 1}; !maps.Equal(got, want) {
		t.Fatalf("first pod change after a restart: calls %v, want %v", got, want)
	}
	restart("restart after a crash", m, plus(pages, map[string]int64{"ListTargets": 1}))
	checkState(t, srv, m)
	if n, err := d.Checkpoint(ctx); err != nil || n != 1 {
		t.Fatalf("checkpoint after the crash: %d tags (%v), want 1: route-000-a's", n, err)
	}

	// Weights changed by hand: a restart trusts the tag and keeps them (drift), a Refresh
	// reads everything and puts them back.
	st := srv.Store().Snapshot()
	var svcID, listenerID, ruleID string
	for _, s := range st.Services {
		if s.Name == "route-001-default" {
			svcID = s.ID
		}
	}
	for _, l := range st.Listeners {
		if l.ServiceID == svcID {
			listenerID = l.ID
		}
	}
	for _, r := range st.Rules {
		if r.ListenerID == listenerID {
			ruleID = r.ID
		}
	}
	tgID := map[string]string{}
	for _, g := range st.TargetGroups {
		tgID[g.Name] = g.ID
	}
	if _, err := client.UpdateRule(ctx, &vpclattice.UpdateRuleInput{ServiceIdentifier: aws.String(svcID), ListenerIdentifier: aws.String(listenerID),
		RuleIdentifier: aws.String(ruleID), Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
			{TargetGroupIdentifier: aws.String(tgID["route-001-a"]), Weight: aws.Int32(100)}}}}}); err != nil {
		t.Fatal(err)
	}
	restart("restart after a hand edit", m, pages)
	srv.ResetCounts()
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := d.Apply(ctx, m); err != nil || !allProgrammed(res) {
		t.Fatalf("apply after refresh: %s", describeFailure(res, err))
	}
	if c := srv.Counts(); c.Op("BatchUpdateRule") != 1 || c.Op("UntagResource") != 1 || c.Op("ListListeners") != 40 {
		t.Fatalf("refresh: want every service read, the tag removed and the rule put back; calls %v", calls(srv))
	}
	checkState(t, srv, m)
	if n, err := d.Checkpoint(ctx); err != nil || n != 1 {
		t.Fatalf("checkpoint after the repair: %d tags (%v), want 1: route-001's", n, err)
	}

	// 30 routes deleted while the controller was down: their services' associations come from
	// one listing of the network, not one per service; their targets (no longer in the model)
	// are read to be deregistered.
	m.Services = m.Services[:10]
	restart("restart after 30 routes were deleted", m, plus(pages, map[string]int64{"ListServiceNetworkServiceAssociations": 1,
		"ListTargets": 60, "DeleteServiceNetworkServiceAssociation": 30, "DeleteService": 30, "DeregisterTargets": 60, "DeleteTargetGroup": 60}))
	checkState(t, srv, m)
}
