package translate

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/contract"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

const (
	messageWaiting = "Waiting for VPC Lattice"
	gatewayGroup   = gwv1.Group(gwv1.GroupName)
)

// supportedFeatures is exactly what this translator implements; sorted by name as the spec asks.
var supportedFeatures = []gwv1.SupportedFeature{
	{Name: "GRPCRoute"},
	{Name: "Gateway"},
	{Name: "GatewayPort8080"},
	{Name: "HTTPRoute"},
	{Name: "HTTPRouteDestinationPortMatching"},
	{Name: "HTTPRouteMethodMatching"},
	{Name: "HTTPRouteNamedRouteRule"},
	{Name: "HTTPRouteParentRefPort"},
	{Name: "ListenerSet"},
	{Name: "ReferenceGrant"},
	{Name: "TLSRoute"},
}

// classState is one GatewayClass we own.
type classState struct {
	accepted bool
	message  string
}

// gatewayState is one Gateway whose class we own.
type gatewayState struct {
	gw        *gwv1.Gateway
	key       model.GatewayKey
	accepted  bool
	snName    string
	listeners []*listenerState
	status    gwv1.GatewayStatus
	notes     []string // appended to the Accepted message
}

// listenerState is one Gateway listener and what routes may do with it.
type listenerState struct {
	spec *gwv1.Listener
	// usable listeners are accepted, unconflicted, have a usable certificate and at least one
	// supported route kind: routes attached to them are programmed into Lattice.
	usable bool
	// accepted is the listener's Accepted condition: its protocol and hostname are fine.
	accepted       bool
	kinds          []gwv1.RouteGroupKind
	protocol       string // Lattice listener protocol
	certificateARN string
	// certificate is the certificate of the listener's certificateRefs, imported by deploy.
	certificate *model.Certificate
	attached    int32
	// conds are the listener conditions; observedGeneration is filled in when written.
	conds []metav1.Condition
}

func cond(typ string, ok bool, reason, msg string, gen int64) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen}
}

func pending(gen int64) metav1.Condition {
	return metav1.Condition{Type: status.ConditionProgrammed, Status: metav1.ConditionUnknown, Reason: status.ReasonPending,
		Message: messageWaiting, ObservedGeneration: gen}
}

func (t *translator) gatewayClasses() {
	for _, gc := range sorted(t.in.GatewayClasses, func(o *gwv1.GatewayClass) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		if string(gc.Spec.ControllerName) != t.cfg.ControllerName {
			continue
		}
		st := classState{accepted: true, message: "Accepted by " + t.cfg.ControllerName}
		reason := string(gwv1.GatewayClassReasonAccepted)
		if p := gc.Spec.ParametersRef; p != nil {
			st = classState{message: fmt.Sprintf("parametersRef %s/%s %s is not supported: this controller takes no GatewayClass parameters", p.Group, p.Kind, p.Name)}
			reason = string(gwv1.GatewayClassReasonInvalidParameters)
		}
		t.classes[gc.Name] = st
		t.out.GatewayClasses[gc.Name] = gwv1.GatewayClassStatus{
			Conditions:        []metav1.Condition{cond(string(gwv1.GatewayClassConditionStatusAccepted), st.accepted, reason, st.message, gc.Generation)},
			SupportedFeatures: supportedFeatures,
		}
	}
}

func (t *translator) gateways() {
	var accepted []*gatewayState
	for _, gw := range sorted(t.in.Gateways, func(o *gwv1.Gateway) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		class, ok := t.classes[string(gw.Spec.GatewayClassName)]
		if !ok {
			continue
		}
		g := &gatewayState{gw: gw, key: model.GatewayKey{Namespace: gw.Namespace, Name: gw.Name}}
		t.gatewaysByKey[g.key] = g
		g.validate(class, func(refs []gwv1.SecretObjectReference) certResolution {
			return t.resolveCertificates("Gateway", gw.Namespace, refs)
		}, t.cfg.IgnoreMissingCertificateRefs)
		if g.accepted {
			accepted = append(accepted, g)
		}
	}
	t.nameServiceNetworks(accepted)
}

