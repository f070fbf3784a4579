package pipeline

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// withPolicies is the world plus one policy of each kind on the Gateway and on the route, and a
// second IAMAuthPolicy on the route that loses to the first.
const withPolicies = world + `---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: VpcAssociationPolicy
metadata: {name: hotel-vpc, namespace: default, generation: 1, uid: vap, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: my-hotel}
  securityGroupIds: [sg-0123456789abcdef0]
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: AccessLogPolicy
metadata: {name: hotel-logs, namespace: default, generation: 1, uid: alp-gw, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: my-hotel}
  destinationArn: arn:aws:s3:::hotel-logs
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: AccessLogPolicy
metadata: {name: inventory-logs, namespace: default, generation: 1, uid: alp-route, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: inventory}
  destinationArn: arn:aws:logs:us-west-2:123456789012:log-group:inventory
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: IAMAuthPolicy
metadata: {name: inventory-auth, namespace: default, generation: 1, uid: iap, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: inventory}
  policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}'
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: IAMAuthPolicy
metadata: {name: inventory-auth-2, namespace: default, generation: 1, uid: iap-2, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: inventory}
  policy: '{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}'
---
apiVersion: application-networking.k8s.aws/v1alpha1
kind: TargetGroupPolicy
metadata: {name: inventory, namespace: default, generation: 1, uid: tgp, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  targetRef: {group: "", kind: Service, name: inventory}
  healthCheck: {path: /healthz}
`

const (
	vpcAssociationARN = "arn:aws:vpc-lattice:us-west-2:123456789012:servicenetworkvpcassociation/snva-1"
	gatewayLogsARN    = "arn:aws:vpc-lattice:us-west-2:123456789012:accesslogsubscription/als-gw"
	routeLogsARN      = "arn:aws:vpc-lattice:us-west-2:123456789012:accesslogsubscription/als-route"
)

// attached is programmed(routeFailure) with the policy results deploy reports: every policy
// programmed with its targets, the VPC association, the access log subscriptions and the auth
// policies in place; policyFailure (when set) is the failure of the IAMAuthPolicy.
func attached(routeFailure, policyFailure string) func(*model.Model) (*deploy.Result, error) {
	return func(m *model.Model) (*deploy.Result, error) {
		res, _ := programmed(routeFailure)(m)
		res.Policies = map[model.PolicyKey]deploy.PolicyResult{}
		for key, targets := range m.PolicyTargets() {
			pr := deploy.PolicyResult{Programmed: true}
			for _, r := range targets.Routes {
				if !res.Routes[r].Programmed {
					pr = deploy.PolicyResult{Message: res.Routes[r].Message}
				}
			}
			res.Policies[key] = pr
		}
		set := func(key model.PolicyKey, f func(*deploy.PolicyResult)) {
			pr := res.Policies[key]
			if pr.Programmed {
				f(&pr)
			}
			res.Policies[key] = pr
		}
		for _, sn := range m.ServiceNetworks {
			if p := sn.VPCAssociationPolicy; p != nil && sn.VPCAssociation != nil {
				set(*p, func(pr *deploy.PolicyResult) { pr.ARN = vpcAssociationARN })
			}
			for _, als := range sn.AccessLogSubscriptions {
				set(als.Policy, func(pr *deploy.PolicyResult) { pr.ARN = gatewayLogsARN })
			}
		}
		for _, svc := range m.Services {
			for _, als := range svc.AccessLogSubscriptions {
				set(als.Policy, func(pr *deploy.PolicyResult) { pr.ARN = routeLogsARN })
			}
			if svc.Auth != nil {
				set(svc.Auth.Policy, func(pr *deploy.PolicyResult) {
					pr.ResourceID, pr.ResourceType, pr.ResourceName = "svc-1", deploy.ResourceTypeService, svc.Name
					if policyFailure != "" {
						*pr = deploy.PolicyResult{Message: policyFailure}
					}
				})
			}
		}
		return res, nil
	}
}

func policyNamed(in *translate.Input, kind model.PolicyKind, name string) client.Object {
	for _, obj := range policies(in) {
		if key, _ := PolicyKey(obj); key.Kind == kind && key.Name == name {
			return obj
		}
	}
	return nil
}

func policyDecisions(fs []Finalizer) []string {
	var out []string
	for _, d := range decisions(fs) {
		if strings.HasSuffix(strings.Fields(d)[1], "Policy") {
			out = append(out, d)
		}
	}
	return out
}

// policyCase names a policy of the withPolicies world.
type policyCase struct {
	kind model.PolicyKind
	name string
}

