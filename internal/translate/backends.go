package translate

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// maxLatticeWeight is the largest weight Lattice accepts in a forward action.
const maxLatticeWeight = 999

// Fixed responses Lattice supports.
const (
	statusNotFound    = 404
	statusServerError = 500
)

// backendError is one backendRef that cannot be resolved, for the ResolvedRefs condition.
type backendError struct {
	reason gwv1.RouteConditionReason
	msg    string
}

type weighted struct {
	tg     string
	weight int64
}

// ruleAction computes the action of a valid rule and adds its target groups to tgs.
//
// Spec: invalid backends keep their share of the weight and that share answers 500. Lattice
// forwards only to target groups and answers fixed 404/500 only for a whole rule, so: when every
// backend is invalid (or weighs 0) the rule answers a fixed 500; otherwise the invalid share is
// forwarded to an "unresolved" target group that has no targets, for which Lattice answers 5xx
// (503, which the spec allows for backends without endpoints).
func (t *translator) ruleAction(r *routeState, rs *ruleState, tgs map[string]model.TargetGroup) {
	var entries []weighted
	var invalidWeight, validWeight int64
	for _, b := range rs.backends {
		tg, berr := t.resolveBackend(r, b.ref)
		if berr != nil {
			berr.msg = rs.label + ": " + berr.msg
			r.backendErrs = append(r.backendErrs, *berr)
			invalidWeight += b.weight
			continue
		}
		if _, ok := tgs[tg.Name]; !ok {
			tgs[tg.Name] = tg
		}
		validWeight += b.weight
		entries = addWeight(entries, tg.Name, b.weight)
	}
	if validWeight == 0 && r.key.Kind == model.KindTLSRoute {
		// A TLS passthrough listener can only forward: its connections go to the target-less
		// group, which closes them, as the spec asks of a route without a valid backend.
		tg := t.unresolvedTargetGroup(r)
		tgs[tg.Name] = tg
		rs.action = model.Action{Forward: []model.WeightedTargetGroup{{TargetGroup: tg.Name, Weight: 1}}}
		return
	}
	if validWeight == 0 {
		rs.action = model.Action{FixedResponse: statusServerError}
		return
	}
	if invalidWeight > 0 {
		tg := t.unresolvedTargetGroup(r)
		tgs[tg.Name] = tg
		entries = addWeight(entries, tg.Name, invalidWeight)
	}
	if len(entries) > t.cfg.Quotas.TargetGroupsPerForward {
		rs.invalid = append(rs.invalid, fmt.Sprintf("%d target groups exceed the VPC Lattice limit of %d per forward action", len(entries), t.cfg.Quotas.TargetGroupsPerForward))
		return
	}
	rs.action = model.Action{Forward: scaleWeights(entries)}
}

func addWeight(entries []weighted, tg string, w int64) []weighted {
	for i := range entries {
		if entries[i].tg == tg {
			entries[i].weight += w
			return entries
		}
	}
	return append(entries, weighted{tg: tg, weight: w})
}

// scaleWeights maps Gateway API weights (0-1,000,000, summed per target group) onto Lattice's
// 0-999, keeping ratios as closely as integers allow and never turning a positive weight into 0.
func scaleWeights(entries []weighted) []model.WeightedTargetGroup {
	var maxW int64
	for _, e := range entries {
		maxW = max(maxW, e.weight)
	}
	out := make([]model.WeightedTargetGroup, len(entries))
	for i, e := range entries {
		w := e.weight
		if maxW > maxLatticeWeight {
			w = (e.weight*maxLatticeWeight + maxW/2) / maxW
			if w == 0 && e.weight > 0 {
				w = 1
			}
		}
		out[i] = model.WeightedTargetGroup{TargetGroup: e.tg, Weight: int32(w)}
	}
	return out
}

// tgProtocol is the target-group protocol and version Lattice uses for a route kind.
func tgProtocol(kind model.RouteKind) (protocol, version string) {
	switch kind {
	case model.KindGRPCRoute:
		return model.ProtocolHTTP, model.ProtocolVersionGRPC
	case model.KindTLSRoute:
		return model.ProtocolTCP, ""
	}
	return model.ProtocolHTTP, model.ProtocolVersionHTTP1
}

