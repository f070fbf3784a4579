package translate

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// Policy attachment (GEP-713, as upstream's PolicyHandler does it): each policy names one
// target. A policy is Invalid when its targetRef names a kind it cannot attach to, another
// namespace, or when its own fields are wrong; TargetNotFound when the target does not exist;
// Conflicted when an older valid policy of the same kind already claims the target (the oldest
// creationTimestamp wins, then the name). Policies whose target belongs to another controller get
// no status at all. Only valid policies compete, so an invalid policy never blocks a valid one.

const (
	typeAccepted = string(gwv1.PolicyConditionAccepted)
	// reasonTargetNotProgrammed: the policy is accepted, but its target has no Lattice resource
	// for it to change (a route no Gateway accepts, a Service no route uses).
	reasonTargetNotProgrammed = "TargetNotProgrammed"

	kindService       = "Service"
	kindServiceExport = "ServiceExport"
	kindGateway       = "Gateway"
	kindHTTPRoute     = string(model.KindHTTPRoute)
	kindGRPCRoute     = string(model.KindGRPCRoute)
)

// targetKey is a policy target: group, kind, namespace and name.
type targetKey struct {
	group, kind, namespace, name string
}

func (k targetKey) String() string { return k.kind + " " + k.namespace + "/" + k.name }

// policyTargetKinds are the group/kinds each policy kind may target.
var policyTargetKinds = map[model.PolicyKind][]targetKey{
	model.KindTargetGroupPolicy:    {{group: "", kind: kindService}, {group: v1alpha1.GroupName, kind: kindServiceExport}},
	model.KindVpcAssociationPolicy: {{group: gwv1.GroupName, kind: kindGateway}},
	model.KindAccessLogPolicy:      {{group: gwv1.GroupName, kind: kindGateway}, {group: gwv1.GroupName, kind: kindHTTPRoute}, {group: gwv1.GroupName, kind: kindGRPCRoute}},
	model.KindIAMAuthPolicy:        {{group: gwv1.GroupName, kind: kindGateway}, {group: gwv1.GroupName, kind: kindHTTPRoute}, {group: gwv1.GroupName, kind: kindGRPCRoute}},
}

// policyState is one policy of any kind, validated.
type policyState struct {
	key    model.PolicyKey
	meta   *metav1.ObjectMeta
	target targetKey
	// refErr rejects the targetRef itself (Invalid, checked before the target is looked up);
	// fieldErr rejects the spec (Invalid, reported once the target is known to be ours).
	refErr, fieldErr string
	// conflict is why an older policy wins (Conflicted).
	conflict string
	// notes are appended to the Accepted message; a set, sorted when written.
	notes map[string]bool

	tgp *v1alpha1.TargetGroupPolicySpec
	// associate and securityGroups are a VpcAssociationPolicy's.
	associate      bool
	securityGroups []string
	// destination is an AccessLogPolicy's ARN and destinationType its kind, one per target.
	destination, destinationType string
	// document is an IAMAuthPolicy's policy, compacted.
	document string
}

func (p *policyState) note(msg string) {
	if p.notes == nil {
		p.notes = map[string]bool{}
	}
	p.notes[msg] = true
}

func (p *policyState) display() string { return p.key.Namespace + "/" + p.key.Name }

// slotKey identifies what policies compete for: one target, and for access logs one destination
// type on it (Lattice allows one subscription per destination type and resource).
type slotKey struct {
	kind   model.PolicyKind
	target targetKey
	slot   string
}

// policyIndex holds every policy and the winner of each slot.
type policyIndex struct {
	all     []*policyState
	winners map[slotKey]*policyState
}

