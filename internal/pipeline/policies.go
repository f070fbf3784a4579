package pipeline

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// PolicyKey is the model key of a policy object; false for other objects.
func PolicyKey(obj client.Object) (model.PolicyKey, bool) {
	var kind model.PolicyKind
	switch obj.(type) {
	case *v1alpha1.TargetGroupPolicy:
		kind = model.KindTargetGroupPolicy
	case *v1alpha1.VpcAssociationPolicy:
		kind = model.KindVpcAssociationPolicy
	case *v1alpha1.AccessLogPolicy:
		kind = model.KindAccessLogPolicy
	case *v1alpha1.IAMAuthPolicy:
		kind = model.KindIAMAuthPolicy
	default:
		return model.PolicyKey{}, false
	}
	return model.PolicyKey{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}, true
}

func policies(in *translate.Input) []client.Object {
	var out []client.Object
	for i := range in.TargetGroupPolicies {
		out = append(out, &in.TargetGroupPolicies[i])
	}
	for i := range in.VpcAssociationPolicies {
		out = append(out, &in.VpcAssociationPolicies[i])
	}
	for i := range in.AccessLogPolicies {
		out = append(out, &in.AccessLogPolicies[i])
	}
	for i := range in.IAMAuthPolicies {
		out = append(out, &in.IAMAuthPolicies[i])
	}
	return out
}

// ownResource are the policy kinds with a Lattice resource of their own (VPC association, access
// log subscription, auth policy), which deploy reports by policy. Upstream puts a finalizer on
// them; a TargetGroupPolicy only tunes target groups that routes own.
var ownResource = map[model.PolicyKind]bool{
	model.KindVpcAssociationPolicy: true, model.KindAccessLogPolicy: true, model.KindIAMAuthPolicy: true,
}

// policyAnnotations are the annotations upstream writes on each policy kind.
var policyAnnotations = map[model.PolicyKind][]string{
	model.KindVpcAssociationPolicy: {status.AnnotationResourceARN},
	model.KindAccessLogPolicy:      {status.AnnotationAccessLogSubscription, status.AnnotationAccessLogSubscriptionResourceName},
	model.KindIAMAuthPolicy: {status.AnnotationIAMAuthPolicyResourceID, status.AnnotationIAMAuthPolicyResourceType,
		status.AnnotationIAMAuthPolicyResourceName},
}

// policyResult is what an Apply says about one policy of the model. It is undecided while
// Lattice did not report the policy or one of its targets: the policy then stays Pending and its
// annotations are left alone.
type policyResult struct {
	decided bool
	outcome status.Outcome
	// annotations are upstream's annotations for a programmed policy.
	annotations map[string]string
}

// latticeTarget is a service or service network a policy changes, with what Apply reported.
type latticeTarget struct {
	what     string // the route or Gateway, for messages
	name     string // its Lattice name
	reported bool
	outcome  status.Outcome
}

// policyResults decides each policy of m from the outcomes of the routes and gateways it changes
// and, for the kinds with a Lattice resource of their own, from the policy's result.
func policyResults(m *model.Model, res *deploy.Result, o outcomes) map[model.PolicyKey]policyResult {
	gateways := map[model.GatewayKey]latticeTarget{}
	for _, sn := range m.ServiceNetworks {
		t := latticeTarget{what: "Gateway " + sn.Gateway.String(), name: sn.Name}
		t.outcome, t.reported = o.gateways[sn.Gateway]
		gateways[sn.Gateway] = t
	}
	routes := map[model.RouteKey]latticeTarget{}
	for _, svc := range m.Services {
		t := latticeTarget{what: fmt.Sprintf("%s %s/%s", svc.Route.Kind, svc.Route.Namespace, svc.Route.Name), name: svc.Name}
		t.outcome, t.reported = o.routes[svc.Route]
		routes[svc.Route] = t
	}
	out := map[model.PolicyKey]policyResult{}
	for key, pt := range m.PolicyTargets() {
		var targets []latticeTarget
		for _, g := range pt.Gateways {
			targets = append(targets, gateways[g])
		}
		for _, r := range pt.Routes {
			targets = append(targets, routes[r])
		}
		var own *deploy.PolicyResult
		if res != nil {
			if r, ok := res.Policies[key]; ok {
				own = &r
			}
		}
		out[key] = policyResultOf(key, targets, own)
	}
	return out
}

