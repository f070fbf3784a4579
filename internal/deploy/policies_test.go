package deploy_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

var (
	tgpKey = model.PolicyKey{Kind: model.KindTargetGroupPolicy, Namespace: "default", Name: "parking"}
	vapKey = model.PolicyKey{Kind: model.KindVpcAssociationPolicy, Namespace: "default", Name: "my-hotel"}
	alpKey = model.PolicyKey{Kind: model.KindAccessLogPolicy, Namespace: "default", Name: "logs"}
	iapKey = model.PolicyKey{Kind: model.KindIAMAuthPolicy, Namespace: "default", Name: "rates-auth"}
	gwAuth = model.PolicyKey{Kind: model.KindIAMAuthPolicy, Namespace: "default", Name: "gateway-auth"}
)

const (
	allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	allowOne = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/parking"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
)

func healthCheck(path string, interval int32) *model.HealthCheck {
	return &model.HealthCheck{Enabled: true, Protocol: model.ProtocolHTTP, ProtocolVersion: model.ProtocolVersionHTTP1, Path: path,
		IntervalSeconds: interval, TimeoutSeconds: 5, HealthyThresholdCount: 5, UnhealthyThresholdCount: 2, Matcher: "200-299"}
}

func accessLog(dest string, k model.PolicyKey) model.AccessLogSubscription {
	return model.AccessLogSubscription{DestinationARN: dest, Policy: k,
		Tags: tags(model.TagAccessLogPolicy, k.Namespace+"/"+k.Name)}
}

func tgByName(s *model.Service, name string) *model.TargetGroup {
	for i := range s.TargetGroups {
		if s.TargetGroups[i].Name == name {
			return &s.TargetGroups[i]
		}
	}
	panic("no target group " + name)
}

// switchVersion gives the rates route's parking backend protocol version v under a new target
// group name, as translate does after a TargetGroupPolicy change.
func switchVersion(m *model.Model, v string) {
	s := svc(m, "rates")
	old := s.TargetGroups[0]
	next := old
	next.Name, next.ProtocolVersion = "parking-"+strings.ToLower(v), v
	next.Tags = tags(model.TagServiceName, "parking", model.TagServiceNamespace, "default", model.TagProtocolVersion, v)
	next.HealthCheck = nil
	s.TargetGroups[0] = next
	s.Listeners[0].Rules[0].Action = forward(next.Name, 1)
}

