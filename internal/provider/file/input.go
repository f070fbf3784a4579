package file

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		if ns, ok := o.(*corev1.Namespace); ok {
			labelled := *ns.DeepCopy()
			if labelled.Labels == nil {
				labelled.Labels = map[string]string{}
			}
			labelled.Labels[corev1.LabelMetadataName] = labelled.Name
			in.Namespaces = append(in.Namespaces, labelled)
			defined[labelled.Name] = true
			continue
		}
		// Kinds translate does not read are left out on purpose.
		_ = in.Add(o)
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
