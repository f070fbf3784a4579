package dataplane_test

import (
	"context"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	mdns "github.com/miekg/dns"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
)

// TestWalkthroughThroughTheSDK is the seed walkthrough on one machine: everything is configured
// with the real vpclattice client over HTTP against the Local Lattice API, pods have 10.244/16
// addresses reached through the dial map (to 127.245/16, away from the test clusters' 127.244/16),
// and clients resolve the service through the data plane's DNS server.
func TestWalkthroughThroughTheSDK(t *testing.T) {
	t.Parallel()
	ver1 := dataplane.StartBackend(t, "inventory-ver1", "127.245.251.1:8090")
	dataplane.StartBackend(t, "inventory-ver2", "127.245.251.2:8090")
	ver1b := dataplane.StartBackend(t, "inventory-ver1", "127.245.251.3:8090")

	var dialMap dataplane.DialMap
	if err := dialMap.Set("10.244.0.0/16=127.245.0.0/16"); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	ll := locallatticetest.Start(t, locallattice.Options{API: api.Options{DrainingDelay: time.Minute},
		DataPlane: &dataplane.Options{DataPlaneAddr: "127.0.52.20", ListenerPortOffset: dataplane.TestPortOffset,
			DataDir: dataDir, DialMap: dialMap, HealthCheckInterval: 50 * time.Millisecond}})
	lc, dp := ll.Client, ll.DataPlane

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sn := must(lc.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("my-hotel")}))
	must(lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String("vpc-0123456789abcdef0")}))
	svc := must(lc.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("inventory-default")}))
	must(lc.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Id}))
	targetGroup := func(name string, pods ...string) *vpclattice.CreateTargetGroupOutput {
		tg := must(lc.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(8090), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0123456789abcdef0"),
				HealthCheck: &types.HealthCheckConfig{Path: aws.String("/health"), HealthyThresholdCount: aws.Int32(2), UnhealthyThresholdCount: aws.Int32(2)}}}))
		var targets []types.Target
		for _, p := range pods {
			targets = append(targets, types.Target{Id: aws.String(p), Port: aws.Int32(8090)})
		}
		must(lc.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: targets}))
		return tg
	}
	tg1 := targetGroup("k8s-inventory-ver1", "10.244.251.1", "10.244.251.3")
	tg2 := targetGroup("k8s-inventory-ver2", "10.244.251.2")
	listener := must(lc.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("http-80"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(80),
		DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{
			{TargetGroupIdentifier: tg1.Id, Weight: aws.Int32(50)}, {TargetGroupIdentifier: tg2.Id, Weight: aws.Int32(50)}}}}}))
	must(lc.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: sn.Id,
		DestinationArn: aws.String("arn:aws:logs:us-west-2:123456789012:log-group:hotel")}))

	// The client resolves the generated name through the data plane's DNS server.
	name := aws.ToString(svc.DnsEntry.DomainName)
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), mdns.TypeA)
	answer, err := mdns.Exchange(q, dp.DNSAddr())
	if err != nil || len(answer.Answer) != 1 {
		t.Fatalf("resolve %s: %v %v", name, answer, err)
	}
	ip := answer.Answer[0].(*mdns.A).A.String()
	d := &net.Dialer{}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		return d.DialContext(ctx, network, net.JoinHostPort(ip, strconv.Itoa(p+dataplane.TestPortOffset)))
	}}}

	targetStatus := func(tg *string, id string) string {
		out := must(lc.ListTargets(ctx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg}))
		for _, s := range out.Items {
			if aws.ToString(s.Id) == id {
				return string(s.Status)
			}
		}
		return ""
	}
	for _, tt := range []struct {
		tg *string
		id string
	}{{tg1.Id, "10.244.251.1"}, {tg1.Id, "10.244.251.3"}, {tg2.Id, "10.244.251.2"}} {
		dataplane.Eventually(t, tt.id+" HEALTHY in ListTargets", func() bool { return targetStatus(tt.tg, tt.id) == "HEALTHY" })
	}

	split := func(n int) map[string]int {
		counts := map[string]int{}
		for range n {
			code, e := dataplane.Get(t, c, dataplane.MustRequest(t, "GET", "http://"+name+"/"))
			if code != 200 || e == nil {
				t.Fatalf("status %d", code)
			}
			counts[e.Backend]++
		}
		return counts
	}
	const n = 1000
	counts := split(n)
	for _, v := range []string{"inventory-ver1", "inventory-ver2"} {
		if share := float64(counts[v]) / n; math.Abs(share-0.5) > 0.03 {
			t.Errorf("%s got %.3f of %d requests, want 0.5±0.03 (%v)", v, share, n, counts)
		}
	}
	if h1, h3 := ver1.Hits(), ver1b.Hits(); h1 != h3 {
		t.Errorf("round robin inside ver1: %d vs %d", h1, h3)
	}

	// A rule created through the API applies to the next request.
	must(lc.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: svc.Id, ListenerIdentifier: listener.Id,
		Name: aws.String("canary"), Priority: aws.Int32(1),
		Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{HeaderMatches: []types.HeaderMatch{
			{Name: aws.String("x-canary"), Match: &types.HeaderMatchTypeMemberExact{Value: "yes"}}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg2.Id}}}}}))
	req := dataplane.MustRequest(t, "GET", "http://"+name+"/")
	req.Header.Set("X-Canary", "YES")
	for range 5 {
		if _, e := dataplane.Get(t, c, req); e == nil || e.Backend != "inventory-ver2" {
			t.Fatalf("canary rule: got %v", e)
		}
	}

	// A failing pod is reported UNHEALTHY through the API and leaves rotation.
	ver1b.SetSick(true)
	dataplane.Eventually(t, "10.244.251.3 UNHEALTHY", func() bool { return targetStatus(tg1.Id, "10.244.251.3") == "UNHEALTHY" })
	before := ver1b.Hits()
	split(40)
	if ver1b.Hits() != before {
		t.Errorf("unhealthy target got %d requests", ver1b.Hits()-before)
	}

	// Deregistering drains: the target shows DRAINING and gets nothing new.
	ver1b.SetSick(false)
	must(lc.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: tg1.Id,
		Targets: []types.Target{{Id: aws.String("10.244.251.1"), Port: aws.Int32(8090)}}}))
	if s := targetStatus(tg1.Id, "10.244.251.1"); s != "DRAINING" {
		t.Errorf("deregistered target is %s, want DRAINING", s)
	}
	before = ver1.Hits()
	split(40)
	if ver1.Hits() != before {
		t.Errorf("draining target got %d requests", ver1.Hits()-before)
	}

	data, err := os.ReadFile(dataplane.AccessLogPath(dataDir, "arn:aws:logs:us-west-2:123456789012:log-group:hotel"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := len(dataplane.SplitLines(data)); lines != n+5+40+40 {
		t.Errorf("access log has %d lines, want %d", lines, n+5+40+40)
	}
}

// must unwraps an SDK call that has to succeed; a failure panics, failing the test with the
// error (Go cannot pass (v, err) along with a *testing.T).
func must[T any](v T, err error) T {
	if err != nil {
		panic("unexpected error: " + err.Error())
	}
	return v
}
