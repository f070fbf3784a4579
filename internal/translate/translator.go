package translate

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// translator holds the indexes of one Translate call.
type translator struct {
	cfg           Config
	managedBy     string
	in            Input
	out           *Output
	classes       map[string]classState
	gatewaysByKey map[model.GatewayKey]*gatewayState
	nsLabels      map[string]map[string]string
	services      map[types.NamespacedName]*corev1.Service
	slices        map[types.NamespacedName][]*discoveryv1.EndpointSlice
	grants        map[string][]*gwv1beta1.ReferenceGrant
}

func newTranslator(in *Input, cfg Config) *translator {
	t := &translator{
		cfg:           cfg,
		managedBy:     cfg.ManagedBy(),
		in:            sortedInput(in),
		classes:       map[string]classState{},
		gatewaysByKey: map[model.GatewayKey]*gatewayState{},
		nsLabels:      map[string]map[string]string{},
		services:      map[types.NamespacedName]*corev1.Service{},
		slices:        map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		grants:        map[string][]*gwv1beta1.ReferenceGrant{},
		out: &Output{
			GatewayClasses: map[string]gwv1.GatewayClassStatus{},
			Gateways:       map[types.NamespacedName]gwv1.GatewayStatus{},
			HTTPRoutes:     map[types.NamespacedName][]gwv1.RouteParentStatus{},
			GRPCRoutes:     map[types.NamespacedName][]gwv1.RouteParentStatus{},
			TLSRoutes:      map[types.NamespacedName][]gwv1.RouteParentStatus{},
		},
	}
	for i := range t.in.Namespaces {
		ns := &t.in.Namespaces[i]
		t.nsLabels[ns.Name] = ns.Labels
	}
	for i := range t.in.Services {
		s := &t.in.Services[i]
		t.services[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	for i := range t.in.EndpointSlices {
		es := &t.in.EndpointSlices[i]
		if svc := es.Labels[discoveryv1.LabelServiceName]; svc != "" {
			key := types.NamespacedName{Namespace: es.Namespace, Name: svc}
			t.slices[key] = append(t.slices[key], es)
		}
	}
	for i := range t.in.ReferenceGrants {
		g := &t.in.ReferenceGrants[i]
		t.grants[g.Namespace] = append(t.grants[g.Namespace], g)
	}
	return t
}

// sortedInput copies the slices of in (not the objects) and sorts them by namespace/name, so
// that everything derived from iteration order is deterministic.
func sortedInput(in *Input) Input {
	out := Input{
		GatewayClasses:  append([]gwv1.GatewayClass(nil), in.GatewayClasses...),
		Gateways:        append([]gwv1.Gateway(nil), in.Gateways...),
		HTTPRoutes:      append([]gwv1.HTTPRoute(nil), in.HTTPRoutes...),
		GRPCRoutes:      append([]gwv1.GRPCRoute(nil), in.GRPCRoutes...),
		TLSRoutes:       append([]gwv1.TLSRoute(nil), in.TLSRoutes...),
		ReferenceGrants: append([]gwv1beta1.ReferenceGrant(nil), in.ReferenceGrants...),
		Namespaces:      append([]corev1.Namespace(nil), in.Namespaces...),
		Services:        append([]corev1.Service(nil), in.Services...),
		EndpointSlices:  append([]discoveryv1.EndpointSlice(nil), in.EndpointSlices...),
	}
	sortByMeta(out.GatewayClasses, func(o *gwv1.GatewayClass) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortByMeta(out.Gateways, func(o *gwv1.Gateway) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortByMeta(out.HTTPRoutes, func(o *gwv1.HTTPRoute) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortByMeta(out.GRPCRoutes, func(o *gwv1.GRPCRoute) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortByMeta(out.TLSRoutes, func(o *gwv1.TLSRoute) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortByMeta(out.ReferenceGrants, func(o *gwv1beta1.ReferenceGrant) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortByMeta(out.Namespaces, func(o *corev1.Namespace) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortByMeta(out.Services, func(o *corev1.Service) *metav1.ObjectMeta { return &o.ObjectMeta })
	sortByMeta(out.EndpointSlices, func(o *discoveryv1.EndpointSlice) *metav1.ObjectMeta { return &o.ObjectMeta })
	return out
}

func sortByMeta[T any](s []T, meta func(*T) *metav1.ObjectMeta) {
	sort.SliceStable(s, func(i, j int) bool {
		a, b := meta(&s[i]), meta(&s[j])
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
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
