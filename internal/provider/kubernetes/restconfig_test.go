package kubernetes

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`

// Every way of loading the config gets the configured limits (issue: --kubeconfig kept
// client-go's 5 per second while $KUBECONFIG did not).
func TestRestConfigRateLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	given := &rest.Config{Host: "https://127.0.0.1:6443", QPS: 5, Burst: 10}
	for _, tc := range []struct {
		name       string
		cfg        *rest.Config
		kubeconfig string
		env        string
	}{
		{name: "--kubeconfig", kubeconfig: path},
		{name: "$KUBECONFIG", env: path},
		{name: "given config", cfg: given},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tc.env)
			got, err := restConfig(tc.cfg, tc.kubeconfig, 50, 100)
			if err != nil {
				t.Fatal(err)
			}
			if got.QPS != 50 || got.Burst != 100 {
				t.Errorf("QPS, Burst = %v, %d; want 50, 100", got.QPS, got.Burst)
			}
		})
	}
	if given.QPS != 5 {
		t.Errorf("restConfig changed the caller's config: QPS %v", given.QPS)
	}
}
