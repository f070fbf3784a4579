package standalone

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// repoExamples is examples/hotel of this checkout.
var repoExamples = filepath.Join("..", "..", "examples", "hotel")

func TestDemo(t *testing.T) {
	tests := []struct {
		name     string
		requests int
	}{{"shortened", 10}, {"the seed's 30 requests", 30}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, "demo", "--requests", strconv.Itoa(tt.requests), "--listener-port-offset", strconv.Itoa(freePort(t)-80),
				"--data-dir", t.TempDir())
			if err := p.Wait(time.Minute); err != nil {
				t.Fatalf("demo exit: %v", err)
			}
			out := p.Output()
			if n := strings.Count(out, "): Inventory-ver1 handler pod") + strings.Count(out, "): Inventory-ver2 handler pod"); n != tt.requests {
				t.Errorf("%d inventory answers, want %d", n, tt.requests)
			}
			m := regexp.MustCompile(`Split over (\d+) requests: inventory-ver1 (\d+) \(\d+%\)  inventory-ver2 (\d+) \(\d+%\)\n`).FindStringSubmatch(out)
			if m == nil {
				t.Fatal("no split line")
			}
			v1, _ := strconv.Atoi(m[2])
			v2, _ := strconv.Atoi(m[3])
			// 50/50 weights: each version gets half, give or take one request of rounding.
			if v1+v2 != tt.requests || v1 < tt.requests/2-1 || v2 < tt.requests/2-1 {
				t.Errorf("split ver1 %d / ver2 %d over %d requests", v1, v2, tt.requests)
			}
			for _, want := range []string{"CreateServiceNetwork service network my-hotel", "vpc-lattice-svcs.us-west-2.on.aws",
				"through Local Lattice DNS", "Requesting to Pod(inventory-ver2-", "from parking-"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q", want)
				}
			}
		})
	}
}

