// Package cluster runs a small but real Kubernetes cluster inside a test: etcd, kube-apiserver
// and kube-controller-manager as child processes, the Gateway API and lattice-gateway CRDs, and
// an in-process kubelet simulator that schedules Pods onto one Node, gives them IPs in
// 10.244.0.0/16 and runs their workloads (package test/workloads) on the matching loopback
// addresses 127.244.0.0/16.
package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
	gwv1alpha3 "sigs.k8s.io/gateway-api/apis/v1alpha3"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
)

const (
	// serviceCIDR holds ClusterIPs; nothing ever dials them.
	serviceCIDR         = "10.96.0.0/16"
	kubernetesServiceIP = "10.96.0.1"
	// runDirPrefix names run directories so a later run can find and remove those of killed runs.
	runDirPrefix = "lattice-cluster-"
	ownerFile    = "owner.pid"
)

// controllers are kube-controller-manager's defaults minus those that need a cloud or node IPAM.
const controllers = "*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-route"

// Options configures a cluster; the zero value is a complete cluster.
type Options struct {
	// AssetsDir holds kube-apiserver, etcd and kube-controller-manager (default testenv.AssetsDir()).
	AssetsDir string
	// CRDDirs are installed after the experimental Gateway API CRDs and config/crd/bases.
	CRDDirs []string
	// TempRoot is where the run directory is made (default os.TempDir()).
	TempRoot string
	// NodeName is the simulated Node (default "lattice-node").
	NodeName string
	// StartTimeout bounds Start (default 2 minutes).
	StartTimeout time.Duration
	Log          logr.Logger
}

// Cluster is a running cluster. Everything it started is stopped by Stop.
type Cluster struct {
	// Config authenticates as a cluster admin (system:masters).
	Config    *rest.Config
	Client    client.Client
	Clientset kubernetes.Interface
	// Scheme knows core Kubernetes, apiextensions and Gateway API types.
	Scheme *runtime.Scheme
	// Kubeconfig is a file usable by kubectl (KUBECONFIG=...).
	Kubeconfig string
	// Dir is the run directory: data, certificates, logs (<name>.log), removed by Stop.
	Dir     string
	Kubelet *Kubelet

	log   logr.Logger
	procs []*proc // in start order; stopped in reverse
}

// Start starts a cluster for a test and stops it when the test ends. It fails the test when the
// cluster does not come up, after stopping whatever had started.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Log.GetSink() == nil {
		opts.Log = testr.NewWithInterface(t, testr.Options{})
	}
	begin := time.Now()
	c, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop cluster: %v", err)
		}
	})
	t.Logf("cluster started in %s (kubeconfig %s)", time.Since(begin).Round(time.Millisecond), c.Kubeconfig)
	return c
}

