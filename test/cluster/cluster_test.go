package cluster

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const demoApps = `
apiVersion: v1
kind: Namespace
metadata:
  name: hotel
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: parking
  namespace: hotel
spec:
  replicas: 2
  selector:
    matchLabels: {app: parking}
  template:
    metadata:
      labels: {app: parking}
    spec:
      containers:
      - name: parking
        image: public.ecr.aws/x2j8p8w7/http-server:latest
        env:
        - name: PodName
          value: parking handler pod
---
apiVersion: v1
kind: Service
metadata:
  name: parking
  namespace: hotel
spec:
  selector: {app: parking}
  ports:
  - {protocol: TCP, port: 80, targetPort: 8090}
`

const echoApp = `
apiVersion: v1
kind: Secret
metadata:
  name: certs
  namespace: hotel
type: kubernetes.io/tls
stringData:
  tls.crt: %q
  tls.key: %q
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: hotel
spec:
  replicas: 1
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      containers:
      - name: echo
        image: registry.k8s.io/gateway-api/echo-basic:v1.5.1
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
        - {name: TLS_SERVER_CERT, value: /etc/secret-volume/crt}
        - {name: TLS_SERVER_PRIVKEY, value: /etc/secret-volume/key}
        volumeMounts:
        - {name: secret-volume, mountPath: /etc/secret-volume}
      volumes:
      - name: secret-volume
        secret:
          secretName: certs
          items:
          - {key: tls.crt, path: crt}
          - {key: tls.key, path: key}
`

