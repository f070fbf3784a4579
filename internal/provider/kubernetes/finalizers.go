package kubernetes

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Finalizer names of the upstream controller, so that objects it finalized are released by us
// after a switch and the other way round.
const (
	FinalizerGateway   = "gateway.k8s.aws/resources"
	FinalizerHTTPRoute = "httproute.k8s.aws/resources"
	FinalizerGRPCRoute = "grpcroute.k8s.aws/resources"
	FinalizerTLSRoute  = "tlsroute.k8s.aws/resources"
)

func routeFinalizer(k model.RouteKind) string {
	switch k {
	case model.KindGRPCRoute:
		return FinalizerGRPCRoute
	case model.KindTLSRoute:
		return FinalizerTLSRoute
	}
	return FinalizerHTTPRoute
}

// addFinalizers protects every live Gateway and route of ours before Apply creates Lattice
// resources for it, so that deleting it always passes through us.
func (c *Controller) addFinalizers(ctx context.Context, s *snapshot, own ownership) error {
	var errs []error
	for i := range s.gateways.Items {
		gw := &s.gateways.Items[i]
		if gw.DeletionTimestamp == nil && own.gateways[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] {
			errs = append(errs, c.setFinalizer(ctx, "Gateway", gw, FinalizerGateway, true))
		}
	}
	for _, r := range s.routes() {
		if r.obj.GetDeletionTimestamp() == nil && own.ownsRoute(r) {
			errs = append(errs, c.setFinalizer(ctx, string(r.key.Kind), r.obj, routeFinalizer(r.key.Kind), true))
		}
	}
	return errors.Join(errs...)
}

// releaseFinalizers removes our finalizer from every Gateway and route that is being deleted or
// is no longer ours. It runs only after an Apply without errors, that is, once Lattice holds
// nothing for them any more. An object whose GatewayClass (or Gateway) vanished first is no
// longer ours and is released too, so deleting in any order never leaves a finalizer behind
// (upstream #115).
func (c *Controller) releaseFinalizers(ctx context.Context, s *snapshot, own ownership) error {
	var errs []error
	for i := range s.gateways.Items {
		gw := &s.gateways.Items[i]
		if gw.DeletionTimestamp != nil || !own.gateways[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] {
			errs = append(errs, c.setFinalizer(ctx, "Gateway", gw, FinalizerGateway, false))
		}
	}
	for _, r := range s.routes() {
		if r.obj.GetDeletionTimestamp() != nil || !own.ownsRoute(r) {
			errs = append(errs, c.setFinalizer(ctx, string(r.key.Kind), r.obj, routeFinalizer(r.key.Kind), false))
		}
	}
	return errors.Join(errs...)
}

// classFinalizers keeps the Gateway API's gateway-exists finalizer on each of our GatewayClasses
// exactly while Gateways use it (counting Gateways being deleted, which still hold Lattice
// resources).
func (c *Controller) classFinalizers(ctx context.Context, s *snapshot, own ownership) error {
	used := map[string]bool{}
	for i := range s.gateways.Items {
		used[string(s.gateways.Items[i].Spec.GatewayClassName)] = true
	}
	var errs []error
	for name, cl := range own.classes {
		// The API server refuses new finalizers on an object being deleted.
		if used[name] && cl.DeletionTimestamp != nil {
			continue
		}
		errs = append(errs, c.setFinalizer(ctx, "GatewayClass", cl, gwv1.GatewayClassFinalizerGatewaysExist, used[name]))
	}
	return errors.Join(errs...)
}

// setFinalizer adds or removes one finalizer with an optimistic-lock patch, so finalizers that
// others add concurrently are never lost. It does nothing when the object is already right.
func (c *Controller) setFinalizer(ctx context.Context, kind string, obj client.Object, name string, present bool) error {
	if controllerutil.ContainsFinalizer(obj, name) == present {
		return nil
	}
	orig := obj.DeepCopyObject().(client.Object)
	if present {
		controllerutil.AddFinalizer(obj, name)
	} else {
		controllerutil.RemoveFinalizer(obj, name)
	}
	if err := c.client.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil
		}
		verb := map[bool]string{true: "add", false: "remove"}[present]
		return fmt.Errorf("%s finalizer %s on %s %s/%s: %w", verb, name, kind, obj.GetNamespace(), obj.GetName(), err)
	}
	c.metrics.metadataWrites.WithLabelValues(kind).Inc()
	return nil
}