var (
	vap       = policyCase{model.KindVpcAssociationPolicy, "hotel-vpc"}
	alpGW     = policyCase{model.KindAccessLogPolicy, "hotel-logs"}
	alpRoute  = policyCase{model.KindAccessLogPolicy, "inventory-logs"}
	iap       = policyCase{model.KindIAMAuthPolicy, "inventory-auth"}
	iapLoser  = policyCase{model.KindIAMAuthPolicy, "inventory-auth-2"}
	tgp       = policyCase{model.KindTargetGroupPolicy, "inventory"}
	allHeld   = []string{"hold AccessLogPolicy hotel-logs", "hold AccessLogPolicy inventory-logs", "hold IAMAuthPolicy inventory-auth", "hold VpcAssociationPolicy hotel-vpc"}
	iapLosing = []string{"release IAMAuthPolicy inventory-auth-2"}
)

func TestPolicyPass(t *testing.T) {
	waiting := condition{"Unknown", "Pending", "Waiting for VPC Lattice"}
	ok := condition{"True", "Programmed", "Programmed in VPC Lattice"}
	rejected := condition{"False", "Invalid", "the policy is not accepted"}
	unreachable := errors.New("dial tcp 127.0.0.1:8686: connection refused")
	pendingMsg := "VPC Lattice: " + unreachable.Error() + "; retrying"
	routeAnn := map[string]string{status.AnnotationIAMAuthPolicyResourceID: "svc-1", status.AnnotationIAMAuthPolicyResourceType: "Service",
		status.AnnotationIAMAuthPolicyResourceName: "inventory-default"}
	all := map[policyCase]map[string]string{
		vap:   {status.AnnotationResourceARN: vpcAssociationARN},
		alpGW: {status.AnnotationAccessLogSubscription: gatewayLogsARN, status.AnnotationAccessLogSubscriptionResourceName: "my-hotel"},
		alpRoute: {status.AnnotationAccessLogSubscription: routeLogsARN,
			status.AnnotationAccessLogSubscriptionResourceName: "inventory-default"},
		iap: routeAnn,
	}
	tests := []struct {
		name   string
		mutate func(*translate.Input)
		deploy func(*model.Model) (*deploy.Result, error)

		programmed map[policyCase]condition // Programmed conditions; absent: no status of ours
		// annotations wanted per policy; absent: left alone; empty: ours removed
		annotations      map[policyCase]map[string]string
		protect, release []string
		unprogrammed     int
	}{
		{
			name:        "Lattice shows every policy: Programmed, upstream's annotations",
			deploy:      attached("", ""),
			programmed:  map[policyCase]condition{vap: ok, alpGW: ok, alpRoute: ok, iap: ok, iapLoser: rejected, tgp: ok},
			annotations: all,
			protect:     allHeld,
			release:     iapLosing,
		},
		{
			name:   "Lattice does not show the policies' resources: Pending, annotations left alone",
			deploy: programmed(""),
			// A TargetGroupPolicy has nothing of its own: its route's result decides.
			programmed: map[policyCase]condition{vap: waiting, alpGW: waiting, alpRoute: waiting, iap: waiting, iapLoser: rejected, tgp: ok},
			protect:    allHeld,
			release:    iapLosing,
		},
		{
			name:   "the route's service fails: its policies say why",
			deploy: attached("CreateService inventory-default: ConflictException: name taken", ""),
			programmed: map[policyCase]condition{vap: ok, alpGW: ok, iapLoser: rejected,
				alpRoute: {"False", "Invalid", "HTTPRoute default/inventory: CreateService inventory-default: ConflictException: name taken"},
				iap:      {"False", "Invalid", "HTTPRoute default/inventory: CreateService inventory-default: ConflictException: name taken"},
				tgp:      {"False", "Invalid", "HTTPRoute default/inventory: CreateService inventory-default: ConflictException: name taken"}},
			annotations:  map[policyCase]map[string]string{vap: all[vap], alpGW: all[alpGW]},
			protect:      allHeld,
			release:      iapLosing,
			unprogrammed: 4, // the route and the three policies on it
		},
		{
			name:   "Lattice unreachable: Pending with the error, no finalizer released",
			deploy: failing(nil, unreachable),
			programmed: map[policyCase]condition{iapLoser: rejected,
				vap: {"False", "Pending", "Gateway default/my-hotel: " + pendingMsg}, alpGW: {"False", "Pending", "Gateway default/my-hotel: " + pendingMsg},
				alpRoute: {"False", "Pending", "HTTPRoute default/inventory: " + pendingMsg}, iap: {"False", "Pending", "HTTPRoute default/inventory: " + pendingMsg},
				tgp: {"False", "Pending", "HTTPRoute default/inventory: " + pendingMsg}},
			protect:      allHeld,
			unprogrammed: 7, // the gateway, the route and the five policies on them
		},
		{
			name:   "Lattice refuses the auth policy: its IAMAuthPolicy says why",
			deploy: attached("", "PutAuthPolicy svc-1: ValidationException: invalid policy"),
			programmed: map[policyCase]condition{vap: ok, alpGW: ok, alpRoute: ok, iapLoser: rejected, tgp: ok,
				iap: {"False", "Invalid", "PutAuthPolicy svc-1: ValidationException: invalid policy"}},
			annotations:  map[policyCase]map[string]string{vap: all[vap], alpGW: all[alpGW], alpRoute: all[alpRoute]},
			protect:      allHeld,
			release:      iapLosing,
			unprogrammed: 1,
		},
		{
			name: "policy being deleted: out of the model, released after a clean Apply; the next one takes over",
			mutate: func(in *translate.Input) {
				deleting(policyNamed(in, iap.kind, iap.name))
				deleting(policyNamed(in, alpGW.kind, alpGW.name))
			},
			deploy:     attached("", ""),
			programmed: map[policyCase]condition{vap: ok, alpRoute: ok, iapLoser: ok, tgp: ok},
			annotations: map[policyCase]map[string]string{vap: all[vap], alpRoute: all[alpRoute],
				iapLoser: routeAnn},
			protect: []string{"hold AccessLogPolicy inventory-logs", "hold IAMAuthPolicy inventory-auth-2", "hold VpcAssociationPolicy hotel-vpc"},
			release: []string{"release AccessLogPolicy hotel-logs", "release IAMAuthPolicy inventory-auth"},
		},
		{
			name: "associateWithVpc false: programmed without an association, its ARN annotation goes",
			mutate: func(in *translate.Input) {
				p := &in.VpcAssociationPolicies[0]
				p.Spec.AssociateWithVpc = ptr(false)
				p.Annotations = map[string]string{status.AnnotationResourceARN: vpcAssociationARN, "team": "hotel"}
			},
			deploy:      attached("", ""),
			programmed:  map[policyCase]condition{vap: ok, alpGW: ok, alpRoute: ok, iap: ok, iapLoser: rejected, tgp: ok},
			annotations: map[policyCase]map[string]string{vap: {"team": "hotel"}, alpGW: all[alpGW], alpRoute: all[alpRoute], iap: routeAnn},
			protect:     allHeld,
			release:     iapLosing,
		},
		{
			name: "route moved to another controller's gateway: its policies get no status, lose no annotation, are released",
			mutate: func(in *translate.Input) {
				in.HTTPRoutes[0].Spec.ParentRefs[0].Name = "istio"
				policyNamed(in, iap.kind, iap.name).SetAnnotations(routeAnn)
			},
			deploy:      attached("", ""),
			programmed:  map[policyCase]condition{vap: ok, alpGW: ok, tgp: {"False", "TargetNotProgrammed", "no accepted route of this controller uses Service default/inventory"}},
			annotations: map[policyCase]map[string]string{vap: all[vap], alpGW: all[alpGW]},
			protect:     []string{"hold AccessLogPolicy hotel-logs", "hold VpcAssociationPolicy hotel-vpc"},
			release:     []string{"release AccessLogPolicy inventory-logs", "release IAMAuthPolicy inventory-auth", "release IAMAuthPolicy inventory-auth-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := parse(t, withPolicies, tt.mutate)
			p := New(testConfig, &fakeDeployer{result: tt.deploy})
			pass := p.Translate(in)
			if got := policyDecisions(pass.Protect()); !reflect.DeepEqual(got, tt.protect) {
				t.Errorf("Protect = %q, want %q", got, tt.protect)
			}
			p.Deploy(context.Background(), pass)
			for _, pc := range []policyCase{vap, alpGW, alpRoute, iap, iapLoser, tgp} {
				obj := policyNamed(in, pc.kind, pc.name)
				before := obj.(v1alpha1.Policy).GetConditions()
				ours, _ := pass.SetStatus(obj, t1)
				got := condition{}
				if ours {
					got = programmedOf(t, obj.(v1alpha1.Policy).GetConditions())
				} else if !reflect.DeepEqual(before, obj.(v1alpha1.Policy).GetConditions()) {
					t.Errorf("%s: status changed though not ours", pc.name)
				}
				if want := tt.programmed[pc]; got != want {
					t.Errorf("%s Programmed = %+v, want %+v", pc.name, got, want)
				}
				ann, change := pass.Annotations(obj)
				want, decided := tt.annotations[pc]
				switch {
				case !decided && change:
					t.Errorf("%s annotations changed to %v, want them left alone", pc.name, ann)
				case decided && !reflect.DeepEqual(nonNil(ann), want):
					t.Errorf("%s annotations = %v (change %v), want %v", pc.name, ann, change, want)
				}
			}
			if got := policyDecisions(pass.Release()); !reflect.DeepEqual(got, tt.release) {
				t.Errorf("Release = %q, want %q", got, tt.release)
			}
			if got := pass.Unprogrammed(); got != tt.unprogrammed {
				t.Errorf("Unprogrammed = %d, want %d", got, tt.unprogrammed)
			}
		})
	}
}

