package translate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
)

var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gwv1.Install, gwv1beta1.Install, v1alpha1.AddToScheme} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("build translate scheme: %v", err))
		}
	}
	return serializer.NewCodecFactory(s).UniversalDeserializer()
}()

// ParseInput decodes multi-document YAML (or JSON) holding the object kinds of Input, as written
// by kubectl. Documents of other kinds are an error, so typos do not vanish silently.
func ParseInput(data []byte) (*Input, error) {
	in := &Input{}
	if err := decodeDocuments(data, in.Add); err != nil {
		return nil, err
	}
	return in, nil
}

// decodeDocuments decodes each non-blank document of data and hands it to add.
func decodeDocuments(data []byte, add func(runtime.Object) error) error {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read document %d: %w", i, err)
		}
		if blank(doc) {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return fmt.Errorf("decode document %d: %w", i, err)
		}
		if err := add(obj); err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
	}
}

// blank reports whether a document holds nothing but separators, comments and white space.
func blank(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && !bytes.Equal(line, []byte("---")) {
			return false
		}
	}
	return true
}

// Add appends obj to the slice of its kind; kinds Translate does not read are an error.
func (in *Input) Add(obj runtime.Object) error {
	switch o := obj.(type) {
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
	case *gwv1.ListenerSet:
		in.ListenerSets = append(in.ListenerSets, *o)
	case *gwv1beta1.ReferenceGrant:
		in.ReferenceGrants = append(in.ReferenceGrants, *o)
	case *gwv1.ReferenceGrant:
		in.ReferenceGrants = append(in.ReferenceGrants, gwv1beta1.ReferenceGrant(*o))
	case *corev1.Namespace:
		in.Namespaces = append(in.Namespaces, *o)
	case *corev1.Service:
		in.Services = append(in.Services, *o)
	case *corev1.Pod:
		// Only the readiness gate matters, and only gated pods are kept.
		for _, g := range o.Spec.ReadinessGates {
			if g.ConditionType == PodReadinessGate {
				in.GatedPods = append(in.GatedPods, types.NamespacedName{Namespace: o.Namespace, Name: o.Name})
				break
			}
		}
	case *corev1.Secret:
		in.Secrets = append(in.Secrets, *o)
	case *discoveryv1.EndpointSlice:
		in.EndpointSlices = append(in.EndpointSlices, *o)
	case *v1alpha1.ServiceExport:
		in.ServiceExports = append(in.ServiceExports, *o)
	case *v1alpha1.ServiceImport:
		in.ServiceImports = append(in.ServiceImports, *o)
	case *v1alpha1.TargetGroupPolicy:
		in.TargetGroupPolicies = append(in.TargetGroupPolicies, *o)
	case *v1alpha1.VpcAssociationPolicy:
		in.VpcAssociationPolicies = append(in.VpcAssociationPolicies, *o)
	case *v1alpha1.AccessLogPolicy:
		in.AccessLogPolicies = append(in.AccessLogPolicies, *o)
	case *v1alpha1.IAMAuthPolicy:
		in.IAMAuthPolicies = append(in.IAMAuthPolicies, *o)
	case *v1alpha1.ServiceNetwork:
		in.ServiceNetworks = append(in.ServiceNetworks, *o)
	default:
		return fmt.Errorf("unsupported kind %s", obj.GetObjectKind().GroupVersionKind())
	}
	return nil
}