func TestCluster(t *testing.T) {
	root := t.TempDir()
	begin := time.Now()
	c, err := New(context.Background(), Options{TempRoot: root, Log: testr.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	t.Logf("cluster started in %s", time.Since(begin).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("kubeconfig works for other clients", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := client.New(cfg, client.Options{Scheme: c.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		var classes gwv1.GatewayClassList
		if err := cl.List(ctx, &classes); err != nil {
			t.Fatalf("list GatewayClasses (Gateway API CRDs installed?): %v", err)
		}
	})

	if err := c.Apply(ctx, demoApps); err != nil {
		t.Fatal(err)
	}
	dial := PodDialer(t)

	t.Run("deployment of 2 gives 2 ready pods and a slice with both", func(t *testing.T) {
		ips := waitSlice(t, ctx, c, "hotel", "parking", 2)
		counts := map[string]int{}
		for _, ip := range ips {
			for pod, n := range SendRequests(2, "http://"+ip.String()+":8090/parking", "", dial) {
				counts[pod] += n
			}
		}
		pods := readyPods(t, ctx, c, "hotel", "app=parking")
		if len(pods) != 2 {
			t.Fatalf("ready pods %v, want 2", pods)
		}
		for _, p := range pods {
			if counts[p] != 2 {
				t.Errorf("answers by pod %v, want 2 from each of %v", counts, pods)
			}
		}
		body := SendRequests(1, "http://"+ips[0].String()+":8090/", "", dial)
		if Apps(body)["parking"] != 1 {
			t.Errorf("Apps(%v) does not fold to parking", body)
		}
	})

	t.Run("scaling up and down updates the slice and stops pods", func(t *testing.T) {
		before := waitSlice(t, ctx, c, "hotel", "parking", 2)
		scale(t, ctx, c, "hotel", "parking", 3)
		waitSlice(t, ctx, c, "hotel", "parking", 3)
		scale(t, ctx, c, "hotel", "parking", 1)
		after := waitSlice(t, ctx, c, "hotel", "parking", 1)
		for _, ip := range before {
			if slices.Contains(after, ip) {
				continue
			}
			// The removed Pod's server must be gone with it.
			waitClosed(t, ctx, netip.AddrPortFrom(PodAddr(ip), 8090))
		}
	})

	t.Run("echo-basic gets downward API env and secret volume files", func(t *testing.T) {
		cert, key := testCert(t)
		if err := c.Apply(ctx, fmt.Sprintf(echoApp, cert, key)); err != nil {
			t.Fatal(err)
		}
		pods := readyPods(t, ctx, c, "hotel", "app=echo")
		var pod corev1.Pod
		if err := c.Client.Get(ctx, client.ObjectKey{Namespace: "hotel", Name: pods[0]}, &pod); err != nil {
			t.Fatal(err)
		}
		counts := SendRequests(3, "http://"+pod.Status.PodIP+":3000/x", "echo.example.com", dial)
		if counts[pod.Name] != 3 {
			t.Errorf("http answers %v, want 3 from %s", counts, pod.Name)
		}
		hc := httpsClient(dial)
		resp, err := hc.Get("https://" + pod.Status.PodIP + ":8443/")
		if err != nil {
			t.Fatalf("https to echo-basic: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.TLS == nil {
			t.Errorf("https answer %d, tls %v", resp.StatusCode, resp.TLS != nil)
		}
	})

	t.Run("readiness gates hold Ready until True", func(t *testing.T) {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "gated", Namespace: "hotel"},
			Spec: corev1.PodSpec{
				Containers:     []corev1.Container{{Name: "web", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
				ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}},
			},
		}
		if err := c.Client.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		if err := WaitFor(ctx, c.Client, pod, func(p *corev1.Pod) bool {
			return condition(p, corev1.ContainersReady) == corev1.ConditionTrue && p.Status.PodIP != ""
		}); err != nil {
			t.Fatal(err)
		}
		if got := condition(pod, corev1.PodReady); got != corev1.ConditionFalse {
			t.Fatalf("Ready = %s before the gate is True", got)
		}
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: "example.com/gate", Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		if err := c.Client.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
		if err := WaitFor(ctx, c.Client, pod, func(p *corev1.Pod) bool { return condition(p, corev1.PodReady) == corev1.ConditionTrue }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("rolling update: old pods serve through their preStop sleep", func(t *testing.T) { testRollingUpdate(t, ctx, c, dial) })
	t.Run("grace period caps a preStop sleep", func(t *testing.T) { testGraceCapsPreStop(t, ctx, c) })

	t.Run("deleting a namespace completes", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hotel"}}
		begin := time.Now()
		if err := c.Client.Delete(ctx, ns); err != nil {
			t.Fatal(err)
		}
		for {
			err := c.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns)
			if apierrors.IsNotFound(err) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("namespace still there: %+v", ns.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("namespace deleted in %s", time.Since(begin).Round(time.Millisecond))
		if n := c.Kubelet.Running(); n != 0 {
			t.Errorf("kubelet still runs %d pods", n)
		}
	})

	pids := c.PIDs()
	if len(pids) != 3 {
		t.Fatalf("PIDs %v, want etcd, kube-apiserver, kube-controller-manager", pids)
	}
	begin = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster stopped in %s", time.Since(begin).Round(time.Millisecond))
	assertNothingLeft(t, root, pids)
}

func TestFailedStartLeavesNothing(t *testing.T) {
	root := t.TempDir()
	// The CRD path is checked after etcd, the apiserver and the controller manager run.
	_, err := New(context.Background(), Options{TempRoot: root, CRDDirs: []string{filepath.Join(root, "missing")}})
	if err == nil {
		t.Fatal("start succeeded with a missing CRD directory")
	}
	t.Logf("start failed as intended: %v", err)
	assertNothingLeft(t, root, nil)
}

func TestStartRetriesATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	calls := 0
	pickPorts = func(n int) ([]int, error) {
		calls++
		ports, err := freePorts(n)
		if calls == 1 && err == nil {
			ports[2] = taken.Addr().(*net.TCPAddr).Port // the apiserver's port
		}
		return ports, err
	}
	defer func() { pickPorts = freePorts }()
	c := Start(t, Options{})
	if calls != 2 {
		t.Errorf("ports picked %d times, want 2 (one collision, one retry)", calls)
	}
	var sa corev1.ServiceAccount
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "default"}, &sa); err != nil {
		t.Fatal(err)
	}
}

// TestKilledTestLeavesNoOrphans starts a cluster in a child test process, kills that process
// with SIGKILL (no cleanup runs) and checks its control plane died with it.
func TestKilledTestLeavesNoOrphans(t *testing.T) {
	if root := os.Getenv("CLUSTER_TEST_CHILD_ROOT"); root != "" {
		c, err := New(context.Background(), Options{TempRoot: root})
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Println("PIDS", strings.Trim(fmt.Sprint(c.PIDs()), "[]"))
		time.Sleep(time.Minute) // killed by the parent long before
		os.Exit(1)
	}
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledTestLeavesNoOrphans$")
	cmd.Env = append(os.Environ(), "CLUSTER_TEST_CHILD_ROOT="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "PIDS "); ok {
			for _, f := range strings.Fields(rest) {
				pid, _ := strconv.Atoi(f)
				pids = append(pids, pid)
			}
			break
		}
		t.Log(sc.Text())
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(pids) != 3 {
		t.Fatalf("child did not start a cluster (pids %v)", pids)
	}
	waitDead(t, pids)
	// The next cluster start removes the run directory the killed process could not.
	removeStaleRuns(root, testr.New(t))
	assertNothingLeft(t, root, pids)
}

func assertNothingLeft(t *testing.T, root string, pids []int) {
	t.Helper()
	waitDead(t, pids)
	if left := processesMentioning(root); len(left) > 0 {
		t.Errorf("processes still running from %s: %v", root, left)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in %s: %s", root, e.Name())
	}
}

func waitDead(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for processAlive(pid) && !zombie(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %d still alive", pid)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// zombie reports an exited process that its new parent has not reaped yet.
func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// processesMentioning finds live processes whose command line contains dir: every control-plane
// process names its run directory in its flags.
func processesMentioning(dir string) []string {
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(m)))
		if pid == os.Getpid() || zombie(pid) {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(b), "\x00", " ")))
	}
	return out
}

