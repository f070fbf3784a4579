// Package readiness is the pod readiness gate: a mutating webhook that gives the pods behind
// Lattice targets the gate, and a controller that sets the gate's condition from the health of
// the pod's Lattice targets, so that Kubernetes counts a pod ready (and a rolling update moves
// on) only once Lattice sends it traffic.
package readiness

import (
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// GateType is upstream's readiness-gate condition type.
const GateType = translate.PodReadinessGate

// WebhookPath is where the webhook server serves the pod mutation (upstream's path).
const WebhookPath = "/mutate-pod"

// NamespaceLabel, set to "enabled" on a namespace, selects its pods for the webhook.
const NamespaceLabel = "application-networking.k8s.aws/pod-readiness-gate-inject"

// Gated says whether pod carries the gate.
func Gated(pod *corev1.Pod) bool {
	for _, g := range pod.Spec.ReadinessGates {
		if g.ConditionType == GateType {
			return true
		}
	}
	return false
}

// Setup serves the webhook on mgr's webhook server (on every replica, so that pod creation does
// not wait for the leader) and registers the gate controller (on the leader).
func Setup(mgr ctrl.Manager, name string, health TargetHealth) error {
	if name == "" {
		name = "lattice-gateway"
	}
	mgr.GetWebhookServer().Register(WebhookPath, &webhook.Admission{Handler: &Injector{
		Client:         mgr.GetClient(),
		ControllerName: translate.DefaultControllerName,
		Decoder:        admission.NewDecoder(mgr.GetScheme()),
	}})
	return SetupGate(mgr, name, health)
}
