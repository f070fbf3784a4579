// Package demo plays the hotel walkthrough on one machine: it runs the demo apps as local
// servers, applies examples/hotel through the standalone file provider (the controller's
// translate and deploy code) to a Local Lattice, waits until everything is Programmed, resolves
// the inventory service's Lattice DNS name through Local Lattice DNS and sends requests "from
// parking" through the data plane, counting how they split between the versions. With two
// clusters it plays the cross-cluster blue/green of examples/multicluster: one file provider per
// cluster, as `run -f A -f B` runs them.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/examples/hotel"
	"github.com/lattice-gateway/lattice-gateway/examples/multicluster"
	"github.com/lattice-gateway/lattice-gateway/internal/demo/workload"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/file"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Cluster is one cluster of the walkthrough: its identity and the deployer acting as it.
type Cluster struct {
	// Name labels the cluster's output; the single-cluster walkthrough leaves it empty.
	Name      string
	Deployer  file.Deployer
	Translate translate.Config
}

// Env is the Local Lattice the demo runs against.
type Env struct {
	// Clusters are one cluster (examples/hotel) or two: examples/multicluster's layout, the
	// importing cluster (route, parking) first, the exporting one second.
	Clusters []Cluster
	// DNSAddr is Local Lattice's DNS server.
	DNSAddr string
	// ListenerAddr is where the data plane serves (or will serve) a Lattice listener port.
	ListenerAddr func(port int32) string
	// Lattice, when set, is polled while waiting, to show what is being created.
	Lattice *vpclattice.Client
	// Serving, when set, tells whether the data plane has bound a listener port: another
	// program on the address would otherwise answer the demo's requests.
	Serving func(port int32) bool
	// ConsoleURL, when set, is Local Lattice's web console, printed while the demo keeps running.
	ConsoleURL string
}

// Options shape the walkthrough.
type Options struct {
	// Requests is how many requests go from the From service to the To route (default 30).
	Requests int
	// From is the Service whose first pod sends the requests (default "parking").
	From string
	// To is the HTTPRoute the requests go to (default "inventory"), in namespace "default".
	To string
	// Timeout bounds the wait for everything to be Programmed (default 60s).
	Timeout time.Duration
	// KeepRunning keeps Local Lattice, the apps and the manifest watch running after the
	// requests, until ctx ends, and prints how to send requests by hand.
	KeepRunning bool
	// Manifests are the walkthrough's manifests (default: the embedded examples/hotel).
	Manifests fs.FS
	Out       io.Writer
	Log       logr.Logger
}