// TestPolicyTargetMovesAway: a policy whose target moves to another controller loses the status
// we wrote, once; a policy that never had a status of ours is left alone.
func TestPolicyTargetMovesAway(t *testing.T) {
	in := parse(t, withPolicies, nil)
	p := New(testConfig, &fakeDeployer{result: attached("", "")})
	pass := func() map[string]bool {
		ps := p.Translate(in)
		p.Deploy(context.Background(), ps)
		changed := map[string]bool{}
		for _, obj := range policies(in) {
			if ours, ch := ps.SetStatus(obj, t1); ours && ch {
				changed[obj.GetName()] = true
			}
		}
		return changed
	}
	pass()
	if conds := policyNamed(in, iap.kind, iap.name).(v1alpha1.Policy).GetConditions(); len(conds) != 2 {
		t.Fatalf("IAMAuthPolicy conditions after the first pass: %+v", conds)
	}
	in.HTTPRoutes[0].Spec.ParentRefs[0].Name = "istio"
	otherStatus := policyNamed(in, iapLoser.kind, iapLoser.name).(v1alpha1.Policy)
	got := pass()
	want := map[string]bool{"inventory-auth": true, "inventory-auth-2": true, "inventory-logs": true, "inventory": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("second pass changed %v, want %v (the route's policies cleared, the TargetGroupPolicy now TargetNotProgrammed)", keys(got), keys(want))
	}
	for _, pc := range []policyCase{iap, iapLoser, alpRoute} {
		if conds := policyNamed(in, pc.kind, pc.name).(v1alpha1.Policy).GetConditions(); len(conds) != 0 {
			t.Errorf("%s keeps our conditions %+v", pc.name, conds)
		}
	}
	// Another controller writes its status; we leave it alone from now on.
	otherStatus.SetConditions(programmedConds())
	if got := pass(); len(got) != 0 {
		t.Errorf("third pass changed %v, want nothing", keys(got))
	}
}

