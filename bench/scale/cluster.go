package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

const (
	namespace = "default"
	gateway   = "my-hotel"
	// writers is how many objects the bench creates or deletes at once: "applied at once" for a
	// client with the test cluster's 200 requests per second.
	writers = 32
)

// clusterBench runs the controller as a process against a test cluster and Local Lattice.
type clusterBench struct {
	options
	srv     *api.Server
	c       *cluster.Cluster
	ctrl    *controller
	minimal map[string]int64
	// statusBase is the API server's HTTPRoute status writes before the routes were applied.
	statusBase float64
}

func runCluster(o options) error {
	faults := api.Faults{APILatency: o.latency, TPSLimit: o.tps}
	if o.chaos {
		faults = chaosFaults
	}
	ll, err := startLattice(o.n, faults)
	if err != nil {
		return err
	}
	defer ll.Close()
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := o.controllerBinary
	if bin == "" {
		bin = filepath.Join(tmp, "lattice-gateway")
		build := exec.Command("go", "build", "-o", bin, "./cmd/lattice-gateway")
		build.Dir, build.Stdout, build.Stderr = testenv.RepoRoot(), os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build lattice-gateway: %w", err)
		}
	}
	c, err := cluster.New(ctx, cluster.Options{})
	if err != nil {
		return err
	}
	defer c.Stop()
	_, minimal := routes(o.n)
	minimal["CreateRule"] = int64(latticeRules(o.n))
	// The Gateway's service network is programmed before the routes are applied and counted.
	delete(minimal, "CreateServiceNetwork")
	delete(minimal, "CreateServiceNetworkVpcAssociation")
	b := &clusterBench{options: o, srv: ll.API, c: c, minimal: minimal,
		ctrl: &controller{bin: bin, logDir: tmp, args: []string{"controller",
			"--kubeconfig=" + c.Kubeconfig, "--lattice-endpoint=" + ll.API.URL(),
			"--region=us-west-2", "--aws-account-id=" + account, "--cluster-vpc-id=" + vpcID, "--cluster-name=" + clusterName,
			"--health-probe-bind-address=0", "--lattice-api-max-tps=" + strconv.FormatFloat(o.maxTPS, 'f', -1, 64),
			"--lattice-api-concurrency=" + strconv.Itoa(o.concurrency), "--disable-tagging-service-api=" + strconv.FormatBool(o.noTagging)}}}
	b.ctrl.args = append(b.ctrl.args, strings.Fields(o.controllerFlags)...)
	b.ctrl.env = append(os.Environ(), strings.Fields(o.controllerEnv)...)
	defer b.ctrl.kill()
	if o.chaos {
		return b.chaos(ctx)
	}
	return b.run(ctx)
}

