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
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// A ListenerSet adds listeners to a Gateway that allows it (spec.allowedListeners). Its listeners
// are Gateway listeners in every way that matters to Lattice: a route attached to one becomes a
// Lattice listener of the route's service in the Gateway's service network, exactly as with the
// Gateway's own listeners. They differ in scope: a route reaches them only through a parentRef
// of kind ListenerSet (a Gateway parentRef selects the Gateway's own listeners only), allowedRoutes
// "Same" means the ListenerSet's namespace, and certificateRefs are granted to the ListenerSet
// (ReferenceGrant from kind ListenerSet), not inherited from the Gateway.

const kindListenerSet = "ListenerSet"

// ListenerSetStatus is the status of a ListenerSet whose parent Gateway is ours, with that
// Gateway: its outcome in Lattice decides the ListenerSet's Programmed conditions.
type ListenerSetStatus struct {
	Gateway model.GatewayKey       `json:"gateway"`
	Status  gwv1.ListenerSetStatus `json:"status"`
}

// listenerSetState is one ListenerSet whose parent Gateway is ours.
type listenerSetState struct {
	ls        *gwv1.ListenerSet
	key       types.NamespacedName
	gw        *gatewayState
	accepted  bool
	listeners []*listenerState
	conds     []metav1.Condition
}

// listenerOwner is what a route parentRef names: a Gateway or a ListenerSet, and the listeners
// that parentRef can select.
type listenerOwner struct {
	kind      string
	key       types.NamespacedName
	gw        *gatewayState
	accepted  bool
	listeners []*listenerState
}

func (g *gatewayState) owner() listenerOwner {
	return listenerOwner{kind: "Gateway", key: types.NamespacedName{Namespace: g.key.Namespace, Name: g.key.Name}, gw: g, accepted: g.accepted, listeners: g.listeners}
}

func (s *listenerSetState) owner() listenerOwner {
	return listenerOwner{kind: kindListenerSet, key: s.key, gw: s.gw, accepted: s.accepted, listeners: s.listeners}
}

// placedListener is a listener already merged into a Gateway, which later ListenerSet listeners
// must not conflict with.
type placedListener struct {
	spec  *gwv1.Listener
	owner string
}

// listenerSets validates every ListenerSet whose parent Gateway is ours, in the spec's
// precedence order (oldest first, then namespace/name): the Gateway's own listeners come first
// and are never displaced; a ListenerSet listener that conflicts with one placed before it is
// Conflicted and rejected, and the earlier one keeps serving.
func (t *translator) listenerSets() {
	all := sorted(t.in.ListenerSets, func(o *gwv1.ListenerSet) *metav1.ObjectMeta { return &o.ObjectMeta })
	sort.SliceStable(all, func(i, j int) bool { return older(&all[i].ObjectMeta, &all[j].ObjectMeta, "", "") })
	placed := map[*gatewayState][]placedListener{}
	targeted := map[*gatewayState]bool{}
	attached := map[*gatewayState]int32{}
	for _, ls := range all {
		g := t.listenerSetParent(ls)
		if g == nil {
			continue
		}
		s := &listenerSetState{ls: ls, key: types.NamespacedName{Namespace: ls.Namespace, Name: ls.Name}, gw: g}
		t.listenerSetsByKey[s.key] = s
		if !targeted[g] {
			targeted[g] = true
			for _, l := range g.listeners {
				placed[g] = append(placed[g], placedListener{spec: l.spec, owner: "Gateway " + g.key.String()})
			}
		}
		switch {
		case !t.listenerSetAllowed(g, ls.Namespace):
			s.reject(string(gwv1.ListenerSetReasonNotAllowed), fmt.Sprintf("Gateway %s does not allow ListenerSets from namespace %s (spec.allowedListeners)", g.key, ls.Namespace))
			continue
		case !g.accepted:
			s.reject(string(gwv1.ListenerSetReasonParentNotAccepted), "Gateway "+g.key.String()+" is not accepted")
			continue
		}
		placed[g] = s.validate(t, placed[g])
		if s.accepted {
			attached[g]++
		}
	}
	for _, g := range t.gatewaysByKey {
		// Only Gateways that take part in ListenerSets report the count, so others keep their status.
		if n := attached[g]; targeted[g] || g.gw.Spec.AllowedListeners != nil {
			g.status.AttachedListenerSets = &n
		}
	}
}

// listenerSetParent returns the Gateway of ours a ListenerSet names, if any.
func (t *translator) listenerSetParent(ls *gwv1.ListenerSet) *gatewayState {
	ref := ls.Spec.ParentRef
	if (ref.Group != nil && *ref.Group != gatewayGroup) || (ref.Kind != nil && *ref.Kind != "Gateway") {
		return nil
	}
	ns := ls.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	return t.gatewaysByKey[model.GatewayKey{Namespace: ns, Name: string(ref.Name)}]
}