// validate decides the Gateway's and its listeners' conditions except attachedRoutes.
// certificates resolves a listener's certificateRefs; ignoreMissing is
// Config.IgnoreMissingCertificateRefs.
func (g *gatewayState) validate(class classState, certificates func([]gwv1.SecretObjectReference) certResolution, ignoreMissing bool) {
	gen := g.gw.Generation
	g.listeners = make([]*listenerState, len(g.gw.Spec.Listeners))
	for i := range g.gw.Spec.Listeners {
		g.listeners[i] = &listenerState{spec: &g.gw.Spec.Listeners[i]}
	}
	conflicts := listenerConflicts(g.gw.Spec.Listeners)
	var valid, invalid []string
	anyAccepted := false
	for i, l := range g.listeners {
		l.validate(conflicts[i], certificates, ignoreMissing)
		anyAccepted = anyAccepted || l.accepted
		if l.usable {
			valid = append(valid, string(l.spec.Name))
		} else {
			invalid = append(invalid, string(l.spec.Name))
		}
	}

	var reason, msg string
	switch {
	case !class.accepted:
		reason, msg = string(gwv1.GatewayReasonInvalid), fmt.Sprintf("GatewayClass %s is not accepted: %s", g.gw.Spec.GatewayClassName, class.message)
	case len(g.gw.Spec.Addresses) > 0:
		reason, msg = string(gwv1.GatewayReasonUnsupportedAddress), "spec.addresses is not supported: VPC Lattice assigns DNS names per service, a service network has no address"
	case g.gw.Spec.Infrastructure != nil && g.gw.Spec.Infrastructure.ParametersRef != nil:
		reason, msg = string(gwv1.GatewayReasonInvalidParameters), "spec.infrastructure.parametersRef is not supported by this controller"
	case g.gw.Spec.TLS != nil:
		// Accepting it would silently drop the client-certificate requirement.
		reason, msg = string(gwv1.GatewayReasonInvalid), "spec.tls is not supported: VPC Lattice can neither validate client certificates nor present one to backends"
	case !anyAccepted:
		reason, msg = string(gwv1.GatewayReasonListenersNotValid), "no valid listener: "+strings.Join(invalid, ", ")
	case len(invalid) > 0:
		// A listener that is accepted but cannot serve (say, a certificateRef Lattice cannot
		// use) reports that on itself; the Gateway stays accepted, as the spec's
		// ListenersNotValid with Accepted=True allows, even when no listener is usable.
		g.accepted = true
		reason, msg = string(gwv1.GatewayReasonListenersNotValid), fmt.Sprintf("accepted with listeners %s; invalid listeners: %s", nonEmpty(strings.Join(valid, ", "), "(none)"), strings.Join(invalid, ", "))
	default:
		g.accepted = true
		reason, msg = string(gwv1.GatewayReasonAccepted), "Accepted"
	}
	if g.accepted && g.gw.Spec.DefaultScope != "" && g.gw.Spec.DefaultScope != gwv1.GatewayDefaultScopeNone {
		g.notes = append(g.notes, "defaultScope is not supported: only routes whose parentRefs name this Gateway attach")
	}
	programmed := pending(gen)
	if !g.accepted {
		programmed = cond(status.ConditionProgrammed, false, string(gwv1.GatewayReasonInvalid), "Gateway is not accepted", gen)
	}
	g.status.Conditions = []metav1.Condition{cond(string(gwv1.GatewayConditionAccepted), g.accepted, reason, msg, gen), programmed}
}

type conflict struct{ reason, msg string }

// listenerConflicts finds listeners that are not distinct: same port, protocol and hostname. All
// members of a conflicting set are rejected, as the spec requires (no winner is picked). HTTP,
// HTTPS and TLS listeners sharing a port are compatible here: every route becomes its own Lattice
// service with its own DNS name, so the port is never shared on the wire.
func listenerConflicts(ls []gwv1.Listener) []conflict {
	out := make([]conflict, len(ls))
	for i := range ls {
		for j := range ls {
			if i != j && ls[i].Port == ls[j].Port && ls[i].Protocol == ls[j].Protocol && hostnameOf(ls[i].Hostname) == hostnameOf(ls[j].Hostname) {
				out[i] = conflict{string(gwv1.ListenerReasonHostnameConflict), fmt.Sprintf("listener %s has the same port, protocol and hostname", ls[j].Name)}
			}
		}
	}
	return out
}

func hostnameOf(h *gwv1.Hostname) string {
	if h == nil {
		return ""
	}
	return string(*h)
}

// routeKindsFor lists the route kinds Lattice can serve on a listener protocol: gRPC needs an
// HTTPS listener (HTTP/2 via ALPN), TLS passthrough serves TLSRoutes only.
func routeKindsFor(p gwv1.ProtocolType) []gwv1.Kind {
	switch p {
	case gwv1.HTTPProtocolType:
		return []gwv1.Kind{"HTTPRoute"}
	case gwv1.HTTPSProtocolType:
		return []gwv1.Kind{"HTTPRoute", "GRPCRoute"}
	case gwv1.TLSProtocolType:
		return []gwv1.Kind{"TLSRoute"}
	}
	return nil
}