func (b *clusterBench) run(ctx context.Context) error {
	b.printHeader("test cluster + controller process")
	if err := b.setUp(ctx); err != nil {
		return err
	}
	if err := b.ctrl.start(); err != nil {
		return err
	}
	if err := b.waitGateway(ctx); err != nil {
		return err
	}

	b.srv.ResetCounts()
	start := time.Now()
	if err := b.applyRoutes(ctx); err != nil {
		return err
	}
	if err := b.waitProgrammed(ctx, 30*time.Minute); err != nil {
		return err
	}
	wall := time.Since(start)
	b.printConverged(b.srv.Counts(), b.minimal, wall, "HTTPRoute statuses, from the first create")
	if err := b.printStatusWrites(ctx); err != nil {
		return err
	}
	b.printProcess("controller after converging")

	b.srv.ResetCounts()
	time.Sleep(b.steady)
	fmt.Printf("steady state: %d calls in %v %v\n", b.srv.Counts().Total(), b.steady, ops(b.srv.Counts()))

	b.srv.ResetCounts()
	start = time.Now()
	if err := b.addEndpoint(ctx); err != nil {
		return err
	}
	last, err := b.quiet(ctx, 5*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("one pod added: %d calls %v in %v\n", b.srv.Counts().Total(), ops(b.srv.Counts()), last.Sub(start).Round(time.Millisecond))

	if err := b.ctrl.stop(); err != nil {
		return err
	}
	b.srv.ResetCounts()
	start = time.Now()
	if err := b.ctrl.start(); err != nil {
		return err
	}
	if last, err = b.quiet(ctx, 10*time.Second); err != nil {
		return err
	}
	rc := b.srv.Counts()
	fmt.Printf("restart (new process, unchanged world): %d reads (%.2f per route), %d mutating, last call %v after the start\n  %v\n",
		rc.Total()-rc.Mutating(), float64(rc.Total()-rc.Mutating())/float64(b.n), rc.Mutating(), last.Sub(start).Round(time.Millisecond), ops(rc))

	b.srv.ResetCounts()
	start = time.Now()
	if err := b.deleteAll(ctx); err != nil {
		return err
	}
	left, err := b.waitDeleted(ctx, 30*time.Minute)
	if err != nil {
		return err
	}
	dc := b.srv.Counts()
	took := time.Since(start)
	fmt.Printf("delete all (routes and Gateway): %d calls (%d throttled) in %v; %d Lattice resources left\n  %v\n", dc.Total(), status(dc, http.StatusTooManyRequests),
		took.Round(time.Millisecond), left, ops(dc))
	b.printDeleteFloor(took)
	b.printProcess("controller at the end (restarted before the delete)")
	return nil
}

// setUp creates the Gateway and, for every route, two selectorless Services with an
// EndpointSlice of two ready endpoints each: the controller sees what two 2-pod Deployments
// would give it, without 4 simulated pods per route competing for the machine.
func (b *clusterBench) setUp(ctx context.Context) error {
	if err := b.c.Apply(ctx, `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: amazon-vpc-lattice}
spec: {controllerName: application-networking.k8s.aws/gateway-api-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: `+gateway+`, namespace: `+namespace+`}
spec:
  gatewayClassName: amazon-vpc-lattice
  listeners: [{name: http, protocol: HTTP, port: 80}]
`); err != nil {
		return err
	}
	return parallel(2*b.n, func(i int) error {
		name := routeName(i/2) + []string{"-a", "-b"}[i%2]
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8090}}}}
		if err := b.c.Client.Create(ctx, svc); err != nil {
			return fmt.Errorf("create Service %s: %w", name, err)
		}
		if err := b.c.Client.Create(ctx, endpointSlice(name, i)); err != nil {
			return fmt.Errorf("create EndpointSlice %s: %w", name, err)
		}
		return nil
	})
}

// latticeRules is the number of Lattice rules n of httpRoute's routes translate to: a PathPrefix
// match becomes two rules (the exact path and the path with a trailing slash, as prefixes match
// whole segments), so an inventory-like route has 1 and a rates-like one 4.
func latticeRules(n int) int {
	rules := 0
	for i := range n {
		rules += 1 + 3*(i%2)
	}
	return rules
}

func routeName(i int) string { return "route" + strconv.Itoa(i) }

// endpointSlice is backend's slice with two ready endpoints at addresses unique to backend i.
func endpointSlice(backend string, i int) *discoveryv1.EndpointSlice {
	port, ready := int32(8090), true
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: backend, Namespace: namespace, Labels: map[string]string{discoveryv1.LabelServiceName: backend}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: &port}},
	}
	for pod := range 2 {
		ip := 2*i + pod
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", 200+ip>>16, ip>>8&255, ip&255)},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: namespace, Name: backend + "-" + strconv.Itoa(pod)},
		})
	}
	return s
}