// policySteps change one policy at a time, each with the calls it must cost (minimal).
var policySteps = []step{
	{"health check added", func(m *model.Model) {
		g := tgByName(svc(m, "rates"), "parking")
		g.HealthCheck, g.Policy = healthCheck("/healthz", 10), &tgpKey
	}, map[string]int64{"UpdateTargetGroup": 1}},
	{"health check changed", func(m *model.Model) {
		tgByName(svc(m, "rates"), "parking").HealthCheck = healthCheck("/ready", 15)
	}, map[string]int64{"UpdateTargetGroup": 1}},
	{"security groups added", func(m *model.Model) {
		m.ServiceNetworks[0].VPCAssociation.SecurityGroupIDs = []string{"sg-0123456789abcdef0"}
		m.ServiceNetworks[0].VPCAssociationPolicy = &vapKey
	}, map[string]int64{"UpdateServiceNetworkVpcAssociation": 1}},
	{"security groups changed", func(m *model.Model) {
		m.ServiceNetworks[0].VPCAssociation.SecurityGroupIDs = []string{"sg-0123456789abcdef0", "sg-0123456789abcdef1"}
	}, map[string]int64{"UpdateServiceNetworkVpcAssociation": 1}},
	{"security groups removed", func(m *model.Model) {
		m.ServiceNetworks[0].VPCAssociation.SecurityGroupIDs = nil
	}, map[string]int64{"DeleteServiceNetworkVpcAssociation": 1, "CreateServiceNetworkVpcAssociation": 1}},
	{"access log on the gateway", func(m *model.Model) {
		m.ServiceNetworks[0].AccessLogSubscriptions = []model.AccessLogSubscription{accessLog("arn:aws:s3:::hotel-logs", alpKey)}
	}, map[string]int64{"CreateAccessLogSubscription": 1}},
	{"access log destination changed", func(m *model.Model) {
		m.ServiceNetworks[0].AccessLogSubscriptions = []model.AccessLogSubscription{accessLog("arn:aws:s3:::hotel-logs-2", alpKey)}
	}, map[string]int64{"UpdateAccessLogSubscription": 1}},
	{"access log moved to the route", func(m *model.Model) {
		m.ServiceNetworks[0].AccessLogSubscriptions = nil
		svc(m, "rates").AccessLogSubscriptions = []model.AccessLogSubscription{accessLog("arn:aws:s3:::hotel-logs-2", alpKey)}
	}, map[string]int64{"DeleteAccessLogSubscription": 1, "CreateAccessLogSubscription": 1}},
	{"access log removed", func(m *model.Model) {
		svc(m, "rates").AccessLogSubscriptions = nil
	}, map[string]int64{"DeleteAccessLogSubscription": 1}},
	{"access log added again", func(m *model.Model) {
		svc(m, "rates").AccessLogSubscriptions = []model.AccessLogSubscription{accessLog("arn:aws:s3:::hotel-logs-2", alpKey)}
	}, map[string]int64{"CreateAccessLogSubscription": 1}},
	{"access log removed again", func(m *model.Model) {
		svc(m, "rates").AccessLogSubscriptions = nil
	}, map[string]int64{"DeleteAccessLogSubscription": 1}},
	{"auth on the route", func(m *model.Model) {
		svc(m, "rates").Auth = &model.AuthPolicy{AuthType: model.AuthTypeIAM, Document: allowAll, Policy: iapKey}
	}, map[string]int64{"PutAuthPolicy": 1, "UpdateService": 1}},
	{"auth policy changed", func(m *model.Model) {
		svc(m, "rates").Auth.Document = allowOne
	}, map[string]int64{"PutAuthPolicy": 1}},
	{"auth on the gateway", func(m *model.Model) {
		m.ServiceNetworks[0].Auth = &model.AuthPolicy{AuthType: model.AuthTypeIAM, Document: allowAll, Policy: gwAuth}
	}, map[string]int64{"PutAuthPolicy": 1, "UpdateServiceNetwork": 1}},
	{"auth removed", func(m *model.Model) {
		svc(m, "rates").Auth, m.ServiceNetworks[0].Auth = nil, nil
	}, map[string]int64{"UpdateService": 1, "UpdateServiceNetwork": 1, "DeleteAuthPolicy": 2}},
	{"protocol version HTTP1 to HTTP2", func(m *model.Model) {
		switchVersion(m, model.ProtocolVersionHTTP2)
	}, map[string]int64{"CreateTargetGroup": 1, "RegisterTargets": 1, "BatchUpdateRule": 1, "DeregisterTargets": 1, "DeleteTargetGroup": 1}},
	{"associateWithVpc false", func(m *model.Model) {
		m.ServiceNetworks[0].VPCAssociation = nil
	}, map[string]int64{"DeleteServiceNetworkVpcAssociation": 1}},
}

func TestPolicyCallsAndState(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	d := newDeployer(t, newClient(t, srv, 3, nil))
	m := seed()
	ctx := context.Background()
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	for _, s := range policySteps {
		t.Run(s.name, func(t *testing.T) {
			s.change(m)
			srv.ResetCounts()
			res, err := d.Apply(ctx, m)
			if err != nil || !allProgrammed(res) {
				t.Fatalf("apply: %s", describeFailure(res, err))
			}
			checkState(t, srv, m)
			checkPolicies(t, srv, m)
			got := calls(srv)
			if !maps.Equal(got, s.calls) {
				t.Fatalf("API calls\n got %v\nwant %v", got, s.calls)
			}
			t.Logf("%s: %v", s.name, got)
			for k, pr := range res.Policies {
				if !pr.Programmed {
					t.Errorf("policy %s: %+v", k, pr)
				}
			}
			srv.ResetCounts()
			if _, err := d.Apply(ctx, m); err != nil {
				t.Fatal(err)
			}
			if got := calls(srv); len(got) != 0 {
				t.Fatalf("second apply of an unchanged model made calls: %v", got)
			}
		})
	}
}

