package pipeline

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

const conflict = "DeleteServiceNetwork service network my-hotel: ConflictException: the service network has associations"

// export is a federated ServiceExport of the world's Service, already Exported.
const export = `apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceExport
metadata:
  name: inventory
  namespace: default
  annotations: {application-networking.k8s.aws/federation: amazon-vpc-lattice}
spec:
  exportedPorts: [{port: 8090, routeType: HTTP}]
status:
  conditions:
  - {type: Valid, status: "True", reason: Valid}
  - {type: Exported, status: "True", reason: Exported}
`

// TestFailedDeletionSaysWhy: a Gateway, route and ServiceExport being deleted whose Lattice
// resources could not be deleted keep their finalizers and carry Lattice's error on their
// status; the others are released; the next pass, whose deletions succeed, releases them.
func TestFailedDeletionSaysWhy(t *testing.T) {
	ours := gwv1.GatewayController(translate.DefaultControllerName)
	programmedTrue := func() []metav1.Condition {
		return []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: metav1.NewTime(t1)},
			{Type: "Programmed", Status: "True", Reason: "Programmed", LastTransitionTime: metav1.NewTime(t1)}}
	}
	in := parse(t, world+"---\n"+export, func(in *translate.Input) {
		gw, route, se := &in.Gateways[0], &in.HTTPRoutes[0], &in.ServiceExports[0]
		deleting(gw)
		deleting(route)
		deleting(se)
		gw.Status.Conditions = programmedTrue()
		route.Status.Parents = []gwv1.RouteParentStatus{
			{ParentRef: gwv1.ParentReference{Name: "other"}, ControllerName: "example.com/other", Conditions: programmedTrue()},
			{ParentRef: gwv1.ParentReference{Name: "my-hotel"}, ControllerName: ours, Conditions: programmedTrue()},
		}
	})
	exportKey := model.ExportKey{Namespace: "default", Name: "inventory"}
	failing := func(m *model.Model) (*deploy.Result, error) {
		res, err := programmed("")(m)
		res.Withdrawals.Gateways = map[model.GatewayKey]string{{Namespace: "default", Name: "my-hotel"}: conflict}
		res.Withdrawals.Routes = map[model.RouteKey]string{inventory: "DeleteService service inventory-default: ConflictException"}
		res.Exports = map[model.ExportKey]deploy.ExportResult{exportKey: {Deleted: true, Message: "DeleteTargetGroup k8s-default-inventory: ConflictException: a rule forwards to it"}}
		return res, err
	}
	p := New(testConfig, &fakeDeployer{result: failing})
	pass := p.Translate(in)
	p.Deploy(context.Background(), pass)
	if got := decisions(pass.Release()); len(got) != 0 {
		t.Errorf("Release = %q, want none: every deletion failed", got)
	}
	if n := pass.Unprogrammed(); n != 3 {
		t.Errorf("Unprogrammed = %d, want 3", n)
	}
	gw, route, se := &in.Gateways[0], &in.HTTPRoutes[0], &in.ServiceExports[0]
	for _, obj := range pass.Objects() {
		pass.SetStatus(obj, t2)
	}
	if got := programmedOf(t, gw.Status.Conditions); got.status != "False" || got.reason != ReasonDeletionFailed || !strings.Contains(got.message, conflict) {
		t.Errorf("Gateway Programmed = %+v, want False/%s with the Lattice error", got, ReasonDeletionFailed)
	}
	if got := programmedOf(t, route.Status.Parents[1].Conditions); got.status != "False" || got.reason != ReasonDeletionFailed || !strings.Contains(got.message, "DeleteService service inventory-default: ConflictException") {
		t.Errorf("route Programmed = %+v, want False/%s with the Lattice error", got, ReasonDeletionFailed)
	}
	if !reflect.DeepEqual(route.Status.Parents[0].Conditions, programmedTrue()) {
		t.Errorf("another controller's parent entry changed: %+v", route.Status.Parents[0].Conditions)
	}
	if c := exportCondition(se, v1alpha1.ServiceExportExported); c == nil || c.Status != "False" || *c.Reason != ReasonWithdrawalFailed || !strings.Contains(*c.Message, "a rule forwards to it") {
		t.Errorf("ServiceExport Exported = %+v, want False/%s with the Lattice error", c, ReasonWithdrawalFailed)
	}
	if c := exportCondition(se, v1alpha1.ServiceExportValid); c == nil || c.Status != "True" {
		t.Errorf("ServiceExport Valid = %+v, want it kept", c)
	}
	if ours, changed := pass.SetStatus(gw, t2); !ours || changed {
		t.Errorf("second SetStatus of the same pass: ours %v changed %v, want true false", ours, changed)
	}

	// The other cluster left: the deletions succeed and every object lets go.
	p = New(testConfig, &fakeDeployer{result: func(m *model.Model) (*deploy.Result, error) {
		res, err := programmed("")(m)
		res.Exports = map[model.ExportKey]deploy.ExportResult{exportKey: {Deleted: true, Programmed: true}}
		return res, err
	}})
	pass = p.Translate(in)
	p.Deploy(context.Background(), pass)
	want := []string{"release Gateway my-hotel", "release HTTPRoute inventory", "release ServiceExport inventory"}
	if got := decisions(pass.Release()); !reflect.DeepEqual(got, want) {
		t.Errorf("Release = %q, want %q", got, want)
	}
	if ours, _ := pass.SetStatus(gw, t2); ours {
		t.Error("a Gateway whose deletion succeeded got a status")
	}
	pass.SetStatus(se, t2)
	if c := exportCondition(se, v1alpha1.ServiceExportExported); c == nil || *c.Reason != ReasonWithdrawn {
		t.Errorf("ServiceExport Exported = %+v, want False/%s", c, ReasonWithdrawn)
	}
}