// httpRoute is route i shaped like the seed's: even ones like inventory (one rule, 50/50 over
// two backends), odd ones like rates (two path rules, one backend each).
func httpRoute(i int) *gwv1.HTTPRoute {
	name := routeName(i)
	port := gwv1.PortNumber(8090)
	ref := func(svc string, w int32) gwv1.HTTPBackendRef {
		return gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(svc), Port: &port}, Weight: &w}}
	}
	prefix := gwv1.PathMatchPathPrefix
	match := func(path string) []gwv1.HTTPRouteMatch {
		return []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: &prefix, Value: &path}}}
	}
	rules := []gwv1.HTTPRouteRule{{BackendRefs: []gwv1.HTTPBackendRef{ref(name+"-a", 50), ref(name+"-b", 50)}}}
	if i%2 == 1 {
		rules = []gwv1.HTTPRouteRule{
			{Matches: match("/parking"), BackendRefs: []gwv1.HTTPBackendRef{ref(name+"-a", 1)}},
			{Matches: match("/review"), BackendRefs: []gwv1.HTTPBackendRef{ref(name+"-b", 1)}},
		}
	}
	return &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: gwv1.HTTPRouteSpec{CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: gateway}}}, Rules: rules}}
}

// applyRoutes records the API server's status writes so far and creates every route.
func (b *clusterBench) applyRoutes(ctx context.Context) error {
	var err error
	if b.statusBase, err = b.routeStatusWrites(ctx); err != nil {
		return err
	}
	return parallel(b.n, func(i int) error {
		if err := b.c.Client.Create(ctx, httpRoute(i)); err != nil {
			return fmt.Errorf("create HTTPRoute %s: %w", routeName(i), err)
		}
		return nil
	})
}

func (b *clusterBench) waitGateway(ctx context.Context) error {
	return poll(ctx, 5*time.Minute, func() (bool, string, error) {
		var gw gwv1.Gateway
		if err := b.c.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: gateway}, &gw); err != nil {
			return false, "", err
		}
		return harness.IsTrue(gw.Status.Conditions, "Programmed", gw.Generation), harness.Describe(gw.Status.Conditions), nil
	}, b.ctrl)
}

// waitProgrammed waits until every route is Accepted, ResolvedRefs and Programmed for its
// generation.
func (b *clusterBench) waitProgrammed(ctx context.Context, timeout time.Duration) error {
	return poll(ctx, timeout, func() (bool, string, error) {
		var list gwv1.HTTPRouteList
		if err := b.c.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return false, "", err
		}
		done := 0
		for _, r := range list.Items {
			conds := harness.ParentConditions(r.Status.Parents, gateway)
			if harness.IsTrue(conds, "Accepted", r.Generation) && harness.IsTrue(conds, "ResolvedRefs", r.Generation) && harness.IsTrue(conds, "Programmed", r.Generation) {
				done++
			}
		}
		return done == b.n, fmt.Sprintf("%d of %d routes Programmed", done, b.n), nil
	}, b.ctrl)
}

// poll calls cond every 500 ms until it holds, failing when timeout passes or the controller
// exited; what cond says last goes into the error.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, string, error), ctrl *controller) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ok, what, err := cond()
		if err != nil {
			last = err.Error()
		} else if ok {
			return nil
		} else {
			last = what
		}
		if err := ctrl.exited(); err != nil {
			return fmt.Errorf("%s: controller exited: %w (log %s)", last, err, ctrl.logPath())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v: %s (controller log %s)", timeout, last, ctrl.logPath())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// quiet waits until Local Lattice has seen a call and then none for d, and returns when the last
// one came.
func (b *clusterBench) quiet(ctx context.Context, d time.Duration) (time.Time, error) {
	var total int64
	last := time.Now()
	err := poll(ctx, 30*time.Minute, func() (bool, string, error) {
		if n := b.srv.Counts().Total(); n != total {
			total, last = n, time.Now()
		}
		return total > 0 && time.Since(last) >= d, fmt.Sprintf("%d calls so far", total), nil
	}, b.ctrl)
	return last, err
}

// addEndpoint adds a third ready endpoint to route0's first backend, as a new pod would.
func (b *clusterBench) addEndpoint(ctx context.Context) error {
	name := routeName(0) + "-a"
	var s discoveryv1.EndpointSlice
	if err := b.c.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &s); err != nil {
		return err
	}
	ready := true
	s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.199.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: namespace, Name: name + "-new"}})
	if err := b.c.Client.Update(ctx, &s); err != nil {
		return fmt.Errorf("add an endpoint to %s: %w", name, err)
	}
	return nil
}

