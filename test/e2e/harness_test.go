// Package e2e runs lattice-gateway's Kubernetes controller in-process against a real one-machine
// cluster (test/cluster: kube-apiserver, etcd, kube-controller-manager and a kubelet simulator
// running pods on 127.244.a.b) and Local Lattice (API + data plane) in-process, and checks the
// results through the Kubernetes API, the Lattice API's counters and real traffic.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy/ratelimit"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
)

const (
	accountID   = "123456789012"
	clusterName = "e2e"
	vpcID       = "vpc-0e2e0000000000001"
	region      = "us-west-2"
	// listenerPortOffset lets the data plane serve Lattice port 80 without privileges.
	listenerPortOffset = 20000
)

type env struct {
	cluster *cluster.Cluster
	// kubeconfig authenticates as the controller's ServiceAccount.
	kubeconfig string
	lattice    *api.Server
	dp         *dataplane.DataPlane
}

// startEnv starts a cluster and Local Lattice for one test; everything stops when it ends.
func startEnv(t *testing.T, dataPlaneIP string) *env {
	t.Helper()
	c := cluster.Start(t, cluster.Options{})
	o := api.DefaultOptions()
	o.Region, o.AccountID, o.Logger = region, accountID, testr.New(t)
	o.DrainingDelay = 200 * time.Millisecond
	srv, err := api.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dp, err := dataplane.New(srv.Store(), dataplane.Options{
		DNSAddr: dataPlaneIP + ":0", DataPlaneAddr: dataPlaneIP, ListenerPortOffset: listenerPortOffset,
		DataDir: t.TempDir(), DialMap: cluster.PodDialMap(), Dialer: dataplane.LoopbackOnlyDialer(t),
		HealthCheckInterval: 100 * time.Millisecond,
	}, testr.New(t).WithName("dataplane"))
	if err != nil {
		t.Fatal(err)
	}
	if err := dp.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dp.Close)
	e := &env{cluster: c, lattice: srv, dp: dp}
	e.kubeconfig = e.controllerKubeconfig(t)
	return e
}

// controllerRun is one in-process controller replica.
type controllerRun struct {
	name     string
	registry *prometheus.Registry
	cancel   context.CancelFunc
	done     chan error
}

type controllerOpts struct {
	name        string
	leaderElect bool
	deploy      deploy.Config
	resync      time.Duration
}

