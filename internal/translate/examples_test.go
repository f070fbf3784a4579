package translate

import (
	"os"
	"path/filepath"
	"testing"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// TestPolicyExamples: examples/policies applied next to examples/hotel gives every policy
// Accepted, and each lands in the model, so the documented examples stay copy-pasteable.
func TestPolicyExamples(t *testing.T) {
	in := exampleInput(t, "hotel", "policies")
	if n := len(in.TargetGroupPolicies) + len(in.VpcAssociationPolicies) + len(in.AccessLogPolicies) + len(in.IAMAuthPolicies); n != 5 {
		t.Fatalf("examples/policies holds %d policies, want 5", n)
	}
	out := Translate(in, testConfig)
	for k, st := range out.Policies {
		if c := apimeta.FindStatusCondition(st.Conditions, typeAccepted); c == nil || c.Reason != "Accepted" {
			t.Errorf("%s: Accepted condition %+v", k, c)
		}
	}
	if n := len(out.Model.PolicyTargets()); n != 5 {
		t.Errorf("the model carries %d of the 5 example policies", n)
	}
}

// exampleInput reads the YAML files of the named folders of examples/.
func exampleInput(t *testing.T, dirs ...string) *Input {
	t.Helper()
	in := &Input{}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join("..", "..", "examples", dir, "*.yaml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("examples/%s: %v (%d files)", dir, err, len(files))
		}
		for _, f := range files {
			addManifests(t, in, f)
		}
	}
	return in
}

// addManifests adds the documents of file that translate reads; Deployments and the like are
// skipped, as the file provider does. The examples leave namespaces to kubectl: "default".
func addManifests(t *testing.T, in *Input, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	err = decodeDocuments(data, func(obj runtime.Object) error {
		if o, ok := obj.(metav1.Object); ok && o.GetNamespace() == "" {
			o.SetNamespace("default")
		}
		_ = in.Add(obj)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// TestServiceNetworkExample: examples/service-network next to examples/hotel names the hotel
// Gateway's network, which then carries the object's tags and reports to it.
func TestServiceNetworkExample(t *testing.T) {
	out := Translate(exampleInput(t, "hotel", "service-network"), testConfig)
	if c := apimeta.FindStatusCondition(out.ServiceNetworks["my-hotel"].Conditions, typeAccepted); c == nil || c.Reason != "Accepted" {
		t.Errorf("ServiceNetwork my-hotel: Accepted condition %+v", c)
	}
	sns := out.Model.ServiceNetworks
	if len(sns) != 1 || sns[0].Resource != "my-hotel" || sns[0].Gateway.Name != "my-hotel" || sns[0].Tags["team"] != "platform" {
		t.Errorf("model service networks %+v, want the Gateway's my-hotel with the object's tags", sns)
	}
}

// TestListenerSetExample: examples/listenerset applied next to examples/hotel attaches the
// ListenerSet to the shared Gateway and gives the route a Lattice listener on the ListenerSet's
// port, in the shared Gateway's service network.
func TestListenerSetExample(t *testing.T) {
	out := Translate(exampleInput(t, "hotel", "listenerset"), testConfig)
	ls, ok := out.ListenerSets[types.NamespacedName{Namespace: "default", Name: "parking-listeners"}]
	if !ok {
		t.Fatal("no status for ListenerSet parking-listeners")
	}
	if c := apimeta.FindStatusCondition(ls.Status.Conditions, "Accepted"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("ListenerSet Accepted = %+v", c)
	}
	var found bool
	for _, svc := range out.Model.Services {
		if svc.Route.Name != "parking-ls" {
			continue
		}
		found = true
		if len(svc.Listeners) != 1 || svc.Listeners[0].Port != 8080 || svc.CustomDomainName != "parking.example.com" || len(svc.ServiceNetworks) != 1 || svc.ServiceNetworks[0] != "shared" {
			t.Errorf("service %s: listeners %+v, custom domain %q, service networks %v", svc.Name, svc.Listeners, svc.CustomDomainName, svc.ServiceNetworks)
		}
	}
	if !found {
		t.Error("no Lattice service for HTTPRoute parking-ls")
	}
}
