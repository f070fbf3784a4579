package pipeline

import (
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Kind names the kind of a Gateway API object with a status ("" for other objects). Objects
// from an informer cache carry no TypeMeta, so the Go type decides.
func Kind(obj client.Object) string {
	switch obj.(type) {
	case *gwv1.GatewayClass:
		return "GatewayClass"
	case *gwv1.Gateway:
		return "Gateway"
	case *gwv1.ListenerSet:
		return "ListenerSet"
	case *v1alpha1.ServiceExport:
		return v1alpha1.ServiceExportKind
	case *v1alpha1.ServiceNetwork:
		return v1alpha1.ServiceNetworkKind
	}
	if key, ok := RouteKey(obj); ok {
		return string(key.Kind)
	}
	if key, ok := PolicyKey(obj); ok {
		return string(key.Kind)
	}
	return ""
}

// RouteKey is the model key of a route object; false for other objects.
func RouteKey(obj client.Object) (model.RouteKey, bool) {
	var kind model.RouteKind
	switch obj.(type) {
	case *gwv1.HTTPRoute:
		kind = model.KindHTTPRoute
	case *gwv1.GRPCRoute:
		kind = model.KindGRPCRoute
	case *gwv1.TLSRoute:
		kind = model.KindTLSRoute
	default:
		return model.RouteKey{}, false
	}
	return model.RouteKey{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}, true
}

// routeSpec gives the three route kinds one shape.
func routeSpec(obj client.Object) (*gwv1.CommonRouteSpec, *gwv1.RouteStatus) {
	switch r := obj.(type) {
	case *gwv1.HTTPRoute:
		return &r.Spec.CommonRouteSpec, &r.Status.RouteStatus
	case *gwv1.GRPCRoute:
		return &r.Spec.CommonRouteSpec, &r.Status.RouteStatus
	case *gwv1.TLSRoute:
		return &r.Spec.CommonRouteSpec, &r.Status.RouteStatus
	}
	return nil, nil
}

// RouteStatus points into a route object's status, whatever its kind; nil for other objects.
func RouteStatus(obj client.Object) *gwv1.RouteStatus {
	_, st := routeSpec(obj)
	return st
}

// Objects are the snapshot's objects that have a status: GatewayClasses, Gateways, ListenerSets,
// routes, policies, then ServiceExports and ServiceNetworks, as pointers into the snapshot,
// whatever their deletion state.
func (p *Pass) Objects() []client.Object {
	in := p.snapshot
	var out []client.Object
	for i := range in.GatewayClasses {
		out = append(out, &in.GatewayClasses[i])
	}
	for i := range in.Gateways {
		out = append(out, &in.Gateways[i])
	}
	for i := range in.ListenerSets {
		out = append(out, &in.ListenerSets[i])
	}
	out = append(append(out, routes(in)...), policies(in)...)
	return append(append(out, p.exportObjects()...), p.serviceNetworkObjects()...)
}

func routes(in *translate.Input) []client.Object {
	var out []client.Object
	for i := range in.HTTPRoutes {
		out = append(out, &in.HTTPRoutes[i])
	}
	for i := range in.GRPCRoutes {
		out = append(out, &in.GRPCRoutes[i])
	}
	for i := range in.TLSRoutes {
		out = append(out, &in.TLSRoutes[i])
	}
	return out
}

// live is in without the Gateways, ListenerSets, routes and policies being deleted.
func live(in *translate.Input) *translate.Input {
	out := *in
	out.Gateways = liveOnly(in.Gateways)
	out.ListenerSets = liveOnly(in.ListenerSets)
	out.HTTPRoutes = liveOnly(in.HTTPRoutes)
	out.GRPCRoutes = liveOnly(in.GRPCRoutes)
	out.TLSRoutes = liveOnly(in.TLSRoutes)
	out.ServiceExports = liveOnly(in.ServiceExports)
	out.TargetGroupPolicies = liveOnly(in.TargetGroupPolicies)
	out.VpcAssociationPolicies = liveOnly(in.VpcAssociationPolicies)
	out.AccessLogPolicies = liveOnly(in.AccessLogPolicies)
	out.IAMAuthPolicies = liveOnly(in.IAMAuthPolicies)
	return &out
}

// liveOnly drops objects being deleted. T is a struct type whose pointer is a client.Object.
func liveOnly[T any, P interface {
	*T
	client.Object
}](items []T) []T {
	out := make([]T, 0, len(items))
	for i := range items {
		if P(&items[i]).GetDeletionTimestamp() == nil {
			out = append(out, items[i])
		}
	}
	return out
}
