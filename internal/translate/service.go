package translate

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/contract"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// routeTypeTag is upstream's RouteType tag value.
var routeTypeTag = map[model.RouteKind]string{model.KindHTTPRoute: "http", model.KindGRPCRoute: "grpc", model.KindTLSRoute: "tls"}

// service builds the Lattice service of an accepted route: one Lattice listener per distinct
// port among the usable Gateway listeners it attached to, each carrying the route's rules.
func (t *translator) service(r *routeState) (model.Service, bool) {
	if !r.accepted() {
		return model.Service{}, false
	}
	svc := model.Service{
		Name:             r.serviceName,
		CollisionName:    r.collisionName,
		Route:            r.key,
		CustomDomainName: r.customDomain,
		// Lets a new cluster take over a service another ManagedBy owns (blue/green migration).
		AllowTakeoverFrom: r.meta.Annotations[AnnotationAllowTakeoverFrom],
		Tags: map[string]string{
			model.TagManagedBy:      t.managedBy,
			model.TagRouteName:      r.key.Name,
			model.TagRouteNamespace: r.key.Namespace,
			model.TagRouteType:      routeTypeTag[r.key.Kind],
		},
	}
	sns := map[string]bool{}
	var gwListeners []*listenerState
	for _, p := range r.parents {
		if !p.attached() {
			continue
		}
		sns[p.gw.snName] = true
		for _, l := range p.listeners {
			if l.usable {
				gwListeners = append(gwListeners, l)
			}
		}
	}
	switch {
	case standalone(r):
	case t.cfg.EnableServiceNetworkOverride && t.cfg.DefaultServiceNetwork != "":
		svc.ServiceNetworks = []string{t.cfg.DefaultServiceNetwork}
	default:
		svc.ServiceNetworks = sortedKeys(sns)
	}
	svc.AccessLogSubscriptions, svc.Auth = t.accessLogsAndAuth(routeTarget(r.key))
	if v := hostnamesTag(r); v != "" {
		svc.Tags[contract.TagHostnames] = v
	}
	sort.SliceStable(gwListeners, func(i, j int) bool {
		a, b := gwListeners[i], gwListeners[j]
		if a.spec.Port != b.spec.Port {
			return a.spec.Port < b.spec.Port
		}
		return a.protocol < b.protocol
	})

	ports := map[int32]string{}
	for _, l := range gwListeners {
		if proto, dup := ports[l.spec.Port]; dup {
			if proto != l.protocol {
				r.notes = append(r.notes, fmt.Sprintf("listener %s (%s %d) is not programmed: the Lattice service already listens with %s on that port", l.spec.Name, l.protocol, l.spec.Port, proto))
			}
			continue
		}
		if len(ports) == t.cfg.Quotas.ListenersPerService {
			r.notes = append(r.notes, fmt.Sprintf("listener %s (%s %d) is not programmed: VPC Lattice allows %d listeners per service", l.spec.Name, l.protocol, l.spec.Port, t.cfg.Quotas.ListenersPerService))
			continue
		}
		ports[l.spec.Port] = l.protocol
		t.useCertificate(r, &svc, l)
		if ll, ok := t.latticeListener(r, l); ok {
			svc.Listeners = append(svc.Listeners, ll)
		}
	}
	if len(ports) == 0 {
		r.notes = append(r.notes, "no valid Gateway listener to program")
	}
	for _, proto := range ports {
		if proto == model.ProtocolHTTPS && svc.CustomDomainName != "" && svc.CertificateARN == "" && svc.Certificate == "" {
			r.notes = append(r.notes, fmt.Sprintf("HTTPS for custom domain %s needs a certificate: set certificateRefs or tls.options[%q] on the listener", svc.CustomDomainName, OptionCertificateARN))
			break
		}
	}
	// Only groups some programmed action forwards to: dropped rules and zero-weight-only rules
	// must not leave idle target groups behind (Lattice counts them against a regional quota).
	used := map[string]bool{}
	for _, l := range svc.Listeners {
		markUsed(used, l.DefaultAction)
		for _, rule := range l.Rules {
			markUsed(used, rule.Action)
		}
	}
	for _, name := range sortedKeys(used) {
		svc.TargetGroups = append(svc.TargetGroups, r.targetGroups[name])
	}
	extra, notes := additionalTags(r.meta.Annotations)
	r.notes = append(r.notes, notes...)
	addTags(extra, &svc.Tags)
	for i := range svc.Listeners {
		addTags(extra, &svc.Listeners[i].Tags)
		for j := range svc.Listeners[i].Rules {
			addTags(extra, &svc.Listeners[i].Rules[j].Tags)
		}
	}
	for i := range svc.TargetGroups {
		tg := &svc.TargetGroups[i]
		tg.Tags = maps.Clone(tg.Tags)
		addTags(extra, &tg.Tags)
	}
	return svc, true
}

// useCertificate gives svc the certificate of listener l, unless it has one already: a Lattice
// service has one certificate. A certificate ARN option wins over certificateRefs (it is checked
// first when the listener is validated). A Secret's certificate serves the custom domain, so a
// route without one does not import it.
func (t *translator) useCertificate(r *routeState, svc *model.Service, l *listenerState) {
	var id string
	switch {
	case l.certificateARN != "":
		id = l.certificateARN
	case l.certificate != nil:
		id = "of Secret " + l.certificate.Name
		if svc.CustomDomainName == "" {
			r.notes = append(r.notes, fmt.Sprintf("listener %s certificate %s is not used: the route has no hostname to be the Lattice custom domain it would serve", l.spec.Name, id))
			return
		}
	default:
		return
	}
	switch {
	case svc.CertificateARN == "" && svc.Certificate == "":
		svc.CertificateARN = l.certificateARN
		if l.certificate != nil && l.certificateARN == "" {
			svc.Certificate = l.certificate.Name
			t.certificates[l.certificate.Name] = l.certificate
		}
	case svc.CertificateARN != l.certificateARN || (l.certificate != nil && svc.Certificate != l.certificate.Name):
		r.notes = append(r.notes, fmt.Sprintf("listener %s certificate %s is not used: a Lattice service has one certificate (%s)", l.spec.Name, id, nonEmpty(svc.CertificateARN, "of Secret "+svc.Certificate)))
	}
}

