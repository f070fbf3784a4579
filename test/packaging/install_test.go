package packaging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/test/packaging/render"
)

// The kubectl-apply path on a real kube-apiserver: the generated CRDs (installed by testenv from
// config/crd/bases) and config/manifests apply cleanly; the controller's service account can do
// exactly what the controller needs; and the CRDs validate like upstream's.
func TestManifestsInstallOnAPIServer(t *testing.T) {
	cfg := testenv.Start(t)
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gwv1.Install, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	manifests, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "manifests", "lattice-gateway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	applyAll(ctx, t, c, manifests)

	t.Run("gatewayclass", func(t *testing.T) {
		var gc gwv1.GatewayClass
		if err := c.Get(ctx, client.ObjectKey{Name: "amazon-vpc-lattice"}, &gc); err != nil {
			t.Fatal(err)
		}
		if gc.Spec.ControllerName != "application-networking.k8s.aws/gateway-api-controller" {
			t.Errorf("controllerName = %q", gc.Spec.ControllerName)
		}
	})
	t.Run("rbac", func(t *testing.T) { checkServiceAccountAccess(ctx, t, cfg) })
	t.Run("crds", func(t *testing.T) { checkCRDs(ctx, t, c) })
	t.Run("validation", func(t *testing.T) { checkValidation(ctx, t, c) })
	t.Run("printer columns", func(t *testing.T) { checkPolicyTables(ctx, t, cfg) })
}

// checkPolicyTables asks the API server for the policies checkValidation created as kubectl get
// does (a Table) and checks the target and Accepted cells.
func checkPolicyTables(ctx context.Context, t *testing.T, cfg *rest.Config) {
	rc, err := rest.RESTClientFor(&rest.Config{Host: cfg.Host, TLSClientConfig: cfg.TLSClientConfig, BearerToken: cfg.BearerToken,
		ContentConfig: rest.ContentConfig{NegotiatedSerializer: clientgoscheme.Codecs.WithoutConversion(), GroupVersion: &v1alpha1.GroupVersion}, APIPath: "/apis"})
	if err != nil {
		t.Fatal(err)
	}
	for resource, name := range map[string]string{"targetgrouppolicies": "tgp", "vpcassociationpolicies": "vap", "accesslogpolicies": "alp", "iamauthpolicies": "iap"} {
		raw, err := rc.Get().Namespace("default").Resource(resource).Name(name).
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
		if err != nil {
			t.Fatalf("%s: %v", resource, err)
		}
		var table metav1.Table
		if err := json.Unmarshal(raw, &table); err != nil || len(table.Rows) != 1 {
			t.Fatalf("%s: %v %s", resource, err, raw)
		}
		var cols []string
		for _, c := range table.ColumnDefinitions {
			cols = append(cols, c.Name)
		}
		cells := fmt.Sprint(table.Rows[0].Cells[:4])
		want := "[" + name + " Gateway my-hotel Unknown]"
		if name == "tgp" {
			want = "[tgp Service parking Unknown]"
		}
		if strings.Join(cols, ",") != "Name,Target Kind,Target Name,Accepted,Age" || cells != want {
			t.Errorf("%s: columns %v cells %s, want %s", resource, cols, cells, want)
		}
	}
}

// applyAll creates every object of a multi-document YAML stream.
func applyAll(ctx context.Context, t *testing.T, c client.Client, stream []byte) {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("decode manifests: %v", err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if err := c.Create(ctx, u); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}

// checkServiceAccountAccess asks the API server, as the controller's service account, what it may
// do: everything the controller needs, and nothing beyond it.
func checkServiceAccountAccess(ctx context.Context, t *testing.T, cfg *rest.Config) {
	sa := rest.CopyConfig(cfg)
	sa.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + render.ManifestsNamespace + ":gateway-api-controller"}
	c, err := client.New(sa, client.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		verb, group, resource, subresource, namespace string
		allowed                                       bool
	}{
		{"watch", "gateway.networking.k8s.io", "httproutes", "", "", true},
		{"patch", "gateway.networking.k8s.io", "httproutes", "status", "apps", true},
		{"update", "gateway.networking.k8s.io", "gateways", "", "apps", true},
		{"update", "gateway.networking.k8s.io", "gatewayclasses", "status", "", true},
		{"update", "gateway.networking.k8s.io", "tlsroutes", "finalizers", "apps", true},
		{"list", "gateway.networking.k8s.io", "referencegrants", "", "", true},
		{"watch", "gateway.networking.k8s.io", "listenersets", "", "", true},
		{"update", "gateway.networking.k8s.io", "listenersets", "status", "apps", true},
		{"update", "gateway.networking.k8s.io", "listenersets", "", "apps", false},
		{"list", "discovery.k8s.io", "endpointslices", "", "", true},
		{"watch", "", "services", "", "", true},
		{"get", "", "secrets", "", "apps", true},
		{"create", "", "events", "", "apps", true},
		{"patch", "application-networking.k8s.aws", "targetgrouppolicies", "status", "apps", true},
		{"update", "application-networking.k8s.aws", "servicenetworks", "", "", true},
		{"create", "coordination.k8s.io", "leases", "", render.ManifestsNamespace, true},
		// Least privilege: nothing is created or deleted outside the lease and events, secrets
		// are never written, and leases only in the controller's namespace.
		{"create", "coordination.k8s.io", "leases", "", "kube-system", false},
		{"delete", "gateway.networking.k8s.io", "httproutes", "", "apps", false},
		{"create", "gateway.networking.k8s.io", "gateways", "", "apps", false},
		{"update", "gateway.networking.k8s.io", "referencegrants", "", "apps", false},
		{"update", "", "secrets", "", "apps", false},
		{"create", "", "services", "", "apps", false},
		{"update", "", "pods", "", "apps", false},
		{"delete", "application-networking.k8s.aws", "servicenetworks", "", "", false},
		{"create", "apiextensions.k8s.io", "customresourcedefinitions", "", "", false},
	}
	for _, tt := range tests {
		name := strings.Join([]string{tt.verb, tt.resource, tt.subresource, tt.namespace}, "/")
		t.Run(name, func(t *testing.T) {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: tt.verb, Group: tt.group, Resource: tt.resource, Subresource: tt.subresource, Namespace: tt.namespace,
				},
			}}
			if err := c.Create(ctx, review); err != nil {
				t.Fatal(err)
			}
			if review.Status.Allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v (%s)", review.Status.Allowed, tt.allowed, review.Status.Reason)
			}
		})
	}
}

