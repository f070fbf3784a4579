// Package deploy makes VPC Lattice match a model.Model with as few API calls as possible.
//
// A Deployer discovers what it owns once (by the ManagedBy tag), keeps that actual state in a
// cache updated from its own writes, and turns the difference between model and cache into an
// ordered plan of API calls. An unchanged model therefore costs zero calls; an endpoint change
// costs one RegisterTargets and/or DeregisterTargets per target group (SyncTargets). Refresh
// re-reads everything (drift detection) and CollectGarbage deletes owned resources that no model
// wants. Every call goes through the same aws-sdk-go-v2 vpclattice client, for real AWS and for
// Local Lattice alike; NewClient builds one with metrics, rate limits and Retry-After aware retries.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/smithy-go"
	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Config identifies the controller instance (its ManagedBy value) and tunes the deployer.
type Config struct {
	model.Owner
	Region string
	// Concurrency is how many services are deployed in parallel (default 8).
	Concurrency int
	// WaitTimeout bounds each wait for an asynchronous state change (default 5m).
	WaitTimeout time.Duration
	// WaitInitial is the first poll interval of such waits; it doubles up to 5s (default 200ms).
	WaitInitial time.Duration
}

// Deployer applies models. Its methods may be called from several goroutines; calls are
// serialised, because each of them reads and updates the same cache.
type Deployer struct {
	client *vpclattice.Client
	cfg    Config
	log    logr.Logger

	mu    sync.Mutex // serialises Apply, Plan, SyncTargets, Refresh and CollectGarbage
	state *cache
	// tombstones counts deletions per resource identity, so that re-creating a deleted resource
	// uses a fresh client token instead of replaying the old create.
	tombstones sync.Map
	// generation counts re-discoveries (Refresh, CollectGarbage) and resources found missing; it
	// is part of client tokens.
	generation atomic.Int64
}

// New returns a Deployer that talks to Lattice through client.
func New(client *vpclattice.Client, cfg Config, log logr.Logger) *Deployer {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 5 * time.Minute
	}
	if cfg.WaitInitial <= 0 {
		cfg.WaitInitial = 200 * time.Millisecond
	}
	return &Deployer{client: client, cfg: cfg, log: log}
}

// Result is what Apply reports for status: one entry per route and per gateway of the model.
type Result struct {
	Routes   map[model.RouteKey]RouteResult
	Gateways map[model.GatewayKey]GatewayResult
}

// RouteResult is the outcome for one route's Lattice service.
type RouteResult struct {
	Programmed bool
	// Message is the Lattice error (or ownership conflict) when Programmed is false.
	Message                        string
	ServiceARN, ServiceID, DNSName string
	Attached
}

// GatewayResult is the outcome for one gateway's service network.
type GatewayResult struct {
	Programmed                          bool
	Message                             string
	ServiceNetworkARN, ServiceNetworkID string
	// VPCAssociationARN is the ARN of the service network's association with the model's VPC.
	VPCAssociationARN string
	Attached
}

// Attached is what Lattice holds, after Apply, of the policies of a service or service network
// (the policy statuses and annotations show it).
type Attached struct {
	// AccessLogSubscriptionARNs are the ARNs of its access log subscriptions, by destination ARN.
	AccessLogSubscriptionARNs map[string]string
	// AuthType is its auth type (NONE or AWS_IAM); AWS_IAM only once the auth policy is put.
	AuthType string
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
	return d.execute(ctx, m, p)
}

// Plan returns what Apply would do now, without changing anything. It may read from Lattice
// (discovery on first use).
func (d *Deployer) Plan(ctx context.Context, m *model.Model) (*Plan, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.plan(ctx, m)
}

// Refresh discards the cache and discovers actual state again: drift detection. The next Apply
// corrects whatever changed behind the deployer's back.
func (d *Deployer) Refresh(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.refresh(ctx)
}

func (d *Deployer) refresh(ctx context.Context) error {
	c, err := d.discover(ctx)
	if err != nil {
		return fmt.Errorf("discover lattice state: %w", err)
	}
	if d.state != nil {
		d.generation.Add(1)
	}
	d.state = c
	return nil
}

func (d *Deployer) ensureLoaded(ctx context.Context) error {
	if d.state != nil && d.state.loaded {
		return nil
	}
	return d.refresh(ctx)
}

