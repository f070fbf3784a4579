// Package deploy makes VPC Lattice match a model.Model with as few API calls as possible.
//
// A Deployer works in three steps. Observe (observe.go, the only code that reads Lattice)
// discovers once what exists and whose it is (by the ManagedBy tag), and later reads only the
// facts a diff asks for. Diff (diff.go, pure) compares the model with the observed state and
// returns a plan whose operations are data. Execute (execute.go) runs the plan, ordered within a
// service and in parallel across services, and records its own writes in the observed state. An
// unchanged model therefore costs zero calls; an endpoint change costs one RegisterTargets and/or
// DeregisterTargets per target group (SyncTargets); every Apply also deletes the owned resources
// no model wants. Refresh re-reads everything (drift detection). Calls go through a Client, the
// aws-sdk-go-v2 vpclattice client for real AWS and Local Lattice alike (see latticeclient).
package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Config identifies the controller instance (its ManagedBy value) and tunes the deployer.
type Config struct {
	model.Owner
	// Concurrency bounds the calls in flight: how many services are deployed in parallel, each
	// service's calls in sequence, and how many reads discovery makes at once (default 8).
	Concurrency int
	// Tagging, when set, is where discovery learns who owns what: Resource Groups Tagging API
	// pages of 100 resources carrying a ManagedBy tag, instead of one ListTagsForResource per
	// listed resource. Nil (an endpoint without the Tagging API, DISABLE_TAGGING_SERVICE_API)
	// keeps the per-resource reads. ServiceImports are resolved through it too; without it only
	// those naming an external target group resolve.
	Tagging TaggingClient
	// WaitTimeout bounds each wait for an asynchronous state change (default 5m).
	WaitTimeout time.Duration
	// WaitInitial is the first poll interval of such waits; it doubles up to 5s (default 200ms).
	WaitInitial time.Duration
	// ImportTTL is how long an import resolution is reused (default 30s).
	ImportTTL time.Duration
	// ACM imports the certificates of Kubernetes Secrets (model.Certificates); without it a
	// service that names one is not programmed.
	ACM ACMClient
}

// ownTags are the tags that make a resource ours.
func (c Config) ownTags() map[string]string {
	return map[string]string{model.TagManagedBy: c.ManagedBy()}
}

// Deployer applies models. Its methods may be called from several goroutines; calls are
// serialised, because each of them reads and updates the same observed state.
type Deployer struct {
	client Client
	cfg    Config
	log    logr.Logger

	mu sync.Mutex // serialises Apply, Plan, SyncTargets and Refresh
	// state is nil until the first discovery.
	state *observed
	// deletions counts deletions per client-token identity, so that re-creating a deleted
	// resource uses a fresh client token instead of replaying the old create.
	deletions lockedMap[int]
	// tokenEpoch is part of every client token. It moves on each re-discovery and each resource
	// found missing: what is created after that must not replay an earlier create.
	tokenEpoch atomic.Int64
}

// New returns a Deployer that talks to Lattice through client.
func New(client Client, cfg Config, log logr.Logger) *Deployer {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 5 * time.Minute
	}
	if cfg.WaitInitial <= 0 {
		cfg.WaitInitial = 200 * time.Millisecond
	}
	if cfg.ImportTTL <= 0 {
		cfg.ImportTTL = defaultImportTTL
	}
	return &Deployer{client: client, cfg: cfg, log: log}
}

// Result is what Apply reports for status: one entry per route, per gateway and per policy key
// of the model.
type Result struct {
	Routes   map[model.RouteKey]RouteResult
	Gateways map[model.GatewayKey]GatewayResult
	// Exports holds every export of the model, and every export whose target groups are being
	// withdrawn (Deleted).
	Exports map[model.ExportKey]ExportResult
	// Withdrawals are the routes and Gateways gone from the model whose Lattice resources are
	// not all deleted yet.
	Withdrawals Withdrawals
	// ImportRefresh, when positive, is when the import resolutions this Apply used go stale: a
	// provider runs a pass then, so that imports follow the exports of other clusters.
	ImportRefresh time.Duration
	Policies      map[model.PolicyKey]PolicyResult
	// ServiceNetworks holds every ServiceNetwork resource of the model, by name.
	ServiceNetworks map[string]ServiceNetworkResult
}

// ExportResult is the outcome for one ServiceExport's target groups.
type ExportResult struct {
	Programmed bool
	Message    string
	// Conflict says that a target group of the export belongs to another controller.
	Conflict bool
	// Deleted says that the export is not in the model and its target groups are withdrawn:
	// all of them once Programmed.
	Deleted bool
}

// AllProgrammed reports whether every route, gateway and ServiceNetwork resource of the model is
// programmed, and everything withdrawn from it is deleted.
func (r *Result) AllProgrammed() bool {
	w := r.Withdrawals
	if len(w.Routes)+len(w.Gateways)+len(w.ServiceNetworks) > 0 {
		return false
	}
	for _, sn := range r.ServiceNetworks {
		if !sn.Programmed {
			return false
		}
	}
	for _, rr := range r.Routes {
		if !rr.Programmed {
			return false
		}
	}
	for _, g := range r.Gateways {
		if !g.Programmed {
			return false
		}
	}
	return true
}

