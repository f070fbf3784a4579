package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/pipeline"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// writeStatuses writes every status of the pass that differs from what the API server has, and
// records events (upstream's reasons) and route convergence times.
func (c *Controller) writeStatuses(ctx context.Context, pass *pipeline.Pass) error {
	now := time.Now()
	controller := gwv1.GatewayController(c.pipeline.ControllerName())
	var errs []error
	for _, cur := range pass.Objects() {
		next := cur.DeepCopyObject().(client.Object)
		ours, changed := pass.SetStatus(next, now)
		if !ours {
			continue
		}
		c.programmedEvent(cur, programmedConditions(cur, controller), programmedConditions(next, controller), pass.Err != nil)
		if key, isRoute := pipeline.RouteKey(next); isRoute {
			if status.ProgrammedAt(pipeline.RouteStatus(next).Parents, controller, next.GetGeneration()) {
				c.programmedRoute(key, next.GetGeneration())
			}
		}
		if changed {
			errs = append(errs, c.updateStatus(ctx, cur, next))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) updateStatus(ctx context.Context, cur, next client.Object) error {
	kind := pipeline.Kind(cur)
	write := c.client.Status().Update
	if _, ok := next.(*v1alpha1.ServiceExport); ok {
		// Upstream's ServiceExport CRD, which ours keeps, has no status subresource: the status
		// is written with the object (optimistically locked by its resourceVersion).
		write = func(ctx context.Context, obj client.Object, _ ...client.SubResourceUpdateOption) error {
			return c.client.Update(ctx, obj)
		}
	}
	if err := write(ctx, next); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil
		}
		return fmt.Errorf("update status of %s %s/%s: %w", kind, cur.GetNamespace(), cur.GetName(), err)
	}
	// The finalizer patches that follow in this pass lock on the object's version: the status
	// write is the only change since the snapshot.
	cur.SetResourceVersion(next.GetResourceVersion())
	c.metrics.statusWrites.WithLabelValues(kind).Inc()
	return nil
}

// programmedConditions are the conditions an event about obj reports: a Gateway's, a
// ListenerSet's or a policy's, or those of a route's first parent entry of ours.
func programmedConditions(obj client.Object, controller gwv1.GatewayController) []metav1.Condition {
	switch o := obj.(type) {
	case *gwv1.Gateway:
		return o.Status.Conditions
	case *gwv1.ListenerSet:
		return o.Status.Conditions
	}
	if st := pipeline.RouteStatus(obj); st != nil {
		return status.OurConditions(st.Parents, controller)
	}
	if p, ok := obj.(v1alpha1.Policy); ok {
		return p.GetConditions()
	}
	if sn, ok := obj.(*v1alpha1.ServiceNetwork); ok {
		return sn.Status.Conditions
	}
	return nil
}

// Event reasons of the AWS Gateway API Controller (its pkg/k8s/events.go), for the same
// situations, so that alerting written against upstream keeps firing after a switch.
const (
	// eventFailedBuildModel: the route or Gateway is not accepted; nothing is built for it.
	eventFailedBuildModel = "FailedBuildModel"
	// eventFailedDeployModel: VPC Lattice refused or conflicted (e.g. a resource not owned by
	// this controller).
	eventFailedDeployModel = "FailedDeployModel"
	// eventDeploySucceed: VPC Lattice has everything the object asks for.
	eventDeploySucceed = "DeploySucceed"
	// eventRetryReconcile: the pass could not reach VPC Lattice and is retried.
	eventRetryReconcile = "Retry-Reconcile"
)

// programmedEvent records an event when the Accepted or Programmed condition changes; retrying
// says the pass's Apply failed as a whole and is retried.
func (c *Controller) programmedEvent(obj client.Object, before, after []metav1.Condition, retrying bool) {
	changed := func(typ string) *metav1.Condition {
		now := meta.FindStatusCondition(after, typ)
		if now == nil || now.Status == metav1.ConditionUnknown {
			return nil
		}
		if was := meta.FindStatusCondition(before, typ); was != nil && was.Status == now.Status && was.Message == now.Message {
			return nil
		}
		return now
	}
	if acc := changed(string(gwv1.RouteConditionAccepted)); acc != nil && acc.Status == metav1.ConditionFalse {
		c.events.Eventf(obj, nil, corev1.EventTypeWarning, eventFailedBuildModel, "Reconcile", "Failed build model due to %s: %s", acc.Reason, acc.Message)
		return
	}
	now := changed(status.ConditionProgrammed)
	switch {
	case now == nil:
	case now.Status == metav1.ConditionTrue:
		c.events.Eventf(obj, nil, corev1.EventTypeNormal, eventDeploySucceed, "Reconcile", "%s", now.Message)
	case now.Reason != status.ReasonPending:
		c.events.Eventf(obj, nil, corev1.EventTypeWarning, eventFailedDeployModel, "Reconcile", "Failed deploy model due to %s: %s", now.Reason, now.Message)
	case retrying:
		c.events.Eventf(obj, nil, corev1.EventTypeNormal, eventRetryReconcile, "Reconcile", "retry reconcile: %s", now.Message)
	}
}

// writeAnnotations patches the route annotations the pass decided.
func (c *Controller) writeAnnotations(ctx context.Context, pass *pipeline.Pass) error {
	var errs []error
	for _, obj := range pass.Objects() {
		want, change := pass.Annotations(obj)
		if !change {
			continue
		}
		orig := obj.DeepCopyObject().(client.Object)
		obj.SetAnnotations(want)
		kind := pipeline.Kind(obj)
		if err := c.client.Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
			if client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("annotate %s %s/%s: %w", kind, obj.GetNamespace(), obj.GetName(), err))
			}
			continue
		}
		c.metrics.metadataWrites.WithLabelValues(kind).Inc()
	}
	return errors.Join(errs...)
}
