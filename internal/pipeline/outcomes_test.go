package pipeline

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lattice-gateway/lattice-gateway/internal/golden"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// translateTestdata holds translate's golden inputs, which are also realistic snapshots.
const translateTestdata = "../translate/testdata"

// TestRecordProgrammed: outcomes fill the Pending Programmed conditions of translate's output
// and leave alone what translate decided.
func TestRecordProgrammed(t *testing.T) {
	in, err := translate.ParseInput(golden.Input(t, translateTestdata, "gateway-https-listener-certificaterefs-secret-missing"))
	if err != nil {
		t.Fatal(err)
	}
	seed, err := translate.ParseInput(golden.Input(t, translateTestdata, "seed-my-hotel-inventory-and-rates"))
	if err != nil {
		t.Fatal(err)
	}
	in.HTTPRoutes = append(in.HTTPRoutes, seed.HTTPRoutes...)
	in.Services = append(in.Services, seed.Services...)
	out := translate.Translate(in, testConfig)
	outcomes{
		routes: map[model.RouteKey]status.Outcome{
			{Kind: model.KindHTTPRoute, Namespace: "default", Name: "inventory"}: {Programmed: true},
			{Kind: model.KindHTTPRoute, Namespace: "default", Name: "rates"}:     {Reason: "LatticeError", Message: "ServiceQuotaExceededException"},
		},
		gateways: map[model.GatewayKey]status.Outcome{{Namespace: "default", Name: "my-hotel"}: {Programmed: true}},
	}.record(out)
	gw := out.Gateways[types.NamespacedName{Namespace: "default", Name: "my-hotel"}]
	listener := func(name string) []metav1.Condition {
		for _, l := range gw.Listeners {
			if string(l.Name) == name {
				return l.Conditions
			}
		}
		return nil
	}
	route := func(name string) []metav1.Condition {
		return out.HTTPRoutes[types.NamespacedName{Namespace: "default", Name: name}][0].Conditions
	}
	for _, tc := range []struct {
		name           string
		conds          []metav1.Condition
		status, reason string
	}{
		{"route with success", route("inventory"), "True", "Programmed"},
		{"route with Lattice error", route("rates"), "False", "LatticeError"},
		{"route without result stays pending", route("parking"), "Unknown", "Pending"},
		{"gateway", gw.Conditions, "True", "Programmed"},
		{"usable listener", listener("http"), "True", "Programmed"},
		{"invalid listener keeps its reason", listener("https"), "False", "Invalid"},
	} {
		c := meta.FindStatusCondition(tc.conds, status.ConditionProgrammed)
		if c == nil {
			t.Errorf("%s: no Programmed condition", tc.name)
			continue
		}
		if string(c.Status) != tc.status || c.Reason != tc.reason {
			t.Errorf("%s: Programmed = %s/%s, want %s/%s", tc.name, c.Status, c.Reason, tc.status, tc.reason)
		}
	}
}