// New starts a cluster. On error everything already started has been stopped and removed.
func New(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.NodeName == "" {
		opts.NodeName = "lattice-node"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	if opts.TempRoot == "" {
		opts.TempRoot = os.TempDir()
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	if opts.AssetsDir == "" {
		if opts.AssetsDir, err = testenv.AssetsDir(); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(opts.AssetsDir, "kube-controller-manager")); err != nil {
		return nil, fmt.Errorf("kube-controller-manager not found in %s: run hack/install-test-assets.sh", opts.AssetsDir)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	removeStaleRuns(opts.TempRoot, opts.Log)
	dir, err := os.MkdirTemp(opts.TempRoot, runDirPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	c := &Cluster{Dir: dir, log: opts.Log}
	defer func() {
		if err != nil {
			if stopErr := c.Stop(); stopErr != nil {
				err = errors.Join(err, stopErr)
			}
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return c, fmt.Errorf("write owner file: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return c, fmt.Errorf("create tmp dir: %w", err)
	}
	begin := time.Now()
	if err := c.startControlPlaneRetrying(ctx, opts); err != nil {
		return c, err
	}
	apiserverReady := time.Since(begin)
	if err := c.installCRDs(opts); err != nil {
		return c, err
	}
	crdsReady := time.Since(begin)
	// The default ServiceAccount is made by the controller manager: waiting for it proves the
	// controllers run, and Pods in "default" can be admitted.
	if err := c.waitDefaultServiceAccount(ctx); err != nil {
		return c, err
	}
	controllersReady := time.Since(begin)
	c.Kubelet = newKubelet(c.Clientset, opts.NodeName, opts.Log.WithName("kubelet"))
	if err := c.Kubelet.start(ctx); err != nil {
		return c, err
	}
	opts.Log.Info("cluster ready", "apiserverReady", apiserverReady.Round(time.Millisecond), "crdsInstalled", crdsReady.Round(time.Millisecond),
		"controllersReady", controllersReady.Round(time.Millisecond), "total", time.Since(begin).Round(time.Millisecond), "dir", c.Dir)
	return c, nil
}

// startControlPlaneRetrying retries when a port picked by freePorts was taken before etcd or the
// apiserver bound it, which happens when several test clusters start at once.
func (c *Cluster) startControlPlaneRetrying(ctx context.Context, opts Options) error {
	for attempt := 1; ; attempt++ {
		err := c.startControlPlane(ctx, opts)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return err
		}
		c.log.Info("a control-plane port was taken, starting again", "attempt", attempt, "error", err.Error())
		if err := c.stopProcs(); err != nil {
			return err
		}
		if err := os.RemoveAll(filepath.Join(c.Dir, "etcd")); err != nil {
			return fmt.Errorf("remove etcd data: %w", err)
		}
	}
}

func (c *Cluster) startControlPlane(ctx context.Context, opts Options) error {
	pki, err := newPKI(c.Dir)
	if err != nil {
		return err
	}
	ports, err := pickPorts(3)
	if err != nil {
		return err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	etcd, err := c.run(opts, "etcd",
		"--name=test", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+etcdClient, "--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer, "--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=test="+etcdPeer, "--unsafe-no-fsync", "--log-level=warn")
	if err != nil {
		return err
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	apiserver, err := c.run(opts, "kube-apiserver",
		"--etcd-servers="+etcdClient,
		"--cert-dir="+filepath.Join(c.Dir, "apiserver-certs"),
		"--tls-cert-file="+pki.serverCert, "--tls-private-key-file="+pki.keyFile,
		"--secure-port="+strconv.Itoa(ports[2]), "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--service-cluster-ip-range="+serviceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub, "--service-account-signing-key-file="+pki.saKey,
		"--token-auth-file="+pki.tokenFile,
		"--authorization-mode=RBAC", "--allow-privileged=true",
		// The lease reconciler would write 127.0.0.1 into the kubernetes Service's endpoints,
		// which EndpointSlice validation rejects; nothing here needs those endpoints.
		"--endpoint-reconciler-type=none",
		"--enable-priority-and-fairness=false", "--profiling=false")
	if err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host:            server,
		BearerToken:     pki.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: []byte(pki.caCert)},
		QPS:             200,
		Burst:           400,
	}
	if err := waitReady(ctx, server, pki, etcd, apiserver); err != nil {
		return err
	}
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, server, pki.caCert, "admin", pki.adminToken); err != nil {
		return err
	}
	kcmKubeconfig := filepath.Join(c.Dir, "kcm.kubeconfig")
	if err := writeKubeconfig(kcmKubeconfig, server, pki.caCert, "system:kube-controller-manager", pki.kcmToken); err != nil {
		return err
	}
	if _, err := c.run(opts, "kube-controller-manager",
		"--kubeconfig="+kcmKubeconfig,
		"--controllers="+controllers,
		"--service-account-private-key-file="+pki.saKey, "--root-ca-file="+pki.caFile,
		"--use-service-account-credentials=false", "--leader-elect=false",
		"--secure-port=0", "--controller-start-interval=0"); err != nil {
		return err
	}
	if c.Clientset, err = kubernetes.NewForConfig(c.Config); err != nil {
		return fmt.Errorf("create clientset: %w", err)
	}
	if c.Scheme, err = NewScheme(); err != nil {
		return err
	}
	if c.Client, err = client.New(c.Config, client.Options{Scheme: c.Scheme}); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return nil
}

func (c *Cluster) run(opts Options, name string, args ...string) (*proc, error) {
	p, err := startProc(c.Dir, name, filepath.Join(opts.AssetsDir, name), args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	c.log.V(1).Info("started", "process", name, "pid", p.cmd.Process.Pid)
	return p, nil
}

// NewScheme returns a scheme with core Kubernetes, apiextensions, all Gateway API versions and
// lattice-gateway's own kinds.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme,
		gwv1.Install, gwv1beta1.Install, gwv1alpha2.Install, gwv1alpha3.Install, v1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}

// waitReady polls /readyz and fails fast, with the log, when etcd or the apiserver exits.
func waitReady(ctx context.Context, server string, p *pki, procs ...*proc) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(p.caCert))
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer hc.CloseIdleConnections()
	var last string
	for {
		for _, pr := range procs {
			if pr.exited() {
				return pr.failure()
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("readyz request: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+p.adminToken)
		if resp, err := hc.Do(req); err != nil {
			last = err.Error()
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready (%s): %w; last log lines:\n%s", last, ctx.Err(), tail(procs[len(procs)-1].logPath, 15))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) installCRDs(opts Options) error {
	gw, err := testenv.GatewayAPICRDDir("experimental")
	if err != nil {
		return err
	}
	paths := []string{gw}
	if _, err := os.Stat(testenv.OwnCRDDir()); err == nil {
		paths = append(paths, testenv.OwnCRDDir())
	}
	paths = append(paths, opts.CRDDirs...)
	crds, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true})
	if err != nil {
		return fmt.Errorf("install CRDs from %s: %w", strings.Join(paths, ", "), err)
	}
	c.log.V(1).Info("installed CRDs", "count", len(crds))
	return nil
}

func (c *Cluster) waitDefaultServiceAccount(ctx context.Context) error {
	for {
		var sa corev1.ServiceAccount
		err := c.Client.Get(ctx, types.NamespacedName{Namespace: "default", Name: "default"}, &sa)
		if err == nil {
			return nil
		}
		for _, p := range c.procs {
			if p.exited() {
				return p.failure()
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the default ServiceAccount (kube-controller-manager log %s): %w", c.procs[len(c.procs)-1].logPath, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops the kubelet simulator and its workloads, then kube-controller-manager, the
// apiserver and etcd (the apiserver hangs in shutdown if etcd goes first), and removes the run
// directory. It is safe to call more than once.
func (c *Cluster) Stop() error {
	var errs []error
	if c.Kubelet != nil {
		c.Kubelet.stop()
		c.Kubelet = nil
	}
	if err := c.stopProcs(); err != nil {
		errs = append(errs, err)
	}
	if c.Dir != "" {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", c.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// stopProcs stops the control-plane processes, last started first.
func (c *Cluster) stopProcs() error {
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		if err := c.procs[i].stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	c.procs = nil
	return errors.Join(errs...)
}

// PIDs are the control-plane processes, for tests that check nothing survives Stop.
func (c *Cluster) PIDs() []int {
	var pids []int
	for _, p := range c.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// removeStaleRuns deletes run directories whose owning process is gone (a killed test binary
// cannot clean up; its children died with it through Pdeathsig).
func removeStaleRuns(root string, log logr.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(root, runDirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Error(err, "remove stale run directory", "dir", dir)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// pickPorts is freePorts; tests replace it to provoke a port collision.
var pickPorts = freePorts

// freePorts asks the kernel for unused ports. Another process may take one before the control
// plane binds it; the start then fails with the log saying so.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
