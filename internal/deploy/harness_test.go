package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

const (
	account = "123456789012"
	cluster = "test-cluster"
	vpcID   = "vpc-0123456789abcdef0"
)

var managedBy = account + "/" + cluster + "/" + vpcID

// startLattice runs Local Lattice in-process on a loopback port.
func startLattice(t *testing.T, faults api.Faults) *api.Server {
	t.Helper()
	return locallatticetest.Start(t, locallattice.Options{API: api.Options{AccountID: account, Faults: faults},
		Logger: locallatticetest.Silent}).API
}

// newClient is the production client (metrics, rate limits, retries) pointed at srv, with fast
// retries; transport, when set, stands between the SDK and the network.
func newClient(t testing.TB, srv *api.Server, maxAttempts int, transport http.RoundTripper) *vpclattice.Client {
	t.Helper()
	cfg := aws.Config{Region: "us-west-2", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
	})}
	c, err := latticeclient.New(cfg, srv.URL(), prometheus.NewRegistry(), latticeclient.Options{
		RateLimits: &latticeclient.Limits{},
		Retry:      latticeclient.Retry{MaxAttempts: maxAttempts, Base: time.Millisecond, Max: 20 * time.Millisecond},
		Modify: func(o *vpclattice.Options) {
			if transport == nil {
				// Own connections, closed before the server (cleanups run last-in first-out), so
				// that its shutdown does not wait for them.
				tr := &http.Transport{}
				t.Cleanup(tr.CloseIdleConnections)
				transport = tr
			}
			o.HTTPClient = &http.Client{Transport: transport}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newDeployer(t *testing.T, c *vpclattice.Client) *deploy.Deployer {
	return deploy.New(c, deploy.Config{Owner: model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID},
		WaitInitial: time.Millisecond, WaitTimeout: 10 * time.Second}, testr.New(t))
}

// Model builders: the seed walkthrough (gateway my-hotel, routes inventory and rates).

func tags(extra ...string) map[string]string {
	m := map[string]string{model.TagManagedBy: managedBy}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func tg(name string, targets ...string) model.TargetGroup {
	g := model.TargetGroup{Name: name, Backend: model.BackendKey{Namespace: "default", Name: name, Port: 8090},
		Type: model.TargetGroupTypeIP, Port: 8090, Protocol: model.ProtocolHTTP, ProtocolVersion: model.ProtocolVersionHTTP1,
		IPAddressType: model.IPAddressTypeIPv4, VPCID: vpcID,
		Tags: tags(model.TagServiceName, name, model.TagServiceNamespace, "default", model.TagProtocolVersion, model.ProtocolVersionHTTP1)}
	for _, ip := range targets {
		g.Targets = append(g.Targets, model.Target{IP: ip, Port: 8090})
	}
	return g
}

func forward(weights ...any) model.Action {
	var a model.Action
	for i := 0; i+1 < len(weights); i += 2 {
		a.Forward = append(a.Forward, model.WeightedTargetGroup{TargetGroup: weights[i].(string), Weight: int32(weights[i+1].(int))})
	}
	return a
}

func prefix(p string) model.HTTPMatch {
	return model.HTTPMatch{Path: &model.PathMatch{Type: model.MatchPrefix, Value: p, CaseSensitive: true}}
}

func rule(name string, prio int32, match model.HTTPMatch, action model.Action) model.Rule {
	return model.Rule{Name: name, Priority: prio, Match: match, Action: action, Tags: tags()}
}

func listener(port int32, rules ...model.Rule) model.Listener {
	return model.Listener{Name: fmt.Sprintf("http-%d", port), Protocol: model.ProtocolHTTP, Port: port,
		DefaultAction: model.Action{FixedResponse: 404}, Rules: rules, Tags: tags()}
}

func service(route string, listeners []model.Listener, tgs ...model.TargetGroup) model.Service {
	return model.Service{Name: route + "-default", Route: model.RouteKey{Kind: model.KindHTTPRoute, Namespace: "default", Name: route},
		ServiceNetworks: []string{"my-hotel"}, Listeners: listeners, TargetGroups: tgs,
		Tags: tags(model.TagRouteName, route, model.TagRouteNamespace, "default", model.TagRouteType, "http")}
}

func seed() *model.Model {
	return &model.Model{
		ServiceNetworks: []model.ServiceNetwork{{Name: "my-hotel", Gateway: model.GatewayKey{Namespace: "default", Name: "my-hotel"},
			VPCAssociation: &model.VPCAssociation{VPCID: vpcID}, Tags: tags()}},
		Services: []model.Service{
			service("inventory", []model.Listener{listener(80,
				rule("all", 1, prefix("/"), forward("inventory-ver1", 50, "inventory-ver2", 50)))},
				tg("inventory-ver1", "10.244.1.1", "10.244.1.2"), tg("inventory-ver2", "10.244.2.1")),
			service("rates", []model.Listener{listener(80,
				rule("parking", 1, prefix("/parking"), forward("parking", 1)),
				rule("review", 2, prefix("/review"), forward("review", 1)))},
				tg("parking", "10.244.3.1"), tg("review", "10.244.4.1")),
		},
	}
}

// describe renders Lattice's state as sorted lines, target groups by name, so that it can be
// compared with what a model asks for.
func describe(s *store.Snapshot) []string {
	tgName := map[string]string{}
	for _, g := range s.TargetGroups {
		tgName[g.ID] = g.Name
	}
	svcName, snName, lis := map[string]string{}, map[string]string{}, map[string]store.Listener{}
	for _, sv := range s.Services {
		svcName[sv.ID] = sv.Name
	}
	for _, n := range s.ServiceNetworks {
		snName[n.ID] = n.Name
	}
	action := func(a store.RuleAction) string {
		if a.FixedResponse != nil {
			return fmt.Sprintf("fixed %d", a.FixedResponse.StatusCode)
		}
		var parts []string
		if a.Forward != nil {
			for _, w := range a.Forward.TargetGroups {
				parts = append(parts, fmt.Sprintf("%s:%d", tgName[w.TargetGroupIdentifier], aws.ToInt32(w.Weight)))
			}
		}
		return "forward " + strings.Join(parts, ",")
	}
	// Resources being deleted are gone as far as a controller is concerned.
	gone := func(status string) bool { return status == "DELETE_IN_PROGRESS" }
	dying := map[string]bool{}
	for _, sv := range s.Services {
		dying[sv.ID] = gone(sv.Status)
	}
	var out []string
	for _, n := range s.ServiceNetworks {
		out = append(out, fmt.Sprintf("sn %s owner=%s", n.Name, n.Tags[model.TagManagedBy]))
	}
	for _, a := range s.VPCAssociations {
		if gone(a.Status) {
			continue
		}
		out = append(out, fmt.Sprintf("snva %s %s", snName[a.ServiceNetworkID], a.VPCID))
	}
	for _, sv := range s.Services {
		if dying[sv.ID] {
			continue
		}
		out = append(out, fmt.Sprintf("svc %s domain=%s owner=%s", sv.Name, sv.CustomDomainName, sv.Tags[model.TagManagedBy]))
	}
	for _, a := range s.ServiceAssociations {
		if gone(a.Status) || dying[a.ServiceID] {
			continue
		}
		out = append(out, fmt.Sprintf("snsa %s %s", svcName[a.ServiceID], snName[a.ServiceNetworkID]))
	}
	for _, l := range s.Listeners {
		lis[l.ID] = l
		if dying[l.ServiceID] {
			continue
		}
		out = append(out, fmt.Sprintf("listener %s %d %s %s (%s)", svcName[l.ServiceID], l.Port, l.Protocol, l.Name, action(l.DefaultAction)))
	}
	for _, r := range s.Rules {
		l := lis[r.ListenerID]
		if dying[l.ServiceID] {
			continue
		}
		out = append(out, fmt.Sprintf("rule %s %d %s p%d %s (%s)", svcName[l.ServiceID], l.Port, r.Name, r.Priority, matchString(r.Match), action(r.Action)))
	}
	for _, g := range s.TargetGroups {
		if gone(g.Status) {
			continue
		}
		var ts []string
		for _, t := range g.Targets {
			if t.Status != store.TargetDraining {
				ts = append(ts, fmt.Sprintf("%s:%d", t.ID, t.Port))
			}
		}
		sort.Strings(ts)
		out = append(out, fmt.Sprintf("tg %s %s:%d [%s]", g.Name, g.Config.Protocol, aws.ToInt32(g.Config.Port), strings.Join(ts, " ")))
	}
	sort.Strings(out)
	return out
}

func matchString(m store.RuleMatch) string {
	if m.HTTPMatch == nil || m.HTTPMatch.PathMatch == nil {
		return "*"
	}
	if p := m.HTTPMatch.PathMatch.Match.Prefix; p != nil {
		return "prefix:" + *p
	}
	return "exact:" + aws.ToString(m.HTTPMatch.PathMatch.Match.Exact)
}

// expect renders what m asks for in describe's format.
func expect(m *model.Model) []string {
	action := func(a model.Action) string {
		if len(a.Forward) == 0 {
			return fmt.Sprintf("fixed %d", a.FixedResponse)
		}
		var parts []string
		for _, w := range a.Forward {
			parts = append(parts, fmt.Sprintf("%s:%d", w.TargetGroup, w.Weight))
		}
		return "forward " + strings.Join(parts, ",")
	}
	var out []string
	for _, n := range m.ServiceNetworks {
		out = append(out, fmt.Sprintf("sn %s owner=%s", n.Name, managedBy))
		if n.VPCAssociation != nil {
			out = append(out, fmt.Sprintf("snva %s %s", n.Name, n.VPCAssociation.VPCID))
		}
	}
	for _, sv := range m.Services {
		out = append(out, fmt.Sprintf("svc %s domain=%s owner=%s", sv.Name, sv.CustomDomainName, managedBy))
		for _, n := range sv.ServiceNetworks {
			out = append(out, fmt.Sprintf("snsa %s %s", sv.Name, n))
		}
		for _, l := range sv.Listeners {
			out = append(out, fmt.Sprintf("listener %s %d %s %s (%s)", sv.Name, l.Port, l.Protocol, l.Name, action(l.DefaultAction)))
			for _, r := range l.Rules {
				out = append(out, fmt.Sprintf("rule %s %d %s p%d prefix:%s (%s)", sv.Name, l.Port, r.Name, r.Priority, r.Match.Path.Value, action(r.Action)))
			}
		}
		for _, g := range sv.TargetGroups {
			var ts []string
			for _, t := range g.Targets {
				ts = append(ts, fmt.Sprintf("%s:%d", t.IP, t.Port))
			}
			sort.Strings(ts)
			out = append(out, fmt.Sprintf("tg %s %s:%d [%s]", g.Name, g.Protocol, g.Port, strings.Join(ts, " ")))
		}
	}
	sort.Strings(out)
	return out
}

func checkState(t *testing.T, srv *api.Server, m *model.Model) {
	t.Helper()
	got, want := describe(srv.Store().Snapshot()), expect(m)
	if !slices.Equal(got, want) {
		t.Fatalf("lattice state differs from model\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// calls returns the number of calls per operation since the last reset.
func calls(srv *api.Server) map[string]int64 {
	out := map[string]int64{}
	for op := range srv.Counts() {
		if n := srv.Counts().Op(op); n > 0 {
			out[op] = n
		}
	}
	return out
}

// crashAfter lets n mutating requests through; the n-th one's response is lost (the server did
// the work, the deployer never learns of it) and every later request fails: a process crash
// between two operations.
type crashAfter struct {
	mu   sync.Mutex
	n    int
	next http.RoundTripper
}

var errCrashed = errors.New("simulated crash")

func (c *crashAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	mutating := r.Method != http.MethodGet && !strings.HasSuffix(r.URL.Path, "/listtargets")
	c.mu.Lock()
	if c.n <= 0 {
		c.mu.Unlock()
		return nil, errCrashed
	}
	if mutating {
		c.n--
	}
	lost := mutating && c.n == 0
	c.mu.Unlock()
	resp, err := c.next.RoundTrip(r)
	if lost && err == nil {
		_ = resp.Body.Close()
		return nil, errCrashed
	}
	return resp, err
}
