// Command deploy measures the deployer against Local Lattice: API calls per route (actual vs
// the minimum the model needs) and wall time to deploy N seed-shaped routes, then the cost of a
// steady-state re-apply and of one endpoint change.
//
//	go run ./bench/deploy -n 1000 -api-latency 50ms -tps-limit 10
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

const (
	account = "123456789012"
	cluster = "bench"
	vpcID   = "vpc-0123456789abcdef0"
)

func main() {
	n := flag.Int("n", 100, "routes to deploy")
	latency := flag.Duration("api-latency", 50*time.Millisecond, "Local Lattice latency per call")
	tps := flag.Float64("tps-limit", 10, "Local Lattice calls per second per operation (0: unlimited)")
	concurrency := flag.Int("concurrency", 16, "services deployed in parallel")
	flag.Parse()
	if err := run(*n, *latency, *tps, *concurrency); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(n int, latency time.Duration, tps float64, concurrency int) error {
	q := api.DefaultQuotas()
	q.Services, q.TargetGroups, q.ServicesPerServiceNetwork = n+10, 2*n+10, n+10
	ll, err := locallattice.Start(context.Background(), locallattice.Options{API: api.Options{Region: "us-west-2", AccountID: account, Quotas: q,
		Faults: api.Faults{APILatency: latency, TPSLimit: tps}}})
	if err != nil {
		return err
	}
	defer ll.Close()
	srv := ll.API
	limits := latticeclient.Limits{}
	if tps > 0 {
		limits.Default = latticeclient.Limit{PerSecond: tps, Burst: int(tps)}
	}
	cfg := aws.Config{Region: "us-west-2", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret"}, nil
	})}
	client, err := latticeclient.New(cfg, srv.URL(), nil, latticeclient.Options{RateLimits: &limits})
	if err != nil {
		return err
	}
	d := deploy.New(client, deploy.Config{Owner: model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID}, Concurrency: concurrency}, logr.Discard())
	m, minimal := routes(n)
	ctx := context.Background()

	fmt.Printf("deploy %d seed-shaped routes (2 target groups, 2 targets each) against Local Lattice, api-latency %v, tps-limit %v/operation, concurrency %d\n\n",
		n, latency, tps, concurrency)
	start := time.Now()
	res, err := d.Apply(ctx, m)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	wall := time.Since(start)
	for k, r := range res.Routes {
		if !r.Programmed {
			return fmt.Errorf("route %s not programmed: %s", k, r.Message)
		}
	}
	counts := srv.Counts()
	writes := counts.Mutating()
	reads := counts.Total() - writes
	throttled := int64(0)
	for _, codes := range counts {
		throttled += codes[429]
	}
	fmt.Printf("%-40s %8s %9s %8s\n", "operation", "calls", "accepted", "minimum")
	ops := make([]string, 0, len(counts))
	for op := range counts {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		fmt.Printf("%-40s %8d %9d %8d\n", op, counts.Op(op), accepted(counts[op]), minimal[op])
	}
	var minWrites int64
	for _, v := range minimal {
		minWrites += v
	}
	fmt.Printf("\nmutating calls %d, of which %d throttled and retried (minimum %d); read calls %d (one discovery pass)\n",
		writes, throttled, minWrites, reads)
	fmt.Printf("calls per route: %.2f mutating accepted (minimum %.2f), %.2f sent in total\n",
		float64(writes-throttled)/float64(n), float64(minWrites)/float64(n), float64(counts.Total())/float64(n))
	fmt.Printf("wall time: %v (%.1f ms per route)\n", wall.Round(time.Millisecond), float64(wall.Milliseconds())/float64(n))

	srv.ResetCounts()
	start = time.Now()
	if _, err := d.Apply(ctx, m); err != nil {
		return err
	}
	fmt.Printf("\nsteady-state re-apply: %d calls in %v\n", srv.Counts().Total(), time.Since(start).Round(time.Microsecond))

	// A restarted controller: a fresh deployer discovers everything once.
	srv.ResetCounts()
	start = time.Now()
	restarted := deploy.New(client, deploy.Config{Owner: model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID}, Concurrency: concurrency}, logr.Discard())
	if _, err := restarted.Apply(ctx, m); err != nil {
		return err
	}
	rc := srv.Counts()
	fmt.Printf("restart (fresh deployer, unchanged model): %d read calls, %d mutating, in %v\n", rc.Total()-rc.Mutating(), rc.Mutating(), time.Since(start).Round(time.Millisecond))
	ops = ops[:0]
	for op := range rc {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		fmt.Printf("  %-38s %6d\n", op, rc.Op(op))
	}

	tg := &m.Services[0].TargetGroups[0]
	tg.Targets = append(tg.Targets, model.Target{IP: "10.244.250.250", Port: 8090})
	srv.ResetCounts()
	start = time.Now()
	if _, err := d.SyncTargets(ctx, m, []string{tg.Name}); err != nil {
		return err
	}
	fmt.Printf("one endpoint added (SyncTargets): %d calls (%v) in %v\n", srv.Counts().Total(), srv.Counts(), time.Since(start).Round(time.Millisecond))
	return nil
}