func (t *translator) indexPolicies() *policyIndex {
	idx := &policyIndex{winners: map[slotKey]*policyState{}}
	for _, p := range sorted(t.in.TargetGroupPolicies, func(o *v1alpha1.TargetGroupPolicy) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		ps := newPolicyState(model.KindTargetGroupPolicy, &p.ObjectMeta, p.Spec.TargetRef)
		ps.tgp = &p.Spec
		ps.fieldErr = validateTargetGroupPolicy(&p.Spec)
		idx.all = append(idx.all, ps)
	}
	for _, p := range sorted(t.in.VpcAssociationPolicies, func(o *v1alpha1.VpcAssociationPolicy) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		ps := newPolicyState(model.KindVpcAssociationPolicy, &p.ObjectMeta, p.Spec.TargetRef)
		ps.associate = p.Spec.AssociateWithVpc == nil || *p.Spec.AssociateWithVpc
		ps.securityGroups, ps.fieldErr = securityGroups(p.Spec.SecurityGroupIds)
		idx.all = append(idx.all, ps)
	}
	for _, p := range sorted(t.in.AccessLogPolicies, func(o *v1alpha1.AccessLogPolicy) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		ps := newPolicyState(model.KindAccessLogPolicy, &p.ObjectMeta, p.Spec.TargetRef)
		if p.Spec.DestinationArn == nil || *p.Spec.DestinationArn == "" {
			ps.fieldErr = "spec.destinationArn is required"
		} else {
			ps.destination = *p.Spec.DestinationArn
			ps.destinationType, ps.fieldErr = destinationType(ps.destination)
		}
		idx.all = append(idx.all, ps)
	}
	for _, p := range sorted(t.in.IAMAuthPolicies, func(o *v1alpha1.IAMAuthPolicy) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		ps := newPolicyState(model.KindIAMAuthPolicy, &p.ObjectMeta, p.Spec.TargetRef)
		ps.document, ps.fieldErr = authPolicyDocument(p.Spec.Policy)
		idx.all = append(idx.all, ps)
	}

	byAge := append([]*policyState(nil), idx.all...)
	sort.SliceStable(byAge, func(i, j int) bool { return olderPolicy(byAge[i], byAge[j]) })
	for _, p := range byAge {
		if p.refErr != "" || p.fieldErr != "" {
			continue
		}
		k := slotKey{kind: p.key.Kind, target: p.target, slot: p.destinationType}
		if w := idx.winners[k]; w != nil {
			p.conflict = fmt.Sprintf("the older %s %s already applies to %s", p.key.Kind, w.display(), p.target)
			if p.key.Kind == model.KindAccessLogPolicy {
				p.conflict = fmt.Sprintf("the older AccessLogPolicy %s already sends the logs of %s to destination type %s; VPC Lattice allows one access log subscription per destination type", w.display(), p.target, p.destinationType)
			}
			continue
		}
		idx.winners[k] = p
	}
	return idx
}

func newPolicyState(kind model.PolicyKind, meta *metav1.ObjectMeta, ref *gwv1alpha2.NamespacedPolicyTargetReference) *policyState {
	p := &policyState{key: model.PolicyKey{Kind: kind, Namespace: meta.Namespace, Name: meta.Name}, meta: meta}
	if ref == nil {
		p.refErr = "spec.targetRef is required"
		return p
	}
	p.target = targetKey{group: string(ref.Group), kind: string(ref.Kind), namespace: meta.Namespace, name: string(ref.Name)}
	var allowed []string
	ok := false
	for _, k := range policyTargetKinds[kind] {
		ok = ok || (k.group == p.target.group && k.kind == p.target.kind)
		allowed = append(allowed, groupKind(k.group, k.kind))
	}
	switch {
	case !ok:
		p.refErr = fmt.Sprintf("targetRef %s is not supported: %s can target %s", groupKind(p.target.group, p.target.kind), kind, strings.Join(allowed, ", "))
	case ref.Namespace != nil && *ref.Namespace != "" && string(*ref.Namespace) != meta.Namespace:
		p.refErr = fmt.Sprintf("targetRef namespace %s differs from the policy's namespace %s: a policy applies to targets in its own namespace only", *ref.Namespace, meta.Namespace)
	}
	return p
}

