package pipeline

import (
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// ownership says which objects belong to this controller, whatever their deletion state: a
// Gateway belongs to us while its GatewayClass names our controller, a route while one of its
// parentRefs names such a Gateway or a ListenerSet whose parent is such a Gateway.
type ownership struct {
	classes      []*gwv1.GatewayClass
	gateways     map[types.NamespacedName]bool
	listenerSets map[types.NamespacedName]bool
}

func newOwnership(in *translate.Input, controllerName string) ownership {
	o := ownership{gateways: map[types.NamespacedName]bool{}, listenerSets: map[types.NamespacedName]bool{}}
	ours := map[string]bool{}
	for i := range in.GatewayClasses {
		if cl := &in.GatewayClasses[i]; string(cl.Spec.ControllerName) == controllerName {
			o.classes = append(o.classes, cl)
			ours[cl.Name] = true
		}
	}
	for i := range in.Gateways {
		if gw := &in.Gateways[i]; ours[string(gw.Spec.GatewayClassName)] {
			o.gateways[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] = true
		}
	}
	for i := range in.ListenerSets {
		ls := &in.ListenerSets[i]
		ref := ls.Spec.ParentRef
		if (ref.Group != nil && *ref.Group != gwv1.GroupName) || (ref.Kind != nil && *ref.Kind != "Gateway") {
			continue
		}
		if o.gateways[parentKey(ls.Namespace, ref.Namespace, ref.Name)] {
			o.listenerSets[types.NamespacedName{Namespace: ls.Namespace, Name: ls.Name}] = true
		}
	}
	return o
}

// parentKey is the object a reference from namespace names; its namespace defaults to the
// referrer's.
func parentKey(namespace string, refNamespace *gwv1.Namespace, name gwv1.ObjectName) types.NamespacedName {
	if refNamespace != nil && *refNamespace != "" {
		namespace = string(*refNamespace)
	}
	return types.NamespacedName{Namespace: namespace, Name: string(name)}
}

// owns reports whether a Gateway or route is ours.
func (o ownership) owns(obj client.Object) bool {
	if _, ok := obj.(*gwv1.Gateway); ok {
		return o.gateways[types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}]
	}
	spec, _ := routeSpec(obj)
	if spec == nil {
		return false
	}
	for _, p := range spec.ParentRefs {
		if p.Group != nil && *p.Group != gwv1.GroupName {
			continue
		}
		key := parentKey(obj.GetNamespace(), p.Namespace, p.Name)
		switch {
		case p.Kind == nil || *p.Kind == "Gateway":
			if o.gateways[key] {
				return true
			}
		case *p.Kind == "ListenerSet":
			if o.listenerSets[key] {
				return true
			}
		}
	}
	return false
}

// Finalizer is a decision about the finalizer a provider keeps on an object while Lattice holds
// resources for it (for GatewayClasses: while Gateways use it). Object points into the snapshot.
type Finalizer struct {
	Object client.Object
	Hold   bool
}

// Protect are the finalizer decisions to carry out before Deploy: every live Gateway, route and
// policy of ours holds one before Apply creates Lattice resources for it, so that deleting it
// always passes through us; each of our GatewayClasses holds one exactly while Gateways use it
// (counting Gateways being deleted, which still hold Lattice resources).
func (p *Pass) Protect() []Finalizer {
	var out []Finalizer
	for _, obj := range p.gatewaysAndRoutes() {
		if obj.GetDeletionTimestamp() == nil && p.own.owns(obj) {
			out = append(out, Finalizer{Object: obj, Hold: true})
		}
	}
	used := map[string]bool{}
	for i := range p.snapshot.Gateways {
		used[string(p.snapshot.Gateways[i].Spec.GatewayClassName)] = true
	}
	for _, cl := range p.own.classes {
		// The API server refuses new finalizers on an object being deleted.
		if used[cl.Name] && cl.DeletionTimestamp != nil {
			continue
		}
		out = append(out, Finalizer{Object: cl, Hold: used[cl.Name]})
	}
	out = append(append(out, p.exportFinalizers(true)...), p.serviceNetworkFinalizers(true)...)
	return append(out, p.policyFinalizers(true)...)
}

// Release are the finalizer decisions to carry out after Deploy: every Gateway and route that is
// being deleted or is no longer ours lets go once Lattice holds nothing for it any more, that is,
// unless the deletion of its own resources failed (Result.Withdrawals) or Apply failed in a way
// that concerns no object in particular (Err), after which none; so does every policy being
// deleted or changing nothing in Lattice any more, after an Apply without errors. An object whose GatewayClass (or
// Gateway) vanished first is no longer ours and is released too, so deleting in any order never
// leaves a finalizer behind (upstream #115).
func (p *Pass) Release() []Finalizer {
	if p.Result == nil {
		return nil
	}
	out := append(p.exportFinalizers(false), p.serviceNetworkFinalizers(false)...)
	if p.Err != nil {
		return out
	}
	for _, obj := range p.gatewaysAndRoutes() {
		if _, held := p.held(obj); (obj.GetDeletionTimestamp() != nil || !p.own.owns(obj)) && !held {
			out = append(out, Finalizer{Object: obj})
		}
	}
	return append(out, p.policyFinalizers(false)...)
}

func (p *Pass) gatewaysAndRoutes() []client.Object {
	in := p.snapshot
	out := make([]client.Object, 0, len(in.Gateways))
	for i := range in.Gateways {
		out = append(out, &in.Gateways[i])
	}
	return append(out, routes(in)...)
}