func (o *Options) defaults() {
	if o.Requests <= 0 {
		o.Requests = 30
	}
	if o.From == "" {
		o.From = "parking"
	}
	if o.To == "" {
		o.To = "inventory"
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Manifests == nil {
		o.Manifests = hotel.Manifests
	}
}

// Run plays the walkthrough; the error says what failed.
func Run(ctx context.Context, env Env, o Options) error {
	o.defaults()
	start := time.Now()
	dir, err := os.MkdirTemp("", "lattice-gateway-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	folders, err := layout(dir, o.Manifests, env.Clusters)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	apps, err := startClusterApps(folders, o.Log.WithName("apps"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer apps.Close()
	fmt.Fprintln(o.Out, "Demo apps (the hotel's pods, as local servers):")
	for _, p := range apps.Pods {
		fmt.Fprintf(o.Out, "  %s%-15s %-34s %s\n", label(p.Cluster), p.Service, p.Name, p.Addr)
	}
	from := apps.PodsOf(o.From)
	if len(from) == 0 {
		return fmt.Errorf("demo: no pod of %s to send requests from", o.From)
	}
	backends := weightedBackends(folders[0].objs, o.To)
	if len(backends) == 0 {
		return fmt.Errorf("demo: no HTTPRoute default/%s with backends in the manifests", o.To)
	}

	var reports <-chan *file.Report
	for i, f := range folders {
		what := "examples/hotel"
		if f.cluster.Name != "" {
			what = "cluster " + f.cluster.Name + "'s part of examples/hotel and examples/multicluster"
		}
		fmt.Fprintf(o.Out, "\nApplying %s (copied to %s):\n", what, f.dir)
		r, stop := apply(ctx, env, f, o)
		defer stop()
		if i == 0 {
			reports = r
		}
	}
	rep, err := waitReady(ctx, env.Lattice, reports, o.Timeout, o.Out)
	if err != nil {
		return err
	}
	row := rep.Row("HTTPRoute", "default", o.To)
	if row == nil || row.DNSName == "" || len(row.Addresses) == 0 {
		return fmt.Errorf("demo: HTTPRoute default/%s has no Lattice DNS name", o.To)
	}
	if err := traffic(ctx, env, o, row, from[0], apps, backends); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(o.Out, "Walkthrough done in %s.\n", time.Since(start).Round(time.Millisecond))

	if o.KeepRunning {
		fmt.Fprintf(o.Out, "\nStill running (Ctrl-C stops). Edit the manifests in %s and they are re-applied.\n", dir)
		fmt.Fprintf(o.Out, "Send requests yourself:\n  %s\n", file.Curl(row.DNSName, row.Addresses[0], "/"))
		fmt.Fprintf(o.Out, "  dig @%s -p %s +short %s\n", hostOf(env.DNSAddr), portOf(env.DNSAddr), row.DNSName)
		if env.ConsoleURL != "" {
			fmt.Fprintf(o.Out, "Watch the traffic split and target health in the console: %s\n", env.ConsoleURL)
		}
		follow(ctx, reports, rep, o.Out)
	}
	return nil
}

// folder is one cluster's copy of the manifests and what it holds.
type folder struct {
	cluster Cluster
	dir     string
	objs    []file.Object
}

// layout copies the manifests to dir, where the runners read (and the user may edit) them: all of
// hotel for one cluster; for two, each cluster's part of hotel and of examples/multicluster
// in dir/<cluster name>.
func layout(dir string, hotel fs.FS, clusters []Cluster) ([]folder, error) {
	if len(clusters) == 1 {
		objs, err := load(dir, hotel)
		return []folder{{cluster: clusters[0], dir: dir, objs: objs}}, err
	}
	if len(clusters) != len(multicluster.Clusters) {
		return nil, fmt.Errorf("%d clusters: the walkthrough runs in 1 or %d", len(clusters), len(multicluster.Clusters))
	}
	out := make([]folder, len(clusters))
	for i, part := range multicluster.Clusters {
		own, err := fs.Sub(multicluster.Manifests, part.Name)
		if err != nil {
			return nil, err
		}
		d := filepath.Join(dir, part.Name)
		if err := copyFiles(d, hotel, part.HotelFile); err != nil {
			return nil, fmt.Errorf("copy the hotel manifests: %w", err)
		}
		objs, err := load(d, own)
		if err != nil {
			return nil, err
		}
		c := clusters[i]
		c.Name = part.Name
		out[i] = folder{cluster: c, dir: d, objs: objs}
	}
	return out, nil
}

// copyFiles copies the named files of from to dir, keeping their relative paths.
func copyFiles(dir string, from fs.FS, names []string) error {
	for _, name := range names {
		b, err := fs.ReadFile(from, name)
		if err != nil {
			return err
		}
		to := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// load copies manifests to dir and decodes everything dir holds.
func load(dir string, manifests fs.FS) ([]file.Object, error) {
	if err := os.CopyFS(dir, manifests); err != nil {
		return nil, fmt.Errorf("copy the manifests: %w", err)
	}
	snap, err := file.Load(dir)
	if err != nil {
		return nil, err
	}
	if len(snap.Problems) > 0 {
		return nil, fmt.Errorf("bad example manifest: %w", snap.Problems[0])
	}
	objs := make([]file.Object, 0, len(snap.Manifests))
	for _, m := range snap.Manifests {
		objs = append(objs, m.Object)
	}
	return objs, nil
}

// apply runs the standalone runner on f's folder as its cluster, printing each plan as it is
// applied, until stop. The channel holds the latest report.
func apply(ctx context.Context, env Env, f folder, o Options) (<-chan *file.Report, func()) {
	reports := make(chan *file.Report, 1)
	runCtx, cancel := context.WithCancel(ctx)
	runner := file.New(file.Config{
		Dir: f.dir, Translate: f.cluster.Translate, Deployer: f.cluster.Deployer, ListenerAddr: env.ListenerAddr,
		Debounce: 100 * time.Millisecond, RetryInitial: 200 * time.Millisecond, Log: o.Log.WithName("run").WithValues("cluster", f.cluster.Name),
		OnPlan: func(p *deploy.Plan) {
			for _, op := range p.Ops() {
				fmt.Fprintf(o.Out, "  %s%s\n", label(f.cluster.Name), op)
			}
		},
		OnReport: func(r *file.Report) {
			select {
			case <-reports: // only the latest matters
			default:
			}
			reports <- r
		},
	})
	done := make(chan error, 1)
	go func() { done <- runner.Run(runCtx) }()
	return reports, func() {
		cancel()
		<-done
	}
}

// traffic resolves the route's DNS name through Local Lattice DNS and sends the requests from
// the source pod through the data plane, printing the answers and the split.
func traffic(ctx context.Context, env Env, o Options, row *file.Row, source Pod, apps *Apps, backends []string) error {
	fmt.Fprintf(o.Out, "\n%s DNS name (route annotation %s):\n  %s\n", o.To, status.AnnotationDomainName, row.DNSName)
	ip, err := Resolve(ctx, env.DNSAddr, row.DNSName)
	if err != nil {
		return err
	}
	u, err := url.Parse(row.Addresses[0])
	if err != nil {
		return fmt.Errorf("listener address %s: %w", row.Addresses[0], err)
	}
	_, port, _ := net.SplitHostPort(u.Host)
	target, err := netip.ParseAddrPort(net.JoinHostPort(ip.String(), port))
	if err != nil {
		return fmt.Errorf("data plane address: %w", err)
	}
	fmt.Fprintf(o.Out, "  resolves to %s through Local Lattice DNS (%s); the data plane serves the listener on %s\n",
		ip, env.DNSAddr, target)
	if err := waitServing(ctx, env, row.ListenerPorts[0], target.String()); err != nil {
		return err
	}
	reqURL := fmt.Sprintf("http://%s:%s/", row.DNSName, port)
	fmt.Fprintf(o.Out, "\n%d requests from %s (%s) to %s:\n", o.Requests, source.Name, source.Addr.Addr(), reqURL)
	split, err := Request(ctx, o.Requests, reqURL, target, source.Addr.Addr(), apps, func(line string) {
		if pod, ok := workload.PodOf([]byte(line)); ok && apps.ClusterOf(pod) != "" {
			line += "   <- " + apps.ClusterOf(pod)
		}
		fmt.Fprintln(o.Out, "  "+line)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\nSplit over %d requests: %s\n", split.Total, split)
	if by := split.ByCluster(); by != "" {
		fmt.Fprintf(o.Out, "Served by cluster: %s\n", by)
	}
	return checkSplit(split, backends)
}

// follow prints the table again whenever an edit of the manifests changes it, until ctx ends.
func follow(ctx context.Context, reports <-chan *file.Report, last *file.Report, out io.Writer) {
	var b strings.Builder
	file.WriteTable(&b, last)
	shown := b.String()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-reports:
			b.Reset()
			file.WriteTable(&b, r)
			if b.String() != shown {
				shown = b.String()
				fmt.Fprintf(out, "--- %s\n%s", r.At.Format("15:04:05"), shown)
			}
		}
	}
}

// waitServing gives the data plane a moment to bind the listener port of a new service.
func waitServing(ctx context.Context, env Env, port int32, addr string) error {
	if env.Serving == nil {
		return nil
	}
	deadline := time.Now().Add(3 * time.Second)
	for !env.Serving(port) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("demo: the data plane does not serve Lattice port %d on %s (address in use? pick another --listener-port-offset)", port, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// waitReady waits for a report in which every Gateway and route is Programmed, printing what is
// still pending when it changes.
func waitReady(ctx context.Context, lattice *vpclattice.Client, reports <-chan *file.Report, timeout time.Duration, out io.Writer) (*file.Report, error) {
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	start := time.Now()
	var last *file.Report
	lastPending := ""
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("demo: interrupted while waiting for Programmed: %w", ctx.Err())
		case <-deadline:
			return nil, fmt.Errorf("demo: not Programmed after %s: %s", timeout, pendingSummary(last))
		case <-tick.C:
			status := pendingSummary(last)
			if lattice != nil {
				status = progress(ctx, lattice)
			}
			fmt.Fprintf(out, "  ... waiting for Programmed (%s): %s\n", time.Since(start).Round(time.Second), status)
		case r := <-reports:
			last = r
			if r.Ready() {
				fmt.Fprintln(out)
				file.WriteTable(out, r)
				return r, nil
			}
			if p := pendingSummary(r); p != lastPending {
				lastPending = p
				fmt.Fprintf(out, "  waiting for Programmed: %s\n", p)
			}
		}
	}
}

func pendingSummary(r *file.Report) string {
	if r == nil {
		return "creating the Lattice resources"
	}
	var parts []string
	if r.Err != nil {
		parts = append(parts, r.Err.Error())
	}
	for _, row := range r.Rows {
		if !row.Ready {
			s := fmt.Sprintf("%s %s/%s %s", row.Kind, row.Namespace, row.Name, row.Status)
			if row.Message != "" {
				s += " (" + row.Message + ")"
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "no Gateway or route yet"
	}
	return strings.Join(parts, "; ")
}

// weightedBackends are the Services the route sends a share of traffic to.
func weightedBackends(objs []file.Object, route string) []string {
	var out []string
	for _, o := range objs {
		r, ok := o.(*gwv1.HTTPRoute)
		if !ok || r.Namespace != "default" || r.Name != route {
			continue
		}
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				if b.Weight == nil || *b.Weight > 0 {
					out = append(out, string(b.Name))
				}
			}
		}
	}
	return out
}

// checkSplit fails when requests failed, or when, with enough requests to tell, a backend with
// a share of the traffic got none.
func checkSplit(s *Split, backends []string) error {
	var errs []error
	if s.Failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d requests failed", s.Failed, s.Total))
	}
	if s.Total >= 10 {
		for _, b := range backends {
			if s.Services[b] == 0 {
				errs = append(errs, fmt.Errorf("%s got none of %d requests", b, s.Total))
			}
		}
	}
	return errors.Join(errs...)
}

// label prefixes a cluster's lines when there are several.
func label(cluster string) string {
	if cluster == "" {
		return ""
	}
	return "[" + cluster + "] "
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
