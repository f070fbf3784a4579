package pipeline

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// A Gateway, route or ServiceExport whose Lattice resources could not be deleted keeps its
// finalizer (Release) and says why on its status, with Lattice's error, so that the object a
// user finds stuck in Terminating explains itself: Programmed=False/DeletionFailed on a Gateway
// and on a route's parent entries of ours, Exported=False/WithdrawalFailed on a ServiceExport.
// The Gateway or route then disappears with the deletion's success; a ServiceExport that stays
// (its federation annotation removed) turns Exported=False/Withdrawn.
const (
	ReasonDeletionFailed   = "DeletionFailed"
	ReasonWithdrawalFailed = "WithdrawalFailed"
	ReasonWithdrawn        = "Withdrawn"
)

// held is the Lattice error that keeps the finalizer of a Gateway or route whose resources
// could not be deleted in this pass.
func (p *Pass) held(obj client.Object) (msg string, ok bool) {
	if p.Result == nil {
		return "", false
	}
	w := p.Result.Withdrawals
	if key, isRoute := RouteKey(obj); isRoute {
		msg, ok = w.Routes[key]
		return msg, ok
	}
	if _, isGateway := obj.(*gwv1.Gateway); isGateway {
		msg, ok = w.Gateways[model.GatewayKey{Namespace: obj.GetNamespace(), Name: obj.GetName()}]
	}
	return msg, ok
}

// setHeldStatus is SetStatus for a Gateway or route the model no longer has: when its deletion
// failed, its Programmed conditions (a route's of our parent entries) say so.
func (p *Pass) setHeldStatus(obj client.Object, now time.Time) (ours, changed bool) {
	msg, held := p.held(obj)
	if !held {
		return false, false
	}
	c := metav1.Condition{Type: status.ConditionProgrammed, Status: metav1.ConditionFalse, Reason: ReasonDeletionFailed,
		Message:            status.Truncate("deleting its VPC Lattice resources failed, the finalizer stays until it succeeds: " + msg),
		ObservedGeneration: obj.GetGeneration(), LastTransitionTime: metav1.NewTime(now.Truncate(time.Second))}
	if gw, ok := obj.(*gwv1.Gateway); ok {
		return true, meta.SetStatusCondition(&gw.Status.Conditions, c)
	}
	_, st := routeSpec(obj)
	for i := range st.Parents {
		if st.Parents[i].ControllerName == p.controller {
			ours = true
			changed = meta.SetStatusCondition(&st.Parents[i].Conditions, c) || changed
		}
	}
	return ours, changed
}

// setWithdrawnExportStatus is SetStatus for a ServiceExport the model no longer has (deleted or
// no longer federated) whose target groups this pass withdrew: Exported=False, with Lattice's
// error while the deletion fails.
func (p *Pass) setWithdrawnExportStatus(se *v1alpha1.ServiceExport, now time.Time) (ours, changed bool) {
	if p.Result == nil {
		return false, false
	}
	r, ok := p.Result.Exports[model.ExportKey{Namespace: se.Namespace, Name: se.Name}]
	if !ok || !r.Deleted {
		return false, false
	}
	reason, msg := ReasonWithdrawn, "the exported target groups are deleted"
	if !r.Programmed {
		reason, msg = ReasonWithdrawalFailed, "deleting the exported target groups failed, the finalizer stays until it succeeds: "+r.Message
	}
	want := *se.Status.DeepCopy()
	i := slices.IndexFunc(want.Conditions, func(c v1alpha1.ServiceExportCondition) bool { return c.Type == v1alpha1.ServiceExportExported })
	if i < 0 {
		want.Conditions = append(want.Conditions, v1alpha1.ServiceExportCondition{Type: v1alpha1.ServiceExportExported})
		i = len(want.Conditions) - 1
	}
	setExportCondition(&want.Conditions[i], corev1.ConditionFalse, reason, status.Truncate(msg))
	return true, merge(&se.Status, mergeExportStatus(se.Status, want, metav1.NewTime(now.Truncate(time.Second))))
}