func (l *listenerState) validate(c conflict, certificates func([]gwv1.SecretObjectReference) certResolution, ignoreMissing bool) {
	accepted, acceptReason, acceptMsg := true, string(gwv1.ListenerReasonAccepted), "Accepted"
	resolved, resolveReason, resolveMsg := true, string(gwv1.ListenerReasonResolvedRefs), "ResolvedRefs"
	certResolved := true
	tls := l.spec.TLS
	switch l.spec.Protocol {
	case gwv1.HTTPProtocolType:
		l.protocol = model.ProtocolHTTP
	case gwv1.HTTPSProtocolType:
		l.protocol = model.ProtocolHTTPS
		switch {
		case tls != nil && tls.Mode != nil && *tls.Mode != gwv1.TLSModeTerminate:
			accepted, acceptReason, acceptMsg = false, string(gwv1.ListenerReasonUnsupportedValue), "HTTPS listeners must use tls.mode Terminate"
		case tls != nil && tls.Options[OptionCertificateARN] != "":
			l.certificateARN = string(tls.Options[OptionCertificateARN])
			resolveMsg = "using ACM certificate " + l.certificateARN
		case tls != nil && len(tls.CertificateRefs) > 0:
			res := certificates(tls.CertificateRefs)
			switch {
			case res.reason == "":
				l.certificate = res.cert
				resolveMsg = "certificate of Secret " + res.cert.Name + " is imported into ACM"
			case res.missing && ignoreMissing:
				// Upstream ignores certificateRefs; its examples name placeholder Secrets.
				resolved, resolveReason = false, res.reason
				resolveMsg = res.msg + "; ignored (--ignore-missing-certificate-refs): Lattice serves its managed certificate for the generated service DNS names"
			default:
				resolved, certResolved, resolveReason, resolveMsg = false, false, res.reason, res.msg
			}
		default:
			resolveMsg = "no certificate: Lattice serves its managed certificate for the generated service DNS names"
		}
	case gwv1.TLSProtocolType:
		l.protocol = model.ProtocolTLSPassthrough
		if tls == nil || tls.Mode == nil || *tls.Mode != gwv1.TLSModePassthrough {
			accepted, acceptReason, acceptMsg = false, string(gwv1.ListenerReasonUnsupportedValue), "TLS listeners must use tls.mode Passthrough: VPC Lattice does not terminate TLS for TCP backends"
		}
	default:
		accepted, acceptReason, acceptMsg = false, string(gwv1.ListenerReasonUnsupportedProtocol), fmt.Sprintf("protocol %s is not supported by VPC Lattice (HTTP, HTTPS and TLS are)", l.spec.Protocol)
	}

	if accepted {
		var bad []string
		l.kinds, bad = supportedKinds(l.spec)
		if len(bad) > 0 {
			resolved, resolveReason = false, string(gwv1.ListenerReasonInvalidRouteKinds)
			resolveMsg = fmt.Sprintf("unsupported route kinds for protocol %s: %s", l.spec.Protocol, strings.Join(bad, ", "))
		}
	}
	if c.reason != "" {
		accepted, acceptReason, acceptMsg = false, c.reason, c.msg
	}
	// A listener with some unsupported route kinds still serves the supported ones.
	l.usable = accepted && c.reason == "" && certResolved && len(l.kinds) > 0
	l.accepted = accepted
	programmed := cond(status.ConditionProgrammed, false, string(gwv1.ListenerReasonInvalid), "listener is not valid", 0)
	if l.usable {
		programmed = pending(0)
	}
	l.conds = []metav1.Condition{
		cond(string(gwv1.ListenerConditionAccepted), accepted, acceptReason, acceptMsg, 0),
		cond(string(gwv1.ListenerConditionResolvedRefs), resolved, resolveReason, resolveMsg, 0),
		programmed,
	}
	if c.reason != "" {
		l.conds = append(l.conds, cond(string(gwv1.ListenerConditionConflicted), true, c.reason, c.msg, 0))
	} else {
		l.conds = append(l.conds, cond(string(gwv1.ListenerConditionConflicted), false, string(gwv1.ListenerReasonNoConflicts), "No conflicts", 0))
	}
}

// supportedKinds returns the allowed route kinds of a listener and the names of requested kinds it
// cannot serve.
func supportedKinds(l *gwv1.Listener) ([]gwv1.RouteGroupKind, []string) {
	possible := routeKindsFor(l.Protocol)
	var kinds []gwv1.RouteGroupKind
	var bad []string
	if l.AllowedRoutes == nil || len(l.AllowedRoutes.Kinds) == 0 {
		for _, k := range possible {
			g := gatewayGroup
			kinds = append(kinds, gwv1.RouteGroupKind{Group: &g, Kind: k})
		}
		return kinds, nil
	}
	for _, rk := range l.AllowedRoutes.Kinds {
		g := gatewayGroup
		if rk.Group != nil {
			g = *rk.Group
		}
		ok := false
		for _, k := range possible {
			ok = ok || (g == gatewayGroup && rk.Kind == k)
		}
		if !ok {
			bad = append(bad, string(g)+"/"+string(rk.Kind))
			continue
		}
		kinds = append(kinds, gwv1.RouteGroupKind{Group: &g, Kind: rk.Kind})
	}
	return kinds, bad
}