// checkCRDs compares what the API server serves with upstream's names: short names, scope,
// printer columns, status subresources and the policy label.
func checkCRDs(ctx context.Context, t *testing.T, c client.Client) {
	tests := []struct {
		name       string
		shortName  string
		scope      apiextensionsv1.ResourceScope
		status     bool
		policy     bool
		arnColumn  bool
		categories bool
	}{
		{"targetgrouppolicies", "tgp", apiextensionsv1.NamespaceScoped, true, true, false, true},
		{"vpcassociationpolicies", "vap", apiextensionsv1.NamespaceScoped, true, true, false, true},
		{"accesslogpolicies", "alp", apiextensionsv1.NamespaceScoped, true, true, false, true},
		{"iamauthpolicies", "iap", apiextensionsv1.NamespaceScoped, true, true, false, true},
		{"servicenetworks", "sn", apiextensionsv1.ClusterScoped, true, false, true, true},
		{"serviceexports", "", apiextensionsv1.NamespaceScoped, false, false, false, false},
		{"serviceimports", "", apiextensionsv1.NamespaceScoped, false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, client.ObjectKey{Name: tt.name + "." + v1alpha1.GroupName}, &crd); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(crd.Spec.Names.ShortNames, ","); got != tt.shortName {
				t.Errorf("short names = %q, want %q", got, tt.shortName)
			}
			if crd.Spec.Scope != tt.scope {
				t.Errorf("scope = %s, want %s", crd.Spec.Scope, tt.scope)
			}
			if got := (len(crd.Spec.Names.Categories) == 1 && crd.Spec.Names.Categories[0] == "gateway-api"); got != tt.categories {
				t.Errorf("categories = %v", crd.Spec.Names.Categories)
			}
			if got := crd.Labels[gwv1.PolicyLabelKey] == "Direct"; got != tt.policy {
				t.Errorf("labels = %v, want policy label %v", crd.Labels, tt.policy)
			}
			if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v1alpha1" {
				t.Fatalf("versions = %+v", crd.Spec.Versions)
			}
			v := crd.Spec.Versions[0]
			if got := v.Subresources != nil && v.Subresources.Status != nil; got != tt.status {
				t.Errorf("status subresource = %v, want %v", got, tt.status)
			}
			var columns []string
			for _, col := range v.AdditionalPrinterColumns {
				columns = append(columns, col.Name)
			}
			want := []string{}
			if tt.arnColumn {
				want = append(want, "ARN")
			}
			if tt.policy {
				// Policy discovery tools and kubectl show what each policy targets and whether it
				// was accepted.
				want = append(want, "Target Kind", "Target Name", "Accepted")
			}
			if tt.categories {
				want = append(want, "Age")
			}
			if strings.Join(columns, ",") != strings.Join(want, ",") {
				t.Errorf("printer columns = %v, want %v", columns, want)
			}
		})
	}
}

