package file

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Input is what translate needs from objs; other kinds (Deployments, ConfigMaps, ...) are left
// out. Namespaces that objects live in but that no manifest defines are added the way an API
// server would have them, with their kubernetes.io/metadata.name label, so allowedRoutes
// selectors work without a Namespace manifest.
func Input(objs []Object) *translate.Input {
	in := &translate.Input{}
	defined := map[string]bool{}
	used := map[string]bool{}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" {
			used[ns] = true
		}
		switch o := o.(type) {
		case *gwv1.GatewayClass:
			in.GatewayClasses = append(in.GatewayClasses, *o)
		case *gwv1.Gateway:
			in.Gateways = append(in.Gateways, *o)
		case *gwv1.HTTPRoute:
			in.HTTPRoutes = append(in.HTTPRoutes, *o)
		case *gwv1.GRPCRoute:
			in.GRPCRoutes = append(in.GRPCRoutes, *o)
		case *gwv1.TLSRoute:
			in.TLSRoutes = append(in.TLSRoutes, *o)
		case *gwv1.ReferenceGrant:
			in.ReferenceGrants = append(in.ReferenceGrants, gwv1beta1.ReferenceGrant(*o))
		case *corev1.Namespace:
			ns := *o.DeepCopy()
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			ns.Labels[corev1.LabelMetadataName] = ns.Name
			in.Namespaces = append(in.Namespaces, ns)
			defined[ns.Name] = true
		case *corev1.Service:
			in.Services = append(in.Services, *o)
		case *discoveryv1.EndpointSlice:
			in.EndpointSlices = append(in.EndpointSlices, *o)
		}
	}
	var implied []string
	for ns := range used {
		if !defined[ns] {
			implied = append(implied, ns)
		}
	}
	sort.Strings(implied)
	for _, ns := range implied {
		in.Namespaces = append(in.Namespaces, corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{corev1.LabelMetadataName: ns}},
		})
	}
	return in
}
