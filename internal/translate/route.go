package translate

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// routeState is one route of any kind, reduced to what the Lattice mapping needs.
type routeState struct {
	key        model.RouteKey
	meta       *metav1.ObjectMeta
	parentRefs []gwv1.ParentReference
	hostnames  []string
	rules      []*ruleState
	// staleStatus: the route carries parent statuses written by us, so it gets an Output entry
	// even when no parent is ours any more.
	staleStatus bool
	// routeErr rejects the route on every parent (Accepted=False, UnsupportedValue).
	routeErr string
	parents  []*parentState
	// notes are appended to the Accepted message of accepted parents.
	notes []string

	serviceName string
	// collisionName is the hashed name deploy falls back to when serviceName belongs to another
	// route's existing Lattice service.
	collisionName string
	customDomain  string
	backendErrs   []backendError
	targetGroups  map[string]model.TargetGroup
	latticeRules  []model.Rule
}

// parentState is the route's relation to one parentRef that points at a Gateway we own.
type parentState struct {
	ref gwv1.ParentReference
	// owner is the Gateway or ListenerSet the ref names; gw is owner's Gateway.
	owner     listenerOwner
	gw        *gatewayState
	listeners []*listenerState
	hostnames []string
	reason    gwv1.RouteConditionReason // empty when attached
	message   string
}

func (p *parentState) attached() bool { return p.reason == "" }

func newRouteState(kind model.RouteKind, meta *metav1.ObjectMeta, spec gwv1.CommonRouteSpec, hostnames []gwv1.Hostname, parents []gwv1.RouteParentStatus, controller string) *routeState {
	r := &routeState{
		key:        model.RouteKey{Kind: kind, Namespace: meta.Namespace, Name: meta.Name},
		meta:       meta,
		parentRefs: spec.ParentRefs,
	}
	for _, h := range hostnames {
		r.hostnames = append(r.hostnames, string(h))
	}
	for _, p := range parents {
		r.staleStatus = r.staleStatus || string(p.ControllerName) == controller
	}
	return r
}

func (r *routeState) display() string { return r.key.Namespace + "/" + r.key.Name }