// resolveBackend checks a backendRef per the spec (kind, ReferenceGrant, existence, port) and
// builds its target group with targets from the Service's EndpointSlices.
func (t *translator) resolveBackend(r *routeState, ref gwv1.BackendObjectReference) (model.TargetGroup, *backendError) {
	group, kind := "", "Service"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	ns := r.key.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	display := backendDisplay{ns: ns, ref: &ref}
	if group != "" || kind != "Service" {
		return model.TargetGroup{}, &backendError{gwv1.RouteReasonInvalidKind, fmt.Sprintf("backendRef %s: kind %s/%s is not supported (core Service is)", display, group, kind)}
	}
	if ns != r.key.Namespace && !t.referenceGranted(string(r.key.Kind), r.key.Namespace, "Service", ns, string(ref.Name)) {
		return model.TargetGroup{}, &backendError{gwv1.RouteReasonRefNotPermitted, fmt.Sprintf("backendRef %s: no ReferenceGrant in namespace %s allows %ss from namespace %s", display, ns, r.key.Kind, r.key.Namespace)}
	}
	svc, ok := t.services[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}]
	if !ok {
		return model.TargetGroup{}, &backendError{gwv1.RouteReasonBackendNotFound, fmt.Sprintf("backendRef %s: Service not found", display)}
	}
	if ref.Port == nil {
		return model.TargetGroup{}, &backendError{gwv1.RouteReasonBackendNotFound, fmt.Sprintf("backendRef %s: a port is required for a Service", display)}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return model.TargetGroup{}, &backendError{gwv1.RouteReasonInvalidKind, fmt.Sprintf("backendRef %s: ExternalName Services have no endpoints for Lattice to target", display)}
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == *ref.Port && (svc.Spec.Ports[i].Protocol == "" || svc.Spec.Ports[i].Protocol == corev1.ProtocolTCP) {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return model.TargetGroup{}, &backendError{gwv1.RouteReasonBackendNotFound, fmt.Sprintf("backendRef %s: the Service has no TCP port %d", display, *ref.Port)}
	}
	protocol, version := tgProtocol(r.key.Kind)
	if sp.AppProtocol != nil {
		switch *sp.AppProtocol {
		case "kubernetes.io/h2c":
			if r.key.Kind == model.KindHTTPRoute {
				version = model.ProtocolVersionHTTP2
			}
		case "kubernetes.io/ws", "kubernetes.io/wss":
			return model.TargetGroup{}, &backendError{gwv1.RouteReasonUnsupportedProtocol, fmt.Sprintf("backendRef %s: appProtocol %s: VPC Lattice does not support WebSocket", display, *sp.AppProtocol)}
		}
	}
	defaultProtocol := protocol
	protocol, version, hc, policy := t.targetGroupPolicy(r.key.Kind, ns, svc.Name, protocol, version)
	label, identity := tgProtoLabel(protocol, version), []string{r.key.String(), ns, svc.Name, strconv.Itoa(int(sp.Port)), version}
	if protocol != defaultProtocol {
		// A protocol change needs a new target group: Lattice cannot update it in place.
		label = sanitize(protocol) + "-" + label
		identity = append(identity, protocol)
	}
	ipType, addrType := model.IPAddressTypeIPv4, discoveryv1.AddressTypeIPv4
	if len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] == corev1.IPv6Protocol {
		ipType, addrType = model.IPAddressTypeIPv6, discoveryv1.AddressTypeIPv6
	}
	tg := model.TargetGroup{
		Name:            targetGroupName(ns, svc.Name, sp.Port, label, identity...),
		Backend:         model.BackendKey{Namespace: ns, Name: svc.Name, Port: sp.Port},
		Type:            model.TargetGroupTypeIP,
		Port:            targetGroupPort,
		Protocol:        protocol,
		ProtocolVersion: version,
		IPAddressType:   ipType,
		VPCID:           t.cfg.VPCID,
		HealthCheck:     hc,
		Targets:         t.targets(svc, sp, addrType),
		Tags:            t.targetGroupTags(r, ns, svc.Name, version),
		Policy:          policy,
	}
	return tg, nil
}

// backendDisplay names a backendRef in messages; formatted only when a message is built.
type backendDisplay struct {
	ns  string
	ref *gwv1.BackendObjectReference
}

func (d backendDisplay) String() string {
	if d.ref.Port == nil {
		return d.ns + "/" + string(d.ref.Name)
	}
	return fmt.Sprintf("%s/%s:%d", d.ns, d.ref.Name, *d.ref.Port)
}

// targetGroupPort is the port of every backend target group, as upstream creates them: each
// target carries its pod's port, which Lattice uses for traffic and health checks, so the group's
// own port is unused, and upstream's groups are adopted on migration instead of replaced.
const targetGroupPort = 80