// RouteResult is the outcome for one route's Lattice service.
type RouteResult struct {
	Programmed bool
	// Message is the Lattice error (or ownership conflict) when Programmed is false.
	Message                        string
	ServiceARN, ServiceID, DNSName string
	// UnresolvedImports say which ServiceImports resolved to no target group; their share of
	// the traffic goes to a group without targets.
	UnresolvedImports []string
	// ImportsOverLimit say which forward actions resolved to more target groups than Lattice
	// allows in one action, and which groups were left out.
	ImportsOverLimit []string
}

// GatewayResult is the outcome for one gateway's service network.
type GatewayResult struct {
	Programmed                          bool
	Message                             string
	ServiceNetworkARN, ServiceNetworkID string
}

// Apply makes Lattice match m: creates and updates what m wants and deletes what the deployer
// owns that m does not want. It is idempotent and safe to call again after any failure. The
// error reports failures that are not attributable to a route or gateway (discovery, cleanup of
// stale resources); per-route and per-gateway failures are in the Result.
func (d *Deployer) Apply(ctx context.Context, m *model.Model) (*Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, err := d.plan(ctx, m)
	if err != nil {
		return nil, err
	}
	return d.execute(ctx, p.model, p)
}

// Plan returns what Apply would do now, without changing anything. It may read from Lattice
// (discovery on first use, and what the plan needs to know).
func (d *Deployer) Plan(ctx context.Context, m *model.Model) (*Plan, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.plan(ctx, m)
}

// Refresh discards the observed state and discovers actual state again: drift detection. The
// next Apply corrects whatever changed behind the deployer's back, and deletes owned resources
// that were leaked (by a crash, or a route deleted while the controller was down). Spec hash
// tags do not stand in for reads after a Refresh: everything is compared again.
func (d *Deployer) Refresh(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rediscover(ctx, false)
}

// rediscover replaces the observed state; trustSpecs lets spec hash tags stand in for reads,
// which a drift check must not allow.
func (d *Deployer) rediscover(ctx context.Context, trustSpecs bool) error {
	o, err := d.discover(ctx)
	if err != nil {
		return fmt.Errorf("discover lattice state: %w", err)
	}
	o.trustSpecs = trustSpecs
	if d.state != nil {
		d.tokenEpoch.Add(1)
	}
	d.state = o
	return nil
}

// maxObservationRounds bounds diff → observe → diff. Each round fills in what the previous diff
// lacked, and a diff needs at most: a service's existence, then its children and targets, then
// its associations' tags; more rounds mean a read that does not settle, which must not loop.
const maxObservationRounds = 8

// plan diffs m against the observed state, observing first what the diff needs.
func (d *Deployer) plan(ctx context.Context, m *model.Model) (*Plan, error) {
	if m == nil {
		// An absent model must not read as "delete everything".
		return nil, errors.New("plan: nil model")
	}
	if d.state != nil {
		d.expireImports(time.Now())
	}
	return d.settle(ctx, func() (*Plan, []read) { return diff(m, d.state, d.cfg) })
}

// settle discovers if needed and then runs diff until it needs no more reads.
func (d *Deployer) settle(ctx context.Context, diff func() (*Plan, []read)) (*Plan, error) {
	if d.state == nil {
		if err := d.rediscover(ctx, true); err != nil {
			return nil, err
		}
	}
	for range maxObservationRounds {
		p, reads := diff()
		if len(reads) == 0 {
			return p, nil
		}
		if err := d.observe(ctx, reads); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("plan: observation did not settle")
}

func (d *Deployer) result(m *model.Model, p *Plan, failures map[statusKey]string) *Result {
	res := &Result{Routes: map[model.RouteKey]RouteResult{}, Gateways: map[model.GatewayKey]GatewayResult{}, Exports: map[model.ExportKey]ExportResult{},
		ImportRefresh: d.importRefresh(time.Now()), Withdrawals: withdrawals(m, failures)}
	for _, s := range p.exports {
		res.Exports[s.status.export] = exportResult(s, failures)
	}
	for _, s := range p.staleTargetGroups {
		if s.status.kind == "export" {
			r := exportResult(s, failures)
			r.Deleted = true
			res.Exports[s.status.export] = r
		}
	}
	for _, sn := range m.ServiceNetworks {
		if networkStatus(sn).kind != "gateway" {
			continue // reported in ServiceNetworks
		}
		gw := GatewayResult{Programmed: true}
		if msg, failed := failures[networkStatus(sn)]; failed {
			gw = GatewayResult{Message: msg}
		}
		if st := d.state.serviceNetworks.get(sn.Name); st != nil {
			gw.ServiceNetworkARN, gw.ServiceNetworkID = st.arn, st.id
		} else if gw.Programmed {
			gw = GatewayResult{Message: "service network " + sn.Name + " does not exist"}
		}
		res.Gateways[sn.Gateway] = gw
	}
	for _, svc := range m.Services {
		rr := RouteResult{Programmed: true}
		if msg, failed := failures[routeStatus(svc.Route)]; failed {
			rr = RouteResult{Message: msg}
		}
		if st := d.state.services.get(svc.Name); st != nil && (rr.Programmed || st.tags[model.TagManagedBy] == d.cfg.ManagedBy()) {
			rr.ServiceARN, rr.ServiceID, rr.DNSName = st.arn, st.id, st.dnsName
		}
		rr.UnresolvedImports = p.unresolved[svc.Route]
		rr.ImportsOverLimit = p.overLimit[svc.Route]
		res.Routes[svc.Route] = rr
	}
	res.Policies = d.policyResults(m, res)
	res.ServiceNetworks = d.serviceNetworkResults(m, failures)
	return res
}
