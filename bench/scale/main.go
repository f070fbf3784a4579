// Command scale measures how fast lattice-gateway converges at scale against Local Lattice: N
// seed-shaped routes deployed at once through the production client (adaptive rate, optional
// ceiling) and deployer (parallel services, Tagging API discovery), then the steady state, one
// pod change, a graceful stop (spec hash tags), a restart and deleting everything. It prints API
// calls by operation against the
// minimum the model needs, throttled attempts, wall times and this process's memory and CPU.
//
//	go run ./bench/scale -n 1000                      # no injected latency or limit
//	go run ./bench/scale -n 1000 -api-latency 50ms    # latency-bound
//	go run ./bench/scale -n 1000 -tps-limit 10        # rate-bound (10 calls/s per operation)
//
// By default it drives the deployer directly (the standalone pipeline's last stage), without a
// Kubernetes cluster: status writes and the controller's informers are not measured, and the
// memory and CPU figures include the in-process Local Lattice. With -cluster it starts a test
// cluster (test/cluster), builds and runs `lattice-gateway controller` as a process against the
// in-process Local Lattice and applies N HTTPRoutes; it then also prints status writes per route
// and the controller's RSS and CPU. -chaos adds throttling, 500s and latency and SIGKILLs the
// controller every 15 s while everything is created and deleted.
//
//	go run ./bench/scale -cluster -n 1000
//	go run ./bench/scale -chaos -n 100
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

const (
	account     = "123456789012"
	clusterName = "bench"
	vpcID       = "vpc-0123456789abcdef0"
)

type options struct {
	n           int
	latency     time.Duration
	tps         float64
	maxTPS      float64
	concurrency int
	steady      time.Duration
	noTagging   bool
	cpuProfile  string
	noGraceful  bool
	// cluster mode
	cluster          bool
	chaos            bool
	killEvery        time.Duration
	controllerBinary string
	controllerFlags  string
	controllerEnv    string
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1000, "seed-shaped routes to deploy")
	flag.DurationVar(&o.latency, "api-latency", 0, "Local Lattice: latency added to every call")
	flag.Float64Var(&o.tps, "tps-limit", 0, "Local Lattice: calls per second per operation before it throttles (0: unlimited)")
	flag.Float64Var(&o.maxTPS, "lattice-api-max-tps", 0, "client: fixed ceiling per operation (0: adaptive only, the default)")
	flag.IntVar(&o.concurrency, "lattice-api-concurrency", config.DefaultLatticeAPIConcurrency, "client: calls in flight at most")
	flag.DurationVar(&o.steady, "steady", 2*time.Minute, "steady-state window, re-applying every 10s")
	flag.BoolVar(&o.noTagging, "disable-tagging-service-api", false, "discover with one ListTagsForResource per resource")
	flag.BoolVar(&o.noGraceful, "restart-after-crash", false, "restart without the first deployer's Checkpoint (spec hash tags), as after a crash")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (deployer and Local Lattice) to this file")
	flag.BoolVar(&o.cluster, "cluster", false, "run a test cluster and the controller as a process (built from this checkout) instead of the deployer in-process")
	flag.BoolVar(&o.chaos, "chaos", false, "cluster mode under 20% throttling, 5% 500s and 30ms per call, the controller SIGKILLed every -kill-every: create and delete must converge with no duplicate or leak")
	flag.DurationVar(&o.killEvery, "kill-every", 15*time.Second, "with -chaos: SIGKILL and restart the controller this often")
	flag.StringVar(&o.controllerBinary, "controller-binary", "", "with -cluster: the lattice-gateway binary to run (default: go build ./cmd/lattice-gateway)")
	flag.StringVar(&o.controllerFlags, "controller-flags", "", "with -cluster: more flags for the controller, space-separated (e.g. \"--kube-api-qps=200\")")
	flag.StringVar(&o.controllerEnv, "controller-env", "", "with -cluster: more environment for the controller, space-separated (e.g. \"GOMEMLIMIT=115MiB\")")
	flag.Parse()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	run := run
	if o.cluster || o.chaos {
		run = runCluster
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type bench struct {
	options
	srv     *api.Server
	newDepl func() *deploy.Deployer
}

// startLattice starts Local Lattice with quotas for n routes and the regime's faults.
func startLattice(n int, faults api.Faults) (*locallattice.Instance, error) {
	q := api.DefaultQuotas()
	q.Services, q.TargetGroups, q.ServicesPerServiceNetwork = n+10, 2*n+10, n+10
	return locallattice.Start(context.Background(), locallattice.Options{API: api.Options{Region: "us-west-2", AccountID: account, Quotas: q, Faults: faults}})
}

func run(o options) error {
	ll, err := startLattice(o.n, api.Faults{APILatency: o.latency, TPSLimit: o.tps})
	if err != nil {
		return err
	}
	defer ll.Close()
	srv := ll.API
	// Enough idle connections for every call in flight: the default 2 per host would make the
	// bench measure TCP handshakes.
	tr := &http.Transport{MaxIdleConnsPerHost: max(o.concurrency, 2)}
	cfg := aws.Config{Region: "us-west-2", HTTPClient: &http.Client{Transport: tr},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "secret"}, nil
		})}
	copts := latticeclient.Options{RateLimits: latticeclient.Ceiling(o.maxTPS)}
	client, err := latticeclient.New(cfg, srv.URL(), nil, copts)
	if err != nil {
		return err
	}
	dcfg := deploy.Config{Owner: model.Owner{AccountID: account, ClusterName: clusterName, VPCID: vpcID}, Concurrency: o.concurrency}
	if !o.noTagging {
		if dcfg.Tagging, err = latticeclient.NewTagging(cfg, srv.URL(), nil, copts); err != nil {
			return err
		}
	}
	b := &bench{options: o, srv: srv, newDepl: func() *deploy.Deployer { return deploy.New(client, dcfg, logr.Discard()) }}
	return b.run(context.Background())
}

