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
	"sigs.k8s.io/controller-runtime/pkg/client"
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

// optionalKind is a kind the controller reads when its CRD is installed: this project's policies,
// ServiceExport, ServiceImport and ServiceNetwork, and Gateway API's ListenerSet.
type optionalKind struct {
	groupVersion string
	resource     string
	object       client.Object
	list         client.ObjectList
}

// optionalKinds are read only when served. Upstream's controller fails without them; a user who
// installed only the Gateway API CRDs (or an older release of ours) expects routes to work, so a
// missing one is skipped with a log line, as upstream skips ServiceNetwork. ListenerSet is
// standard only since Gateway API v1.5: clusters with an older install keep working without it.
var optionalKinds = []optionalKind{
	{v1alpha1.GroupVersion.String(), "serviceexports", &v1alpha1.ServiceExport{}, &v1alpha1.ServiceExportList{}},
	{v1alpha1.GroupVersion.String(), "serviceimports", &v1alpha1.ServiceImport{}, &v1alpha1.ServiceImportList{}},
	{v1alpha1.GroupVersion.String(), "targetgrouppolicies", &v1alpha1.TargetGroupPolicy{}, &v1alpha1.TargetGroupPolicyList{}},
	{v1alpha1.GroupVersion.String(), "vpcassociationpolicies", &v1alpha1.VpcAssociationPolicy{}, &v1alpha1.VpcAssociationPolicyList{}},
	{v1alpha1.GroupVersion.String(), "accesslogpolicies", &v1alpha1.AccessLogPolicy{}, &v1alpha1.AccessLogPolicyList{}},
	{v1alpha1.GroupVersion.String(), "iamauthpolicies", &v1alpha1.IAMAuthPolicy{}, &v1alpha1.IAMAuthPolicyList{}},
	{v1alpha1.GroupVersion.String(), "servicenetworks", &v1alpha1.ServiceNetwork{}, &v1alpha1.ServiceNetworkList{}},
	{gwv1.GroupVersion.String(), "listenersets", &gwv1.ListenerSet{}, &gwv1.ListenerSetList{}},
}

// CRDs are the optional kinds the API server serves, by resource name (e.g. "iamauthpolicies").
type CRDs map[string]bool

// CheckCRDs reports which required Gateway API CRDs the API server does not serve, and which of
// this project's optional ones it does.
func CheckCRDs(cfg *rest.Config) (CRDs, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("check CRDs: %w", err)
	}
	served := func(gv string) ([]metav1.APIResource, error) {
		list, err := dc.ServerResourcesForGroupVersion(gv)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("check CRDs: discover %s: %w", gv, err)
		}
		if list == nil {
			return nil, nil
		}
		return list.APIResources, nil
	}
	has := func(list []metav1.APIResource, r string) bool {
		return slices.ContainsFunc(list, func(a metav1.APIResource) bool { return a.Name == r })
	}
	var missing []string
	for _, gv := range slices.Sorted(maps.Keys(requiredResources)) {
		list, err := served(gv)
		if err != nil {
			return nil, err
		}
		for _, r := range requiredResources[gv] {
			if !has(list, r) {
				missing = append(missing, r+"."+gv)
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing Gateway API CRDs %v; install them with kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.6.3/standard-install.yaml", missing)
	}
	crds := CRDs{}
	for _, k := range optionalKinds {
		list, err := served(k.groupVersion)
		if err != nil {
			return nil, err
		}
		crds[k.resource] = has(list, k.resource)
	}
	return crds, nil
}