func waitSlice(t *testing.T, ctx context.Context, c *Cluster, ns, svc string, n int) []netip.Addr {
	t.Helper()
	for {
		var slices discoveryv1.EndpointSliceList
		if err := c.Client.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: svc}); err != nil {
			t.Fatal(err)
		}
		var ready []netip.Addr
		total := 0
		for _, s := range slices.Items {
			for _, ep := range s.Endpoints {
				total++
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					for _, a := range ep.Addresses {
						ready = append(ready, netip.MustParseAddr(a))
					}
				}
			}
		}
		if len(ready) == n && total == n {
			return ready
		}
		select {
		case <-ctx.Done():
			t.Fatalf("EndpointSlices of %s/%s: %d ready of %d endpoints, want %d: %+v", ns, svc, len(ready), total, n, slices.Items)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func readyPods(t *testing.T, ctx context.Context, c *Cluster, ns, selector string) []string {
	t.Helper()
	sel, err := metav1.ParseToLabelSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var pods corev1.PodList
		if err := c.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: ls}); err != nil {
			t.Fatal(err)
		}
		var names []string
		all := true
		for _, p := range pods.Items {
			if condition(&p, corev1.PodReady) != corev1.ConditionTrue || p.DeletionTimestamp != nil {
				all = false
				continue
			}
			names = append(names, p.Name)
		}
		if all && len(names) > 0 {
			return names
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pods %s in %s not ready: %+v", selector, ns, pods.Items)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func condition(p *corev1.Pod, ct corev1.PodConditionType) corev1.ConditionStatus {
	if c := findCondition(p.Status.Conditions, ct); c != nil {
		return c.Status
	}
	return corev1.ConditionUnknown
}

func scale(t *testing.T, ctx context.Context, c *Cluster, ns, name string, replicas int32) {
	t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	patch := client.RawPatch("application/merge-patch+json", fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas))
	if err := c.Client.Patch(ctx, d, patch); err != nil {
		t.Fatalf("scale %s to %d: %v", name, replicas, err)
	}
}

func waitClosed(t *testing.T, ctx context.Context, ap netip.AddrPort) {
	t.Helper()
	for {
		conn, err := net.DialTimeout("tcp", ap.String(), time.Second)
		if err != nil {
			if !strings.Contains(err.Error(), syscall.ECONNREFUSED.Error()) {
				t.Errorf("dial %s: %v", ap, err)
			}
			return
		}
		conn.Close()
		select {
		case <-ctx.Done():
			t.Fatalf("%s still accepts connections after its pod was removed", ap)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