func accepted(codes map[int]int64) int64 {
	var n int64
	for code, v := range codes {
		if code < 300 {
			n += v
		}
	}
	return n
}

// routes builds n routes shaped like the seed's: even ones like inventory (one rule, 50/50 over
// two target groups), odd ones like rates (two path rules, one target group each). minimal is
// the number of writes the model needs from an empty account.
func routes(n int) (*model.Model, map[string]int64) {
	own := map[string]string{model.TagManagedBy: account + "/" + cluster + "/" + vpcID}
	m := &model.Model{ServiceNetworks: []model.ServiceNetwork{{Name: "my-hotel", Gateway: model.GatewayKey{Namespace: "default", Name: "my-hotel"},
		VPCAssociation: &model.VPCAssociation{VPCID: vpcID}, Tags: own}}}
	minimal := map[string]int64{"CreateServiceNetwork": 1, "CreateServiceNetworkVpcAssociation": 1}
	for i := range n {
		name := "route" + strconv.Itoa(i)
		tgs := []model.TargetGroup{tgFor(name+"-a", i, 1, own), tgFor(name+"-b", i, 2, own)}
		var rules []model.Rule
		if i%2 == 0 {
			rules = []model.Rule{{Name: "all", Priority: 1, Match: pathPrefix("/"), Action: model.Action{Forward: []model.WeightedTargetGroup{
				{TargetGroup: tgs[0].Name, Weight: 50}, {TargetGroup: tgs[1].Name, Weight: 50}}}, Tags: own}}
		} else {
			rules = []model.Rule{
				{Name: "parking", Priority: 1, Match: pathPrefix("/parking"), Action: model.Action{Forward: []model.WeightedTargetGroup{{TargetGroup: tgs[0].Name, Weight: 1}}}, Tags: own},
				{Name: "review", Priority: 2, Match: pathPrefix("/review"), Action: model.Action{Forward: []model.WeightedTargetGroup{{TargetGroup: tgs[1].Name, Weight: 1}}}, Tags: own},
			}
		}
		m.Services = append(m.Services, model.Service{Name: name + "-default", Route: model.RouteKey{Kind: model.KindHTTPRoute, Namespace: "default", Name: name},
			ServiceNetworks: []string{"my-hotel"}, TargetGroups: tgs, Tags: own,
			Listeners: []model.Listener{{Name: "http-80", Protocol: model.ProtocolHTTP, Port: 80, DefaultAction: model.Action{FixedResponse: 404}, Rules: rules, Tags: own}}})
		minimal["CreateService"]++
		minimal["CreateServiceNetworkServiceAssociation"]++
		minimal["CreateListener"]++
		minimal["CreateRule"] += int64(len(rules))
		minimal["CreateTargetGroup"] += 2
		minimal["RegisterTargets"] += 2
	}
	return m, minimal
}

func tgFor(name string, route, backend int, tags map[string]string) model.TargetGroup {
	g := model.TargetGroup{Name: name, Backend: model.BackendKey{Namespace: "default", Name: name, Port: 8090}, Type: model.TargetGroupTypeIP,
		Port: 8090, Protocol: model.ProtocolHTTP, ProtocolVersion: model.ProtocolVersionHTTP1, IPAddressType: model.IPAddressTypeIPv4, VPCID: vpcID, Tags: tags}
	for pod := range 2 {
		g.Targets = append(g.Targets, model.Target{IP: fmt.Sprintf("10.244.%d.%d", route%250, backend*10+pod), Port: 8090})
	}
	return g
}

func pathPrefix(p string) model.HTTPMatch {
	return model.HTTPMatch{Path: &model.PathMatch{Type: model.MatchPrefix, Value: p, CaseSensitive: true}}
}
