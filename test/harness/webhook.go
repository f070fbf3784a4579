package harness

import (
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/lattice-gateway/lattice-gateway/internal/readiness"
)

// ReadinessWebhook is the chart's MutatingWebhookConfiguration of the pod readiness gate
// (charts/lattice-gateway/templates/webhook.yaml): pods created in namespaces labelled for
// injection, failurePolicy Fail. envtest points its Service at a local server, joining host and
// path with a slash, hence the path without its leading one.
func ReadinessWebhook() *admissionv1.MutatingWebhookConfiguration {
	fail, none := admissionv1.Fail, admissionv1.SideEffectClassNone
	path := readiness.WebhookPath[1:]
	return &admissionv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "lattice-gateway-webhook"},
		TypeMeta:   metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
		Webhooks: []admissionv1.MutatingWebhook{{
			Name:                    "mpod.gw.k8s.aws",
			AdmissionReviewVersions: []string{"v1"},
			ClientConfig:            admissionv1.WebhookClientConfig{Service: &admissionv1.ServiceReference{Namespace: "lattice-gateway-system", Name: "lattice-gateway-webhook", Path: &path}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{readiness.NamespaceLabel: "enabled"}},
			Rules: []admissionv1.RuleWithOperations{{Operations: []admissionv1.OperationType{admissionv1.Create},
				Rule: admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
		}},
	}
}

// InstallReadinessWebhook installs ReadinessWebhook in the cluster of cfg, calling a server on
// 127.0.0.1 with a fresh certificate, and returns the port and certificate directory that
// server must use (ControllerOptions.WebhookPort and WebhookCertDir).
func InstallReadinessWebhook(t testing.TB, cfg *rest.Config) (port int, certDir string) {
	t.Helper()
	o := &envtest.WebhookInstallOptions{
		LocalServingHost: "127.0.0.1",
		MutatingWebhooks: []*admissionv1.MutatingWebhookConfiguration{ReadinessWebhook()},
	}
	if err := o.Install(cfg); err != nil {
		t.Fatalf("install the readiness-gate webhook: %v", err)
	}
	t.Cleanup(func() {
		if err := o.Cleanup(); err != nil {
			t.Error(err)
		}
	})
	return o.LocalServingPort, o.LocalServingCertDir
}
