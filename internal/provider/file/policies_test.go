package file

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

const inventoryAuth = `apiVersion: application-networking.k8s.aws/v1alpha1
kind: IAMAuthPolicy
metadata:
  name: inventory-auth
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: inventory}
  policy: '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}'
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: IAMAuthPolicy
metadata:
  name: inventory-auth-later
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: inventory}
  policy: '{"Statement":[{"Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}'
`

const ratesLogs = `apiVersion: application-networking.k8s.aws/v1alpha1
kind: AccessLogPolicy
metadata:
  name: rates-logs
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: rates}
  destinationArn: arn:aws:s3:::rates-logs
`

const ratesRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: rates
spec:
  parentRefs: [{name: my-hotel, sectionName: http}]
  rules: [{backendRefs: [{name: inventory, port: 8090}]}]
`

// readPolicy reads the status file of a policy; nil when there is none.
func readPolicy(t *testing.T, statusDir, kind, name string) *v1alpha1.PolicyStatus {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(statusDir, kind+".default."+name+".yaml"))
	if err != nil {
		return nil
	}
	var obj struct {
		Status v1alpha1.PolicyStatus `json:"status"`
	}
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	return &obj.Status
}

// TestPolicyStatusFiles: standalone mode writes each policy's status and annotations next to the
// routes', with GEP-713's reasons; a target that appears later flips TargetNotFound to Accepted, and a removed
// policy's file goes.
func TestPolicyStatusFiles(t *testing.T) {
	_, d := localLattice(t)
	dir, statusDir := t.TempDir(), t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base.yaml", classAndGateway)
	write("route.yaml", route("http", 1))
	write("auth.yaml", inventoryAuth)
	write("logs.yaml", ratesLogs)
	r := New(Config{Dir: dir, StatusDir: statusDir, Translate: testTranslate, Deployer: d, Log: testr.New(t)})
	accepted := func(kind, name string) (status, reason string) {
		t.Helper()
		st := readPolicy(t, statusDir, kind, name)
		if st == nil {
			t.Fatalf("no status file for %s %s", kind, name)
		}
		c := meta.FindStatusCondition(st.Conditions, "Accepted")
		if c == nil {
			t.Fatalf("%s %s: no Accepted condition in %+v", kind, name, st.Conditions)
		}
		return string(c.Status), c.Reason
	}
	check := func(kind, name, wantStatus, wantReason string) {
		t.Helper()
		if s, reason := accepted(kind, name); s != wantStatus || reason != wantReason {
			t.Errorf("%s %s Accepted = %s/%s, want %s/%s", kind, name, s, reason, wantStatus, wantReason)
		}
	}

	if rep := r.Reconcile(context.Background()); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	check("iamauthpolicy", "inventory-auth", "True", "Accepted")
	check("iamauthpolicy", "inventory-auth-later", "False", "Conflicted")
	check("accesslogpolicy", "rates-logs", "False", "TargetNotFound")
	// Applied to Local Lattice: programmed, with upstream's annotations in the file.
	var auth v1alpha1.IAMAuthPolicy
	readStatusFile(t, statusDir, "iamauthpolicy.default.inventory-auth.yaml", &auth)
	if !meta.IsStatusConditionTrue(auth.Status.Conditions, "Programmed") || auth.Annotations[status.AnnotationIAMAuthPolicyResourceName] != "inventory-default" ||
		auth.Annotations[status.AnnotationIAMAuthPolicyResourceType] != "Service" || auth.Annotations[status.AnnotationIAMAuthPolicyResourceID] == "" {
		t.Errorf("IAMAuthPolicy status file: annotations %v, conditions %+v; want Programmed and the service's id, type and name", auth.Annotations, auth.Status.Conditions)
	}
	first := meta.FindStatusCondition(readPolicy(t, statusDir, "iamauthpolicy", "inventory-auth").Conditions, "Accepted").LastTransitionTime

	write("rates.yaml", ratesRoute)
	if rep := r.Reconcile(context.Background()); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	check("accesslogpolicy", "rates-logs", "True", "Accepted")
	if got := meta.FindStatusCondition(readPolicy(t, statusDir, "iamauthpolicy", "inventory-auth").Conditions, "Accepted").LastTransitionTime; !got.Equal(&first) {
		t.Errorf("unchanged Accepted condition moved its transition time from %v to %v", first, got)
	}

	if err := os.Remove(filepath.Join(dir, "logs.yaml")); err != nil {
		t.Fatal(err)
	}
	if rep := r.Reconcile(context.Background()); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if readPolicy(t, statusDir, "accesslogpolicy", "rates-logs") != nil {
		t.Error("status file of the removed policy is still there")
	}
}
