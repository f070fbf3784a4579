// Package standalone tests `lattice-gateway run -f`, `plan` and `demo` as a user runs them: the
// built binary, real Local Lattice in-process, the real SDK client, real traffic on loopback.
package standalone

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/demo"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

func base(t *testing.T) string { return harness.Manifest(t, "hotel-gateway.yaml", nil) }

// service returns a Service and its standalone EndpointSlice with one pod at addr:8090.
func service(t *testing.T, name, addr string) string {
	return harness.Manifest(t, "service.yaml.tmpl", map[string]string{"Name": name, "Addr": addr})
}

func inventoryRoute(t *testing.T, ver1, ver2 int) string {
	return harness.Manifest(t, "inventory-route.yaml.tmpl", map[string]int{"Ver1": ver1, "Ver2": ver2})
}

// pods runs demo-app pods on loopback addresses for the test's Services.
func pods(t *testing.T, byAddr map[string]string) {
	t.Helper()
	for addr, name := range byAddr {
		r, err := workloads.Start(workloads.Container{Pod: name, Namespace: "default", Name: "app", Image: workloads.DemoAppImage,
			Addr: netip.MustParseAddr(addr), Ports: []int32{8090}}, logr.Discard())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// instance is what a started `run` printed about itself.
type instance struct {
	p               *harness.Process
	api, admin, dns string
	listener        string
	client          *vpclattice.Client
}

func startRun(t *testing.T, dir, statusDir, stateFile string, listenerPort int, extra ...string) *instance {
	t.Helper()
	args := append([]string{"run", "-f", dir, "--status-dir", statusDir, "--state-file", stateFile,
		"--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--dns-addr", "127.0.0.1:0",
		"--listener-port-offset", strconv.Itoa(listenerPort - 80), "--data-dir", filepath.Join(t.TempDir(), "data")}, extra...)
	p := start(t, args...)
	m, _ := p.WaitOutput(`API on (http://\S+) `, 0, 30*time.Second)
	in := &instance{p: p, api: m[1], listener: "127.0.0.1:" + strconv.Itoa(listenerPort)}
	m, _ = p.WaitOutput(`admin \(metrics, counters, faults\) on http://(\S+)`, 0, 5*time.Second)
	in.admin = m[1]
	m, _ = p.WaitOutput(`DNS on (\S+) \(udp/tcp\)`, 0, 5*time.Second)
	in.dns = m[1]
	in.client = latticeClient(in.api)
	return in
}

// service finds a Lattice service by name through the SDK.
func (in *instance) service(t *testing.T, name string) (*vpclattice.GetServiceOutput, error) {
	list, err := in.client.ListServices(ctx(t), &vpclattice.ListServicesInput{})
	if err != nil {
		return nil, err
	}
	for _, s := range list.Items {
		if aws.ToString(s.Name) == name {
			return in.client.GetService(ctx(t), &vpclattice.GetServiceInput{ServiceIdentifier: s.Id})
		}
	}
	return nil, fmt.Errorf("no service %s", name)
}

// split sends n requests for dnsName through the data plane and counts answers by pod.
func (in *instance) split(t *testing.T, dnsName string, n int) map[string]int {
	t.Helper()
	counts, err := in.trySplit(ctx(t), dnsName, n)
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// trySplit is split for an Eventually: a listener that Lattice has just (re)created is bound by
// the data plane a moment later, so a refused connection is worth another try, not a failure.
func (in *instance) trySplit(c context.Context, dnsName string, n int) (map[string]int, error) {
	ip, err := demo.Resolve(c, in.dns, dnsName)
	if err != nil {
		return nil, err
	}
	if ip.String() != "127.0.0.1" {
		return nil, fmt.Errorf("%s resolves to %s, want the data plane 127.0.0.1", dnsName, ip)
	}
	counts := map[string]int{}
	client := &http.Client{Timeout: 5 * time.Second}
	for range n {
		req, _ := http.NewRequestWithContext(c, http.MethodGet, "http://"+in.listener+"/", nil)
		req.Host = dnsName
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		pod, ok := workloads.PodOf(body)
		if !ok {
			pod = fmt.Sprintf("HTTP %d %s", resp.StatusCode, body)
		}
		counts[pod]++
	}
	return counts, nil
}

type counters struct {
	Total    int64                       `json:"total"`
	Mutating int64                       `json:"mutating"`
	Ops      map[string]map[string]int64 `json:"operations"`
}

func (in *instance) counters(t *testing.T) counters {
	t.Helper()
	resp, err := http.Get("http://" + in.admin + "/counters")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var c counters
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRunFolder(t *testing.T) {
	pods(t, map[string]string{"127.0.30.1": "parking-pod", "127.0.30.11": "inventory-ver1-pod", "127.0.30.12": "inventory-ver1-pod-b",
		"127.0.30.21": "inventory-ver2-pod"})
	dir, statusDir := t.TempDir(), t.TempDir()
	stateFile := filepath.Join(t.TempDir(), "state.json")
	write(t, dir, "base.yaml", base(t)+service(t, "inventory-ver1", "127.0.30.11")+service(t, "inventory-ver2", "127.0.30.21")+service(t, "parking", "127.0.30.1"))
	write(t, dir, "inventory.yaml", inventoryRoute(t, 50, 50))
	port := freePort(t)
	in := startRun(t, dir, statusDir, stateFile, port)

	m, at := in.p.WaitOutput(`HTTPRoute\s+default/inventory\s+Programmed\s+(\S+)\s+http://127\.0\.0\.1:`+strconv.Itoa(port), 0, 30*time.Second)
	dnsName := m[1]
	svc, err := in.service(t, "inventory-default")
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(svc.DnsEntry.DomainName); got != dnsName {
		t.Fatalf("table shows %s, Lattice has %s", dnsName, got)
	}
	counts := in.split(t, dnsName, 100)
	if counts["inventory-ver1-pod"] < 35 || counts["inventory-ver2-pod"] < 35 || len(counts) != 2 {
		t.Fatalf("50/50 split over 100 requests: %v", counts)
	}

	t.Run("status written back", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(statusDir, "httproute.default.inventory.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"application-networking.k8s.aws/lattice-assigned-domain-name: " + dnsName, "type: Programmed", "reason: Programmed"} {
			if !strings.Contains(string(b), want) {
				t.Errorf("status file lacks %q:\n%s", want, b)
			}
		}
		if _, err := os.Stat(filepath.Join(statusDir, "gateway.default.my-hotel.yaml")); err != nil {
			t.Error(err)
		}
	})

	t.Run("modified route re-applied", func(t *testing.T) {
		write(t, dir, "inventory.yaml", inventoryRoute(t, 100, 0))
		harness.Eventually(t, 20*time.Second, func() error {
			if c := in.split(t, dnsName, 20); c["inventory-ver1-pod"] != 20 {
				return fmt.Errorf("split %v", c)
			}
			return nil
		})
	})

	t.Run("endpoint added to an EndpointSlice gets traffic", func(t *testing.T) {
		slices := base(t) + strings.Replace(service(t, "inventory-ver1", "127.0.30.11"), "endpoints:\n",
			"endpoints:\n- addresses: [\"127.0.30.12\"]\n  targetRef: {kind: Pod, name: inventory-ver1-pod-b}\n", 1) +
			service(t, "inventory-ver2", "127.0.30.21") + service(t, "parking", "127.0.30.1")
		write(t, dir, "base.yaml", slices)
		harness.Eventually(t, 20*time.Second, func() error {
			if c := in.split(t, dnsName, 20); c["inventory-ver1-pod"] == 0 || c["inventory-ver1-pod-b"] == 0 {
				return fmt.Errorf("split %v", c)
			}
			return nil
		})
	})

	t.Run("added route appears", func(t *testing.T) {
		write(t, dir, "rates.yaml", harness.Manifest(t, "rates-route.yaml", nil))
		m, at = in.p.WaitOutput(`HTTPRoute\s+default/rates\s+Programmed\s+(\S+)`, at, 30*time.Second)
		if _, err := in.service(t, "rates-default"); err != nil {
			t.Fatal(err)
		}
		ip, err := demo.Resolve(ctx(t), in.dns, m[1])
		if err != nil || ip.String() != "127.0.0.1" {
			t.Fatalf("resolve %s: %v %v", m[1], ip, err)
		}
	})

	t.Run("malformed manifest reported with file and line, others keep working", func(t *testing.T) {
		write(t, dir, "broken.yaml", harness.Manifest(t, "broken-route.yaml", nil))
		in.p.WaitOutput(`skipped `+regexp.QuoteMeta(filepath.Join(dir, "broken.yaml"))+`:7: HTTPRoute: unknown field spec\.rulez`, at, 20*time.Second)
		if c := in.split(t, dnsName, 10); c["inventory-ver1-pod"]+c["inventory-ver1-pod-b"] != 10 {
			t.Fatalf("inventory after a bad manifest: %v", c)
		}
		if err := os.Remove(filepath.Join(dir, "broken.yaml")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("removed route deleted from Lattice", func(t *testing.T) {
		if err := os.Remove(filepath.Join(dir, "rates.yaml")); err != nil {
			t.Fatal(err)
		}
		harness.Eventually(t, 20*time.Second, func() error {
			if _, err := in.service(t, "rates-default"); err == nil {
				return fmt.Errorf("still there")
			}
			return nil
		})
		harness.Eventually(t, 5*time.Second, func() error {
			if _, err := os.Stat(filepath.Join(statusDir, "httproute.default.rates.yaml")); err == nil {
				return fmt.Errorf("still there")
			}
			return nil
		})
	})

	t.Run("Ctrl-C stops cleanly and a restart resumes", func(t *testing.T) {
		if err := in.p.Stop(10 * time.Second); err != nil {
			t.Fatalf("exit after Ctrl-C: %v", err)
		}
		in.p.WaitOutput(`stopped; Local Lattice state saved in `+regexp.QuoteMeta(stateFile), 0, time.Second)

		again := startRun(t, dir, statusDir, stateFile, port)
		again.p.WaitOutput(`HTTPRoute\s+default/inventory\s+Programmed\s+`+regexp.QuoteMeta(dnsName), 0, 30*time.Second)
		svc2, err := again.service(t, "inventory-default")
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(svc2.Id) != aws.ToString(svc.Id) {
			t.Errorf("service recreated after restart: %s, was %s", aws.ToString(svc2.Id), aws.ToString(svc.Id))
		}
		if c := again.counters(t); c.Mutating != 0 {
			t.Errorf("restart made %d mutating calls, want 0: %v", c.Mutating, c.Ops)
		}
		if c := again.split(t, dnsName, 10); c["inventory-ver1-pod"]+c["inventory-ver1-pod-b"] != 10 {
			t.Fatalf("traffic after restart: %v", c)
		}
		if err := again.p.Stop(10 * time.Second); err != nil {
			t.Fatalf("exit after Ctrl-C: %v", err)
		}
	})
}

// TestRunExternalEndpoint: with --lattice-endpoint, run applies to that Lattice (here another
// run's in-process Local Lattice, whose data plane then serves the route) and starts nothing.
func TestRunExternalEndpoint(t *testing.T) {
	pods(t, map[string]string{"127.0.32.11": "inventory-ver1-pod", "127.0.32.21": "inventory-ver2-pod"})
	hostDir := t.TempDir()
	write(t, hostDir, "base.yaml", base(t))
	host := startRun(t, hostDir, t.TempDir(), filepath.Join(t.TempDir(), "state.json"), freePort(t))
	host.p.WaitOutput(`Gateway\s+default/my-hotel\s+Programmed`, 0, 30*time.Second)

	dir := t.TempDir()
	write(t, dir, "base.yaml", strings.ReplaceAll(base(t), "my-hotel", "other-hotel")+
		service(t, "inventory-ver1", "127.0.32.11")+service(t, "inventory-ver2", "127.0.32.21"))
	write(t, dir, "inventory.yaml", strings.ReplaceAll(inventoryRoute(t, 50, 50), "my-hotel", "other-hotel"))
	p := start(t, "run", "-f", dir, "--lattice-endpoint", host.api, "--cluster-name", "other")
	m, _ := p.WaitOutput(`HTTPRoute\s+default/inventory\s+Programmed\s+(\S+)\s+http://(\S+):80\n`, 0, 30*time.Second)
	if m[1] != m[2] {
		t.Errorf("address %s, want the DNS name %s (real Lattice has no local listener)", m[2], m[1])
	}
	if strings.Contains(p.Output(), "Local Lattice VPC Lattice API on") {
		t.Error("started an in-process Local Lattice despite --lattice-endpoint")
	}
	svc, err := host.service(t, "inventory-default")
	if err != nil {
		t.Fatal(err)
	}
	tags, err := host.client.ListTagsForResource(ctx(t), &vpclattice.ListTagsForResourceInput{ResourceArn: svc.Arn})
	if err != nil {
		t.Fatal(err)
	}
	if got := tags.Tags["application-networking.k8s.aws/ManagedBy"]; got != "123456789012/other/vpc-0123456789abcdef0" {
		t.Errorf("ManagedBy %q", got)
	}
	if c := host.split(t, m[1], 20); c["inventory-ver1-pod"] < 6 || c["inventory-ver2-pod"] < 6 || len(c) != 2 {
		t.Errorf("split through the host's data plane: %v", c)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("exit after Ctrl-C: %v", err)
	}
	p.WaitOutput(`stopped; the Lattice resources stay in place`, 0, time.Second)
	if _, err := host.service(t, "inventory-default"); err != nil {
		t.Errorf("service gone after stopping run: %v", err)
	}
}

// TestRunGatewayAddress: with --gateway-address-cidr the Gateway gets a status address, shown in
// the table and served by the data plane for requests with any Host, as a Gateway would be.
func TestRunGatewayAddress(t *testing.T) {
	pods(t, map[string]string{"127.0.33.11": "inventory-ver1-pod", "127.0.33.21": "inventory-ver2-pod"})
	dir, statusDir := t.TempDir(), t.TempDir()
	write(t, dir, "base.yaml", base(t)+service(t, "inventory-ver1", "127.0.33.11")+service(t, "inventory-ver2", "127.0.33.21"))
	write(t, dir, "inventory.yaml", inventoryRoute(t, 50, 50))
	port := freePort(t)
	p := start(t, "run", "-f", dir, "--status-dir", statusDir, "--gateway-address-cidr", "127.78.0.0/16",
		"--api-addr", "127.0.0.1:0", "--admin-addr", "", "--dns-addr", "127.0.0.1:0",
		"--listener-port-offset", strconv.Itoa(port-80), "--data-dir", t.TempDir())
	m, _ := p.WaitOutput(`Gateway\s+default/my-hotel\s+Programmed\s+-\s+http://(127\.78\.\d+\.\d+:\d+)\n`, 0, 30*time.Second)
	p.WaitOutput(`HTTPRoute\s+default/inventory\s+Programmed`, 0, 30*time.Second)
	b, err := os.ReadFile(filepath.Join(statusDir, "gateway.default.my-hotel.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := strings.Cut(m[1], ":"); !strings.Contains(string(b), "value: "+host) {
		t.Errorf("Gateway status lacks address %s:\n%s", host, b)
	}
	harness.Eventually(t, 10*time.Second, func() error {
		c := map[string]int{}
		for range 10 {
			resp, err := http.Get("http://" + m[1] + "/")
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			pod, _ := workloads.PodOf(body)
			c[pod]++
		}
		if c["inventory-ver1-pod"]+c["inventory-ver2-pod"] != 10 {
			return fmt.Errorf("answers %v", c)
		}
		return nil
	})
}

// TestRunResync: with --resync-period, a listener deleted behind run's back comes back.
func TestRunResync(t *testing.T) {
	pods(t, map[string]string{"127.0.34.11": "inventory-ver1-pod", "127.0.34.21": "inventory-ver2-pod"})
	dir := t.TempDir()
	write(t, dir, "base.yaml", base(t)+service(t, "inventory-ver1", "127.0.34.11")+service(t, "inventory-ver2", "127.0.34.21"))
	write(t, dir, "inventory.yaml", inventoryRoute(t, 50, 50))
	in := startRun(t, dir, t.TempDir(), filepath.Join(t.TempDir(), "state.json"), freePort(t), "--resync-period", "300ms")
	m, _ := in.p.WaitOutput(`HTTPRoute\s+default/inventory\s+Programmed\s+(\S+)`, 0, 30*time.Second)
	svc, err := in.service(t, "inventory-default")
	if err != nil {
		t.Fatal(err)
	}
	ls, err := in.client.ListListeners(ctx(t), &vpclattice.ListListenersInput{ServiceIdentifier: svc.Id})
	if err != nil || len(ls.Items) != 1 {
		t.Fatalf("listeners %v, %v", ls, err)
	}
	if _, err := in.client.DeleteListener(ctx(t), &vpclattice.DeleteListenerInput{ServiceIdentifier: svc.Id, ListenerIdentifier: ls.Items[0].Id}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 20*time.Second, func() error {
		ls, err := in.client.ListListeners(ctx(t), &vpclattice.ListListenersInput{ServiceIdentifier: svc.Id})
		if err != nil || len(ls.Items) != 1 {
			return fmt.Errorf("listeners %v, %v", ls, err)
		}
		return nil
	})
	harness.Eventually(t, 10*time.Second, func() error {
		c, err := in.trySplit(ctx(t), m[1], 10)
		if err != nil {
			return err
		}
		if c["inventory-ver1-pod"]+c["inventory-ver2-pod"] != 10 {
			return fmt.Errorf("split %v", c)
		}
		return nil
	})
}