// TestPolicyResults: the result carries what the policies' statuses and annotations need.
func TestPolicyResults(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	d := newDeployer(t, newClient(t, srv, 3, nil))
	m := withAllPolicies(seed())
	res, err := d.Apply(context.Background(), m)
	if err != nil || !allProgrammed(res) {
		t.Fatalf("apply: %s", describeFailure(res, err))
	}
	snap := srv.Store().Snapshot()
	rates := res.Routes[svc(m, "rates").Route]
	want := map[model.PolicyKey]deploy.PolicyResult{
		tgpKey: {Programmed: true},
		vapKey: {Programmed: true, ARN: snap.VPCAssociations[0].ARN},
		alpKey: {Programmed: true, ARN: snap.AccessLogSubscriptions[0].ARN},
		iapKey: {Programmed: true, ResourceID: rates.ServiceID, ResourceType: deploy.ResourceTypeService, ResourceName: "rates-default"},
	}
	if !maps.Equal(res.Policies, want) {
		t.Fatalf("policies\n got %+v\nwant %+v", res.Policies, want)
	}

	// A failure reaches the policies of the route it happens on.
	svc(m, "rates").Auth.Document = "not json"
	res, err = d.Apply(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if pr := res.Policies[iapKey]; pr.Programmed || !strings.Contains(pr.Message, "PutAuthPolicy") {
		t.Fatalf("IAMAuthPolicy with a bad document: %+v", pr)
	}
}

// TestPoliciesOfAnotherControllersNetwork: routes may join a service network of another
// controller, but its access logs and auth are not ours to change, and the policies say so.
func TestPoliciesOfAnotherControllersNetwork(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	client := newClient(t, srv, 3, nil)
	ctx := context.Background()
	other := "123456789012/other/vpc-0123456789abcdef0"
	if _, err := client.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("my-hotel"),
		Tags: map[string]string{model.TagManagedBy: other}}); err != nil {
		t.Fatal(err)
	}
	m := seed()
	m.ServiceNetworks[0].VPCAssociation = nil
	m.ServiceNetworks[0].AccessLogSubscriptions = []model.AccessLogSubscription{accessLog("arn:aws:s3:::hotel-logs", alpKey)}
	m.ServiceNetworks[0].Auth = &model.AuthPolicy{AuthType: model.AuthTypeIAM, Document: allowAll, Policy: gwAuth}
	srv.ResetCounts()
	res, err := newDeployer(t, client).Apply(ctx, m)
	if err != nil || !allProgrammed(res) {
		t.Fatalf("apply: %s", describeFailure(res, err))
	}
	for _, k := range []model.PolicyKey{alpKey, gwAuth} {
		if pr := res.Policies[k]; pr.Programmed || !strings.Contains(pr.Message, "managed by "+other) {
			t.Errorf("%s: %+v", k, pr)
		}
	}
	for _, op := range []string{"CreateAccessLogSubscription", "PutAuthPolicy", "UpdateServiceNetwork", "ListAccessLogSubscriptions"} {
		if n := srv.Counts().Op(op); n != 0 {
			t.Errorf("%d %s on another controller's network", n, op)
		}
	}
}

func withAllPolicies(m *model.Model) *model.Model {
	g := tgByName(svc(m, "rates"), "parking")
	g.HealthCheck, g.Policy = healthCheck("/healthz", 10), &tgpKey
	m.ServiceNetworks[0].VPCAssociation.SecurityGroupIDs = []string{"sg-0123456789abcdef0"}
	m.ServiceNetworks[0].VPCAssociationPolicy = &vapKey
	m.ServiceNetworks[0].AccessLogSubscriptions = []model.AccessLogSubscription{accessLog("arn:aws:s3:::hotel-logs", alpKey)}
	svc(m, "rates").Auth = &model.AuthPolicy{AuthType: model.AuthTypeIAM, Document: allowAll, Policy: iapKey}
	return m
}

// TestPoliciesFromScratchAndRestart: a model with every policy is created with the minimal calls,
// and a restarted deployer reads what it needs, finds everything as wanted and writes nothing;
// an access log policy deleted while it was down loses its subscription.
func TestPoliciesFromScratchAndRestart(t *testing.T) {
	ctx := context.Background()
	m := withAllPolicies(seed())
	plain := startLattice(t, api.Faults{})
	if _, err := newDeployer(t, newClient(t, plain, 3, nil)).Apply(ctx, seed()); err != nil {
		t.Fatal(err)
	}
	baseCalls := calls(plain)
	srv := startLattice(t, api.Faults{})
	res, err := newDeployer(t, newClient(t, srv, 3, nil)).Apply(ctx, m)
	if err != nil || !allProgrammed(res) {
		t.Fatalf("apply: %s", describeFailure(res, err))
	}
	checkPolicies(t, srv, m)
	extra := map[string]int64{}
	for op, n := range calls(srv) {
		if n != baseCalls[op] {
			extra[op] = n - baseCalls[op]
		}
	}
	// Services and networks are created with authType AWS_IAM, target groups with their health
	// check, the association with its security groups: only the policy and subscription remain.
	if want := map[string]int64{"PutAuthPolicy": 1, "CreateAccessLogSubscription": 1}; !maps.Equal(extra, want) {
		t.Errorf("calls beyond the same model without policies: %v, want %v", extra, want)
	}

	srv.ResetCounts()
	d := newDeployer(t, newClient(t, srv, 3, nil))
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	if n := srv.Counts().Mutating(); n != 0 {
		t.Fatalf("restarted deployer wrote: %v", calls(srv))
	}
	t.Logf("restart with every policy in place: %v", calls(srv))

	m.ServiceNetworks[0].AccessLogSubscriptions = nil
	srv.ResetCounts()
	if _, err := newDeployer(t, newClient(t, srv, 3, nil)).Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	checkPolicies(t, srv, m)
	if n := srv.Counts().Op("DeleteAccessLogSubscription"); n != 1 || srv.Counts().Mutating() != 1 {
		t.Fatalf("access log policy deleted while down: %v", calls(srv))
	}
}

