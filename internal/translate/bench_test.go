package translate

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// benchInput builds one Gateway and n HTTPRoutes, each with one path rule forwarding 50/50 to two
// Services of three ready endpoints each.
func benchInput(n int) *Input {
	in := &Input{
		GatewayClasses: []gwv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "amazon-vpc-lattice"},
			Spec: gwv1.GatewayClassSpec{ControllerName: DefaultControllerName}}},
		Gateways: []gwv1.Gateway{{ObjectMeta: metav1.ObjectMeta{Name: "my-hotel", Namespace: "default"},
			Spec: gwv1.GatewaySpec{GatewayClassName: "amazon-vpc-lattice", Listeners: []gwv1.Listener{{Name: "http", Port: 80, Protocol: gwv1.HTTPProtocolType}}}}},
	}
	for i := range n {
		var refs []gwv1.HTTPBackendRef
		for _, v := range []string{"a", "b"} {
			name := fmt.Sprintf("app-%d-%s", i, v)
			refs = append(refs, gwv1.HTTPBackendRef{BackendRef: gwv1.BackendRef{
				BackendObjectReference: gwv1.BackendObjectReference{Name: gwv1.ObjectName(name), Port: ptr.To[gwv1.PortNumber](8090)},
				Weight:                 ptr.To[int32](50)}})
			in.Services = append(in.Services, corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8090, TargetPort: intstr.FromInt32(8090)}}}})
			es := discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Name: name + "-x", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8090)}},
			}
			for k := range 3 {
				es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.%d.%d.%d", i/250, i%250, k+1)}})
			}
			in.EndpointSlices = append(in.EndpointSlices, es)
		}
		in.HTTPRoutes = append(in.HTTPRoutes, gwv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("route-%d", i), Namespace: "default"},
			Spec: gwv1.HTTPRouteSpec{
				CommonRouteSpec: gwv1.CommonRouteSpec{ParentRefs: []gwv1.ParentReference{{Name: "my-hotel"}}},
				Rules: []gwv1.HTTPRouteRule{{
					Matches:     []gwv1.HTTPRouteMatch{{Path: &gwv1.HTTPPathMatch{Type: ptr.To(gwv1.PathMatchPathPrefix), Value: ptr.To("/api")}}},
					BackendRefs: refs,
				}},
			},
		})
	}
	return in
}

func benchmarkTranslate(b *testing.B, routes int) {
	in := benchInput(routes)
	if got := len(Translate(in, testConfig).Model.Services); got != routes {
		b.Fatalf("translated %d services, want %d", got, routes)
	}
	b.ReportAllocs()
	for b.Loop() {
		Translate(in, testConfig)
	}
}

// BenchmarkTranslate100Routes is the baseline: 1000Routes/100Routes near 10 means linear cost.
func BenchmarkTranslate100Routes(b *testing.B) { benchmarkTranslate(b, 100) }

func BenchmarkTranslate1000Routes(b *testing.B) { benchmarkTranslate(b, 1000) }
