package v1alpha1_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
)

var (
	_ v1alpha1.Policy = &v1alpha1.TargetGroupPolicy{}
	_ v1alpha1.Policy = &v1alpha1.VpcAssociationPolicy{}
	_ v1alpha1.Policy = &v1alpha1.AccessLogPolicy{}
	_ v1alpha1.Policy = &v1alpha1.IAMAuthPolicy{}
)

// Manifests as upstream's documentation writes them decode into our types through AddToScheme,
// and deep copies are independent of the original.
func TestUpstreamManifestsDecode(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	decode := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer().Decode
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, obj runtime.Object)
	}{
		{"target group policy", `
apiVersion: application-networking.k8s.aws/v1alpha1
kind: TargetGroupPolicy
metadata: {name: test-policy}
spec:
  targetRef: {group: "", kind: Service, name: my-parking-service}
  protocol: HTTPS
  protocolVersion: HTTP1
  healthCheck: {enabled: true, intervalSeconds: 5, timeoutSeconds: 1, healthyThresholdCount: 3,
    unhealthyThresholdCount: 2, path: /healthcheck, port: 80, protocol: HTTP, protocolVersion: HTTP1, statusMatch: "200"}
`, func(t *testing.T, obj runtime.Object) {
			p := obj.(*v1alpha1.TargetGroupPolicy)
			c := p.DeepCopy()
			*c.Spec.HealthCheck.IntervalSeconds = 60
			if *p.Spec.HealthCheck.IntervalSeconds != 5 || p.GetTargetRef().Name != "my-parking-service" {
				t.Errorf("decoded %+v", p.Spec)
			}
		}},
		{"vpc association policy", `
apiVersion: application-networking.k8s.aws/v1alpha1
kind: VpcAssociationPolicy
metadata: {name: test-vpc-association-policy}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: my-hotel}
  securityGroupIds: [sg-1234567890, sg-0987654321]
  associateWithVpc: true
`, func(t *testing.T, obj runtime.Object) {
			p := obj.(*v1alpha1.VpcAssociationPolicy)
			if len(p.Spec.SecurityGroupIds) != 2 || !*p.Spec.AssociateWithVpc {
				t.Errorf("decoded %+v", p.Spec)
			}
		}},
		{"service export with ports", `
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceExport
metadata:
  name: service-1
  annotations: {application-networking.k8s.aws/federation: amazon-vpc-lattice}
spec:
  exportedPorts: [{port: 80, routeType: HTTP}, {port: 8081, routeType: GRPC}]
`, func(t *testing.T, obj runtime.Object) {
			e := obj.(*v1alpha1.ServiceExport)
			if len(e.Spec.ExportedPorts) != 2 || e.Spec.ExportedPorts[1].RouteType != "GRPC" {
				t.Errorf("decoded %+v", e.Spec)
			}
		}},
		{"service network", `
apiVersion: application-networking.k8s.aws/v1alpha1
kind: ServiceNetwork
metadata: {name: my-hotel}
`, func(t *testing.T, obj runtime.Object) {
			if obj.(*v1alpha1.ServiceNetwork).Name != "my-hotel" {
				t.Errorf("decoded %+v", obj)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, gvk, err := decode([]byte(tt.yaml), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if gvk.GroupVersion() != v1alpha1.GroupVersion {
				t.Errorf("group version = %s", gvk.GroupVersion())
			}
			tt.check(t, obj)
		})
	}
}