// TestPolicyDefaultConditions: the CRD's default conditions (dated 1970) are replaced by ours,
// dated when we write them, even where the status stays Unknown.
func TestPolicyDefaultConditions(t *testing.T) {
	epoch := metav1.NewTime(time.Unix(0, 0))
	in := parse(t, withPolicies, func(in *translate.Input) {
		in.IAMAuthPolicies[0].Status.Conditions = []metav1.Condition{
			{Type: "Accepted", Status: "Unknown", Reason: "Pending", Message: "Waiting for controller", LastTransitionTime: epoch},
			{Type: "Programmed", Status: "Unknown", Reason: "Pending", Message: "Waiting for controller", LastTransitionTime: epoch},
		}
	})
	p := New(testConfig, &fakeDeployer{result: programmed("")})
	pass := p.Translate(in)
	p.Deploy(context.Background(), pass)
	pol := &in.IAMAuthPolicies[0]
	if ours, changed := pass.SetStatus(pol, t1); !ours || !changed {
		t.Fatalf("SetStatus = %v, %v; want ours and changed", ours, changed)
	}
	for _, c := range pol.Status.Conditions {
		if !c.LastTransitionTime.Time.Equal(t1) {
			t.Errorf("%s=%s/%s dated %v, want %v", c.Type, c.Status, c.Reason, c.LastTransitionTime, t1)
		}
	}
}

func programmedConds() []metav1.Condition {
	return []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: metav1.NewTime(t1)}}
}

func parse(t *testing.T, docs string, mutate func(*translate.Input)) *translate.Input {
	t.Helper()
	in, err := translate.ParseInput([]byte(docs))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(in)
	}
	return in
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