// routes translates every route kind and writes route and gateway statuses.
func (t *translator) routes() {
	var all []*routeState
	for _, r := range sorted(t.in.HTTPRoutes, func(o *gwv1.HTTPRoute) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		all = append(all, t.httpRoute(r))
	}
	for _, r := range sorted(t.in.GRPCRoutes, func(o *gwv1.GRPCRoute) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		all = append(all, t.grpcRoute(r))
	}
	for _, r := range sorted(t.in.TLSRoutes, func(o *gwv1.TLSRoute) *metav1.ObjectMeta { return &o.ObjectMeta }) {
		all = append(all, t.tlsRoute(r))
	}
	var ours []*routeState
	for _, r := range all {
		t.attach(r)
		if len(r.parents) == 0 {
			if r.staleStatus {
				t.routeStatusMap(r.key.Kind)[types.NamespacedName{Namespace: r.key.Namespace, Name: r.key.Name}] = []gwv1.RouteParentStatus{}
			}
			continue
		}
		t.buildRules(r)
		ours = append(ours, r)
	}
	t.nameServices(ours)
	t.assignCustomDomains(ours)
	var services []model.Service
	for _, r := range ours {
		if svc, ok := t.service(r); ok {
			services = append(services, svc)
		}
		t.writeRouteStatus(r)
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	t.out.Model.Services = services
	t.out.Model.Certificates = t.usedCertificates(services, t.certificates)
	t.finishGateways()
}

func (t *translator) routeStatusMap(kind model.RouteKind) map[types.NamespacedName][]gwv1.RouteParentStatus {
	switch kind {
	case model.KindGRPCRoute:
		return t.out.GRPCRoutes
	case model.KindTLSRoute:
		return t.out.TLSRoutes
	}
	return t.out.HTTPRoutes
}

// attach resolves every parentRef that names a Gateway we own, or a ListenerSet of one, and
// decides, per the spec, which of its listeners the route attaches to: sectionName and port
// select listeners, then the listener's allowed kinds and namespaces, then hostname intersection.
func (t *translator) attach(r *routeState) {
	for _, ref := range r.parentRefs {
		owner, ok := t.parentOwner(r.key.Namespace, ref)
		if !ok {
			continue
		}
		p := &parentState{ref: ref, owner: owner, gw: owner.gw}
		r.parents = append(r.parents, p)
		if !owner.accepted {
			p.reason, p.message = gwv1.RouteReasonNoMatchingParent, owner.kind+" "+owner.key.String()+" is not accepted"
			continue
		}
		t.attachListeners(r, p)
	}
}

// parentOwner returns the Gateway of our class, or the ListenerSet of such a Gateway, that a
// route parentRef names, if any.
func (t *translator) parentOwner(routeNamespace string, ref gwv1.ParentReference) (listenerOwner, bool) {
	if ref.Group != nil && *ref.Group != gatewayGroup {
		return listenerOwner{}, false
	}
	ns := routeNamespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	switch {
	case ref.Kind == nil || *ref.Kind == "Gateway":
		if gw, ok := t.gatewaysByKey[model.GatewayKey{Namespace: ns, Name: string(ref.Name)}]; ok {
			return gw.owner(), true
		}
	case *ref.Kind == kindListenerSet:
		if s, ok := t.listenerSetsByKey[types.NamespacedName{Namespace: ns, Name: string(ref.Name)}]; ok {
			return s.owner(), true
		}
	}
	return listenerOwner{}, false
}

func (t *translator) attachListeners(r *routeState, p *parentState) {
	var selected []*listenerState
	for _, l := range p.owner.listeners {
		if (p.ref.SectionName == nil || *p.ref.SectionName == l.spec.Name) && (p.ref.Port == nil || *p.ref.Port == l.spec.Port) {
			selected = append(selected, l)
		}
	}
	if len(selected) == 0 {
		p.reason, p.message = gwv1.RouteReasonNoMatchingParent, "no listener of "+p.owner.kind+" "+p.owner.key.String()+" matches the parentRef's sectionName and port"
		return
	}
	var allowed []*listenerState
	var why []string
	for _, l := range selected {
		switch {
		case !kindAllowed(l.kinds, r.key.Kind):
			why = append(why, fmt.Sprintf("listener %s does not allow %s", l.spec.Name, r.key.Kind))
		case !t.namespaceAllowed(l.spec, p.owner.key.Namespace, r.key.Namespace):
			why = append(why, fmt.Sprintf("listener %s does not allow routes from namespace %s", l.spec.Name, r.key.Namespace))
		default:
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		p.reason, p.message = gwv1.RouteReasonNotAllowedByListeners, msgNotAllowedByListeners+": "+strings.Join(why, "; ")
		// TLSRoute's doc asks for UnsupportedValue when the listener has the wrong protocol.
		if r.key.Kind == model.KindTLSRoute && p.ref.SectionName != nil && selected[0].spec.Protocol != gwv1.TLSProtocolType {
			p.reason = gwv1.RouteReasonUnsupportedValue
		}
		return
	}
	hostSet := map[string]bool{}
	for _, l := range allowed {
		hosts, ok := intersectHostnames(hostnameOf(l.spec.Hostname), r.hostnames)
		if !ok {
			continue
		}
		p.listeners = append(p.listeners, l)
		for _, h := range hosts {
			if !hostSet[h] {
				hostSet[h] = true
				p.hostnames = append(p.hostnames, h)
			}
		}
	}
	if len(p.listeners) == 0 {
		p.reason, p.message = gwv1.RouteReasonNoMatchingListenerHostname, msgNoMatchingListenerHostname+": no listener hostname intersects the route's hostnames"
	}
}

func kindAllowed(kinds []gwv1.RouteGroupKind, kind model.RouteKind) bool {
	for _, k := range kinds {
		if string(k.Kind) == string(kind) {
			return true
		}
	}
	return false
}

func (t *translator) namespaceAllowed(l *gwv1.Listener, ownerNamespace, routeNamespace string) bool {
	from := gwv1.NamespacesFromSame
	var selector *metav1.LabelSelector
	if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil {
		if l.AllowedRoutes.Namespaces.From != nil {
			from = *l.AllowedRoutes.Namespaces.From
		}
		selector = l.AllowedRoutes.Namespaces.Selector
	}
	switch from {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSame:
		return ownerNamespace == routeNamespace
	case gwv1.NamespacesFromSelector:
		if selector == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(selector)
		return err == nil && sel.Matches(labels.Set(t.namespaceLabels(routeNamespace)))
	}
	return false
}

// intersectHostnames applies the route/listener hostname rules of the spec. An empty result with
// ok=true means "any hostname".
func intersectHostnames(listener string, route []string) ([]string, bool) {
	if listener == "" {
		return route, true
	}
	if len(route) == 0 {
		return []string{listener}, true
	}
	var out []string
	for _, h := range route {
		if m := intersectHostname(h, listener); m != "" {
			out = append(out, m)
		}
	}
	return out, len(out) > 0
}

// intersectHostname returns the more specific of a and b when one matches the other, else "".
// A wildcard "*.example.com" matches any name with at least one more label.
func intersectHostname(a, b string) string {
	if a == b {
		return a
	}
	aw, bw := strings.HasPrefix(a, "*."), strings.HasPrefix(b, "*.")
	switch {
	case aw && bw:
		if strings.HasSuffix(a[1:], b[1:]) {
			return a
		}
		if strings.HasSuffix(b[1:], a[1:]) {
			return b
		}
	case bw:
		if strings.HasSuffix(a, b[1:]) {
			return a
		}
	case aw:
		if strings.HasSuffix(b, a[1:]) {
			return b
		}
	}
	return ""
}

// Condition messages upstream writes, which users' scripts and alerts match: ours start with
// them and add the detail.
const (
	msgNotAllowedByListeners      = "No matching listeners allow this route"
	msgNoMatchingListenerHostname = "No matching listener hostname for this route"
)

// nameServices gives each route that may get a Lattice service its name. Explicit overrides are
// claimed first (oldest route wins a duplicate); then upstream's trunc(route,20)-trunc(ns,18),
// so that new services are named as upstream names them. HTTPRoutes claim those names before
// GRPCRoutes and TLSRoutes; a route whose name is taken or invalid gets a readable truncation
// plus a hash of its identity, which is also its collisionName: deploy keeps a route's existing
// service (found by its route tags) whatever its name, and uses collisionName when the name
// belongs to another route's service in Lattice.
func (t *translator) nameServices(routes []*routeState) {
	taken := map[string]*routeState{}
	byAge := append([]*routeState(nil), routes...)
	sort.SliceStable(byAge, func(i, j int) bool { return olderRoute(byAge[i], byAge[j]) })
	for _, r := range byAge {
		override, ok := r.meta.Annotations[AnnotationServiceNameOverride]
		if !ok {
			continue
		}
		switch owner := taken[override]; {
		case !validServiceNameOverride(override):
			r.reject(fmt.Sprintf("annotation %s=%q is not a valid Lattice service name (3-40 characters a-z, 0-9 and '-', no leading, trailing or double '-', no 'svc-' prefix)", AnnotationServiceNameOverride, override))
		case owner != nil:
			r.reject(fmt.Sprintf("annotation %s=%q: the name is already used by %s %s", AnnotationServiceNameOverride, override, owner.key.Kind, owner.display()))
		default:
			r.serviceName = override
			taken[override] = r
		}
	}
	// routes is ordered HTTPRoutes, GRPCRoutes, TLSRoutes, each by namespace/name.
	for _, r := range routes {
		if _, override := r.meta.Annotations[AnnotationServiceNameOverride]; override {
			continue
		}
		id := []string{string(r.key.Kind), r.key.Namespace, r.key.Name}
		hashed := hashedName(r.key.Name+"-"+r.key.Namespace, maxServiceNameLen, reservedServicePrefix, id...)
		name := latticeName(upstreamServiceName(r.key.Name, r.key.Namespace), maxServiceNameLen, reservedServicePrefix, id...)
		if taken[name] != nil {
			name = hashed
		}
		if name != hashed {
			r.collisionName = hashed
		}
		r.serviceName = name
		taken[name] = r
	}
}

func olderRoute(a, b *routeState) bool {
	return older(a.meta, b.meta, string(a.key.Kind), string(b.key.Kind))
}

func (r *routeState) reject(msg string) {
	if r.routeErr == "" {
		r.routeErr = msg
	}
}

// accepted reports whether any parent accepts the route.
func (r *routeState) accepted() bool {
	if r.routeErr != "" {
		return false
	}
	for _, p := range r.parents {
		if p.attached() {
			return true
		}
	}
	return false
}

// assignCustomDomains picks the Lattice custom domain of each accepted route from its
// intersected hostnames. A Lattice service has one custom domain, so extra hostnames are reported,
// and when several routes want the same domain the oldest keeps it.
func (t *translator) assignCustomDomains(routes []*routeState) {
	owners := map[string]*routeState{}
	byAge := append([]*routeState(nil), routes...)
	sort.SliceStable(byAge, func(i, j int) bool { return olderRoute(byAge[i], byAge[j]) })
	for _, r := range byAge {
		if !r.accepted() {
			continue
		}
		var precise, wildcard []string
		seen := map[string]bool{}
		for _, p := range r.parents {
			if !p.attached() {
				continue
			}
			for _, h := range p.hostnames {
				if seen[h] {
					continue
				}
				seen[h] = true
				if strings.HasPrefix(h, "*.") {
					wildcard = append(wildcard, h)
				} else {
					precise = append(precise, h)
				}
			}
		}
		if len(wildcard) > 0 {
			r.notes = append(r.notes, fmt.Sprintf("wildcard hostnames %s cannot be a Lattice custom domain", strings.Join(wildcard, ", ")))
		}
		for _, h := range precise {
			if owner := owners[h]; owner != nil {
				r.notes = append(r.notes, fmt.Sprintf("hostname %s is the custom domain of the older %s %s; Lattice cannot merge two services under one domain", h, owner.key.Kind, owner.display()))
				continue
			}
			if r.customDomain == "" {
				r.customDomain = h
				owners[h] = r
				continue
			}
			r.notes = append(r.notes, fmt.Sprintf("hostname %s is not served: a Lattice service has one custom domain (%s); use the Lattice DNS name or another route", h, r.customDomain))
		}
		if r.key.Kind == model.KindTLSRoute && r.customDomain == "" {
			r.reject("TLS passthrough needs a precise hostname that is not used by another route: Lattice matches the SNI against the service's custom domain")
		}
	}
}
