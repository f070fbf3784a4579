package deploy

import (
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Deleting what no model wants reports to the route or Gateway the resource was created for,
// known from its tags, so that a deletion that keeps failing holds only the finalizer of that
// object (and says so in Result.Withdrawals) instead of every finalizer of the Apply. Resources
// without those tags report to nobody (an error of Apply).

var routeKindOfType = map[string]model.RouteKind{"http": model.KindHTTPRoute, "grpc": model.KindGRPCRoute, "tls": model.KindTLSRoute}

// withdrawnService is the route a service was created for.
func withdrawnService(tags map[string]string) statusKey {
	kind, ok := routeKindOfType[tags[model.TagRouteType]]
	if !ok || tags[model.TagRouteName] == "" {
		return statusKey{}
	}
	return routeStatus(model.RouteKey{Kind: kind, Namespace: tags[model.TagRouteNamespace], Name: tags[model.TagRouteName]})
}

// withdrawnTargetGroup is the route a target group was created for.
func withdrawnTargetGroup(tags map[string]string) statusKey {
	kind := model.RouteKind(tags[model.TagSourceTypeKey])
	if _, ok := routeTypeTagOf[kind]; !ok || tags[model.TagRouteName] == "" {
		return statusKey{}
	}
	return routeStatus(model.RouteKey{Kind: kind, Namespace: tags[model.TagRouteNamespace], Name: tags[model.TagRouteName]})
}

var routeTypeTagOf = map[model.RouteKind]bool{model.KindHTTPRoute: true, model.KindGRPCRoute: true, model.KindTLSRoute: true}

// withdrawnGateway is the Gateway a service network was created for.
func withdrawnGateway(tags map[string]string) statusKey {
	if tags[model.TagGatewayName] == "" {
		return statusKey{}
	}
	return gatewayStatus(model.GatewayKey{Namespace: tags[model.TagGatewayNamespace], Name: tags[model.TagGatewayName]})
}

// Withdrawals are the failures to delete the Lattice resources of routes and Gateways that are
// no longer in the model: their finalizers stay until the deletion succeeds.
type Withdrawals struct {
	Routes   map[model.RouteKey]string
	Gateways map[model.GatewayKey]string
	// ServiceNetworks are by service network name, whatever the network was created for.
	ServiceNetworks map[string]string
}

func withdrawals(m *model.Model, failures map[statusKey]string) Withdrawals {
	w := Withdrawals{Routes: map[model.RouteKey]string{}, Gateways: map[model.GatewayKey]string{}, ServiceNetworks: map[string]string{}}
	for k, msg := range failures {
		switch k.kind {
		case "route":
			w.Routes[k.route] = msg
		case "gateway":
			w.Gateways[k.gateway] = msg
		}
		if k.network != "" {
			w.ServiceNetworks[k.network] = msg
		}
	}
	for _, svc := range m.Services {
		delete(w.Routes, svc.Route)
	}
	for _, sn := range m.ServiceNetworks {
		delete(w.Gateways, sn.Gateway)
		delete(w.ServiceNetworks, sn.Name)
	}
	return w
}