// nameServiceNetworks gives each accepted Gateway its service network. Lattice names are unique
// per account while Gateways are namespaced: the oldest Gateway keeps the plain name, later
// namesakes get <name>-<namespace>. The VPC association goes to one service network only,
// because a VPC can be associated with a single service network (see vpcServiceNetwork).
func (t *translator) nameServiceNetworks(accepted []*gatewayState) {
	sort.SliceStable(accepted, func(i, j int) bool { return olderGateway(accepted[i].gw, accepted[j].gw) })
	taken := map[string]model.GatewayKey{}
	for _, g := range accepted {
		plain := latticeName(g.gw.Name, maxServiceNetworkNameLen, "", g.gw.Name)
		if owner, dup := taken[plain]; dup {
			g.snName = latticeName(g.gw.Name+"-"+g.gw.Namespace, maxServiceNetworkNameLen, "", g.gw.Namespace, g.gw.Name)
			g.notes = append(g.notes, fmt.Sprintf("service network is named %s because the older Gateway %s uses %s", g.snName, owner, plain))
		} else {
			g.snName = plain
		}
		taken[g.snName] = g.key
	}

	vpcSN, why := t.vpcServiceNetwork(accepted)
	var sns []model.ServiceNetwork
	for _, g := range accepted {
		sn := model.ServiceNetwork{Name: g.snName, Gateway: g.key, Tags: map[string]string{
			model.TagManagedBy: t.managedBy, model.TagGatewayName: g.gw.Name, model.TagGatewayNamespace: g.gw.Namespace,
		}}
		extra, notes := additionalTags(g.gw.Annotations)
		g.notes = append(g.notes, notes...)
		addTags(extra, &sn.Tags)
		t.vpcAssociation(g, &sn, vpcSN, why)
		sn.AccessLogSubscriptions, sn.Auth = t.accessLogsAndAuth(gatewayTarget(g.key))
		sns = append(sns, sn)
	}
	if _, ok := taken[t.cfg.DefaultServiceNetwork]; t.cfg.DefaultServiceNetwork != "" && !ok {
		sn := model.ServiceNetwork{Name: t.cfg.DefaultServiceNetwork, Tags: map[string]string{model.TagManagedBy: t.managedBy}}
		if t.cfg.VPCID != "" {
			sn.VPCAssociation = &model.VPCAssociation{VPCID: t.cfg.VPCID}
		}
		sns = append(sns, sn)
	}
	sort.Slice(sns, func(i, j int) bool { return sns[i].Name < sns[j].Name })
	t.out.Model.ServiceNetworks = sns
}

func olderGateway(a, b *gwv1.Gateway) bool {
	return older(&a.ObjectMeta, &b.ObjectMeta, "", "")
}

// older orders objects for "the oldest wins" rules: creation time, then namespace, name and kind,
// so that equal timestamps still give one answer.
func older(a, b *metav1.ObjectMeta, aKind, bKind string) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return aKind < bKind
}

// finishGateways writes listener statuses (with attachedRoutes, counted while routes were
// processed) and the notes gathered for the Accepted message.
func (t *translator) finishGateways() {
	for key, g := range t.gatewaysByKey {
		gen := g.gw.Generation
		for _, l := range g.listeners {
			conds := make([]metav1.Condition, len(l.conds))
			copy(conds, l.conds)
			for i := range conds {
				conds[i].ObservedGeneration = gen
				if !g.accepted && conds[i].Type == status.ConditionProgrammed && conds[i].Reason == status.ReasonPending {
					conds[i] = cond(status.ConditionProgrammed, false, string(gwv1.ListenerReasonInvalid), "Gateway is not accepted", gen)
				}
			}
			g.status.Listeners = append(g.status.Listeners, gwv1.ListenerStatus{
				Name: l.spec.Name, SupportedKinds: l.kinds, AttachedRoutes: l.attached, Conditions: conds,
			})
		}
		if g.accepted && len(g.notes) > 0 {
			g.status.Conditions[0].Message += "; " + strings.Join(g.notes, "; ")
		}
		if addr := contract.GatewayAddress(t.cfg.GatewayAddresses, g.snName); g.accepted && addr.IsValid() {
			typ := gwv1.IPAddressType
			g.status.Addresses = []gwv1.GatewayStatusAddress{{Type: &typ, Value: addr.String()}}
		}
		t.out.Gateways[types.NamespacedName{Namespace: key.Namespace, Name: key.Name}] = g.status
	}
}