func groupKind(group, kind string) string {
	if group == "" {
		return kind
	}
	return kind + "." + group
}

func olderPolicy(a, b *policyState) bool {
	return older(a.meta, b.meta, string(a.key.Kind), string(b.key.Kind))
}

func (idx *policyIndex) winner(kind model.PolicyKind, target targetKey, slot string) *policyState {
	return idx.winners[slotKey{kind: kind, target: target, slot: slot}]
}

func gatewayTarget(k model.GatewayKey) targetKey {
	return targetKey{group: gwv1.GroupName, kind: kindGateway, namespace: k.Namespace, name: k.Name}
}

func routeTarget(k model.RouteKey) targetKey {
	return targetKey{group: gwv1.GroupName, kind: string(k.Kind), namespace: k.Namespace, name: k.Name}
}

// accessLogsAndAuth are the access log subscriptions and auth policy the winning AccessLogPolicies
// and IAMAuthPolicy of target ask for.
func (t *translator) accessLogsAndAuth(target targetKey) ([]model.AccessLogSubscription, *model.AuthPolicy) {
	var subs []model.AccessLogSubscription
	for _, typ := range destinationTypes {
		if p := t.policies.winner(model.KindAccessLogPolicy, target, typ); p != nil {
			als := model.AccessLogSubscription{DestinationARN: p.destination, Policy: p.key, Tags: map[string]string{
				model.TagManagedBy: t.managedBy, model.TagAccessLogPolicy: p.display(),
			}}
			extra, _ := additionalTags(p.meta.Annotations)
			addTags(extra, &als.Tags)
			subs = append(subs, als)
		}
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].DestinationARN < subs[j].DestinationARN })
	var auth *model.AuthPolicy
	if p := t.policies.winner(model.KindIAMAuthPolicy, target, ""); p != nil {
		auth = &model.AuthPolicy{AuthType: model.AuthTypeIAM, Document: p.document, Policy: p.key}
	}
	return subs, auth
}

// vpcServiceNetwork picks the service network the cluster VPC is associated with: the configured
// default; else the Gateway whose VpcAssociationPolicy asking for it is oldest; else the oldest
// Gateway that does not opt out. accepted is sorted oldest first.
func (t *translator) vpcServiceNetwork(accepted []*gatewayState) (string, string) {
	if t.cfg.DefaultServiceNetwork != "" {
		return t.cfg.DefaultServiceNetwork, "the controller's default service network"
	}
	var chosen *policyState
	sn := ""
	for _, g := range accepted {
		if p := t.policies.winner(model.KindVpcAssociationPolicy, gatewayTarget(g.key), ""); p != nil && p.associate && (chosen == nil || olderPolicy(p, chosen)) {
			chosen, sn = p, g.snName
		}
	}
	if chosen != nil {
		return sn, "the older VpcAssociationPolicy " + chosen.display()
	}
	for _, g := range accepted {
		if t.policies.winner(model.KindVpcAssociationPolicy, gatewayTarget(g.key), "") == nil {
			return g.snName, "the oldest Gateway " + g.key.String()
		}
	}
	return "", ""
}

