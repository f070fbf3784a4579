package kubernetes

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// FinalizerServiceExport is upstream's finalizer of ServiceExports whose target groups we hold.
const FinalizerServiceExport = "serviceexport.k8s.aws/resources"

// multiClusterKind is a multi-cluster kind read when its CRD is installed.
type multiClusterKind struct {
	object client.Object
	list   func() client.ObjectList
	add    func(in *translate.Input, l client.ObjectList)
}

var multiClusterKinds = []multiClusterKind{
	{&v1alpha1.ServiceExport{}, func() client.ObjectList { return &v1alpha1.ServiceExportList{} }, func(in *translate.Input, l client.ObjectList) {
		in.ServiceExports = l.(*v1alpha1.ServiceExportList).Items
	}},
	{&v1alpha1.ServiceImport{}, func() client.ObjectList { return &v1alpha1.ServiceImportList{} }, func(in *translate.Input, l client.ObjectList) {
		in.ServiceImports = l.(*v1alpha1.ServiceImportList).Items
	}},
}

// servedMultiCluster are the multi-cluster kinds whose CRDs the API server serves: a cluster with
// only the Gateway API CRDs runs routes to Services as before.
func servedMultiCluster(mgr ctrl.Manager) ([]multiClusterKind, error) {
	var out []multiClusterKind
	for _, k := range multiClusterKinds {
		gvk, err := mgr.GetClient().GroupVersionKindFor(k.object)
		if err != nil {
			return nil, fmt.Errorf("multi-cluster kinds: %w", err)
		}
		_, err = mgr.GetRESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case meta.IsNoMatchError(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("multi-cluster kinds: discover %s: %w", gvk.Kind, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// snapshotMultiCluster adds the served multi-cluster objects to in.
func (c *Controller) snapshotMultiCluster(ctx context.Context, in *translate.Input) error {
	for _, k := range c.multiCluster {
		l := k.list()
		if err := c.client.List(ctx, l); err != nil {
			return fmt.Errorf("list %T from cache: %w", l, err)
		}
		k.add(in, l)
	}
	return nil
}