// TestDemoFailsClearly: a demo that cannot run says why and exits non-zero.
func TestDemoFailsClearly(t *testing.T) {
	listenerPort := freePort(t)
	tests := []struct {
		name, taken string
		want        []string
	}{
		{"an inventory-ver2 pod's address is taken", "127.0.20.21:8090", []string{"127.0.20.21:8090", "address already in use"}},
		{"the data plane's listener address is taken", "127.0.0.1:" + strconv.Itoa(listenerPort),
			[]string{"does not serve Lattice port 80 on 127.0.0.1:" + strconv.Itoa(listenerPort), "--listener-port-offset"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			busy, err := net.Listen("tcp", tt.taken)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = busy.Close() }()
			out, err := exec.Command(binary, "demo", "--listener-port-offset", strconv.Itoa(listenerPort-80), "--data-dir", t.TempDir()).CombinedOutput()
			if err == nil {
				t.Fatalf("demo succeeded:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("failure does not say %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestPlan(t *testing.T) {
	t.Run("against a fresh Local Lattice everything is a create", func(t *testing.T) {
		out, err := exec.Command(binary, "plan", "-f", repoExamples).CombinedOutput()
		if err != nil {
			t.Fatalf("plan: %v\n%s", err, out)
		}
		for _, want := range []string{"# 21 VPC Lattice API calls", "CreateServiceNetwork service network my-hotel\n",
			"CreateService service inventory-default\n", "CreateRule rule rates-default/80/"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("plan lacks %q:\n%s", want, out)
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
			if !strings.HasPrefix(line, "Create") && !strings.HasPrefix(line, "RegisterTargets") {
				t.Errorf("not a create: %q", line)
			}
		}
	})

	t.Run("against a running instance only the difference, and nothing changes", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "base.yaml", base(t)+service(t, "inventory-ver1", "127.0.31.11")+service(t, "inventory-ver2", "127.0.31.21"))
		write(t, dir, "inventory.yaml", inventoryRoute(t, 50, 50))
		in := startRun(t, dir, t.TempDir(), filepath.Join(t.TempDir(), "state.json"), freePort(t))
		in.p.WaitOutput(`HTTPRoute\s+default/inventory\s+Programmed`, 0, 30*time.Second)

		// The same objects with new weights, in a folder the running instance does not watch.
		planDir := t.TempDir()
		b, err := os.ReadFile(filepath.Join(dir, "base.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		write(t, planDir, "base.yaml", string(b))
		write(t, planDir, "inventory.yaml", inventoryRoute(t, 80, 20))
		before := in.counters(t).Mutating
		out, err := exec.Command(binary, "plan", "-f", planDir, "--lattice-endpoint", in.api).CombinedOutput()
		if err != nil {
			t.Fatalf("plan: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "# 1 VPC Lattice API calls") || !regexp.MustCompile(`\n(Batch)?UpdateRule rules? inventory-default/80/`).MatchString(string(out)) {
			t.Errorf("want exactly one rule update:\n%s", out)
		}
		if after := in.counters(t).Mutating; after != before {
			t.Errorf("plan made %d mutating calls", after-before)
		}
	})

	t.Run("a bad manifest fails the plan", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, "base.yaml", base(t))
		write(t, dir, "broken.yaml", harness.Manifest(t, "broken-route.yaml", nil))
		out, err := exec.Command(binary, "plan", "-f", dir).CombinedOutput()
		if err == nil {
			t.Fatalf("plan succeeded:\n%s", out)
		}
		if !strings.Contains(string(out), "# skipped: "+filepath.Join(dir, "broken.yaml")+":7: HTTPRoute: unknown field spec.rulez") {
			t.Errorf("bad manifest not reported with file and line:\n%s", out)
		}
	})
}

// TestDemoKeepRunning: after the walkthrough the printed curl command works, edits of the copied
// manifests are applied, and Ctrl-C stops everything and removes the copy.
func TestDemoKeepRunning(t *testing.T) {
	p := start(t, "demo", "--keep-running", "--requests", "2", "--listener-port-offset", strconv.Itoa(freePort(t)-80), "--data-dir", t.TempDir())
	m, at := p.WaitOutput(`Edit the manifests in (\S+) and`, 0, time.Minute)
	dir := m[1]
	m, _ = p.WaitOutput(`curl --resolve (\S+):(\d+):(\S+) http://`, at, 5*time.Second)
	in := &instance{listener: m[3] + ":" + m[2]}
	m2, _ := p.WaitOutput(`dig @(\S+) -p (\d+) \+short`, at, 5*time.Second)
	in.dns = m2[1] + ":" + m2[2]
	if c := in.split(t, m[1], 10); c["inventory-ver1-7d7b9b6b4f-2lx8m"]+c["inventory-ver1-7d7b9b6b4f-t5r7n"] != 5 {
		t.Errorf("split of the printed command's requests: %v", c)
	}
	route := filepath.Join(dir, "inventory-route.yaml")
	b, err := os.ReadFile(route)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "inventory-route.yaml", strings.Replace(strings.Replace(string(b), "weight: 50", "weight: 100", 1), "weight: 50", "weight: 0", 1))
	harness.Eventually(t, 20*time.Second, func() error {
		c := in.split(t, m[1], 4)
		if c["inventory-ver1-7d7b9b6b4f-2lx8m"]+c["inventory-ver1-7d7b9b6b4f-t5r7n"] != 4 {
			return fmt.Errorf("split %v", c)
		}
		return nil
	})
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("exit after Ctrl-C: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("manifest copy %s not removed: %v", dir, err)
	}
}

// TestDemoMultiCluster: `demo --multi-cluster` serves the route of cluster-a from both clusters'
// pods, inventory-ver2 through cluster-b's export.
func TestDemoMultiCluster(t *testing.T) {
	p := start(t, "demo", "--multi-cluster", "--listener-port-offset", strconv.Itoa(freePort(t)-80), "--data-dir", t.TempDir())
	if err := p.Wait(time.Minute); err != nil {
		t.Fatalf("demo exit: %v", err)
	}
	out := p.Output()
	if n := strings.Count(out, "Inventory-ver1 handler pod   <- cluster-a") + strings.Count(out, "Inventory-ver2 handler pod   <- cluster-b"); n != 30 {
		t.Errorf("%d inventory answers naming their cluster, want 30", n)
	}
	for _, want := range []string{"Split over 30 requests: inventory-ver1 15 (50%)  inventory-ver2 15 (50%)",
		"Served by cluster: cluster-a 15 (50%)  cluster-b 15 (50%)",
		"[cluster-b] CreateTargetGroup target group k8s-default-inventory-ver2-8090-http1-",
		"[cluster-a] CreateServiceNetwork service network my-hotel"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