// standalone applies upstream's standalone annotation: the route's own value wins; else "true"
// on any attached parent Gateway.
func standalone(r *routeState) bool {
	if v, ok := r.meta.Annotations[AnnotationStandalone]; ok {
		return strings.EqualFold(strings.TrimSpace(v), "true")
	}
	for _, p := range r.parents {
		if p.attached() && strings.EqualFold(strings.TrimSpace(p.gw.gw.Annotations[AnnotationStandalone]), "true") {
			return true
		}
	}
	return false
}

func markUsed(used map[string]bool, a model.Action) {
	for _, f := range a.Forward {
		if f.Import != nil {
			used[f.Import.Fallback] = true
			continue
		}
		used[f.TargetGroup] = true
	}
}

func (t *translator) latticeListener(r *routeState, l *listenerState) (model.Listener, bool) {
	ll := model.Listener{
		Name:     listenerName(l.spec.Port, l.protocol),
		Protocol: l.protocol,
		Port:     l.spec.Port,
		Tags:     map[string]string{model.TagManagedBy: t.managedBy},
	}
	if l.protocol == model.ProtocolTLSPassthrough {
		// TLS passthrough allows only the default rule, and it must forward to TCP groups.
		ll.DefaultAction = r.rules[0].action
		if len(ll.DefaultAction.Forward) == 0 {
			r.notes = append(r.notes, fmt.Sprintf("listener %s is not programmed: every backend is invalid and a TLS passthrough listener can only forward, so connections are refused", l.spec.Name))
			return ll, false
		}
		return ll, true
	}
	ll.DefaultAction = model.Action{FixedResponse: statusNotFound}
	ll.Rules = make([]model.Rule, len(r.latticeRules))
	for i, rule := range r.latticeRules {
		rule.Tags = map[string]string{model.TagManagedBy: t.managedBy}
		ll.Rules[i] = rule
	}
	return ll, true
}

// writeRouteStatus records the route's parent statuses and counts it on the listeners it is
// attached to.
func (t *translator) writeRouteStatus(r *routeState) {
	gen := r.meta.Generation
	accepted := r.accepted()
	resolved := cond(string(gwv1.RouteConditionResolvedRefs), true, string(gwv1.RouteReasonResolvedRefs), "ResolvedRefs", gen)
	if len(r.backendErrs) > 0 {
		msgs := make([]string, len(r.backendErrs))
		for i, e := range r.backendErrs {
			msgs[i] = e.msg
		}
		resolved = cond(string(gwv1.RouteConditionResolvedRefs), false, string(r.backendErrs[0].reason), strings.Join(msgs, "; "), gen)
	}
	dropped := r.droppedRules()
	counted := map[*listenerState]bool{}
	statuses := make([]gwv1.RouteParentStatus, 0, len(r.parents))
	for _, p := range r.parents {
		var conds []metav1.Condition
		switch {
		case !p.attached():
			conds = append(conds, cond(string(gwv1.RouteConditionAccepted), false, string(p.reason), p.message, gen))
		case r.routeErr != "":
			conds = append(conds, cond(string(gwv1.RouteConditionAccepted), false, string(gwv1.RouteReasonUnsupportedValue), r.routeErr, gen))
		default:
			msg := "Accepted"
			if len(r.notes) > 0 {
				msg += "; " + strings.Join(r.notes, "; ")
			}
			conds = append(conds, cond(string(gwv1.RouteConditionAccepted), true, string(gwv1.RouteReasonAccepted), msg, gen))
			for _, l := range p.listeners {
				if !counted[l] {
					counted[l] = true
					l.attached++
				}
			}
		}
		conds = append(conds, resolved)
		if accepted && p.attached() {
			if len(dropped) > 0 {
				conds = append(conds, cond(string(gwv1.RouteConditionPartiallyInvalid), true, string(gwv1.RouteReasonUnsupportedValue), "Dropped Rule: "+strings.Join(dropped, "; "), gen))
			}
			conds = append(conds, pending(gen))
		}
		statuses = append(statuses, gwv1.RouteParentStatus{
			ParentRef:      p.ref,
			ControllerName: gwv1.GatewayController(t.cfg.ControllerName),
			Conditions:     conds,
		})
	}
	t.routeStatusMap(r.key.Kind)[types.NamespacedName{Namespace: r.key.Namespace, Name: r.key.Name}] = statuses
}

// hostnamesTag is the contract.TagHostnames value: the hostnames of every attached parent, sorted,
// or "" when there are none or they exceed a tag value's 256 characters.
func hostnamesTag(r *routeState) string {
	seen := map[string]bool{}
	for _, p := range r.parents {
		if p.attached() {
			for _, h := range p.hostnames {
				seen[strings.Replace(h, "*.", ".", 1)] = true
			}
		}
	}
	v := strings.Join(sortedKeys(seen), " ")
	if len(v) > 256 {
		return ""
	}
	return v
}