func (b *bench) run(ctx context.Context) error {
	m, minimal := routes(b.n)
	b.printHeader("in-process deployer")

	d := b.newDepl()
	b.srv.ResetCounts()
	start := time.Now()
	rounds, err := converge(ctx, d, m)
	if err != nil {
		return err
	}
	wall := time.Since(start)
	b.printConverged(b.srv.Counts(), minimal, wall, fmt.Sprintf("%d Apply rounds", rounds))

	b.srv.ResetCounts()
	deadline := time.Now().Add(b.steady)
	for time.Now().Before(deadline) {
		if _, err := d.Apply(ctx, m); err != nil {
			return err
		}
		time.Sleep(min(10*time.Second, time.Until(deadline)))
	}
	fmt.Printf("steady state: %d calls in %v (Apply every 10s)\n", b.srv.Counts().Total(), b.steady)

	tg := &m.Services[0].TargetGroups[0]
	tg.Targets = append(tg.Targets, model.Target{IP: "10.244.250.250", Port: 8090})
	b.srv.ResetCounts()
	start = time.Now()
	if _, err := d.SyncTargets(ctx, m, []string{tg.Name}); err != nil {
		return err
	}
	fmt.Printf("one pod added: %d calls %v in %v\n", b.srv.Counts().Total(), ops(b.srv.Counts()), time.Since(start).Round(time.Millisecond))

	if !b.noGraceful {
		b.srv.ResetCounts()
		start = time.Now()
		n, err := d.Checkpoint(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("graceful stop (Checkpoint): %d spec hash tags, %d calls %v in %v\n", n, b.srv.Counts().Total(), ops(b.srv.Counts()), time.Since(start).Round(time.Millisecond))
	}
	b.srv.ResetCounts()
	start = time.Now()
	restarted := b.newDepl()
	if _, err := converge(ctx, restarted, m); err != nil {
		return err
	}
	rc := b.srv.Counts()
	fmt.Printf("restart (fresh deployer, unchanged world): %d reads (%.2f per route), %d mutating, in %v\n  %v\n",
		rc.Total()-rc.Mutating(), float64(rc.Total()-rc.Mutating())/float64(b.n), rc.Mutating(), time.Since(start).Round(time.Millisecond), ops(rc))

	b.srv.ResetCounts()
	start = time.Now()
	empty := &model.Model{}
	if _, err := converge(ctx, restarted, empty); err != nil {
		return err
	}
	dc := b.srv.Counts()
	took := time.Since(start)
	fmt.Printf("delete all: %d calls (%d throttled) in %v; %d resources left\n  %v\n", dc.Total(), status(dc, http.StatusTooManyRequests),
		took.Round(time.Millisecond), latticeLeft(b.srv), ops(dc))
	b.printDeleteFloor(took)

	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("process (deployer and Local Lattice together): max RSS %d MiB, CPU %v\n", ru.Maxrss/1024, cpu.Round(time.Millisecond))
	return nil
}

// converge applies m until every route and gateway is programmed, as the controller's requeues
// would; it returns the number of Apply calls.
func converge(ctx context.Context, d *deploy.Deployer, m *model.Model) (int, error) {
	for round := 1; ; round++ {
		res, err := d.Apply(ctx, m)
		if err == nil && res.AllProgrammed() {
			return round, nil
		}
		if round == 20 {
			return round, fmt.Errorf("not converged after %d rounds: %v", round, err)
		}
	}
}

func (o options) printHeader(mode string) {
	fmt.Printf("bench/scale %s, %s: %d seed-shaped routes (2 target groups, 2 targets each); Local Lattice api-latency %v, tps-limit %v/operation; client ceiling %v/operation, %d calls in flight, tagging discovery %v\n\n",
		time.Now().UTC().Format("2006-01-02T15:04Z"), mode, o.n, o.latency, o.tps, o.maxTPS, o.concurrency, !o.noTagging)
}

// printConverged prints the calls by operation against the minimum, the time to converge and,
// in the latency- and rate-bound regimes, how that time compares with the bound.
func (o options) printConverged(counts api.Counts, minimal map[string]int64, wall time.Duration, how string) {
	var minTotal int64
	floor := 0.0
	for _, v := range minimal {
		minTotal += v
		if o.tps > 0 {
			floor = max(floor, float64(v)/o.tps)
		}
	}
	printCounts(counts, minimal)
	throttled := status(counts, http.StatusTooManyRequests)
	fmt.Printf("\nconverged: all %d routes Programmed in %v (%s)\n", o.n, wall.Round(time.Millisecond), how)
	fmt.Printf("  calls %d = %.3f x minimal %d (%.2f per route); mutating accepted %d; throttled %d (%.1f%%)\n",
		counts.Total(), float64(counts.Total())/float64(minTotal), minTotal, float64(counts.Total())/float64(o.n),
		counts.Mutating()-throttled, throttled, 100*float64(throttled)/float64(max(counts.Total(), 1)))
	if o.latency > 0 {
		bound := time.Duration(float64(minTotal) * float64(o.latency) / float64(o.concurrency))
		fmt.Printf("  latency bound: minimal x latency / calls in flight = %v; took %.2f x\n", bound.Round(time.Millisecond), wall.Seconds()/bound.Seconds())
	}
	if floor > 0 {
		fmt.Printf("  rate floor: busiest operation's minimal calls / tps-limit = %.1fs; took %.2f x\n", floor, wall.Seconds()/floor)
	}
}

// printDeleteFloor compares the time to delete everything with the rate floor.
func (o options) printDeleteFloor(took time.Duration) {
	if o.tps > 0 {
		// Every target group is deregistered and deleted: 2 per route of each, the busiest.
		floor := float64(2*o.n) / o.tps
		fmt.Printf("  rate floor: %d DeleteTargetGroup / tps-limit = %.1fs; took %.2f x\n", 2*o.n, floor, took.Seconds()/floor)
	}
}

func printCounts(counts api.Counts, minimal map[string]int64) {
	fmt.Printf("%-40s %8s %9s %9s %8s\n", "operation", "calls", "accepted", "throttled", "minimum")
	names := make([]string, 0, len(counts))
	for op := range counts {
		names = append(names, op)
	}
	slices.Sort(names)
	for _, op := range names {
		fmt.Printf("%-40s %8d %9d %9d %8d\n", op, counts.Op(op), accepted(counts[op]), counts[op][http.StatusTooManyRequests], minimal[op])
	}
}

// ops is the number of calls per operation.
func ops(c api.Counts) map[string]int64 {
	out := map[string]int64{}
	for op := range c {
		out[op] = c.Op(op)
	}
	return out
}

func status(c api.Counts, code int) int64 {
	var n int64
	for _, codes := range c {
		n += codes[code]
	}
	return n
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
	own := map[string]string{model.TagManagedBy: account + "/" + clusterName + "/" + vpcID}
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