// CollectGarbage re-discovers actual state and applies m, which deletes every owned resource m
// does not want (leaked by crashes or deleted routes). Its cost is O(resources in the account's
// lists), not a per-route scan; run it on start and on a long period.
func (d *Deployer) CollectGarbage(ctx context.Context, m *model.Model) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.refresh(ctx); err != nil {
		return err
	}
	p, err := d.plan(ctx, m)
	if err != nil {
		return err
	}
	res, err := d.execute(ctx, m, p)
	if err != nil {
		return err
	}
	var errs []error
	for k, r := range res.Routes {
		if !r.Programmed {
			errs = append(errs, fmt.Errorf("route %s: %s", k, r.Message))
		}
	}
	for k, g := range res.Gateways {
		if !g.Programmed {
			errs = append(errs, fmt.Errorf("gateway %s: %s", k, g.Message))
		}
	}
	return errors.Join(errs...)
}

// execute runs the plan's phases in order. Within a phase, groups run in parallel; within a group,
// operations run in order and the first failure skips the rest of the group.
func (d *Deployer) execute(ctx context.Context, m *model.Model, p *Plan) (*Result, error) {
	failures := map[owner]string{}
	var mu sync.Mutex
	var cleanupErrs []error
	for _, phase := range p.phases() {
		sem := make(chan struct{}, d.cfg.Concurrency)
		var wg sync.WaitGroup
		for _, g := range phase {
			if g.err != nil {
				mu.Lock()
				failures[g.owner] = g.err.Error()
				mu.Unlock()
				continue
			}
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				for i, op := range g.ops {
					err := op.run(ctx)
					if err == nil {
						continue
					}
					d.log.Info("lattice operation failed", "action", op.Action, "resource", op.Resource, "error", err.Error())
					mu.Lock()
					if g.owner.isZero() {
						cleanupErrs = append(cleanupErrs, fmt.Errorf("%s %s: %w", op.Action, op.Resource, err))
					} else if _, seen := failures[g.owner]; !seen {
						failures[g.owner] = statusMessage(op, err)
					}
					for _, rest := range g.ops[i+1:] {
						if !rest.owner.isZero() && rest.owner != g.owner {
							if _, seen := failures[rest.owner]; !seen {
								failures[rest.owner] = fmt.Sprintf("not attempted after %s %s failed", op.Action, op.Resource)
							}
						}
					}
					mu.Unlock()
					return
				}
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	return d.result(m, failures), errors.Join(cleanupErrs...)
}

func (d *Deployer) result(m *model.Model, failures map[owner]string) *Result {
	res := &Result{Routes: map[model.RouteKey]RouteResult{}, Gateways: map[model.GatewayKey]GatewayResult{}}
	for _, sn := range m.ServiceNetworks {
		gw := GatewayResult{Programmed: true}
		if msg, failed := failures[gatewayOwner(sn.Gateway)]; failed {
			gw = GatewayResult{Message: msg}
		}
		if st := d.state.getSN(sn.Name); st != nil {
			gw.ServiceNetworkARN, gw.ServiceNetworkID = st.arn, st.id
		} else if gw.Programmed {
			gw = GatewayResult{Message: "service network " + sn.Name + " does not exist"}
		}
		res.Gateways[sn.Gateway] = gw
	}
	for _, svc := range m.Services {
		rr := RouteResult{Programmed: true}
		if msg, failed := failures[routeOwner(svc.Route)]; failed {
			rr = RouteResult{Message: msg}
		}
		if st := d.state.getService(svc.Name); st != nil && (rr.Programmed || st.tags[model.TagManagedBy] == d.cfg.ManagedBy()) {
			rr.ServiceARN, rr.ServiceID, rr.DNSName = st.arn, st.id, st.dnsName
		}
		res.Routes[svc.Route] = rr
	}
	return res
}

// statusMessage is what a user reads in route or gateway status: the failed call and Lattice's
// own error code and message, without the SDK's request IDs and wrapping.
func statusMessage(op Op, err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("%s %s: %s: %s", op.Action, op.Resource, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	return fmt.Sprintf("%s %s: %v", op.Action, op.Resource, err)
}
