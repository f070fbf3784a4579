package standalone

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/go-logr/logr"
	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

// TestRunIAMAuthPolicy: an IAMAuthPolicy in the folder makes `run -f`'s data plane demand
// SigV4 signatures of the principal it allows; removing the file opens the route again.
func TestRunIAMAuthPolicy(t *testing.T) {
	echo, err := workloads.Start(workloads.Container{Pod: "echo-pod", Namespace: "default", Name: "echo",
		Image: "registry.k8s.io/gateway-api/echo-basic:v1.5.1", Addr: netip.MustParseAddr("127.0.37.11"),
		Env: map[string]string{"HTTP_PORT": "8090", "H2C_PORT": "8091", "POD_NAME": "echo-pod"}}, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = echo.Close() })

	allowed := dataplane.PrincipalEntry{AccessKeyID: "AKIAPARKINGAPP000001", SecretAccessKey: "parking-app-secret",
		ARN: "arn:aws:iam::123456789012:role/parking-app"}
	principals, err := yaml.Marshal(dataplane.PrincipalsFile{Principals: []dataplane.PrincipalEntry{allowed}})
	if err != nil {
		t.Fatal(err)
	}
	principalsFile, dataDir := filepath.Join(t.TempDir(), "principals.yaml"), t.TempDir()
	write(t, filepath.Dir(principalsFile), "principals.yaml", string(principals))

	dir := t.TempDir()
	write(t, dir, "base.yaml", base(t)+service(t, "echo", "127.0.37.11")+`---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: secure}
spec:
  parentRefs: [{name: my-hotel}]
  rules:
  - backendRefs: [{name: echo, port: 8090}]
`)
	write(t, dir, "auth.yaml", `apiVersion: application-networking.k8s.aws/v1alpha1
kind: IAMAuthPolicy
metadata: {name: secure-auth}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: secure}
  policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+allowed.ARN+`"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}'
`)
	// The later --data-dir wins over startRun's, so the test can read the principal run created.
	in := startRun(t, dir, t.TempDir(), filepath.Join(t.TempDir(), "state.json"), freePort(t),
		"--iam-principals-file", principalsFile, "--data-dir", dataDir)
	m, _ := in.p.WaitOutput(`HTTPRoute\s+default/secure\s+Programmed\s+(\S+)`, 0, 30*time.Second)
	dnsName := m[1]
	b, err := os.ReadFile(filepath.Join(dataDir, "iam-principals.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var created dataplane.PrincipalsFile
	if err := yaml.Unmarshal(b, &created); err != nil || len(created.Principals) != 1 {
		t.Fatalf("the principal run created: %s (%v)", b, err)
	}
	other := created.Principals[0]

	get := func(by *dataplane.PrincipalEntry) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+in.listener+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = dnsName
		if by != nil {
			if err := harness.SignLatticeRequest(req, by.AccessKeyID, by.SecretAccessKey, "us-west-2"); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		if code, body := get(&allowed); code != http.StatusOK {
			return fmt.Errorf("signed by %s: %d %s", allowed.ARN, code, body)
		}
		if code, body := get(nil); code != http.StatusForbidden {
			return fmt.Errorf("unsigned: %d %s", code, body)
		}
		return nil
	})
	const n = 10
	for range n {
		code, body := get(&allowed)
		var echoed workloads.EchoResponse
		if code != http.StatusOK || json.Unmarshal([]byte(body), &echoed) != nil {
			t.Fatalf("signed by %s: %d %s, want 200 from echo", allowed.ARN, code, body)
		}
		if got := echoed.Headers["X-Amzn-Lattice-Identity"]; len(got) != 1 || got[0] != "Principal="+allowed.ARN {
			t.Fatalf("backend saw x-amzn-lattice-identity %q, want [Principal=%s]", got, allowed.ARN)
		}
		for _, by := range []*dataplane.PrincipalEntry{nil, &other} {
			if code, body := get(by); code != http.StatusForbidden || !strings.Contains(body, `"AccessDeniedException"`) {
				t.Fatalf("signed by %v: %d %s, want 403 AccessDeniedException", by, code, body)
			}
		}
	}
	svc, err := in.service(t, "secure-default")
	if err != nil {
		t.Fatal(err)
	}
	if svc.AuthType != types.AuthTypeAwsIam {
		t.Errorf("auth type %s, want AWS_IAM", svc.AuthType)
	}

	if err := os.Remove(filepath.Join(dir, "auth.yaml")); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		if code, body := get(nil); code != http.StatusOK {
			return fmt.Errorf("unsigned after the policy went: %d %s", code, body)
		}
		return nil
	})
	if svc, err = in.service(t, "secure-default"); err != nil {
		t.Fatal(err)
	}
	if svc.AuthType != types.AuthTypeNone {
		t.Errorf("auth type %s after the policy went, want NONE", svc.AuthType)
	}
	// The auth policy goes after authType NONE, never before.
	harness.Eventually(t, 10*time.Second, func() error {
		_, err := in.client.GetAuthPolicy(ctx(t), &vpclattice.GetAuthPolicyInput{ResourceIdentifier: svc.Id})
		if nf := (*types.ResourceNotFoundException)(nil); !errors.As(err, &nf) {
			return fmt.Errorf("GetAuthPolicy after the policy went: %v, want ResourceNotFoundException", err)
		}
		return nil
	})
	for range n {
		if code, body := get(nil); code != http.StatusOK {
			t.Fatalf("unsigned after the policy went: %d %s, want 200", code, body)
		}
	}
}
