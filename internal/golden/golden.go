// Package golden compares test output with files under testdata/, regenerated with -update.
package golden

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// Cases returns the case names in dir: every <case>.in.yaml, sorted.
func Cases(t testing.TB, dir string) []string {
	t.Helper()
	ins, err := filepath.Glob(filepath.Join(dir, "*.in.yaml"))
	if err != nil {
		t.Fatalf("list golden cases: %v", err)
	}
	names := make([]string, 0, len(ins))
	for _, in := range ins {
		names = append(names, strings.TrimSuffix(filepath.Base(in), ".in.yaml"))
	}
	sort.Strings(names)
	return names
}

// Input reads dir/<name>.in.yaml.
func Input(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".in.yaml"))
	if err != nil {
		t.Fatalf("read golden input: %v", err)
	}
	return b
}

// Check compares got with dir/<name>.out.yaml, or rewrites that file when -update is set.
func Check(t testing.TB, dir, name string, got []byte) {
	t.Helper()
	CheckFile(t, filepath.Join(dir, name+".out.yaml"), got)
}

// CheckFile compares got with the golden file at path, or rewrites it when -update is set; for
// stages whose output is not YAML (e.g. <case>.plan.txt).
func CheckFile(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden output (run with -update to create it): %v", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the output (run go test -update to accept):\n%s", path, diff(string(want), string(got)))
	}
}

// diff shows the first differing line with some context; enough to find the change.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl
		}
	}
	return "(no line differs; trailing bytes differ)"
}
