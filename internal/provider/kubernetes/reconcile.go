package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// reconcileWorld translates the whole cache, applies the model and writes back statuses,
// annotations and finalizers. Errors requeue the world key with backoff.
func (c *Controller) reconcileWorld(ctx context.Context) error {
	s, err := c.snapshot(ctx)
	if err != nil {
		return err
	}
	own := s.ownership(c.cfg.ControllerName)
	c.forgetRoutes(s)
	if err := errors.Join(c.addFinalizers(ctx, s, own), c.classFinalizers(ctx, s, own)); err != nil {
		return err
	}
	out := translate.Translate(s.input(), c.cfg)
	res, applyErr := c.deployer.Apply(ctx, &out.Model)
	outcomes := outcomesOf(&out.Model, res, applyErr)
	out.SetProgrammed(programmed(outcomes))

	var errs []error
	if applyErr != nil {
		errs = append(errs, fmt.Errorf("apply model: %w", applyErr))
	}
	// Annotations first: a route reported Programmed already carries its DNS name.
	errs = append(errs, c.writeAnnotations(ctx, s, own, &out.Model, outcomes.routes), c.writeStatuses(ctx, s, out))
	if res != nil {
		c.last = &out.Model
	}
	if res != nil && applyErr == nil {
		errs = append(errs, c.releaseFinalizers(ctx, s, own))
	}
	if n := outcomes.failed(); n > 0 {
		errs = append(errs, fmt.Errorf("%d routes or gateways not programmed in VPC Lattice, retrying", n))
	}
	err = errors.Join(errs...)
	c.log.V(1).Info("reconciled world", "services", len(out.Model.Services), "serviceNetworks", len(out.Model.ServiceNetworks), "error", err)
	return err
}

// reconcileTargets is the EndpointSlice path. When the new model differs from the last applied
// one only in targets, it syncs the targets of the Service's target groups and nothing else;
// otherwise (or before the first Apply, or when the sync fails) it asks for a world pass.
func (c *Controller) reconcileTargets(ctx context.Context, svc types.NamespacedName) error {
	if c.last == nil {
		c.kickWorld()
		return nil
	}
	s, err := c.snapshot(ctx)
	if err != nil {
		return err
	}
	out := translate.Translate(s.input(), c.cfg)
	if !equalIgnoringTargets(c.last, &out.Model) {
		c.kickWorld()
		return nil
	}
	names := targetGroupsOf(&out.Model, svc)
	if len(names) > 0 {
		res, err := c.deployer.SyncTargets(ctx, &out.Model, names)
		if err != nil || outcomesOf(&out.Model, res, nil).failed() > 0 {
			// The world pass reports the failure in route status and retries it.
			c.log.Info("target sync failed, falling back to a full pass", "service", svc, "error", err)
			c.kickWorld()
			return nil
		}
	}
	c.last = &out.Model
	c.log.V(1).Info("synced targets", "service", svc, "targetGroups", names)
	return nil
}

// targetGroupsOf names the target groups built from a Kubernetes Service.
func targetGroupsOf(m *model.Model, svc types.NamespacedName) []string {
	var names []string
	for _, s := range m.Services {
		for _, tg := range s.TargetGroups {
			if tg.Backend.Namespace == svc.Namespace && tg.Backend.Name == svc.Name {
				names = append(names, tg.Name)
			}
		}
	}
	return names
}

func equalIgnoringTargets(a, b *model.Model) bool {
	if !reflect.DeepEqual(a.ServiceNetworks, b.ServiceNetworks) || len(a.Services) != len(b.Services) {
		return false
	}
	for i := range a.Services {
		sa, sb := withoutTargets(a.Services[i]), withoutTargets(b.Services[i])
		if !reflect.DeepEqual(sa, sb) {
			return false
		}
	}
	return true
}

func withoutTargets(s model.Service) model.Service {
	tgs := make([]model.TargetGroup, len(s.TargetGroups))
	for i, tg := range s.TargetGroups {
		tg.Targets = nil
		tgs[i] = tg
	}
	s.TargetGroups = tgs
	return s
}

// routeOutcome is what the controller learned about one route's Lattice service.
type routeOutcome struct {
	result              translate.DeployResult
	dnsName, serviceARN string
}

type outcomes struct {
	routes   map[model.RouteKey]routeOutcome
	gateways map[model.GatewayKey]translate.DeployResult
}

// outcomesOf turns a deploy result into status inputs. Without a result (Lattice unreachable,
// discovery failed) everything in the model is Pending with the error as message.
func outcomesOf(m *model.Model, res *deploy.Result, applyErr error) outcomes {
	o := outcomes{routes: map[model.RouteKey]routeOutcome{}, gateways: map[model.GatewayKey]translate.DeployResult{}}
	pending := translate.DeployResult{Reason: "Pending", Message: fmt.Sprintf("VPC Lattice: %v; retrying", applyErr)}
	for _, sn := range m.ServiceNetworks {
		if res == nil {
			o.gateways[sn.Gateway] = pending
			continue
		}
		if g, ok := res.Gateways[sn.Gateway]; ok {
			o.gateways[sn.Gateway] = translate.DeployResult{Programmed: g.Programmed, Message: g.Message}
		}
	}
	for _, svc := range m.Services {
		if res == nil {
			o.routes[svc.Route] = routeOutcome{result: pending}
			continue
		}
		if r, ok := res.Routes[svc.Route]; ok {
			o.routes[svc.Route] = routeOutcome{
				result:  translate.DeployResult{Programmed: r.Programmed, Message: r.Message},
				dnsName: r.DNSName, serviceARN: r.ServiceARN,
			}
		}
	}
	return o
}

func programmed(o outcomes) (map[model.RouteKey]translate.DeployResult, map[model.GatewayKey]translate.DeployResult) {
	routes := make(map[model.RouteKey]translate.DeployResult, len(o.routes))
	for k, r := range o.routes {
		routes[k] = r.result
	}
	return routes, o.gateways
}

func (o outcomes) failed() int {
	n := 0
	for _, r := range o.routes {
		if !r.result.Programmed {
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

func (c *Controller) kickWorld() {
	select {
	case c.kick <- event.GenericEvent{}:
	default: // a world pass is already pending
	}
}
