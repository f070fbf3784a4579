package kubernetes

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// snapshot lists everything the controller reads from the informer cache, objects being deleted
// included (the pipeline decides what they mean).
func (c *Controller) snapshot(ctx context.Context) (*translate.Input, error) {
	var (
		classes    gwv1.GatewayClassList
		gateways   gwv1.GatewayList
		http       gwv1.HTTPRouteList
		grpc       gwv1.GRPCRouteList
		tls        gwv1.TLSRouteList
		grants     gwv1beta1.ReferenceGrantList
		namespaces corev1.NamespaceList
		services   corev1.ServiceList
		slices     discoveryv1.EndpointSliceList
		secrets    corev1.SecretList
	)
	now := time.Now()
	for _, l := range []client.ObjectList{&classes, &gateways, &http, &grpc, &tls, &grants, &namespaces, &services, &slices, &secrets} {
		if err := c.client.List(ctx, l); err != nil {
			return nil, fmt.Errorf("list %T from cache: %w", l, err)
		}
	}
	in := &translate.Input{
		GatewayClasses: classes.Items, Gateways: gateways.Items,
		HTTPRoutes: http.Items, GRPCRoutes: grpc.Items, TLSRoutes: tls.Items,
		ReferenceGrants: grants.Items, Namespaces: namespaces.Items, Services: services.Items, EndpointSlices: slices.Items,
		Secrets: secrets.Items, Now: now,
	}
	if c.readinessGate {
		var pods corev1.PodList
		if err := c.client.List(ctx, &pods); err != nil {
			return nil, fmt.Errorf("list pods from cache: %w", err)
		}
		for i := range pods.Items {
			if err := in.Add(&pods.Items[i]); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range c.optional {
		l := k.list.DeepCopyObject().(client.ObjectList)
		if err := c.client.List(ctx, l); err != nil {
			return nil, fmt.Errorf("list %T from cache: %w", l, err)
		}
		if err := meta.EachListItem(l, in.Add); err != nil {
			return nil, fmt.Errorf("read %T: %w", l, err)
		}
	}
	return in, nil
}