// startController runs the controller as `lattice-gateway controller` would, against the
// cluster's kubeconfig file and Local Lattice's endpoint, with its own metrics registry.
func (e *env) startController(t *testing.T, o controllerOpts) *controllerRun {
	t.Helper()
	if o.name == "" {
		// controller-runtime refuses two controllers of the same name in one process.
		o.name = "lattice-gateway-" + strings.ToLower(t.Name())
	}
	run := &controllerRun{name: o.name, registry: prometheus.NewRegistry(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	run.cancel = cancel
	dcfg := o.deploy
	if dcfg.WaitInitial == 0 {
		dcfg.WaitInitial = 20 * time.Millisecond
	}
	cfg := config.Controller{
		Lattice: config.Lattice{Owner: model.Owner{AccountID: accountID, ClusterName: clusterName, VPCID: vpcID}, Region: region,
			LatticeEndpoint: e.lattice.URL(), LogLevel: "info"},
		Kubeconfig:         e.kubeconfig,
		MetricsBindAddress: "0", HealthProbeBindAddress: "0",
		LeaderElect: o.leaderElect, LeaderElectionNamespace: controllerNamespace, LeaderElectionID: config.LeaderElectionID,
		ResyncPeriod: o.resync,
	}
	ro := kubernetes.RunOptions{
		Config: cfg, Log: testr.NewWithOptions(t, testr.Options{Verbosity: 0}).WithName(o.name), Registry: run.registry,
		Client: deploy.ClientOptions{RateLimits: &ratelimit.Limits{}, Retry: ratelimit.Retry{MaxAttempts: 5, Base: 5 * time.Millisecond, Max: 100 * time.Millisecond}},
		Deploy: dcfg, Name: o.name,
	}
	if o.leaderElect {
		ro.LeaseDuration, ro.RenewDeadline, ro.RetryPeriod = 3*time.Second, 2*time.Second, 250*time.Millisecond
	}
	go func() { run.done <- kubernetes.Run(ctx, ro) }()
	t.Cleanup(func() { run.stop(t) })
	return run
}

func (r *controllerRun) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("controller %s: %v", r.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("controller %s did not stop", r.name)
	}
}

// counter sums a counter family of the replica's registry, optionally for one label value.
func (r *controllerRun) counter(t *testing.T, name, label, value string) float64 {
	t.Helper()
	families, err := r.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if label == "" || hasLabel(m, label, value) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func (r *controllerRun) histogram(t *testing.T, name string) (count uint64, sum float64) {
	t.Helper()
	families, err := r.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				count += m.GetHistogram().GetSampleCount()
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return count, sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds or the timeout passes, then fails with what() describing
// the last state.
func eventually(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, what())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hotelDir is the seed walkthrough's manifests, used unchanged.
func hotelDir(t *testing.T) string {
	dir := filepath.Join(testenv.RepoRoot(), "examples", "hotel")
	if _, err := os.Stat(filepath.Join(dir, "inventory-route.yaml")); err != nil {
		t.Fatalf("examples/hotel is missing: %v", err)
	}
	return dir
}

func condition(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}

func isTrue(conds []metav1.Condition, typ string, generation int64) bool {
	c := condition(conds, typ)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

// parentConds returns the conditions of our status.parents entry for the parent named gateway.
func parentConds(parents []gwv1.RouteParentStatus, gateway string) []metav1.Condition {
	for _, p := range parents {
		if string(p.ControllerName) == "application-networking.k8s.aws/gateway-api-controller" && string(p.ParentRef.Name) == gateway {
			return p.Conditions
		}
	}
	return nil
}

func describeConds(conds []metav1.Condition) string {
	var b strings.Builder
	for _, c := range conds {
		fmt.Fprintf(&b, "%s=%s/%s(%q, gen %d) ", c.Type, c.Status, c.Reason, c.Message, c.ObservedGeneration)
	}
	return b.String()
}

// routeProgrammed waits until the HTTPRoute is Accepted, ResolvedRefs and Programmed for its
// current generation, and returns it.
func (e *env) routeProgrammed(t *testing.T, ns, name, gateway string, timeout time.Duration) *gwv1.HTTPRoute {
	t.Helper()
	r := &gwv1.HTTPRoute{}
	eventually(t, timeout, func() string {
		return fmt.Sprintf("route %s/%s: %s", ns, name, describeConds(parentConds(r.Status.Parents, gateway)))
	}, func() bool {
		if err := e.cluster.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			return false
		}
		conds := parentConds(r.Status.Parents, gateway)
		return isTrue(conds, "Accepted", r.Generation) && isTrue(conds, "ResolvedRefs", r.Generation) && isTrue(conds, "Programmed", r.Generation)
	})
	return r
}

// latticeInventory lists everything in Local Lattice, for leak and duplicate checks.
func (e *env) latticeInventory() map[string][]string {
	s := e.lattice.Store().Snapshot()
	inv := map[string][]string{}
	add := func(kind, name string) { inv[kind] = append(inv[kind], name) }
	for _, x := range s.ServiceNetworks {
		add("ServiceNetwork", x.Name)
	}
	for _, x := range s.Services {
		add("Service", x.Name)
	}
	for _, x := range s.Listeners {
		add("Listener", x.ServiceID+"/"+x.Name)
	}
	for _, x := range s.Rules {
		add("Rule", x.ListenerID+"/"+x.Name)
	}
	for _, x := range s.TargetGroups {
		add("TargetGroup", x.Name)
	}
	for _, x := range s.ServiceAssociations {
		add("ServiceAssociation", x.ID)
	}
	for _, x := range s.VPCAssociations {
		add("VPCAssociation", x.ID)
	}
	for k := range inv {
		sort.Strings(inv[k])
	}
	return inv
}

func duplicates(inv map[string][]string) []string {
	var out []string
	for kind, names := range inv {
		if kind == "ServiceAssociation" || kind == "VPCAssociation" {
			continue
		}
		for i := 1; i < len(names); i++ {
			if names[i] == names[i-1] {
				out = append(out, kind+" "+names[i])
			}
		}
	}
	return out
}

func total(inv map[string][]string) int {
	n := 0
	for _, v := range inv {
		n += len(v)
	}
	return n
}

// targetsOf returns the registered (non-draining) targets of the named target groups' prefix.
func targetsOf(s *store.Snapshot, tgPrefix string) []string {
	var out []string
	for _, tg := range s.TargetGroups {
		if !strings.HasPrefix(tg.Name, tgPrefix) {
			continue
		}
		for _, tt := range tg.Targets {
			if tt.Status != "DRAINING" {
				out = append(out, fmt.Sprintf("%s:%d", tt.ID, tt.Port))
			}
		}
	}
	sort.Strings(out)
	return out
}

// hasEvent reports whether an events.k8s.io Event with reason is about the named object.
func (e *env) hasEvent(t *testing.T, ns, name, reason string) bool {
	t.Helper()
	var found bool
	eventually(t, 10*time.Second, func() string { return fmt.Sprintf("no %s event for %s/%s", reason, ns, name) }, func() bool {
		list := &eventsv1.EventList{}
		if err := e.cluster.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return false
		}
		for _, ev := range list.Items {
			if ev.Regarding.Name == name && ev.Reason == reason {
				found = true
			}
		}
		return found
	})
	return found
}

// latticeClient is an SDK client of Local Lattice for changing things behind the controller's back.
func (e *env) latticeClient() *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{Region: region, BaseEndpoint: aws.String(e.lattice.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
}
