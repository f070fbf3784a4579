package kubernetes

import (
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
)

// NewScheme holds every type the controller reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gwv1.Install, gwv1beta1.Install, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("build scheme: %w", err)
		}
	}
	return s, nil
}

// requiredResources are the Gateway API resources the controller watches; without them the
// informers would fail forever, so the controller refuses to start instead.
var requiredResources = map[string][]string{
	gwv1.GroupVersion.String():      {"gatewayclasses", "gateways", "httproutes", "grpcroutes", "tlsroutes"},
	gwv1beta1.GroupVersion.String(): {"referencegrants"},
}

// CheckCRDs reports which required Gateway API CRDs the API server does not serve.
func CheckCRDs(cfg *rest.Config) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("check Gateway API CRDs: %w", err)
	}
	var missing []string
	gvs := slices.Sorted(maps.Keys(requiredResources))
	for _, gv := range gvs {
		list, err := dc.ServerResourcesForGroupVersion(gv)
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("check Gateway API CRDs: discover %s: %w", gv, err)
		}
		for _, r := range requiredResources[gv] {
			if list == nil || !slices.ContainsFunc(list.APIResources, func(a metav1.APIResource) bool { return a.Name == r }) {
				missing = append(missing, r+"."+gv)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing Gateway API CRDs %v; install them with kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.3/standard-install.yaml", missing)
	}
	return nil
}
