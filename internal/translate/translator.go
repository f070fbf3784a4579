package translate

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// translator holds the indexes of one Translate call.
type translator struct {
	cfg           Config
	managedBy     string
	in            *Input
	out           *Output
	classes       map[string]classState
	gatewaysByKey map[model.GatewayKey]*gatewayState
	// listenerSetsByKey are the ListenerSets whose parent Gateway is ours.
	listenerSetsByKey map[types.NamespacedName]*listenerSetState
	nsLabels          map[string]map[string]string
	services          map[types.NamespacedName]*corev1.Service
	secrets           map[types.NamespacedName]*corev1.Secret
	// certificates are the Secret certificates services use, by model name.
	certificates map[string]*model.Certificate
	slices       map[types.NamespacedName][]*discoveryv1.EndpointSlice
	grants       map[string][]*gwv1beta1.ReferenceGrant
	policies     *policyIndex
	gatedPods    map[types.NamespacedName]bool
}

func newTranslator(in *Input, cfg Config) *translator {
	t := &translator{
		cfg:               cfg,
		managedBy:         cfg.ManagedBy(),
		in:                in,
		gatedPods:         map[types.NamespacedName]bool{},
		classes:           map[string]classState{},
		gatewaysByKey:     map[model.GatewayKey]*gatewayState{},
		listenerSetsByKey: map[types.NamespacedName]*listenerSetState{},
		nsLabels:          map[string]map[string]string{},
		services:          map[types.NamespacedName]*corev1.Service{},
		secrets:           map[types.NamespacedName]*corev1.Secret{},
		certificates:      map[string]*model.Certificate{},
		slices:            map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		grants:            map[string][]*gwv1beta1.ReferenceGrant{},
		out: &Output{
			GatewayClasses: map[string]gwv1.GatewayClassStatus{},
			Gateways:       map[types.NamespacedName]gwv1.GatewayStatus{},
			HTTPRoutes:     map[types.NamespacedName][]gwv1.RouteParentStatus{},
			GRPCRoutes:     map[types.NamespacedName][]gwv1.RouteParentStatus{},
			TLSRoutes:      map[types.NamespacedName][]gwv1.RouteParentStatus{},
			ListenerSets:   map[types.NamespacedName]ListenerSetStatus{},
			ServiceExports: map[types.NamespacedName]v1alpha1.ServiceExportStatus{},
			Policies:       map[model.PolicyKey]v1alpha1.PolicyStatus{},

			ServiceNetworks: map[string]v1alpha1.ServiceNetworkStatus{},
		},
	}
	for i := range in.Namespaces {
		ns := &in.Namespaces[i]
		t.nsLabels[ns.Name] = ns.Labels
	}
	for i := range in.Services {
		s := &in.Services[i]
		t.services[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	for i := range in.Secrets {
		s := &in.Secrets[i]
		t.secrets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	for i := range in.EndpointSlices {
		es := &in.EndpointSlices[i]
		if svc := es.Labels[discoveryv1.LabelServiceName]; svc != "" {
			key := types.NamespacedName{Namespace: es.Namespace, Name: svc}
			t.slices[key] = append(t.slices[key], es)
		}
	}
	for _, p := range in.GatedPods {
		t.gatedPods[p] = true
	}
	for i := range in.ReferenceGrants {
		g := &in.ReferenceGrants[i]
		t.grants[g.Namespace] = append(t.grants[g.Namespace], g)
	}
	t.policies = t.indexPolicies()
	return t
}

// sorted returns pointers to the items of s ordered by namespace/name, so that everything
// derived from iteration order is deterministic. Pointers keep the sort from moving large structs.
func sorted[T any](s []T, meta func(*T) *metav1.ObjectMeta) []*T {
	out := make([]*T, len(s))
	for i := range s {
		out[i] = &s[i]
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := meta(out[i]), meta(out[j])
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

// namespaceLabels returns a namespace's labels plus the name label the API server always sets,
// which objects read from files may lack.
func (t *translator) namespaceLabels(ns string) map[string]string {
	out := map[string]string{corev1.LabelMetadataName: ns}
	for k, v := range t.nsLabels[ns] {
		out[k] = v
	}
	return out
}