// policyResultOf reports a target's failure as the policy's, naming the target; then the
// failure of the policy's own resource.
func policyResultOf(key model.PolicyKey, targets []latticeTarget, own *deploy.PolicyResult) policyResult {
	for _, t := range targets {
		if !t.reported {
			return policyResult{}
		}
		if !t.outcome.Programmed {
			o := t.outcome
			o.Message = t.what + ": " + o.Message
			return policyResult{decided: true, outcome: o}
		}
	}
	if !ownResource[key.Kind] {
		return policyResult{decided: true, outcome: status.Outcome{Programmed: true}}
	}
	if own == nil {
		return policyResult{}
	}
	if !own.Programmed {
		return policyResult{decided: true, outcome: status.Outcome{Message: own.Message}}
	}
	ann := map[string]string{}
	switch key.Kind {
	case model.KindVpcAssociationPolicy:
		// No ARN when the policy asks for no association.
		ann[status.AnnotationResourceARN] = own.ARN
	case model.KindAccessLogPolicy:
		// An AccessLogPolicy has one target.
		ann[status.AnnotationAccessLogSubscription], ann[status.AnnotationAccessLogSubscriptionResourceName] = own.ARN, targets[0].name
	case model.KindIAMAuthPolicy:
		ann[status.AnnotationIAMAuthPolicyResourceID] = own.ResourceID
		ann[status.AnnotationIAMAuthPolicyResourceType] = own.ResourceType
		ann[status.AnnotationIAMAuthPolicyResourceName] = own.ResourceName
	}
	return policyResult{decided: true, outcome: status.Outcome{Programmed: true}, annotations: ann}
}

// recordPolicies fills the Pending Programmed conditions of the decided policies.
func (p *Pass) recordPolicies() {
	for key, r := range p.policyResults {
		if st, ok := p.Output.Policies[key]; ok && r.decided {
			status.SetProgrammed(st.Conditions, r.outcome)
		}
	}
}

// staleStatuses returns the policies that had a status of ours in the previous pass and have none
// now (their target moved to another controller), and remembers the ones with a status now. A
// policy's status has no controller name, so memory is the only way to know the status is ours;
// a target that moved while the controller was stopped keeps our last status.
func (p *Pipeline) staleStatuses(pass *Pass) map[types.UID]bool {
	stale := map[types.UID]bool{}
	now := map[types.UID]bool{}
	for _, obj := range policies(pass.snapshot) {
		key, _ := PolicyKey(obj)
		if _, ok := pass.Output.Policies[key]; ok {
			now[obj.GetUID()] = true
		} else if p.statused[obj.GetUID()] {
			stale[obj.GetUID()] = true
		}
	}
	p.statused = now
	return stale
}

// setPolicyStatus is SetStatus for a policy.
func (p *Pass) setPolicyStatus(obj client.Object, key model.PolicyKey, now time.Time) (ours, changed bool) {
	pol := obj.(v1alpha1.Policy)
	var next []metav1.Condition
	if want, ok := p.Output.Policies[key]; ok {
		next = status.MergeConditions(written(pol.GetConditions()), want.Conditions, metav1.NewTime(now.Truncate(time.Second)))
	} else if !p.stale[obj.GetUID()] {
		return false, false
	}
	changed = !equality.Semantic.DeepEqual(pol.GetConditions(), next)
	pol.SetConditions(next)
	return true, changed
}

// written drops the CRD's default conditions ("Waiting for controller", dated 1970), which no
// controller wrote: our first conditions are dated when we write them, not 1970.
func written(conds []metav1.Condition) []metav1.Condition {
	var out []metav1.Condition
	for _, c := range conds {
		if c.LastTransitionTime.Unix() != 0 {
			out = append(out, c)
		}
	}
	return out
}

// policyAnnotationsOf returns the annotations a policy should carry (keys: the ones upstream
// writes on its kind), or decided false to leave them alone: for a policy being deleted, one of
// another controller, and one whose Lattice resource the last Apply did not show. A policy of
// ours that changes nothing in Lattice loses them.
func (p *Pass) policyAnnotationsOf(obj client.Object, key model.PolicyKey) (keys []string, want map[string]string, decided bool) {
	keys = policyAnnotations[key.Kind]
	if _, ours := p.Output.Policies[key]; !ours || len(keys) == 0 || obj.GetDeletionTimestamp() != nil {
		return nil, nil, false
	}
	if _, inModel := p.policyTargets[key]; !inModel {
		return keys, nil, true
	}
	r := p.policyResults[key]
	if !r.decided || !r.outcome.Programmed {
		return nil, nil, false
	}
	return keys, r.annotations, true
}

// policyFinalizers are the finalizer decisions about policies: one of ours is held while the
// model changes Lattice for it (before Apply), and released once it is deleted or changes nothing
// (after a clean Apply).
func (p *Pass) policyFinalizers(hold bool) []Finalizer {
	var out []Finalizer
	for _, obj := range policies(p.snapshot) {
		key, _ := PolicyKey(obj)
		if !ownResource[key.Kind] {
			continue
		}
		_, inModel := p.policyTargets[key]
		live := obj.GetDeletionTimestamp() == nil
		if hold && live && inModel {
			out = append(out, Finalizer{Object: obj, Hold: true})
		}
		if !hold && (!live || !inModel) {
			out = append(out, Finalizer{Object: obj})
		}
	}
	return out
}