// deleteAll deletes every route and the Gateway.
func (b *clusterBench) deleteAll(ctx context.Context) error {
	err := parallel(b.n, func(i int) error {
		r := &gwv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: routeName(i)}}
		if err := client.IgnoreNotFound(b.c.Client.Delete(ctx, r)); err != nil {
			return fmt.Errorf("delete HTTPRoute %s: %w", r.Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	gw := &gwv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: gateway}}
	return client.IgnoreNotFound(b.c.Client.Delete(ctx, gw))
}

// waitDeleted waits until the routes and the Gateway are gone from the API server (their
// finalizers released) and nothing is left in Local Lattice; it returns what is left there.
func (b *clusterBench) waitDeleted(ctx context.Context, timeout time.Duration) (int, error) {
	left := 0
	err := poll(ctx, timeout, func() (bool, string, error) {
		var list gwv1.HTTPRouteList
		if err := b.c.Client.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return false, "", err
		}
		err := b.c.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: gateway}, &gwv1.Gateway{})
		gwGone := apierrors.IsNotFound(err)
		if err != nil && !gwGone {
			return false, "", err
		}
		left = latticeLeft(b.srv)
		return len(list.Items) == 0 && gwGone && left == 0,
			fmt.Sprintf("%d routes and gateway gone %v in the API, %d Lattice resources left", len(list.Items), gwGone, left), nil
	}, b.ctrl)
	return left, err
}

func latticeLeft(srv *api.Server) int {
	s := srv.Store().Snapshot()
	return len(s.Services) + len(s.TargetGroups) + len(s.ServiceNetworks) + len(s.Listeners) + len(s.Rules) +
		len(s.ServiceAssociations) + len(s.VPCAssociations)
}

// parallel runs fn for 0..n-1 on writers goroutines and returns the first error.
func parallel(n int, fn func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := fn(i); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// controller is the lattice-gateway controller as a child process, restarted on a new metrics
// port each time.
type controller struct {
	bin, logDir string
	args, env   []string
	metricsAddr string
	starts      int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (c *controller) logPath() string {
	return filepath.Join(c.logDir, "controller-"+strconv.Itoa(c.starts)+".log")
}

func (c *controller) start() error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	c.starts++
	log, err := os.Create(c.logPath())
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, append(c.args, "--metrics-bind-address="+addr)...)
	cmd.Stdout, cmd.Stderr, cmd.Env = log, log, c.env
	// The controller dies with the bench, whatever kills it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start controller: %w", err)
	}
	done := make(chan struct{})
	c.mu.Lock()
	c.cmd, c.done, c.err, c.metricsAddr = cmd, done, nil, addr
	c.mu.Unlock()
	go func() {
		err := cmd.Wait()
		log.Close()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(done)
	}()
	return nil
}

// exited is the exit error of a controller that stopped on its own, nil while it runs.
func (c *controller) exited() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		return nil
	}
	select {
	case <-c.done:
		if c.err == nil {
			return errors.New("exit status 0")
		}
		return c.err
	default:
		return nil
	}
}

// stop sends SIGTERM, as Kubernetes does, and waits for the exit.
func (c *controller) stop() error { return c.signal(syscall.SIGTERM) }

// kill sends SIGKILL and waits for the exit.
func (c *controller) kill() { _ = c.signal(syscall.SIGKILL) }

func (c *controller) signal(sig syscall.Signal) error {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd, c.done = nil, nil
	c.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("controller did not stop within a minute of %v", sig)
	}
}

func (c *controller) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
