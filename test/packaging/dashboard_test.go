package packaging_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
)

// metricDefinition finds metric names where our code defines them: Name fields of collector
// options and Metric* constants.
var metricDefinition = regexp.MustCompile(`(?:Name:\s*|Metric[A-Za-z]+\s*=\s*)"([a-z_:][a-z0-9_:]*)"`)

// selector finds the metric names a PromQL expression selects: a name followed by { or [.
var selector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]`)

// TestGrafanaDashboardQueriesExportedMetrics checks that every query of the chart's dashboard
// names metrics the binary exports: ours (grepped from the code that registers them) and
// controller-runtime's (grepped from the module the binary links).
func TestGrafanaDashboardQueriesExportedMetrics(t *testing.T) {
	root := testenv.RepoRoot()
	exported := map[string]bool{}
	grep := func(dir string, re *regexp.Regexp, skip func(path string) bool) {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || skip(path) {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				exported[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	grep(filepath.Join(root, "internal"), metricDefinition, func(string) bool { return false })
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/controller-runtime").Output()
	if err != nil {
		t.Fatalf("find controller-runtime: %v", err)
	}
	grep(filepath.Join(strings.TrimSpace(string(out)), "pkg"), regexp.MustCompile(`"(controller_runtime_[a-z_]+)"`), func(string) bool { return false })
	for _, want := range []string{"lattice_request_count_total", "aws_api_calls_total", "controller_runtime_reconcile_time_seconds"} {
		if !exported[want] {
			t.Fatalf("the grep finds no %s: it is broken (found %v)", want, exported)
		}
	}

	b, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "lattice-gateway.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			queries++
			names := selector.FindAllStringSubmatch(q.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q selects no metric (write selectors as name{...})", p.Title, q.Expr)
			}
			for _, n := range names {
				name := n[1]
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
				if !exported[name] && !exported[base] {
					t.Errorf("panel %q: query %q names %s, which the binary does not export", p.Title, q.Expr, name)
				}
			}
		}
	}
	if queries == 0 {
		t.Error("the dashboard has no queries")
	}
}