func exportCondition(se *v1alpha1.ServiceExport, typ v1alpha1.ServiceExportConditionType) *v1alpha1.ServiceExportCondition {
	for i := range se.Status.Conditions {
		if se.Status.Conditions[i].Type == typ {
			return &se.Status.Conditions[i]
		}
	}
	return nil
}

// TestImportsOverLimit: a rule whose imports resolved to more target groups than Lattice
// forwards to says so on the route's ResolvedRefs, with its own reason, and stays Programmed.
func TestImportsOverLimit(t *testing.T) {
	const note = "13 target groups after resolving the ServiceImports of a rule exceed the VPC Lattice limit of 10 per forward action; forwarding to the 10 of highest weight, not to tg-b10, tg-b11, tg-b12"
	for _, tt := range []struct {
		name       string
		unresolved []string
		reason     string
	}{
		{"over the limit", nil, ReasonTooManyTargetGroups},
		{"over the limit and unresolved", []string{"ServiceImport default/x: no HTTP export of default/x found"}, string(gwv1.RouteReasonBackendNotFound)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := snapshot(t, nil)
			p := New(testConfig, &fakeDeployer{result: func(m *model.Model) (*deploy.Result, error) {
				res, err := programmed("")(m)
				r := res.Routes[inventory]
				r.ImportsOverLimit, r.UnresolvedImports = []string{note}, tt.unresolved
				res.Routes[inventory] = r
				return res, err
			}})
			pass := p.Translate(in)
			p.Deploy(context.Background(), pass)
			route := &in.HTTPRoutes[0]
			pass.SetStatus(route, t1)
			c := meta.FindStatusCondition(route.Status.Parents[0].Conditions, string(gwv1.RouteConditionResolvedRefs))
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tt.reason || !strings.Contains(c.Message, note) {
				t.Errorf("ResolvedRefs = %+v, want False/%s naming the groups left out", c, tt.reason)
			}
			if got := programmedOf(t, route.Status.Parents[0].Conditions); got.status != "True" {
				t.Errorf("Programmed = %+v, want True", got)
			}
		})
	}
}