// checkValidation creates valid and invalid objects of our kinds through the typed client, so the
// Go types, the generated deepcopy and AddToScheme are exercised against the real schema.
func checkValidation(ctx context.Context, t *testing.T, c client.Client) {
	const ns = "default"
	target := &gwv1alpha2.NamespacedPolicyTargetReference{Group: "", Kind: "Service", Name: "parking"}
	gateway := &gwv1alpha2.NamespacedPolicyTargetReference{Group: gwv1.GroupName, Kind: "Gateway", Name: "my-hotel"}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	tests := []struct {
		name  string
		obj   client.Object
		field string // "" when the object is valid, else a field the API server must reject
	}{
		{"tgp valid", &v1alpha1.TargetGroupPolicy{ObjectMeta: meta("tgp"), Spec: v1alpha1.TargetGroupPolicySpec{
			TargetRef: target, Protocol: ptr.To("HTTPS"), ProtocolVersion: ptr.To("HTTP2"),
			HealthCheck: &v1alpha1.HealthCheckConfig{IntervalSeconds: ptr.To[int64](10), Path: ptr.To("/health"), Protocol: ptr.To(v1alpha1.HealthCheckProtocolHTTP)},
		}}, ""},
		{"tgp interval too short", &v1alpha1.TargetGroupPolicy{ObjectMeta: meta("tgp-bad"), Spec: v1alpha1.TargetGroupPolicySpec{
			TargetRef: target, HealthCheck: &v1alpha1.HealthCheckConfig{IntervalSeconds: ptr.To[int64](1)},
		}}, "spec.healthCheck.intervalSeconds"},
		{"tgp health check protocol", &v1alpha1.TargetGroupPolicy{ObjectMeta: meta("tgp-proto"), Spec: v1alpha1.TargetGroupPolicySpec{
			TargetRef: target, HealthCheck: &v1alpha1.HealthCheckConfig{Protocol: ptr.To(v1alpha1.HealthCheckProtocol("TCP"))},
		}}, "spec.healthCheck.protocol"},
		{"tgp without target", &v1alpha1.TargetGroupPolicy{ObjectMeta: meta("tgp-notarget")}, "spec.targetRef"},
		{"vap valid", &v1alpha1.VpcAssociationPolicy{ObjectMeta: meta("vap"), Spec: v1alpha1.VpcAssociationPolicySpec{
			TargetRef: gateway, AssociateWithVpc: ptr.To(true), SecurityGroupIds: []v1alpha1.SecurityGroupID{"sg-0123456789abcdef0"},
		}}, ""},
		{"vap bad security group", &v1alpha1.VpcAssociationPolicy{ObjectMeta: meta("vap-bad"), Spec: v1alpha1.VpcAssociationPolicySpec{
			TargetRef: gateway, SecurityGroupIds: []v1alpha1.SecurityGroupID{"subnet-1"},
		}}, "spec.securityGroupIds[0]"},
		{"alp valid", &v1alpha1.AccessLogPolicy{ObjectMeta: meta("alp"), Spec: v1alpha1.AccessLogPolicySpec{
			TargetRef: gateway, DestinationArn: ptr.To("arn:aws:s3:::my-access-logs"),
		}}, ""},
		{"alp bad arn", &v1alpha1.AccessLogPolicy{ObjectMeta: meta("alp-bad"), Spec: v1alpha1.AccessLogPolicySpec{
			TargetRef: gateway, DestinationArn: ptr.To("s3://my-access-logs"),
		}}, "spec.destinationArn"},
		{"iap valid", &v1alpha1.IAMAuthPolicy{ObjectMeta: meta("iap"), Spec: v1alpha1.IAMAuthPolicySpec{
			TargetRef: gateway, Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`,
		}}, ""},
		{"export valid", &v1alpha1.ServiceExport{ObjectMeta: meta("parking"), Spec: v1alpha1.ServiceExportSpec{
			ExportedPorts: []v1alpha1.ExportedPort{{Port: 80, RouteType: "HTTP"}, {Port: 9090, RouteType: "GRPC"}},
		}}, ""},
		{"export bad route type", &v1alpha1.ServiceExport{ObjectMeta: meta("export-bad"), Spec: v1alpha1.ServiceExportSpec{
			ExportedPorts: []v1alpha1.ExportedPort{{Port: 53, RouteType: "UDP"}},
		}}, "spec.exportedPorts[0].routeType"},
		{"import valid", &v1alpha1.ServiceImport{ObjectMeta: meta("parking"), Spec: v1alpha1.ServiceImportSpec{
			Type: v1alpha1.ClusterSetIP, Ports: []v1alpha1.ServicePort{{Port: 80, Protocol: "TCP"}},
		}}, ""},
		{"import bad type", &v1alpha1.ServiceImport{ObjectMeta: meta("import-bad"), Spec: v1alpha1.ServiceImportSpec{
			Type: "LoadBalancer", Ports: []v1alpha1.ServicePort{{Port: 80}},
		}}, "spec.type"},
		{"service network valid", &v1alpha1.ServiceNetwork{ObjectMeta: metav1.ObjectMeta{Name: "my-hotel"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Create(ctx, tt.obj)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("created; want a validation error on %s", tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q does not name %s", err, tt.field)
			}
		})
	}

	// The CRDs default a policy's conditions to Unknown until the controller writes them.
	var tgp v1alpha1.TargetGroupPolicy
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "tgp"}, &tgp); err != nil {
		t.Fatal(err)
	}
	if len(tgp.Status.Conditions) == 0 || tgp.Status.Conditions[0].Type != "Accepted" || tgp.Status.Conditions[0].Status != metav1.ConditionUnknown {
		t.Errorf("default conditions = %+v, want Accepted=Unknown first", tgp.Status.Conditions)
	}
}
