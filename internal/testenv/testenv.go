// Package testenv starts a real kube-apiserver and etcd (built by hack/install-test-assets.sh)
// with the Gateway API CRDs installed, for integration tests.
package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// GatewayAPIModule is the module whose config/crd holds the CRDs the tests install.
const GatewayAPIModule = "sigs.k8s.io/gateway-api"

// RepoRoot is the repository root, found from this source file so tests work from any package.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir is where hack/install-test-assets.sh puts kube-apiserver, etcd and
// kube-controller-manager; it fails when they are missing, saying how to build them.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	dir := filepath.Join(RepoRoot(), "bin", "envtest")
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("%s not found in %s: run hack/install-test-assets.sh (or make test-assets)", bin, dir)
		}
	}
	return dir, nil
}

var (
	moduleDirs  sync.Map // module path -> dir
	moduleDirMu sync.Mutex
)

// ModuleDir returns the module cache directory of a module required by go.mod. It asks
// `go mod download -json`, which works even when the module is not in the cache yet (unlike
// `go list -m -f {{.Dir}}`).
func ModuleDir(module string) (string, error) {
	if dir, ok := moduleDirs.Load(module); ok {
		return dir.(string), nil
	}
	moduleDirMu.Lock()
	defer moduleDirMu.Unlock()
	cmd := exec.Command("go", "mod", "download", "-json", module)
	cmd.Dir = RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("decode go mod download output for %s: %w", module, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", module, info.Error)
	}
	moduleDirs.Store(module, info.Dir)
	return info.Dir, nil
}

// GatewayAPICRDDir returns config/crd/<channel> ("standard" or "experimental") of the pinned
// gateway-api module.
func GatewayAPICRDDir(channel string) (string, error) {
	dir, err := ModuleDir(GatewayAPIModule)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "config", "crd", channel), nil
}

// OwnCRDDir is where controller-gen writes lattice-gateway's own CRDs.
func OwnCRDDir() string { return filepath.Join(RepoRoot(), "config", "crd", "bases") }

// Start runs kube-apiserver and etcd with the experimental Gateway API CRDs (a superset of
// standard, including TLSRoute) and our own CRDs when generated, and stops them when the test
// ends. Child processes get a per-test TMPDIR so nothing is left behind.
func Start(t testing.TB) *rest.Config {
	t.Helper()
	return StartWith(t, nil)
}

// StartWith is Start with the environment adjusted by adjust (when not nil) before it starts,
// e.g. to install webhooks.
func StartWith(t testing.TB, adjust func(*envtest.Environment)) *rest.Config {
	t.Helper()
	assets, err := AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := GatewayAPICRDDir("experimental")
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{crds}
	if _, err := os.Stat(OwnCRDDir()); err == nil {
		paths = append(paths, OwnCRDDir())
	}
	t.Setenv("TMPDIR", t.TempDir())
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     paths,
		ErrorIfCRDPathMissing: true,
	}
	if adjust != nil {
		adjust(env)
	}
	// Stop must run even when Start fails: Start may have launched etcd and the apiserver already.
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	return cfg
}
