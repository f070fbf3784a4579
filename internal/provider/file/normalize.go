package file

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
	gwv1alpha3 "sigs.k8s.io/gateway-api/apis/v1alpha3"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
)

// normalize makes a decoded object look like what an API server would hand a controller: older
// Gateway API versions served as v1, the namespace defaulted, the name checked.
func normalize(obj runtime.Object) (Object, error) {
	o := toV1(obj)
	mo, ok := o.(Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", obj)
	}
	kind := o.GetObjectKind().GroupVersionKind().Kind
	if mo.GetName() == "" {
		return nil, fmt.Errorf("%s: missing metadata.name", kind)
	}
	if errs := validation.IsDNS1123Subdomain(mo.GetName()); len(errs) > 0 {
		return nil, fmt.Errorf("%s: invalid metadata.name %q: %s", kind, mo.GetName(), strings.Join(errs, "; "))
	}
	switch {
	case clusterScoped(o):
		mo.SetNamespace("")
	case mo.GetNamespace() == "":
		mo.SetNamespace(corev1.NamespaceDefault)
	default:
		if errs := validation.IsDNS1123Label(mo.GetNamespace()); len(errs) > 0 {
			return nil, fmt.Errorf("%s: invalid metadata.namespace %q: %s", kind, mo.GetNamespace(), strings.Join(errs, "; "))
		}
	}
	return mo, nil
}

// toV1 converts the Gateway API versions that are plain copies of v1 (same fields) to v1, so
// translate sees one version. The converted object keeps the v1 apiVersion.
func toV1(obj runtime.Object) runtime.Object {
	var out runtime.Object
	switch o := obj.(type) {
	case *gwv1beta1.GatewayClass:
		out = (*gwv1.GatewayClass)(o)
	case *gwv1beta1.Gateway:
		out = (*gwv1.Gateway)(o)
	case *gwv1beta1.HTTPRoute:
		out = (*gwv1.HTTPRoute)(o)
	case *gwv1beta1.ReferenceGrant:
		out = (*gwv1.ReferenceGrant)(o)
	case *gwv1alpha2.ReferenceGrant:
		out = (*gwv1.ReferenceGrant)(o)
	case *gwv1alpha2.GRPCRoute:
		out = (*gwv1.GRPCRoute)(o)
	case *gwv1alpha3.TLSRoute:
		out = (*gwv1.TLSRoute)(o)
	case *gwv1alpha2.TLSRoute:
		// v1alpha2 is a distinct struct with v1's field names, so a JSON round trip converts it.
		var v1 gwv1.TLSRoute
		b, err := json.Marshal(o)
		if err != nil || json.Unmarshal(b, &v1) != nil {
			return obj
		}
		out = &v1
	default:
		return obj
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	gvk.Version = gwv1.GroupVersion.Version
	out.GetObjectKind().SetGroupVersionKind(gvk)
	return out
}

func clusterScoped(o runtime.Object) bool {
	switch o.(type) {
	case *gwv1.GatewayClass, *corev1.Namespace, *v1alpha1.ServiceNetwork:
		return true
	}
	return false
}

var pathSegment = regexp.MustCompile(`^([^\[]*)((?:\[\d+\])*)$`)

// fieldLine finds the 1-based line of a field path such as "spec.rules[0].matches" in a YAML
// document, or 0. A path without indices (as type errors report them) matches the first element
// of a list that has the rest of the path.
func fieldLine(doc []byte, path string) int {
	var root yamlv3.Node
	if yamlv3.Unmarshal(doc, &root) != nil || len(root.Content) == 0 {
		return 0
	}
	var segs []string
	for _, p := range strings.Split(path, ".") {
		m := pathSegment.FindStringSubmatch(p)
		if m == nil {
			return 0
		}
		segs = append(segs, m[1])
		for _, idx := range strings.Split(m[2], "]") {
			if idx != "" {
				segs = append(segs, idx+"]")
			}
		}
	}
	n, err := lookup(root.Content[0], segs)
	if err != nil {
		return 0
	}
	return n.Line
}

var errNoField = errors.New("no such field")

func lookup(n *yamlv3.Node, segs []string) (*yamlv3.Node, error) {
	if len(segs) == 0 {
		return n, nil
	}
	seg := segs[0]
	switch n.Kind {
	case yamlv3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				if len(segs) == 1 {
					return n.Content[i], nil // the key's line, where the user wrote the field
				}
				return lookup(n.Content[i+1], segs[1:])
			}
		}
	case yamlv3.SequenceNode:
		if strings.HasPrefix(seg, "[") {
			i, err := strconv.Atoi(strings.Trim(seg, "[]"))
			if err != nil || i >= len(n.Content) {
				return nil, errNoField
			}
			return lookup(n.Content[i], segs[1:])
		}
		for _, c := range n.Content {
			if found, err := lookup(c, segs); err == nil {
				return found, nil
			}
		}
	}
	return nil, errNoField
}
