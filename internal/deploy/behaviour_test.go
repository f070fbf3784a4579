package deploy_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

func TestSyncTargetsTouchesOnlyTargets(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	d := newDeployer(t, newClient(t, srv, 3, nil))
	ctx := context.Background()
	m := seed()
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	ver1 := &svc(m, "inventory").TargetGroups[0]
	cases := []struct {
		name    string
		targets []model.Target
		calls   map[string]int64
	}{
		{"endpoint added", append(append([]model.Target{}, ver1.Targets...), model.Target{IP: "10.244.1.3", Port: 8090}),
			map[string]int64{"RegisterTargets": 1}},
		{"endpoint removed", ver1.Targets[:1], map[string]int64{"DeregisterTargets": 1}},
		{"one added one removed", []model.Target{{IP: "10.244.1.9", Port: 8090}}, map[string]int64{"RegisterTargets": 1, "DeregisterTargets": 1}},
		{"unchanged", []model.Target{{IP: "10.244.1.9", Port: 8090}}, map[string]int64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ver1.Targets = c.targets
			srv.ResetCounts()
			res, err := d.SyncTargets(ctx, m, []string{ver1.Name})
			if err != nil {
				t.Fatal(err)
			}
			if r := res.Routes[svc(m, "inventory").Route]; !r.Programmed || len(res.Routes) != 1 {
				t.Fatalf("result %+v", res.Routes)
			}
			checkState(t, srv, m)
			if got := calls(srv); !maps.Equal(got, c.calls) {
				t.Fatalf("calls %v, want %v", got, c.calls)
			}
		})
	}
	t.Run("many endpoints are chunked at 100", func(t *testing.T) {
		ver1.Targets = nil
		for i := range 250 {
			ver1.Targets = append(ver1.Targets, model.Target{IP: "10.244.7." + strconv.Itoa(i%250), Port: 8000 + int32(i)})
		}
		srv.ResetCounts()
		if _, err := d.Apply(ctx, m); err != nil {
			t.Fatal(err)
		}
		checkState(t, srv, m)
		if got, want := calls(srv), map[string]int64{"RegisterTargets": 3, "DeregisterTargets": 1}; !maps.Equal(got, want) {
			t.Fatalf("calls %v, want %v", got, want)
		}
	})
}

