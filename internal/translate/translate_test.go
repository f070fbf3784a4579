package translate

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/golden"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

var testConfig = Config{Owner: model.Owner{AccountID: "123456789012", ClusterName: "test-cluster", VPCID: "vpc-0123456789abcdef0"}}

const testdata = "testdata"

// goldenNow is the snapshot time of every golden case: certificates are checked against it.
var goldenNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// configFor lets a case change the config through its name, keeping inputs plain Kubernetes YAML.
func configFor(name string) Config {
	cfg := testConfig
	switch name {
	case "gateway-default-service-network-gets-vpc-association":
		cfg.DefaultServiceNetwork = "default-sn"
	case "service-network-override-associates-routes-with-default":
		cfg.DefaultServiceNetwork, cfg.EnableServiceNetworkOverride = "default-sn", true
	case "quota-rules-per-listener-override":
		cfg.Quotas.RulesPerListener = 3
	case "gateway-https-listener-certificaterefs-ignore-missing":
		cfg.IgnoreMissingCertificateRefs = true
	case "gateway-addresses-from-prefix":
		cfg.GatewayAddresses = netip.MustParsePrefix("127.77.0.0/16")
	}
	return cfg
}

func TestGolden(t *testing.T) {
	dir := testdata
	cases := golden.Cases(t, dir)
	if len(cases) < 40 {
		t.Errorf("want at least 40 golden cases, have %d", len(cases))
	}
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			in, err := ParseInput(golden.Input(t, dir, name))
			if err != nil {
				t.Fatalf("parse input: %v", err)
			}
			in.Now = goldenNow
			out, err := Translate(in, configFor(name)).YAML()
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, dir, name, out)
		})
	}
}

// TestDeterministic shuffles every input slice and expects byte-identical output.
func TestDeterministic(t *testing.T) {
	dir := testdata
	for _, name := range golden.Cases(t, dir) {
		in, err := ParseInput(golden.Input(t, dir, name))
		if err != nil {
			t.Fatalf("%s: parse input: %v", name, err)
		}
		want, err := Translate(in, configFor(name)).YAML()
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, uint64(len(name))))
		for round := 0; round < 5; round++ {
			shuffle(rng, in.GatewayClasses)
			shuffle(rng, in.Gateways)
			shuffle(rng, in.HTTPRoutes)
			shuffle(rng, in.GRPCRoutes)
			shuffle(rng, in.TLSRoutes)
			shuffle(rng, in.ReferenceGrants)
			shuffle(rng, in.ListenerSets)
			shuffle(rng, in.Namespaces)
			shuffle(rng, in.Services)
			shuffle(rng, in.Secrets)
			shuffle(rng, in.EndpointSlices)
			shuffle(rng, in.ServiceExports)
			shuffle(rng, in.TargetGroupPolicies)
			shuffle(rng, in.VpcAssociationPolicies)
			shuffle(rng, in.AccessLogPolicies)
			shuffle(rng, in.IAMAuthPolicies)
			shuffle(rng, in.ServiceNetworks)
			got, err := Translate(in, configFor(name)).YAML()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: output changed after shuffling the input (round %d)", name, round)
			}
		}
	}
}

func shuffle[T any](rng *rand.Rand, s []T) {
	rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
}

