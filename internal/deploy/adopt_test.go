package deploy_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Upstream's workflow: the service network is created out of band, after the controller
// started, and then the Gateway is applied. The create's 409 leads to adoption, not a loop.
func TestServiceNetworkCreatedAfterDiscoveryIsAdopted(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	c := newClient(t, srv, 3, nil)
	d := newDeployer(t, c)
	ctx := context.Background()
	if _, err := d.Apply(ctx, &model.Model{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("my-hotel")}); err != nil {
		t.Fatal(err)
	}
	m := seed()
	res, err := d.Apply(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if gw := res.Gateways[m.ServiceNetworks[0].Gateway]; !gw.Programmed {
		t.Fatalf("gateway not programmed: %s", gw.Message)
	}
	checkState(t, srv, m)
	if n := srv.Counts().Op("CreateServiceNetwork"); n != 2 {
		t.Errorf("CreateServiceNetwork called %d times, want 2 (ours: one conflict)", n)
	}
	srv.ResetCounts()
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := calls(srv); len(got) != 0 {
		t.Errorf("second apply made calls %v, want none", got)
	}
}

// A target group upstream created (random name, port 80, tags) serves the route's backend: the
// service forwards to it, and SyncTargets, called with the model's name, updates its targets.
func TestUpstreamTargetGroupAdopted(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	c := newClient(t, srv, 3, nil)
	d := newDeployer(t, c)
	ctx := context.Background()
	m := seed()
	parking := &svc(m, "rates").TargetGroups[0]
	parking.Port = 80
	parking.Tags = tags(model.TagClusterName, cluster, model.TagSourceTypeKey, "HTTPRoute", model.TagRouteName, "rates",
		model.TagRouteNamespace, "default", model.TagServiceName, "parking", model.TagServiceNamespace, "default",
		model.TagProtocolVersion, model.ProtocolVersionHTTP1)
	up, err := c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("k8s-default-parking-qwertyuiop"),
		Type: types.TargetGroupTypeIp, Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp,
			ProtocolVersion: types.TargetGroupProtocolVersionHttp1, IpAddressType: types.IpAddressTypeIpv4, VpcIdentifier: aws.String(vpcID)},
		Tags: parking.Tags})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Apply(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Routes[svc(m, "rates").Route]; !r.Programmed {
		t.Fatalf("rates not programmed: %s", r.Message)
	}
	if n := srv.Counts().Op("CreateTargetGroup"); n != 4 {
		t.Errorf("CreateTargetGroup called %d times, want 4 (upstream's and 3 of ours; parking adopted)", n)
	}
	parking.Targets = append(parking.Targets, model.Target{IP: "10.244.3.2", Port: 8090})
	srv.ResetCounts()
	if _, err := d.SyncTargets(ctx, m, []string{parking.Name}); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: up.Id})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Items) != 2 {
		t.Errorf("upstream target group has %d targets, want 2", len(got.Items))
	}
	for _, g := range srv.Store().Snapshot().TargetGroups {
		if g.Name == parking.Name {
			t.Errorf("target group %s created beside the upstream one", parking.Name)
		}
	}
}

// Additional tags reach Lattice on every resource of a route and follow changes: a changed
// value is set, a dropped key removed from the service and its rules alike.
func TestAdditionalTagsFollowChanges(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	c := newClient(t, srv, 3, nil)
	d := newDeployer(t, c)
	ctx := context.Background()
	withExtra := func(extra map[string]string) *model.Model {
		m := seed()
		rates := svc(m, "rates")
		for _, tags := range []*map[string]string{&rates.Tags, &rates.Listeners[0].Tags, &rates.Listeners[0].Rules[0].Tags, &rates.Listeners[0].Rules[1].Tags} {
			for k, v := range extra {
				(*tags)[k] = v
			}
		}
		return m
	}
	tagsOf := func(t *testing.T, arn *string) map[string]string {
		out, err := c.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: arn})
		if err != nil {
			t.Fatal(err)
		}
		return out.Tags
	}
	check := func(t *testing.T, want map[string]string, gone string) {
		t.Helper()
		snap := srv.Store().Snapshot()
		var arns []*string
		for _, s := range snap.Services {
			if s.Name == "rates-default" {
				arns = append(arns, aws.String(s.ARN))
			}
		}
		for _, r := range snap.Rules {
			if r.Name == "parking" || r.Name == "review" {
				arns = append(arns, aws.String(r.ARN))
			}
		}
		if len(arns) != 3 {
			t.Fatalf("found %d resources, want the service and 2 rules", len(arns))
		}
		for _, arn := range arns {
			got := tagsOf(t, arn)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: tag %s=%q, want %q", *arn, k, got[k], v)
				}
			}
			if _, ok := got[gone]; gone != "" && ok {
				t.Errorf("%s: tag %s not removed", *arn, gone)
			}
			if got[model.TagManagedBy] != managedBy {
				t.Errorf("%s: ManagedBy %q", *arn, got[model.TagManagedBy])
			}
		}
	}
	if _, err := d.Apply(ctx, withExtra(map[string]string{"team": "a", "old": "y"})); err != nil {
		t.Fatal(err)
	}
	check(t, map[string]string{"team": "a", "old": "y"}, "")
	if _, err := d.Apply(ctx, withExtra(map[string]string{"team": "b", "cost": "x"})); err != nil {
		t.Fatal(err)
	}
	check(t, map[string]string{"team": "b", "cost": "x"}, "old")
}