// vpcAssociation decides the VPC association of an accepted Gateway's service network, applying
// its VpcAssociationPolicy. vpcSN is the one service network the VPC may be associated with and
// why is the reason it was chosen.
func (t *translator) vpcAssociation(g *gatewayState, sn *model.ServiceNetwork, vpcSN, why string) {
	p := t.policies.winner(model.KindVpcAssociationPolicy, gatewayTarget(g.key), "")
	switch {
	case t.cfg.VPCID == "":
		return
	case p != nil && !p.associate:
		sn.VPCAssociationPolicy = &p.key
	case g.snName == vpcSN:
		sn.VPCAssociation = &model.VPCAssociation{VPCID: t.cfg.VPCID}
		if p != nil {
			sn.VPCAssociation.SecurityGroupIDs = p.securityGroups
			sn.VPCAssociationPolicy = &p.key
			sn.VPCAssociation.Tags, _ = additionalTags(p.meta.Annotations)
		}
	case p != nil:
		p.conflict = fmt.Sprintf("VPC %s can be associated with one service network only, and %s associates it with service network %s", t.cfg.VPCID, why, vpcSN)
	default:
		g.notes = append(g.notes, fmt.Sprintf("VPC %s is associated with service network %s, not %s (a VPC can be associated with one service network only): clients in that VPC reach this Gateway's services if they are also associated with %s, or through a service-network VPC endpoint", t.cfg.VPCID, vpcSN, g.snName, vpcSN))
	}
}

// targetGroupPolicy applies the TargetGroupPolicy of a backend Service, if any, to the protocol
// and version a route kind would use, and returns its health check and key.
func (t *translator) targetGroupPolicy(kind model.RouteKind, target targetKey, protocol, version string) (string, string, *model.HealthCheck, *model.PolicyKey) {
	p := t.policies.winner(model.KindTargetGroupPolicy, target, "")
	if p == nil {
		return protocol, version, nil, nil
	}
	if pr := p.tgp.Protocol; pr != nil && *pr != protocol {
		switch {
		case kind == model.KindTLSRoute:
			p.note(fmt.Sprintf("protocol %s is not used for TLSRoute backends: TLS passthrough needs TCP target groups", *pr))
		case *pr == model.ProtocolTCP:
			p.note("protocol TCP is used for TLSRoute backends only: VPC Lattice forwards HTTP and HTTPS listeners to HTTP or HTTPS target groups")
		default:
			protocol = *pr
		}
	}
	if v := p.tgp.ProtocolVersion; v != nil && *v != version {
		switch {
		case kind == model.KindHTTPRoute && *v != model.ProtocolVersionGRPC:
			version = *v
		case kind == model.KindHTTPRoute:
			p.note("protocolVersion GRPC is not used for HTTPRoute backends; GRPCRoute backends always use it")
		case kind == model.KindGRPCRoute:
			p.note(fmt.Sprintf("protocolVersion %s is not used for GRPCRoute backends, which always use GRPC", *v))
		}
	}
	key := p.key
	return protocol, version, healthCheck(p.tgp.HealthCheck, version), &key
}

// healthCheck is the complete health check of a policy, with Lattice's defaults for unset fields.
func healthCheck(hc *v1alpha1.HealthCheckConfig, version string) *model.HealthCheck {
	if hc == nil {
		return nil
	}
	h := &model.HealthCheck{
		Enabled:  version == model.ProtocolVersionHTTP1,
		Protocol: model.ProtocolHTTP, ProtocolVersion: model.ProtocolVersionHTTP1, Path: "/",
		IntervalSeconds: 30, TimeoutSeconds: 5, HealthyThresholdCount: 5, UnhealthyThresholdCount: 2, Matcher: "200",
	}
	if hc.Enabled != nil {
		h.Enabled = *hc.Enabled
	}
	if hc.Protocol != nil {
		h.Protocol = string(*hc.Protocol)
	}
	if hc.ProtocolVersion != nil {
		h.ProtocolVersion = string(*hc.ProtocolVersion)
	}
	if hc.Path != nil {
		h.Path = *hc.Path
	}
	if hc.StatusMatch != nil {
		h.Matcher = *hc.StatusMatch
	}
	for _, f := range []struct {
		dst *int32
		src *int64
	}{{&h.Port, hc.Port}, {&h.IntervalSeconds, hc.IntervalSeconds}, {&h.TimeoutSeconds, hc.TimeoutSeconds},
		{&h.HealthyThresholdCount, hc.HealthyThresholdCount}, {&h.UnhealthyThresholdCount, hc.UnhealthyThresholdCount}} {
		if f.src != nil {
			*f.dst = int32(*f.src)
		}
	}
	return h
}