// FuzzTranslate checks that no input, however malformed, makes Translate panic or produce an
// output that cannot be rendered. Seeds are the golden inputs.
func FuzzTranslate(f *testing.F) {
	for _, name := range golden.Cases(f, testdata) {
		f.Add(golden.Input(f, testdata, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := ParseInput(data)
		if err != nil {
			return
		}
		if _, err := Translate(in, testConfig).YAML(); err != nil {
			t.Fatalf("render output: %v", err)
		}
	})
}

// TestInputUnchanged: Translate is pure, so it must not write to the objects it is given (the
// Kubernetes provider hands it informer cache objects).
func TestInputUnchanged(t *testing.T) {
	for _, name := range golden.Cases(t, testdata) {
		in, err := ParseInput(golden.Input(t, testdata, name))
		if err != nil {
			t.Fatalf("%s: parse input: %v", name, err)
		}
		before := deepCopyInput(in)
		Translate(in, configFor(name))
		if !reflect.DeepEqual(before, in) {
			t.Errorf("%s: Translate modified its input", name)
		}
	}
}

func deepCopyInput(in *Input) *Input {
	out := &Input{}
	for i := range in.GatewayClasses {
		out.GatewayClasses = append(out.GatewayClasses, *in.GatewayClasses[i].DeepCopy())
	}
	for i := range in.Gateways {
		out.Gateways = append(out.Gateways, *in.Gateways[i].DeepCopy())
	}
	for i := range in.HTTPRoutes {
		out.HTTPRoutes = append(out.HTTPRoutes, *in.HTTPRoutes[i].DeepCopy())
	}
	for i := range in.GRPCRoutes {
		out.GRPCRoutes = append(out.GRPCRoutes, *in.GRPCRoutes[i].DeepCopy())
	}
	for i := range in.TLSRoutes {
		out.TLSRoutes = append(out.TLSRoutes, *in.TLSRoutes[i].DeepCopy())
	}
	for i := range in.ReferenceGrants {
		out.ReferenceGrants = append(out.ReferenceGrants, *in.ReferenceGrants[i].DeepCopy())
	}
	for i := range in.ListenerSets {
		out.ListenerSets = append(out.ListenerSets, *in.ListenerSets[i].DeepCopy())
	}
	for i := range in.Namespaces {
		out.Namespaces = append(out.Namespaces, *in.Namespaces[i].DeepCopy())
	}
	for i := range in.Services {
		out.Services = append(out.Services, *in.Services[i].DeepCopy())
	}
	for i := range in.EndpointSlices {
		out.EndpointSlices = append(out.EndpointSlices, *in.EndpointSlices[i].DeepCopy())
	}
	out.GatedPods = append(out.GatedPods, in.GatedPods...)
	for i := range in.Secrets {
		out.Secrets = append(out.Secrets, *in.Secrets[i].DeepCopy())
	}
	for i := range in.ServiceExports {
		out.ServiceExports = append(out.ServiceExports, *in.ServiceExports[i].DeepCopy())
	}
	for i := range in.ServiceImports {
		out.ServiceImports = append(out.ServiceImports, *in.ServiceImports[i].DeepCopy())
	}
	for i := range in.TargetGroupPolicies {
		out.TargetGroupPolicies = append(out.TargetGroupPolicies, *in.TargetGroupPolicies[i].DeepCopy())
	}
	for i := range in.VpcAssociationPolicies {
		out.VpcAssociationPolicies = append(out.VpcAssociationPolicies, *in.VpcAssociationPolicies[i].DeepCopy())
	}
	for i := range in.AccessLogPolicies {
		out.AccessLogPolicies = append(out.AccessLogPolicies, *in.AccessLogPolicies[i].DeepCopy())
	}
	for i := range in.IAMAuthPolicies {
		out.IAMAuthPolicies = append(out.IAMAuthPolicies, *in.IAMAuthPolicies[i].DeepCopy())
	}
	for i := range in.ServiceNetworks {
		out.ServiceNetworks = append(out.ServiceNetworks, *in.ServiceNetworks[i].DeepCopy())
	}
	return out
}

// TestPolicyTargetAppearsLater: policies whose targets do not exist yet are TargetNotFound and
// change nothing; once the targets appear, the same policies are accepted and in the model.
func TestPolicyTargetAppearsLater(t *testing.T) {
	const name = "policy-target-appears-later"
	full, err := ParseInput(golden.Input(t, testdata, name))
	if err != nil {
		t.Fatal(err)
	}
	before := deepCopyInput(full)
	before.Services = slices.DeleteFunc(before.Services, func(s corev1.Service) bool { return s.Name == "review" })
	before.HTTPRoutes = slices.DeleteFunc(before.HTTPRoutes, func(r gwv1.HTTPRoute) bool { return r.Name == "reviews" })
	before.Gateways = slices.DeleteFunc(before.Gateways, func(g gwv1.Gateway) bool { return g.Name == "late" })

	reasons := func(out *Output) map[string]string {
		got := map[string]string{}
		for k, st := range out.Policies {
			if c := apimeta.FindStatusCondition(st.Conditions, typeAccepted); c != nil {
				got[k.String()] = c.Reason
			}
		}
		return got
	}
	out := Translate(before, testConfig)
	if n := len(out.Model.PolicyTargets()); n != 0 {
		t.Errorf("before the targets exist the model carries %d policies, want none", n)
	}
	for k, r := range reasons(out) {
		if r != "TargetNotFound" {
			t.Errorf("before: %s Accepted reason %s, want TargetNotFound", k, r)
		}
	}
	out = Translate(full, testConfig)
	got := reasons(out)
	if len(got) != 4 {
		t.Fatalf("after: %d policy statuses, want 4: %v", len(got), got)
	}
	for k, r := range got {
		if r != "Accepted" {
			t.Errorf("after: %s Accepted reason %s, want Accepted", k, r)
		}
	}
	if n := len(out.Model.PolicyTargets()); n != 4 {
		t.Errorf("after: the model carries %d policies, want 4", n)
	}
}
