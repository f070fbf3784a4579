// Package pipeline is the one reconcile pass both providers run: translate a snapshot of the
// world, apply the model to Lattice, merge what Lattice answered into the statuses (through
// package status), and decide route annotations and finalizers; plus the targets-only fast path
// for endpoint changes. Providers do only their own I/O around it: the Kubernetes provider lists
// its cache, writes finalizers, annotations and statuses; the file provider loads a folder and
// writes status files.
//
// A pass has two steps, so that a provider can act between them (protect objects with
// finalizers, show the plan):
//
//	pass := p.Translate(snapshot) // pure
//	p.Deploy(ctx, pass)           // Apply, then statuses, annotations and releases are final
package pipeline

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Deployer is the part of *deploy.Deployer a pass uses.
type Deployer interface {
	// Apply makes Lattice match m. A nil result means Lattice told nothing (unreachable,
	// discovery failed); a result with an error means some cleanup failed.
	Apply(ctx context.Context, m *model.Model) (*deploy.Result, error)
	// SyncTargets updates the targets of the named target groups of m, and nothing else.
	SyncTargets(ctx context.Context, m *model.Model, tgNames []string) (*deploy.Result, error)
}

// Pipeline runs passes for one controller identity. Passes must not run concurrently: each
// provider runs them from one goroutine.
type Pipeline struct {
	cfg      translate.Config
	deployer Deployer
	// last is the model of the last Apply that returned a result, the base of the targets-only
	// path.
	last *model.Model
	// statused are the policies the last pass gave a status, by UID.
	statused map[types.UID]bool
}

// New returns a Pipeline translating with cfg (ControllerName defaults to upstream's) and
// deploying with d.
func New(cfg translate.Config, d Deployer) *Pipeline {
	if cfg.ControllerName == "" {
		cfg.ControllerName = translate.DefaultControllerName
	}
	return &Pipeline{cfg: cfg, deployer: d}
}

// ControllerName is the controller name whose GatewayClasses the pipeline serves.
func (p *Pipeline) ControllerName() string { return p.cfg.ControllerName }

// Pass is one reconcile pass over a snapshot.
type Pass struct {
	// Output is translate's model and statuses; after Deploy, Programmed conditions say what
	// Lattice answered.
	Output *translate.Output
	// Result is what Apply reported: nil before Deploy, and when Lattice told nothing.
	Result *deploy.Result
	// Err is Apply's error.
	Err error

	snapshot   *translate.Input
	controller gwv1.GatewayController
	own        ownership
	// managedBy is this controller's ManagedBy tag value.
	managedBy string
	inModel   map[model.RouteKey]bool
	outcomes  outcomes

	policyTargets map[model.PolicyKey]model.PolicyTargets
	policyResults map[model.PolicyKey]policyResult
	// stale are the policies whose status of ours is to be cleared.
	stale map[types.UID]bool
}

// Translate starts a pass: it translates the snapshot, leaving out the Gateways, routes and
// policies being deleted so that the model no longer wants their Lattice resources (GatewayClasses being
// deleted stay: the spec keeps serving their Gateways until those are gone). The snapshot holds
// every object, whatever its deletion state; the pass keeps it for finalizer decisions.
func (p *Pipeline) Translate(snapshot *translate.Input) *Pass {
	out := translate.Translate(live(snapshot), p.cfg)
	inModel := make(map[model.RouteKey]bool, len(out.Model.Services))
	for _, svc := range out.Model.Services {
		inModel[svc.Route] = true
	}
	return &Pass{
		Output:     out,
		snapshot:   snapshot,
		controller: gwv1.GatewayController(p.cfg.ControllerName),
		own:        newOwnership(snapshot, p.cfg.ControllerName),
		managedBy:  p.cfg.ManagedBy(),
		inModel:    inModel,

		policyTargets: out.Model.PolicyTargets(),
	}
}

