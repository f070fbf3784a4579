package api_test

import (
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// TestControllerLifecycle walks the calls a Gateway API controller makes, through the real SDK.
func TestControllerLifecycle(t *testing.T) {
	srv, c := start(t, nil)
	cx := ctx(t)
	f := newFixture(t, c, "inventory")

	if !regexp.MustCompile(`^svc-[0-9a-f]{17}$`).MatchString(*f.svc.Id) {
		t.Errorf("service id %q", *f.svc.Id)
	}
	if want := regexp.MustCompile(`^inventory-svc-[0-9a-f]{17}\.[0-9a-f]{7}\.vpc-lattice-svcs\.us-west-2\.on\.aws$`); !want.MatchString(*f.svc.DnsEntry.DomainName) {
		t.Errorf("dns name %q", *f.svc.DnsEntry.DomainName)
	}
	if f.svc.Status != types.ServiceStatusActive || f.tg.Status != types.TargetGroupStatusActive {
		t.Errorf("statuses %s %s, want ACTIVE without async delay", f.svc.Status, f.tg.Status)
	}
	if *f.listener.Port != 80 {
		t.Errorf("default HTTP port %d", *f.listener.Port)
	}

	// A second target group and two rules, addressed by ARN.
	tg2 := must(c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{
		Name: aws.String("inventory-tg2"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(8090), Protocol: types.TargetGroupProtocolHttp,
			VpcIdentifier: aws.String("vpc-0123456789abcdef0")},
	}))
	r1 := must(c.CreateRule(cx, &vpclattice.CreateRuleInput{
		ServiceIdentifier: f.svc.Arn, ListenerIdentifier: f.listener.Arn, Name: aws.String("ver1"),
		Priority: aws.Int32(1), Match: pathRule("/v1"), Action: forward(f.tg.Arn, tg2.Arn),
	}))
	r2 := must(c.CreateRule(cx, &vpclattice.CreateRuleInput{
		ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id, Name: aws.String("ver2"),
		Priority: aws.Int32(2), Match: pathRule("/v2"), Action: forward(tg2.Id),
	}))
	fw := r1.Action.(*types.RuleActionMemberForward)
	if got := *fw.Value.TargetGroups[1].TargetGroupIdentifier; got != *tg2.Id {
		t.Errorf("rule stores target group %q, want the ID %q", got, *tg2.Id)
	}

	rules := must(c.ListRules(cx, &vpclattice.ListRulesInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id}))
	if len(rules.Items) != 3 {
		t.Fatalf("ListRules: %d items, want default + 2", len(rules.Items))
	}
	defaults := 0
	for _, it := range rules.Items {
		got := must(c.GetRule(cx, &vpclattice.GetRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id, RuleIdentifier: it.Id}))
		if *got.IsDefault {
			defaults++
			if got.Priority != nil || got.Match != nil {
				t.Errorf("default rule has priority/match: %v %v", got.Priority, got.Match)
			}
		} else if m := got.Match.(*types.RuleMatchMemberHttpMatch); m.Value.HeaderMatches == nil {
			t.Errorf("headerMatches should be [] not absent")
		}
	}
	if defaults != 1 {
		t.Errorf("%d default rules", defaults)
	}

	// Swap priorities in one batch.
	batch := must(c.BatchUpdateRule(cx, &vpclattice.BatchUpdateRuleInput{
		ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id,
		Rules: []types.RuleUpdate{{RuleIdentifier: r1.Id, Priority: aws.Int32(2)}, {RuleIdentifier: r2.Arn, Priority: aws.Int32(1)}},
	}))
	if len(batch.Successful) != 2 || len(batch.Unsuccessful) != 0 {
		t.Fatalf("BatchUpdateRule: %d ok, %+v failed", len(batch.Successful), batch.Unsuccessful)
	}

	// Targets: UNUSED until used, INITIAL with health checks, DRAINING gone with delay 0.
	must(c.RegisterTargets(cx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: f.tg.Id,
		Targets: []types.Target{{Id: aws.String("10.244.1.5")}, {Id: aws.String("10.244.1.6"), Port: aws.Int32(9090)}}}))
	lt := must(c.ListTargets(cx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: f.tg.Arn}))
	if len(lt.Items) != 2 || lt.Items[0].Status != types.TargetStatusInitial || *lt.Items[0].Port != 8080 {
		t.Fatalf("ListTargets: %+v", lt.Items)
	}
	got := must(c.GetTargetGroup(cx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: f.tg.Id}))
	if len(got.ServiceArns) != 1 || got.ServiceArns[0] != *f.svc.Arn {
		t.Errorf("serviceArns %v", got.ServiceArns)
	}
	must(c.DeregisterTargets(cx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: f.tg.Id,
		Targets: []types.Target{{Id: aws.String("10.244.1.5")}}}))
	lt = must(c.ListTargets(cx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: f.tg.Id}))
	if len(lt.Items) != 1 {
		t.Errorf("after deregister: %+v", lt.Items)
	}

	// Associations.
	snsa := must(c.CreateServiceNetworkServiceAssociation(cx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceIdentifier: f.svc.Arn, ServiceNetworkIdentifier: f.sn.Arn}))
	if snsa.Status != types.ServiceNetworkServiceAssociationStatusActive || *snsa.DnsEntry.DomainName != *f.svc.DnsEntry.DomainName {
		t.Errorf("SNSA %+v", snsa)
	}
	snva := must(c.CreateServiceNetworkVpcAssociation(cx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: f.sn.Id, VpcIdentifier: aws.String("vpc-0123456789abcdef0"),
		SecurityGroupIds: []string{"sg-0123456789abcdef0"}}))
	sn := must(c.GetServiceNetwork(cx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: f.sn.Id}))
	if *sn.NumberOfAssociatedServices != 1 || *sn.NumberOfAssociatedVPCs != 1 {
		t.Errorf("SN counts %d %d", *sn.NumberOfAssociatedServices, *sn.NumberOfAssociatedVPCs)
	}
	must(c.UpdateServiceNetworkVpcAssociation(cx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: snva.Arn, SecurityGroupIds: []string{"sg-0123456789abcdef1"}}))

	// Tags on every kind of ARN.
	for _, arn := range []*string{f.sn.Arn, f.svc.Arn, f.listener.Arn, r1.Arn, f.tg.Arn, snsa.Arn, snva.Arn} {
		must(c.TagResource(cx, &vpclattice.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"ManagedBy": "123456789012/c/vpc", "k": "v"}}))
		must(c.UntagResource(cx, &vpclattice.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"k"}}))
		tags := must(c.ListTagsForResource(cx, &vpclattice.ListTagsForResourceInput{ResourceArn: arn}))
		if len(tags.Tags) != 1 || tags.Tags["ManagedBy"] != "123456789012/c/vpc" {
			t.Errorf("tags of %s: %v", *arn, tags.Tags)
		}
	}

	// Tear down in dependency order.
	must(c.DeleteServiceNetworkServiceAssociation(cx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{ServiceNetworkServiceAssociationIdentifier: snsa.Id}))
	must(c.DeleteServiceNetworkVpcAssociation(cx, &vpclattice.DeleteServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: snva.Id}))
	must(c.DeleteRule(cx, &vpclattice.DeleteRuleInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id, RuleIdentifier: r1.Id}))
	must(c.DeleteService(cx, &vpclattice.DeleteServiceInput{ServiceIdentifier: f.svc.Id}))
	must(c.DeleteTargetGroup(cx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: f.tg.Id}))
	must(c.DeleteTargetGroup(cx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: tg2.Id}))
	must(c.DeleteServiceNetwork(cx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: f.sn.Id}))

	snap := srv.Store().Snapshot()
	if len(snap.Services)+len(snap.Listeners)+len(snap.Rules)+len(snap.TargetGroups)+len(snap.ServiceNetworks) != 0 {
		t.Errorf("left over: %+v", snap)
	}
	counts := srv.Counts()
	if counts.Op("CreateRule") != 2 || counts["CreateService"][201] != 1 || counts["DeleteServiceNetwork"][204] != 1 {
		t.Errorf("counts %v", counts)
	}
}
