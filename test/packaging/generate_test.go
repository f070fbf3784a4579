package packaging_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
)

// Everything hack/generate.sh writes is committed; running it again into a temporary directory must
// reproduce the committed files exactly, and no stale generated file may be left behind.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	root := testenv.RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "bin", "controller-gen")); err != nil {
		t.Fatalf("bin/controller-gen is missing: run hack/install-test-assets.sh (%v)", err)
	}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "hack", "generate.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/generate.sh: %v\n%s", err, b)
	}
	for _, pattern := range []string{
		"api/v1alpha1/zz_generated.deepcopy.go",
		"config/crd/bases/*.yaml",
		"config/rbac/*.yaml",
		"config/manifests/*.yaml",
		"charts/lattice-gateway/crds/*.yaml",
		"charts/lattice-gateway/files/*.yaml",
	} {
		want := glob(t, out, pattern)
		got := glob(t, root, pattern)
		if len(want) == 0 {
			t.Errorf("hack/generate.sh wrote nothing matching %s", pattern)
		}
		if !slices.Equal(want, got) {
			t.Errorf("%s: generated %v, committed %v: run hack/generate.sh", pattern, want, got)
			continue
		}
		for _, rel := range want {
			w, err := os.ReadFile(filepath.Join(out, rel))
			if err != nil {
				t.Fatal(err)
			}
			g, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(w, g) {
				t.Errorf("%s is stale: run hack/generate.sh", rel)
			}
		}
	}
}

// glob returns the paths under dir matching pattern, relative to dir and sorted.
func glob(t *testing.T, dir, pattern string) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	rel := make([]string, 0, len(matches))
	for _, m := range matches {
		r, err := filepath.Rel(dir, m)
		if err != nil {
			t.Fatal(err)
		}
		rel = append(rel, r)
	}
	sort.Strings(rel)
	return rel
}
