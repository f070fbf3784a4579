package kubernetes

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// snapshot is everything the controller reads, listed from the informer cache.
type snapshot struct {
	classes    gwv1.GatewayClassList
	gateways   gwv1.GatewayList
	http       gwv1.HTTPRouteList
	grpc       gwv1.GRPCRouteList
	tls        gwv1.TLSRouteList
	grants     gwv1beta1.ReferenceGrantList
	namespaces corev1.NamespaceList
	services   corev1.ServiceList
	slices     discoveryv1.EndpointSliceList
}

func (c *Controller) snapshot(ctx context.Context) (*snapshot, error) {
	s := &snapshot{}
	for _, l := range []client.ObjectList{&s.classes, &s.gateways, &s.http, &s.grpc, &s.tls, &s.grants, &s.namespaces, &s.services, &s.slices} {
		if err := c.client.List(ctx, l); err != nil {
			return nil, fmt.Errorf("list %T from cache: %w", l, err)
		}
	}
	return s, nil
}

// input is the translate input: objects being deleted that carry our finalizers are left out, so
// the model no longer wants their Lattice resources and Apply removes them. GatewayClasses being
// deleted stay: the spec keeps serving their Gateways until those are gone.
func (s *snapshot) input() *translate.Input {
	return &translate.Input{
		GatewayClasses:  s.classes.Items,
		Gateways:        live(s.gateways.Items),
		HTTPRoutes:      live(s.http.Items),
		GRPCRoutes:      live(s.grpc.Items),
		TLSRoutes:       live(s.tls.Items),
		ReferenceGrants: s.grants.Items,
		Namespaces:      s.namespaces.Items,
		Services:        s.services.Items,
		EndpointSlices:  s.slices.Items,
	}
}

// live drops objects being deleted. T is a struct type whose pointer is a client.Object.
func live[T any, P interface {
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

// route gives the three route kinds one shape.
type route struct {
	key     model.RouteKey
	obj     client.Object
	parents []gwv1.ParentReference
}

func (s *snapshot) routes() []route {
	var out []route
	for i := range s.http.Items {
		r := &s.http.Items[i]
		out = append(out, route{model.RouteKey{Kind: model.KindHTTPRoute, Namespace: r.Namespace, Name: r.Name}, r, r.Spec.ParentRefs})
	}
	for i := range s.grpc.Items {
		r := &s.grpc.Items[i]
		out = append(out, route{model.RouteKey{Kind: model.KindGRPCRoute, Namespace: r.Namespace, Name: r.Name}, r, r.Spec.ParentRefs})
	}
	for i := range s.tls.Items {
		r := &s.tls.Items[i]
		out = append(out, route{model.RouteKey{Kind: model.KindTLSRoute, Namespace: r.Namespace, Name: r.Name}, r, r.Spec.ParentRefs})
	}
	return out
}

// routeStatus points into a route object's status, whatever its kind.
func routeStatus(obj client.Object) *gwv1.RouteStatus {
	switch r := obj.(type) {
	case *gwv1.HTTPRoute:
		return &r.Status.RouteStatus
	case *gwv1.GRPCRoute:
		return &r.Status.RouteStatus
	case *gwv1.TLSRoute:
		return &r.Status.RouteStatus
	}
	return nil
}

// ownership says which objects belong to this controller, whatever their deletion state: a
// Gateway belongs to us while its GatewayClass names our controller, a route while one of its
// parentRefs names such a Gateway.
type ownership struct {
	classes  map[string]*gwv1.GatewayClass
	gateways map[types.NamespacedName]bool
}

func (s *snapshot) ownership(controllerName string) ownership {
	o := ownership{classes: map[string]*gwv1.GatewayClass{}, gateways: map[types.NamespacedName]bool{}}
	for i := range s.classes.Items {
		if cl := &s.classes.Items[i]; string(cl.Spec.ControllerName) == controllerName {
			o.classes[cl.Name] = cl
		}
	}
	for i := range s.gateways.Items {
		gw := &s.gateways.Items[i]
		if o.classes[string(gw.Spec.GatewayClassName)] != nil {
			o.gateways[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] = true
		}
	}
	return o
}

func (o ownership) ownsRoute(r route) bool {
	for _, p := range r.parents {
		if p.Group != nil && *p.Group != gwv1.GroupName {
			continue
		}
		if p.Kind != nil && *p.Kind != "Gateway" {
			continue
		}
		ns := r.key.Namespace
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		if o.gateways[types.NamespacedName{Namespace: ns, Name: string(p.Name)}] {
			return true
		}
	}
	return false
}
