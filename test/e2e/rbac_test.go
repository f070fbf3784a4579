package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// The controller runs as the Helm chart's ServiceAccount with exactly the chart's permissions:
// the ClusterRole generated into config/rbac/role.yaml and the leader-election Role (the same
// rules as charts/lattice-gateway/templates/leader-election-rbac.yaml), so every e2e test also
// proves the shipped RBAC is enough.
const (
	controllerNamespace      = "default"
	controllerServiceAccount = "gateway-api-controller"
)

// controllerKubeconfig installs the chart's RBAC and writes a kubeconfig that authenticates as
// the controller's ServiceAccount.
func (e *env) controllerKubeconfig(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	role, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatalf("read generated ClusterRole: %v", err)
	}
	if err := e.cluster.Apply(ctx, string(role)+"\n---\n"+harness.Manifest(t, "controller-rbac.yaml", nil)); err != nil {
		t.Fatal(err)
	}
	expiry := int64(3600)
	tok, err := e.cluster.Clientset.CoreV1().ServiceAccounts(controllerNamespace).CreateToken(ctx, controllerServiceAccount,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for the controller's ServiceAccount: %v", err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: e.cluster.Config.Host, CertificateAuthorityData: e.cluster.Config.CAData}
	kc.AuthInfos["controller"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["controller"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "controller", Namespace: controllerNamespace}
	kc.CurrentContext = "controller"
	path := filepath.Join(t.TempDir(), "controller.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if want := "system:serviceaccount:" + controllerNamespace + ":" + controllerServiceAccount; err != nil || review.Status.UserInfo.Username != want {
		t.Fatalf("controller kubeconfig authenticates as %v (%v), want %s", review, err, want)
	}
	return path
}
