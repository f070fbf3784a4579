package describe

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/file"
)

// FromFolder reads the manifests under dir (as `run -f` does; point it at the status folder to
// see conditions).
func FromFolder(dir string) (*Objects, error) {
	snap, err := file.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	objs := make([]runtime.Object, 0, len(snap.Manifests))
	for _, m := range snap.Manifests {
		objs = append(objs, m.Object)
	}
	return collect(objs), nil
}

// collect sorts objects into Objects; kinds describe does not read are left out.
func collect(objs []runtime.Object) *Objects {
	out := &Objects{}
	for _, o := range objs {
		switch o := o.(type) {
		case *gwv1.Gateway:
			out.Gateways = append(out.Gateways, *o)
		case *gwv1.HTTPRoute:
			out.HTTPRoutes = append(out.HTTPRoutes, *o)
		case *gwv1.GRPCRoute:
			out.GRPCRoutes = append(out.GRPCRoutes, *o)
		case *corev1.Service:
			out.Services = append(out.Services, *o)
		case v1alpha1.Policy:
			out.Policies = append(out.Policies, o)
		}
	}
	return out
}

// FromCluster reads the objects of namespace ns from the cluster of cfg. Kinds whose CRD is not
// installed (GRPCRoute, the policies) are skipped.
func FromCluster(ctx context.Context, cfg *rest.Config, ns string) (*Objects, error) {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(gwv1.Install(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to the cluster: %w", err)
	}
	lists := []client.ObjectList{&gwv1.GatewayList{}, &gwv1.HTTPRouteList{}, &gwv1.GRPCRouteList{}, &corev1.ServiceList{},
		&v1alpha1.TargetGroupPolicyList{}, &v1alpha1.IAMAuthPolicyList{}, &v1alpha1.AccessLogPolicyList{}, &v1alpha1.VpcAssociationPolicyList{}}
	var objs []runtime.Object
	for _, l := range lists {
		if err := c.List(ctx, l, client.InNamespace(ns)); err != nil {
			if meta.IsNoMatchError(err) || errors.Is(err, &meta.NoKindMatchError{}) {
				continue
			}
			return nil, fmt.Errorf("list %T: %w", l, err)
		}
		items, err := meta.ExtractList(l)
		if err != nil {
			return nil, fmt.Errorf("read %T: %w", l, err)
		}
		objs = append(objs, items...)
	}
	return collect(objs), nil
}