// checkPolicies compares Lattice's policy state (health checks, security groups, auth, access
// logs) with m.
func checkPolicies(t *testing.T, srv *api.Server, m *model.Model) {
	t.Helper()
	got, want := describePolicies(srv.Store().Snapshot()), expectPolicies(m)
	if !slices.Equal(got, want) {
		t.Fatalf("lattice policies differ from model\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func describePolicies(s *store.Snapshot) []string {
	names := map[string]string{}
	var out []string
	for _, n := range s.ServiceNetworks {
		names[n.ID] = "sn " + n.Name
		out = append(out, fmt.Sprintf("sn %s authType=%s", n.Name, n.AuthType))
	}
	for _, sv := range s.Services {
		if sv.Status == "DELETE_IN_PROGRESS" {
			continue
		}
		names[sv.ID] = "svc " + sv.Name
		out = append(out, fmt.Sprintf("svc %s authType=%s", sv.Name, sv.AuthType))
	}
	for _, p := range s.AuthPolicies {
		if n, ok := names[p.ResourceID]; ok {
			out = append(out, fmt.Sprintf("%s policy=%s", n, p.Policy))
		}
	}
	for _, a := range s.AccessLogSubscriptions {
		out = append(out, fmt.Sprintf("%s log %s by %s", names[a.ResourceID], a.DestinationARN, a.Tags[model.TagAccessLogPolicy]))
	}
	for _, a := range s.VPCAssociations {
		if a.Status != "DELETE_IN_PROGRESS" {
			out = append(out, fmt.Sprintf("%s sgs=%v", names[a.ServiceNetworkID], a.SecurityGroupIDs))
		}
	}
	for _, g := range s.TargetGroups {
		if hc := g.Config.HealthCheck; hc != nil && g.Status != "DELETE_IN_PROGRESS" {
			out = append(out, fmt.Sprintf("tg %s %s hc %s every %ds", g.Name, g.Config.ProtocolVersion, hc.Path, aws.ToInt32(hc.HealthCheckIntervalSeconds)))
		}
	}
	sort.Strings(out)
	return out
}

func expectPolicies(m *model.Model) []string {
	var out []string
	authType := func(a *model.AuthPolicy) string {
		if a == nil {
			return model.AuthTypeNone
		}
		return a.AuthType
	}
	holder := func(name string, subs []model.AccessLogSubscription, a *model.AuthPolicy) {
		out = append(out, fmt.Sprintf("%s authType=%s", name, authType(a)))
		if a != nil {
			out = append(out, fmt.Sprintf("%s policy=%s", name, a.Document))
		}
		for _, sub := range subs {
			out = append(out, fmt.Sprintf("%s log %s by %s/%s", name, sub.DestinationARN, sub.Policy.Namespace, sub.Policy.Name))
		}
	}
	for _, n := range m.ServiceNetworks {
		holder("sn "+n.Name, n.AccessLogSubscriptions, n.Auth)
		if n.VPCAssociation != nil {
			out = append(out, fmt.Sprintf("sn %s sgs=%v", n.Name, n.VPCAssociation.SecurityGroupIDs))
		}
	}
	for _, sv := range m.Services {
		holder("svc "+sv.Name, sv.AccessLogSubscriptions, sv.Auth)
		for _, g := range sv.TargetGroups {
			if hc := g.HealthCheck; hc != nil {
				out = append(out, fmt.Sprintf("tg %s %s hc %s every %ds", g.Name, g.ProtocolVersion, hc.Path, hc.IntervalSeconds))
			}
		}
	}
	sort.Strings(out)
	return out
}
