package standalone

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// TestRunSeveralClusters: `run -f a -f b` runs two clusters on one Local Lattice; b exports
// inventory-ver2, a's route imports it next to its own inventory-ver1, and traffic reaches both.
func TestRunSeveralClusters(t *testing.T) {
	pods(t, map[string]string{"127.0.38.11": "inventory-ver1-pod", "127.0.38.21": "inventory-ver2-pod"})
	root, statusDir := t.TempDir(), t.TempDir()
	a, b := filepath.Join(root, "east"), filepath.Join(root, "west")
	for _, d := range []string{a, b} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	route := strings.Replace(inventoryRoute(t, 50, 50), "    - name: inventory-ver2\n      port: 8090\n",
		"    - name: inventory-ver2\n      group: application-networking.k8s.aws\n      kind: ServiceImport\n", 1)
	write(t, a, "a.yaml", base(t)+service(t, "inventory-ver1", "127.0.38.11")+harness.Manifest(t, "inventory-ver2-import.yaml", nil)+"---\n"+route)
	write(t, b, "b.yaml", service(t, "inventory-ver2", "127.0.38.21")+harness.Manifest(t, "inventory-ver2-export.yaml", nil))
	port := freePort(t)
	p := start(t, "run", "-f", a, "-f", b, "--status-dir", statusDir,
		"--api-addr", "127.0.0.1:0", "--admin-addr", "", "--dns-addr", "127.0.0.1:0",
		"--listener-port-offset", strconv.Itoa(port-80), "--data-dir", t.TempDir())
	m, _ := p.WaitOutput(`DNS on (\S+) \(udp/tcp\)`, 0, 30*time.Second)
	in := &instance{p: p, dns: m[1], listener: "127.0.0.1:" + strconv.Itoa(port)}
	p.WaitOutput(`cluster west: folder \S+, ManagedBy \d+/west/vpc-[0-9a-f]{17}`, 0, 5*time.Second)
	// When east's first pass runs before west exported, the import resolves on the refresh pass
	// 30 s later; until then the route's row shows ResolvedRefs=False.
	m, _ = p.WaitOutput(`HTTPRoute\s+default/inventory\s+Programmed\s+(\S+)\s+http://127\.0\.0\.1:`+strconv.Itoa(port), 0, 75*time.Second)
	dnsName := m[1]
	harness.Eventually(t, 30*time.Second, func() error {
		c, err := in.trySplit(ctx(t), dnsName, 40)
		if err != nil {
			return err
		}
		if c["inventory-ver1-pod"] < 10 || c["inventory-ver2-pod"] < 10 {
			return fmt.Errorf("split %v, want both clusters' pods", c)
		}
		return nil
	})
	st, err := os.ReadFile(filepath.Join(statusDir, "west", "serviceexport.default.inventory-ver2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "type: Exported") || !strings.Contains(string(st), "reason: Exported") {
		t.Errorf("export status:\n%s", st)
	}
}
