package packaging_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
)

// `helm install` and `helm uninstall` through the Helm SDK against a real kube-apiserver that has
// only the Gateway API CRDs, as a fresh EKS cluster would: Helm must install our CRDs from crds/,
// then the templates; uninstall must remove the templates and keep the CRDs.
func TestHelmInstallAndUninstall(t *testing.T) {
	restCfg, kubeconfig := startBareAPIServer(t)
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gwv1.Install, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	ns := testNamespace
	flags.Namespace = &ns
	cfg := action.NewConfiguration()
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		t.Fatal(err)
	}
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(cfg)
	install.ReleaseName = "lattice-gateway"
	install.Namespace = ns
	install.CreateNamespace = true
	// No kubelet runs here, so the Deployment never becomes ready: do not wait for it.
	install.WaitStrategy = kube.HookOnlyStrategy
	values := map[string]any{
		"clusterName":    "prod",
		"awsRegion":      "us-west-2",
		"awsAccountId":   "123456789012",
		"clusterVpcId":   "vpc-0123456789abcdef0",
		"serviceAccount": map[string]any{"roleArn": "arn:aws:iam::123456789012:role/lattice-gateway"},
		"pdb":            map[string]any{"enabled": true},
	}
	start := time.Now()
	if _, err := install.Run(chrt, values); err != nil {
		t.Fatalf("helm install: %v", err)
	}

	t.Logf("install took %s", time.Since(start))
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.List(ctx, &crds); err != nil {
		t.Fatal(err)
	}
	own := 0
	for _, crd := range crds.Items {
		if crd.Spec.Group == v1alpha1.GroupName {
			own++
		}
	}
	if own != 7 {
		t.Errorf("helm installed %d %s CRDs, want 7", own, v1alpha1.GroupName)
	}
	var sa corev1.ServiceAccount
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gateway-api-controller"}, &sa); err != nil {
		t.Fatal(err)
	}
	if got := sa.Annotations["eks.amazonaws.com/role-arn"]; got != "arn:aws:iam::123456789012:role/lattice-gateway" {
		t.Errorf("IRSA annotation = %q", got)
	}
	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "lattice-gateway"}, &dep); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		env[e.Name] = e.Value
	}
	for k, want := range map[string]string{"CLUSTER_NAME": "prod", "REGION": "us-west-2", "AWS_ACCOUNT_ID": "123456789012", "CLUSTER_VPC_ID": "vpc-0123456789abcdef0", "LOG_LEVEL": "info"} {
		if env[k] != want {
			t.Errorf("env %s = %q, want %q", k, env[k], want)
		}
	}
	var gc gwv1.GatewayClass
	if err := c.Get(ctx, client.ObjectKey{Name: "amazon-vpc-lattice"}, &gc); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	uninstall := action.NewUninstall(cfg)
	uninstall.WaitStrategy = kube.HookOnlyStrategy
	if _, err := uninstall.Run("lattice-gateway"); err != nil {
		t.Fatalf("helm uninstall: %v", err)
	}
	t.Logf("uninstall took %s", time.Since(start))
	err = c.Get(ctx, client.ObjectKey{Name: "amazon-vpc-lattice"}, &gc)
	if !apierrors.IsNotFound(err) {
		t.Errorf("GatewayClass after uninstall: err = %v, want NotFound", err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := c.Get(ctx, client.ObjectKey{Name: "targetgrouppolicies." + v1alpha1.GroupName}, &crd); err != nil {
		t.Errorf("CRDs must survive uninstall: %v", err)
	}
}

// startBareAPIServer starts kube-apiserver and etcd with the standard Gateway API CRDs and none of
// ours, and returns a rest config and a kubeconfig file for an admin user.
func startBareAPIServer(t *testing.T) (*rest.Config, string) {
	t.Helper()
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	gwCRDs, err := testenv.GatewayAPICRDDir("standard")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{gwCRDs}, ErrorIfCRDPathMissing: true}
	// Stop must run even when Start fails: Start may have launched etcd and the apiserver already.
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	user, err := env.AddUser(envtest.User{Name: "helm", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return user.Config(), path
}
