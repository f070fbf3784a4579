package pipeline

import (
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// outcomes are the Programmed verdicts of one Apply, per route and gateway of the model.
type outcomes struct {
	routes   map[model.RouteKey]status.Outcome
	gateways map[model.GatewayKey]status.Outcome
}

// outcomesOf turns a deploy result into status outcomes. Without a result (Lattice unreachable,
// discovery failed) everything in the model is Pending with the error as message: it is retried.
// A programmed Gateway's message names its service network as upstream's does.
func outcomesOf(m *model.Model, res *deploy.Result, applyErr error) outcomes {
	o := outcomes{routes: map[model.RouteKey]status.Outcome{}, gateways: map[model.GatewayKey]status.Outcome{}}
	pending := status.Outcome{Reason: status.ReasonPending, Message: fmt.Sprintf("VPC Lattice: %v; retrying", applyErr)}
	for _, sn := range m.ServiceNetworks {
		if res == nil {
			o.gateways[sn.Gateway] = pending
			continue
		}
		if g, ok := res.Gateways[sn.Gateway]; ok {
			msg := g.Message
			if g.Programmed && g.ServiceNetworkARN != "" {
				msg = "aws-service-network-arn: " + g.ServiceNetworkARN
			}
			o.gateways[sn.Gateway] = status.Outcome{Programmed: g.Programmed, Message: msg}
		}
	}
	for _, svc := range m.Services {
		if res == nil {
			o.routes[svc.Route] = pending
			continue
		}
		if r, ok := res.Routes[svc.Route]; ok {
			o.routes[svc.Route] = status.Outcome{Programmed: r.Programmed, Message: r.Message}
		}
	}
	return o
}

func (o outcomes) failed() int {
	n := 0
	for _, r := range o.routes {
		if !r.Programmed {
			n++
		}
	}
	for _, g := range o.gateways {
		if !g.Programmed {
			n++
		}
	}
	return n
}

// record fills the Pending Programmed conditions of out: of each parent of the routes, and of
// the gateways and their listeners, and of ListenerSets and theirs from their Gateway's outcome
// (their listeners are programmed into the services of the Gateway's service network). Objects
// without an outcome stay Pending.
func (o outcomes) record(out *translate.Output) {
	for kind, routes := range routeStatuses(out) {
		for nn, parents := range routes {
			res, ok := o.routes[model.RouteKey{Kind: kind, Namespace: nn.Namespace, Name: nn.Name}]
			if !ok {
				continue
			}
			for i := range parents {
				status.SetProgrammed(parents[i].Conditions, res)
			}
		}
	}
	for nn, st := range out.Gateways {
		res, ok := o.gateways[model.GatewayKey{Namespace: nn.Namespace, Name: nn.Name}]
		if !ok {
			continue
		}
		status.SetProgrammed(st.Conditions, res)
		for i := range st.Listeners {
			status.SetProgrammed(st.Listeners[i].Conditions, res)
		}
	}
	for _, ls := range out.ListenerSets {
		res, ok := o.gateways[ls.Gateway]
		if !ok {
			continue
		}
		status.SetProgrammed(ls.Status.Conditions, res)
		for i := range ls.Status.Listeners {
			status.SetProgrammed(ls.Status.Listeners[i].Conditions, res)
		}
	}
}

// routeStatuses are translate's route parent statuses by route kind.
func routeStatuses(out *translate.Output) map[model.RouteKind]map[types.NamespacedName][]gwv1.RouteParentStatus {
	return map[model.RouteKind]map[types.NamespacedName][]gwv1.RouteParentStatus{
		model.KindHTTPRoute: out.HTTPRoutes, model.KindGRPCRoute: out.GRPCRoutes, model.KindTLSRoute: out.TLSRoutes,
	}
}
