package file

import (
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gwscheme "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/scheme"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
)

// NewScheme knows every kind a user may keep next to their routes: the built-in Kubernetes kinds
// (so Deployments and ConfigMaps in the folder are recognised, not rejected), every Gateway API
// version, and this project's policy kinds.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(gwscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	return s
}
