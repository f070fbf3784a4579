package kubernetes

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/pipeline"
)

// Finalizer names of the upstream controller, so that objects it finalized are released by us
// after a switch and the other way round.
const (
	FinalizerGateway   = "gateway.k8s.aws/resources"
	FinalizerHTTPRoute = "httproute.k8s.aws/resources"
	FinalizerGRPCRoute = "grpcroute.k8s.aws/resources"
	FinalizerTLSRoute  = "tlsroute.k8s.aws/resources"

	FinalizerVpcAssociationPolicy = "vpcassociationpolicies.application-networking.k8s.aws/resources"
	FinalizerAccessLogPolicy      = "accesslogpolicy.k8s.aws/resources"
	FinalizerIAMAuthPolicy        = "application-networking.k8s.aws/iam-auth-policy"
	FinalizerServiceNetwork       = "servicenetwork.k8s.aws/resources"
)

// finalizerNames are the finalizers by kind; GatewayClasses get Gateway API's own.
var finalizerNames = map[string]string{
	"GatewayClass":  gwv1.GatewayClassFinalizerGatewaysExist,
	"Gateway":       FinalizerGateway,
	"HTTPRoute":     FinalizerHTTPRoute,
	"GRPCRoute":     FinalizerGRPCRoute,
	"TLSRoute":      FinalizerTLSRoute,
	"ServiceExport": FinalizerServiceExport,

	"VpcAssociationPolicy": FinalizerVpcAssociationPolicy,
	"AccessLogPolicy":      FinalizerAccessLogPolicy,
	"IAMAuthPolicy":        FinalizerIAMAuthPolicy,
	"ServiceNetwork":       FinalizerServiceNetwork,
}

// setFinalizers carries out the pipeline's finalizer decisions.
func (c *Controller) setFinalizers(ctx context.Context, decisions []pipeline.Finalizer) error {
	var errs []error
	for _, d := range decisions {
		errs = append(errs, c.setFinalizer(ctx, d.Object, d.Hold))
	}
	return errors.Join(errs...)
}

// setFinalizer adds or removes our finalizer with an optimistic-lock patch, so finalizers that
// others add concurrently are never lost. It does nothing when the object is already right.
func (c *Controller) setFinalizer(ctx context.Context, obj client.Object, present bool) error {
	kind := pipeline.Kind(obj)
	name := finalizerNames[kind]
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