func tgProtoLabel(protocol, version string) string {
	if version == "" {
		return sanitize(protocol)
	}
	return sanitize(version)
}

func (t *translator) targetGroupTags(r *routeState, svcNamespace, svcName, version string) map[string]string {
	tags := map[string]string{
		model.TagManagedBy:      t.managedBy,
		model.TagClusterName:    t.cfg.ClusterName,
		model.TagSourceTypeKey:  string(r.key.Kind),
		model.TagRouteName:      r.key.Name,
		model.TagRouteNamespace: r.key.Namespace,
	}
	if svcName != "" {
		tags[model.TagServiceName], tags[model.TagServiceNamespace] = svcName, svcNamespace
	}
	if version != "" {
		tags[model.TagProtocolVersion] = version
	}
	return tags
}

// unresolvedTargetGroup is the target-less group that receives the traffic share of invalid
// backends. Its Backend is zero: it stands for no Kubernetes Service.
func (t *translator) unresolvedTargetGroup(r *routeState) model.TargetGroup {
	protocol, version := tgProtocol(r.key.Kind)
	port := int32(80)
	if protocol == model.ProtocolTCP {
		port = 443
	}
	return model.TargetGroup{
		Name: fmt.Sprintf("k8s-%s-%s-unresolved-%s", truncate(sanitize(r.key.Namespace), 50), truncate(sanitize(r.key.Name), 50),
			shortHash(r.key.String(), "unresolved")),
		Type:            model.TargetGroupTypeIP,
		Port:            port,
		Protocol:        protocol,
		ProtocolVersion: version,
		IPAddressType:   model.IPAddressTypeIPv4,
		VPCID:           t.cfg.VPCID,
		Tags:            t.targetGroupTags(r, "", "", version),
	}
}

// referenceGranted reports whether a ReferenceGrant in toNS lets objects of fromKind (Gateway API
// group) in fromNS refer to the core-group object toKind/name.
func (t *translator) referenceGranted(fromKind, fromNS, toKind, toNS, name string) bool {
	for _, g := range t.grants[toNS] {
		from, to := false, false
		for _, f := range g.Spec.From {
			from = from || (f.Group == gatewayGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS)
		}
		for _, to2 := range g.Spec.To {
			to = to || (to2.Group == "" && string(to2.Kind) == toKind && (to2.Name == nil || *to2.Name == "" || string(*to2.Name) == name))
		}
		if from && to {
			return true
		}
	}
	return false
}

// gated says whether ref is a pod with the Lattice readiness gate.
func (t *translator) gated(namespace string, ref *corev1.ObjectReference) bool {
	return ref != nil && ref.Kind == "Pod" && t.gatedPods[types.NamespacedName{Namespace: namespace, Name: ref.Name}]
}

// targets lists the ready, serving, non-terminating endpoints of the Service port, and those of
// gated pods that are not ready yet (see Input.GatedPods). The target
// port comes from the EndpointSlice port named like the Service port (which is how a named
// targetPort is resolved), else from a numeric targetPort, else from the Service port.
func (t *translator) targets(svc *corev1.Service, sp *corev1.ServicePort, addrType discoveryv1.AddressType) []model.Target {
	seen := map[model.Target]bool{}
	var out []model.Target
	for _, es := range t.slices[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] {
		if es.AddressType != addrType {
			continue
		}
		port, ok := slicePort(es, sp)
		if !ok {
			continue
		}
		for _, ep := range es.Endpoints {
			c := ep.Conditions
			notReady := (c.Ready != nil && !*c.Ready) || (c.Serving != nil && !*c.Serving)
			if (c.Terminating != nil && *c.Terminating) || (notReady && !t.gated(es.Namespace, ep.TargetRef)) {
				continue
			}
			for _, addr := range ep.Addresses {
				tg := model.Target{IP: addr, Port: port}
				if !seen[tg] {
					seen[tg] = true
					out = append(out, tg)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, errA := netip.ParseAddr(out[i].IP)
		b, errB := netip.ParseAddr(out[j].IP)
		if errA == nil && errB == nil && a != b {
			return a.Less(b)
		}
		if out[i].IP != out[j].IP {
			return out[i].IP < out[j].IP
		}
		return out[i].Port < out[j].Port
	})
	return out
}

func slicePort(es *discoveryv1.EndpointSlice, sp *corev1.ServicePort) (int32, bool) {
	for _, p := range es.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if name == sp.Name && p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
			return *p.Port, true
		}
	}
	switch {
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal, true
	case sp.TargetPort.StrVal == "":
		return sp.Port, true
	}
	return 0, false
}