// listenerSetAllowed applies the Gateway's allowedListeners, whose default is None.
func (t *translator) listenerSetAllowed(g *gatewayState, namespace string) bool {
	al := g.gw.Spec.AllowedListeners
	if al == nil || al.Namespaces == nil || al.Namespaces.From == nil {
		return false
	}
	switch *al.Namespaces.From {
	case gwv1.NamespacesFromAll:
		return true
	case gwv1.NamespacesFromSame:
		return namespace == g.gw.Namespace
	case gwv1.NamespacesFromSelector:
		if al.Namespaces.Selector == nil {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(al.Namespaces.Selector)
		return err == nil && sel.Matches(labels.Set(t.namespaceLabels(namespace)))
	}
	return false
}

// reject refuses the whole ListenerSet: its listeners are not merged into the Gateway.
func (s *listenerSetState) reject(reason, msg string) {
	gen := s.ls.Generation
	s.conds = []metav1.Condition{
		cond(string(gwv1.ListenerSetConditionAccepted), false, reason, msg, gen),
		cond(status.ConditionProgrammed, false, reason, msg, gen),
	}
}

// validate checks each listener as a Gateway listener is checked, plus conflicts with the
// listeners placed before it, and returns placed with the listeners that serve added. The
// ListenerSet is accepted when at least one listener can serve routes.
func (s *listenerSetState) validate(t *translator, placed []placedListener) []placedListener {
	gen := s.ls.Generation
	certificates := func(refs []gwv1.SecretObjectReference) certResolution {
		return t.resolveCertificates(kindListenerSet, s.ls.Namespace, refs)
	}
	var valid, invalid []string
	for i := range s.ls.Spec.Listeners {
		e := &s.ls.Spec.Listeners[i]
		spec := &gwv1.Listener{Name: e.Name, Hostname: e.Hostname, Port: e.Port, Protocol: e.Protocol, TLS: e.TLS, AllowedRoutes: e.AllowedRoutes}
		l := &listenerState{spec: spec}
		c := mergedConflict(spec, placed)
		// An unconflicted TCP listener is reported as unsupported, as on a Gateway.
		l.validate(c, certificates, t.cfg.IgnoreMissingCertificateRefs)
		if c.reason != "" {
			// The spec's conformance tests expect the conflict reason on Programmed too.
			for j := range l.conds {
				if l.conds[j].Type == status.ConditionProgrammed {
					l.conds[j].Reason, l.conds[j].Message = c.reason, c.msg
				}
			}
		}
		s.listeners = append(s.listeners, l)
		if l.usable {
			valid = append(valid, string(e.Name))
			placed = append(placed, placedListener{spec: spec, owner: "ListenerSet " + s.key.String()})
		} else {
			invalid = append(invalid, string(e.Name))
		}
	}
	accepted := cond(string(gwv1.ListenerSetConditionAccepted), true, string(gwv1.ListenerSetReasonAccepted), "Accepted", gen)
	programmed := pending(gen)
	switch {
	case len(valid) == 0:
		msg := "no valid listener: " + strings.Join(invalid, ", ")
		accepted = cond(string(gwv1.ListenerSetConditionAccepted), false, string(gwv1.ListenerSetReasonListenersNotValid), msg, gen)
		programmed = cond(status.ConditionProgrammed, false, string(gwv1.ListenerSetReasonListenersNotValid), msg, gen)
		for _, l := range s.listeners {
			for j := range l.conds {
				if l.conds[j].Type == status.ConditionProgrammed && l.conds[j].Reason == status.ReasonPending {
					l.conds[j] = cond(status.ConditionProgrammed, false, string(gwv1.ListenerReasonInvalid), "ListenerSet is not accepted", 0)
				}
			}
		}
	case len(invalid) > 0:
		s.accepted = true
		accepted.Reason = string(gwv1.ListenerSetReasonListenersNotValid)
		accepted.Message = fmt.Sprintf("accepted with listeners %s; invalid listeners: %s", strings.Join(valid, ", "), strings.Join(invalid, ", "))
	default:
		s.accepted = true
	}
	s.conds = []metav1.Condition{accepted, programmed}
	return placed
}

// mergedConflict finds the first listener placed before l that l conflicts with. Listeners on
// one port must speak compatible protocols: HTTP, HTTPS and TLS are, because every route is its
// own Lattice service with its own DNS name; any other protocol sharing the port is a
// ProtocolConflict. Same port, protocol and hostname is a HostnameConflict.
func mergedConflict(l *gwv1.Listener, placed []placedListener) conflict {
	latticeProtocol := func(p gwv1.ProtocolType) bool {
		return p == gwv1.HTTPProtocolType || p == gwv1.HTTPSProtocolType || p == gwv1.TLSProtocolType
	}
	for _, p := range placed {
		switch {
		case p.spec.Port != l.Port:
		case p.spec.Protocol != l.Protocol && !(latticeProtocol(p.spec.Protocol) && latticeProtocol(l.Protocol)):
			return conflict{string(gwv1.ListenerReasonProtocolConflict), fmt.Sprintf("port %d is used with protocol %s by listener %s of %s", l.Port, p.spec.Protocol, p.spec.Name, p.owner)}
		case p.spec.Protocol == l.Protocol && hostnameOf(p.spec.Hostname) == hostnameOf(l.Hostname):
			return conflict{string(gwv1.ListenerReasonHostnameConflict), fmt.Sprintf("listener %s of %s has the same port, protocol and hostname", p.spec.Name, p.owner)}
		}
	}
	return conflict{}
}

// finishListenerSets writes the ListenerSet statuses, with attachedRoutes counted while routes
// were processed.
func (t *translator) finishListenerSets() {
	for key, s := range t.listenerSetsByKey {
		st := gwv1.ListenerSetStatus{Conditions: s.conds}
		for _, l := range s.listeners {
			conds := make([]metav1.Condition, len(l.conds))
			copy(conds, l.conds)
			for i := range conds {
				conds[i].ObservedGeneration = s.ls.Generation
			}
			st.Listeners = append(st.Listeners, gwv1.ListenerEntryStatus{
				Name: l.spec.Name, SupportedKinds: l.kinds, AttachedRoutes: l.attached, Conditions: conds,
			})
		}
		t.out.ListenerSets[key] = ListenerSetStatus{Gateway: s.gw.key, Status: st}
	}
}