// policyStatuses writes the status of every policy whose target is ours or missing.
func (t *translator) policyStatuses() {
	inModel := t.out.Model.PolicyTargets()
	routeParents := map[targetKey][]gwv1.ParentReference{}
	for i := range t.in.HTTPRoutes {
		r := &t.in.HTTPRoutes[i]
		routeParents[targetKey{gwv1.GroupName, kindHTTPRoute, r.Namespace, r.Name}] = r.Spec.ParentRefs
	}
	for i := range t.in.GRPCRoutes {
		r := &t.in.GRPCRoutes[i]
		routeParents[targetKey{gwv1.GroupName, kindGRPCRoute, r.Namespace, r.Name}] = r.Spec.ParentRefs
	}
	for _, p := range t.policies.all {
		gen := p.meta.Generation
		accepted := cond(typeAccepted, false, string(gwv1.PolicyReasonInvalid), p.refErr, gen)
		programmed := cond(status.ConditionProgrammed, false, string(gwv1.GatewayReasonInvalid), "the policy is not accepted", gen)
		if p.refErr == "" {
			found, ours, unprogrammable := t.policyTarget(p.target, routeParents)
			switch {
			case !found:
				accepted.Reason, accepted.Message = string(gwv1.PolicyReasonTargetNotFound), p.target.String()+" not found"
			case !ours:
				continue
			case p.fieldErr != "":
				accepted.Message = p.fieldErr
			case p.conflict != "":
				accepted.Reason, accepted.Message = string(gwv1.PolicyReasonConflicted), p.conflict
			default:
				msg := "Accepted"
				if len(p.notes) > 0 {
					msg += "; " + strings.Join(sortedKeys(p.notes), "; ")
				}
				accepted = cond(typeAccepted, true, string(gwv1.PolicyReasonAccepted), msg, gen)
				programmed = pending(gen)
				if _, ok := inModel[p.key]; !ok {
					programmed = cond(status.ConditionProgrammed, false, reasonTargetNotProgrammed, unprogrammable, gen)
				}
			}
		}
		t.out.Policies[p.key] = v1alpha1.PolicyStatus{Conditions: []metav1.Condition{accepted, programmed}}
	}
}

// policyTarget reports whether a policy target exists, whether it is ours (a Gateway of our
// class, a route with such a parent; Services and ServiceExports always are), and why it would
// have no Lattice resource for the policy to change.
func (t *translator) policyTarget(k targetKey, routeParents map[targetKey][]gwv1.ParentReference) (found, ours bool, why string) {
	switch k.kind {
	case kindService:
		_, found = t.services[types.NamespacedName{Namespace: k.namespace, Name: k.name}]
		return found, found, fmt.Sprintf("no accepted route of this controller uses %s", k)
	case kindServiceExport:
		for i := range t.in.ServiceExports {
			found = found || (t.in.ServiceExports[i].Namespace == k.namespace && t.in.ServiceExports[i].Name == k.name)
		}
		return found, found, "the ServiceExport is not exported: see its Valid condition and its federation annotation"
	case kindGateway:
		if g, ok := t.gatewaysByKey[model.GatewayKey{Namespace: k.namespace, Name: k.name}]; ok {
			if g.accepted {
				return true, true, "no cluster VPC is configured, so there is no VPC association to change"
			}
			return true, true, fmt.Sprintf("%s is not accepted", k)
		}
		for i := range t.in.Gateways {
			found = found || (t.in.Gateways[i].Namespace == k.namespace && t.in.Gateways[i].Name == k.name)
		}
		return found, false, ""
	}
	parents, found := routeParents[k]
	for _, ref := range parents {
		_, own := t.parentOwner(k.namespace, ref)
		ours = ours || own
	}
	return found, ours, fmt.Sprintf("%s has no VPC Lattice service: no Gateway accepts it", k)
}
