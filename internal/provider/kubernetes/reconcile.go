package kubernetes

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// reconcileWorld runs one pipeline pass over the whole cache and writes back finalizers,
// annotations and statuses. Errors requeue the world key with backoff.
func (c *Controller) reconcileWorld(ctx context.Context) error {
	s, err := c.snapshot(ctx)
	if err != nil {
		return err
	}
	pass := c.pipeline.Translate(s)
	c.forgetRoutes(pass)
	if err := c.setFinalizers(ctx, pass.Protect()); err != nil {
		return err
	}
	c.pipeline.Deploy(ctx, pass)

	var errs []error
	if pass.Err != nil {
		errs = append(errs, fmt.Errorf("apply model: %w", pass.Err))
	}
	// Annotations first: a route reported Programmed already carries its DNS name.
	errs = append(errs, c.writeAnnotations(ctx, pass), c.writeStatuses(ctx, pass))
	errs = append(errs, c.setFinalizers(ctx, pass.Release()))
	if n := pass.Unprogrammed(); n > 0 {
		errs = append(errs, fmt.Errorf("%d routes, gateways or policies not programmed in VPC Lattice, retrying", n))
	}
	err = errors.Join(errs...)
	m := &pass.Output.Model
	c.log.V(1).Info("reconciled world", "services", len(m.Services), "serviceNetworks", len(m.ServiceNetworks), "error", err)
	return err
}

// reconcileTargets is the EndpointSlice path: the targets of the Service's target groups alone,
// or a world pass when more changed, nothing was applied yet, or the sync failed.
func (c *Controller) reconcileTargets(ctx context.Context, svc types.NamespacedName) error {
	s, err := c.snapshot(ctx)
	if err != nil {
		return err
	}
	names, full, err := c.pipeline.SyncTargets(ctx, s, svc)
	if err != nil {
		// The world pass reports the failure in route status and retries it.
		c.log.Info("target sync failed, falling back to a full pass", "service", svc, "error", err)
	}
	if full {
		c.kickWorld()
		return nil
	}
	c.log.V(1).Info("synced targets", "service", svc, "targetGroups", names)
	return nil
}

func (c *Controller) kickWorld() {
	select {
	case c.kick <- event.GenericEvent{}:
	default: // a world pass is already pending
	}
}