// Deploy applies the pass's model and records Lattice's answer in the pass's statuses.
func (p *Pipeline) Deploy(ctx context.Context, pass *Pass) {
	pass.Result, pass.Err = p.deployer.Apply(ctx, &pass.Output.Model)
	pass.outcomes = outcomesOf(&pass.Output.Model, pass.Result, pass.Err)
	pass.outcomes.record(pass.Output)
	recordMultiCluster(pass.Output, pass.Result)
	pass.recordServiceNetworks()
	pass.policyResults = policyResults(&pass.Output.Model, pass.Result, pass.outcomes)
	pass.recordPolicies()
	pass.stale = p.staleStatuses(pass)
	if pass.Result != nil {
		p.last = &pass.Output.Model
	}
}

// Unprogrammed counts the routes, gateways, exports, policies and ServiceNetwork resources of the
// model that Lattice has not programmed, and the routes, gateways and service networks gone from
// it whose resources are not deleted yet:
// a provider retries while it is positive.
func (p *Pass) Unprogrammed() int {
	n := p.outcomes.failed() + failedExports(p.Result) + p.failedServiceNetworks()
	if p.Result != nil {
		n += len(p.Result.Withdrawals.Routes) + len(p.Result.Withdrawals.Gateways) + len(p.Result.Withdrawals.ServiceNetworks)
	}
	for _, r := range p.policyResults {
		if r.decided && !r.outcome.Programmed {
			n++
		}
	}
	return n
}

// RefreshAfter, when positive, is when the pass should run again although nothing changed in
// the cluster: the imports it resolved may have changed in other clusters by then.
func (p *Pass) RefreshAfter() time.Duration {
	if p.Result == nil {
		return 0
	}
	return p.Result.ImportRefresh
}

// SyncTargets is the fast path for a change of Service svc's endpoints: when the model of
// snapshot differs from the last applied one only in targets, it updates the targets of svc's
// target groups and nothing else, and returns their names. full says that a whole pass is needed
// instead: before the first Apply, when more than targets changed, or when the update failed
// (err, when there is one); the whole pass then reports the failure in status and retries it.
func (p *Pipeline) SyncTargets(ctx context.Context, snapshot *translate.Input, svc types.NamespacedName) (targetGroups []string, full bool, err error) {
	if p.last == nil {
		return nil, true, nil
	}
	out := translate.Translate(live(snapshot), p.cfg)
	if !equalIgnoringTargets(p.last, &out.Model) {
		return nil, true, nil
	}
	names := targetGroupsOf(&out.Model, svc)
	if len(names) > 0 {
		res, err := p.deployer.SyncTargets(ctx, &out.Model, names)
		if err != nil {
			return names, true, err
		}
		if n := outcomesOf(&out.Model, res, nil).failed(); n > 0 {
			return names, true, fmt.Errorf("%d routes or gateways not programmed", n)
		}
	}
	p.last = &out.Model
	return names, false, nil
}

// targetGroupsOf names the target groups built from a Kubernetes Service.
func targetGroupsOf(m *model.Model, svc types.NamespacedName) []string {
	var names []string
	for _, e := range m.Exports {
		for _, tg := range e.TargetGroups {
			if tg.Backend.Namespace == svc.Namespace && tg.Backend.Name == svc.Name {
				names = append(names, tg.Name)
			}
		}
	}
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
	if !reflect.DeepEqual(a.ServiceNetworks, b.ServiceNetworks) || len(a.Services) != len(b.Services) || len(a.Exports) != len(b.Exports) {
		return false
	}
	for i := range a.Exports {
		if a.Exports[i].Key != b.Exports[i].Key || !reflect.DeepEqual(withoutTargets(a.Exports[i].TargetGroups), withoutTargets(b.Exports[i].TargetGroups)) {
			return false
		}
	}
	for i := range a.Services {
		sa, sb := a.Services[i], b.Services[i]
		sa.TargetGroups, sb.TargetGroups = withoutTargets(sa.TargetGroups), withoutTargets(sb.TargetGroups)
		if !reflect.DeepEqual(sa, sb) {
			return false
		}
	}
	return true
}

func withoutTargets(in []model.TargetGroup) []model.TargetGroup {
	tgs := make([]model.TargetGroup, len(in))
	for i, tg := range in {
		tg.Targets = nil
		tgs[i] = tg
	}
	return tgs
}