// TestOwnership: a service of another controller is never touched unless the route allows the
// takeover; an untagged one is adopted.
func TestOwnership(t *testing.T) {
	cases := []struct {
		name         string
		owner        string // ManagedBy of the pre-existing service; "" = untagged
		takeoverFrom string
		programmed   bool
		message      string
	}{
		{"owned by another cluster", "123456789012/other/vpc-0123456789abcdef0", "", false, "owned by 123456789012/other/vpc-0123456789abcdef0"},
		{"takeover allowed", "123456789012/other/vpc-0123456789abcdef0", "123456789012/other/vpc-0123456789abcdef0", true, ""},
		{"takeover from someone else", "123456789012/other/vpc-0123456789abcdef0", "123456789012/third/vpc-0123456789abcdef0", false, "owned by"},
		{"untagged is adopted", "", "", true, ""},
	}
	other := "123456789012/other/vpc-0123456789abcdef0"
	tgCases := []struct {
		name         string
		owner        string
		takeoverFrom string
		programmed   bool
		message      string
	}{
		{"target group owned by another cluster", other, "", false, "target group inventory-ver1 is owned by " + other},
		{"target group taken over with the service", other, other, true, ""},
		{"untagged target group is adopted", "", "", true, ""},
	}
	for _, c := range tgCases {
		t.Run(c.name, func(t *testing.T) {
			srv := startLattice(t, api.Faults{})
			client := newClient(t, srv, 3, nil)
			ctx := context.Background()
			in := &vpclattice.CreateTargetGroupInput{Name: aws.String("inventory-ver1"), Type: "IP", Config: &types.TargetGroupConfig{
				Port: aws.Int32(8090), Protocol: "HTTP", ProtocolVersion: "HTTP1", IpAddressType: "IPV4", VpcIdentifier: aws.String(vpcID)}}
			if c.owner != "" {
				in.Tags = map[string]string{model.TagManagedBy: c.owner}
			}
			if _, err := client.CreateTargetGroup(ctx, in); err != nil {
				t.Fatal(err)
			}
			m := seed()
			svc(m, "inventory").AllowTakeoverFrom = c.takeoverFrom
			res, err := newDeployer(t, client).Apply(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if r := res.Routes[svc(m, "inventory").Route]; r.Programmed != c.programmed || !strings.Contains(r.Message, c.message) {
				t.Fatalf("inventory: %+v, want programmed=%v message~%q", r, c.programmed, c.message)
			}
			if c.programmed {
				checkState(t, srv, m)
			}
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startLattice(t, api.Faults{})
			client := newClient(t, srv, 3, nil)
			ctx := context.Background()
			in := &vpclattice.CreateServiceInput{Name: aws.String("inventory-default")}
			if c.owner != "" {
				in.Tags = map[string]string{model.TagManagedBy: c.owner}
			}
			if _, err := client.CreateService(ctx, in); err != nil {
				t.Fatal(err)
			}
			m := seed()
			svc(m, "inventory").AllowTakeoverFrom = c.takeoverFrom
			res, err := newDeployer(t, client).Apply(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			r := res.Routes[svc(m, "inventory").Route]
			if r.Programmed != c.programmed || !strings.Contains(r.Message, c.message) {
				t.Fatalf("inventory: %+v, want programmed=%v message~%q", r, c.programmed, c.message)
			}
			if !res.Routes[svc(m, "rates").Route].Programmed {
				t.Fatalf("rates must not suffer from inventory's conflict: %+v", res.Routes)
			}
			if c.programmed {
				checkState(t, srv, m)
				return
			}
			for _, line := range describe(srv.Store().Snapshot()) {
				if strings.Contains(line, "inventory") && !strings.HasPrefix(line, "svc inventory-default domain= owner="+c.owner) {
					t.Errorf("foreign service touched: %s", line)
				}
			}
		})
	}
}

// TestLatticeErrorsReachRouteResult: what Lattice refuses is reported on the route, not only
// logged, and other routes proceed.
func TestLatticeErrorsReachRouteResult(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	d := newDeployer(t, newClient(t, srv, 3, nil))
	m := seed()
	l := &svc(m, "rates").Listeners[0]
	for i := range 11 {
		l.Rules = append(l.Rules, rule("extra-"+strconv.Itoa(i), int32(10+i), prefix("/x"+strconv.Itoa(i)), forward("review", 1)))
	}
	res, err := d.Apply(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Routes[svc(m, "rates").Route]
	if want := "CreateRule rule rates-default/80/extra-8: ServiceQuotaExceededException: "; r.Programmed || !strings.HasPrefix(r.Message, want) || strings.Contains(r.Message, "RequestID") {
		t.Fatalf("rates: %+v", r)
	}
	if !res.Routes[svc(m, "inventory").Route].Programmed {
		t.Fatalf("inventory: %+v", res.Routes)
	}
}

func TestPlanChangesNothing(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	d := newDeployer(t, newClient(t, srv, 3, nil))
	p, err := d.Plan(context.Background(), seed())
	if err != nil {
		t.Fatal(err)
	}
	if srv.Counts().Mutating() != 0 {
		t.Fatalf("plan made mutating calls: %v", calls(srv))
	}
	out := p.String()
	for _, want := range []string{"CreateServiceNetwork service network my-hotel", "CreateService service inventory-default",
		"CreateRule rule rates-default/80/parking (priority 1)", "RegisterTargets target group parking (1 targets)"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if p.Len() != 19 {
		t.Errorf("plan has %d calls, want 19:\n%s", p.Len(), out)
	}
}

// TestRefreshRepairsDrift: the cache is trusted until Refresh, which finds changes made behind the
// deployer's back.
func TestRefreshRepairsDrift(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	client := newClient(t, srv, 3, nil)
	d := newDeployer(t, client)
	ctx := context.Background()
	m := seed()
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	snap := srv.Store().Snapshot()
	for _, r := range snap.Rules {
		if r.Name == "parking" {
			if _, err := client.DeleteRule(ctx, &vpclattice.DeleteRuleInput{ServiceIdentifier: aws.String(r.ServiceID),
				ListenerIdentifier: aws.String(r.ListenerID), RuleIdentifier: aws.String(r.ID)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	checkState(t, srv, m)
}

// runSteps applies every step's model, re-applying until routes and gateways are programmed, and
// checks Lattice's state after each.
func runSteps(t *testing.T, srv *api.Server, d *deploy.Deployer, attempts int) {
	t.Helper()
	ctx := context.Background()
	m := seed()
	for _, s := range steps {
		s.change(m)
		var last string
		converged := false
		for range attempts {
			res, err := d.Apply(ctx, m)
			if err == nil && allProgrammed(res) {
				converged = true
				break
			}
			last = describeFailure(res, err)
		}
		if !converged {
			t.Fatalf("step %s did not converge: %s", s.name, last)
		}
		checkState(t, srv, m)
	}
}

func allProgrammed(res *deploy.Result) bool { return res != nil && res.AllProgrammed() }

func describeFailure(res *deploy.Result, err error) string {
	if err != nil {
		return err.Error()
	}
	var msgs []string
	for k, r := range res.Routes {
		if !r.Programmed {
			msgs = append(msgs, k.String()+": "+r.Message)
		}
	}
	for k, g := range res.Gateways {
		if !g.Programmed {
			msgs = append(msgs, k.String()+": "+g.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

func TestFaultsConverge(t *testing.T) {
	cases := []struct {
		name   string
		faults api.Faults
	}{
		{"20% throttling and 5% internal errors", api.Faults{ThrottleRate: 0.2, ErrorRate: 0.05}},
		{"asynchronous creates and deletes", api.Faults{AsyncDelay: 30 * time.Millisecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startLattice(t, c.faults)
			runSteps(t, srv, newDeployer(t, newClient(t, srv, 10, nil)), 20)
			// The last step deleted everything; allow asynchronous deletions to finish.
			time.Sleep(2 * c.faults.AsyncDelay)
			if left := describe(srv.Store().Snapshot()); len(left) != 0 {
				t.Fatalf("leaked: %v", left)
			}
		})
	}
}

// TestCollectGarbage: leaked resources carrying our ManagedBy (left by a crash or a route deleted
// while the controller was down) are deleted by the first Apply after a Refresh; others' and
// untagged ones are left alone.
func TestCollectGarbage(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	client := newClient(t, srv, 3, nil)
	ctx := context.Background()
	m := seed()
	d := newDeployer(t, client)
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	leaks := []struct {
		name  string
		owner string
		kept  bool
	}{
		{"k8s-leaked-ours", managedBy, false},
		{"k8s-someone-elses", "123456789012/other/vpc-0123456789abcdef0", true},
		{"k8s-untagged", "", true},
	}
	for _, l := range leaks {
		in := &vpclattice.CreateTargetGroupInput{Name: aws.String(l.name), Type: "IP", Config: &types.TargetGroupConfig{
			Port: aws.Int32(80), Protocol: "HTTP", VpcIdentifier: aws.String(vpcID)}}
		if l.owner != "" {
			in.Tags = map[string]string{model.TagManagedBy: l.owner}
		}
		if _, err := client.CreateTargetGroup(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := client.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(l.name), Tags: in.Tags}); err != nil {
			t.Fatal(err)
		}
	}
	// The cache does not know about the leaks, so Apply costs nothing and leaves them; Refresh
	// re-discovers and the next Apply finds them.
	srv.ResetCounts()
	if _, err := d.Apply(ctx, m); err != nil || srv.Counts().Total() != 0 {
		t.Fatalf("apply: %v, calls %v", err, calls(srv))
	}
	if err := d.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := d.Apply(ctx, m); err != nil || !allProgrammed(res) {
		t.Fatalf("apply after refresh: %s", describeFailure(res, err))
	}
	got := describe(srv.Store().Snapshot())
	for _, l := range leaks {
		present := slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "tg "+l.name+" ") }) &&
			slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "svc "+l.name+" ") })
		if present != l.kept {
			t.Errorf("%s: present=%v, want %v", l.name, present, l.kept)
		}
	}
	for _, want := range expect(m) {
		if !slices.Contains(got, want) {
			t.Errorf("GC removed wanted %s", want)
		}
	}
}

// TestClientMetricsMatchServerCounts: the client's aws_api_calls_total sees every attempt the
// server answered, throttled retries included.
func TestClientMetricsMatchServerCounts(t *testing.T) {
	srv := startLattice(t, api.Faults{ThrottleRate: 0.2})
	reg := prometheus.NewRegistry()
	cfg := aws.Config{Region: "us-west-2", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
	})}
	client, err := latticeclient.New(cfg, srv.URL(), reg, latticeclient.Options{RateLimits: &latticeclient.Limits{},
		Retry: latticeclient.Retry{MaxAttempts: 20, Base: time.Millisecond, Max: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newDeployer(t, client).Apply(context.Background(), seed()); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total, throttled float64
	for _, f := range families {
		if f.GetName() != "aws_api_calls_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			total += m.GetCounter().GetValue()
			for _, l := range m.GetLabel() {
				if l.GetName() == "error_code" && l.GetValue() == "ThrottlingException" {
					throttled += m.GetCounter().GetValue()
				}
			}
		}
	}
	if int64(total) != srv.Counts().Total() || throttled == 0 {
		t.Fatalf("client counted %v calls (%v throttled), server %d", total, throttled, srv.Counts().Total())
	}
}

// TestBadModels: a malformed model never crashes the deployer; what is wrong is reported on the
// routes concerned and the rest is deployed.
func TestBadModels(t *testing.T) {
	cases := []struct {
		name    string
		break_  func(m *model.Model)
		route   string // the route expected to fail; "" = Apply itself fails
		message string
	}{
		{"nil model", nil, "", "nil model"},
		{"two routes claim one service name", func(m *model.Model) { svc(m, "rates").Name = "inventory-default" },
			"rates", "lattice service name inventory-default is used by another route"},
		{"two routes claim one target group", func(m *model.Model) {
			s := svc(m, "rates")
			s.TargetGroups[0] = tg("inventory-ver1", "10.244.9.9")
			s.Listeners[0].Rules[0].Action = forward("inventory-ver1", 1)
		}, "rates", "target group name inventory-ver1 is used twice"},
		{"rule forwards to an unknown target group", func(m *model.Model) {
			svc(m, "rates").Listeners[0].Rules[0].Action = forward("nowhere", 1)
		}, "rates", "CreateRule rule rates-default/80/parking: "},
		{"invalid service name", func(m *model.Model) { svc(m, "rates").Name = "svc-Not Valid" },
			"rates", "CreateService service svc-Not Valid: ValidationException"},
		{"service network that exists nowhere", func(m *model.Model) { svc(m, "rates").ServiceNetworks = []string{"ghost"} },
			"rates", "service network ghost does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startLattice(t, api.Faults{})
			d := newDeployer(t, newClient(t, srv, 3, nil))
			var m *model.Model
			if c.break_ != nil {
				m = seed()
				c.break_(m)
			}
			res, err := d.Apply(context.Background(), m)
			if c.route == "" {
				if err == nil || !strings.Contains(err.Error(), c.message) {
					t.Fatalf("err %v, want %q", err, c.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var failed *deploy.RouteResult
			for k, r := range res.Routes {
				if k.Name == c.route {
					failed = &r
				} else if !r.Programmed {
					t.Errorf("%s: %s", k, r.Message)
				}
			}
			if failed == nil || failed.Programmed || !strings.Contains(failed.Message, c.message) {
				t.Fatalf("%s: %+v, want message ~ %q", c.route, failed, c.message)
			}
		})
	}
}
