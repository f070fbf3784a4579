package pipeline

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// recordMultiCluster completes translate's statuses with what deploy found out about exports and
// imports: whether each export's target groups are in Lattice (Exported, Conflict), and which
// imports resolved to nothing or to more target groups than a rule forwards to (the route's
// ResolvedRefs turns False with the reason).
func recordMultiCluster(out *translate.Output, res *deploy.Result) {
	if res == nil {
		return
	}
	for nn, st := range out.ServiceExports {
		r, ok := res.Exports[model.ExportKey{Namespace: nn.Namespace, Name: nn.Name}]
		if !ok {
			continue
		}
		for i := range st.Conditions {
			c := &st.Conditions[i]
			switch {
			case c.Type == v1alpha1.ServiceExportExported && r.Programmed:
				setExportCondition(c, corev1.ConditionTrue, "Exported", "the target groups are in VPC Lattice")
			case c.Type == v1alpha1.ServiceExportExported:
				setExportCondition(c, corev1.ConditionFalse, "Pending", status.Truncate(r.Message))
			case c.Type == v1alpha1.ServiceExportConflict && r.Conflict:
				setExportCondition(c, corev1.ConditionTrue, "Conflict", status.Truncate(r.Message))
			}
		}
	}
	for kind, routes := range routeStatuses(out) {
		for nn, parents := range routes {
			r, ok := res.Routes[model.RouteKey{Kind: kind, Namespace: nn.Namespace, Name: nn.Name}]
			if !ok || len(r.UnresolvedImports)+len(r.ImportsOverLimit) == 0 {
				continue
			}
			reason, msg := string(gwv1.RouteReasonBackendNotFound), strings.Join(r.UnresolvedImports, "; ")+"; its share of the traffic is answered 503 until an export appears"
			switch {
			case len(r.UnresolvedImports) == 0:
				reason, msg = ReasonTooManyTargetGroups, strings.Join(r.ImportsOverLimit, "; ")
			case len(r.ImportsOverLimit) > 0:
				msg += "; " + strings.Join(r.ImportsOverLimit, "; ")
			}
			for i := range parents {
				for j := range parents[i].Conditions {
					c := &parents[i].Conditions[j]
					if c.Type != string(gwv1.RouteConditionResolvedRefs) {
						continue
					}
					if c.Status == metav1.ConditionTrue {
						c.Status, c.Reason, c.Message = metav1.ConditionFalse, reason, status.Truncate(msg)
					} else {
						c.Message = status.Truncate(c.Message + "; " + msg)
					}
				}
			}
		}
	}
}

// ReasonTooManyTargetGroups is the ResolvedRefs reason of a route whose ServiceImports resolved
// to more target groups than VPC Lattice forwards to from one rule.
const ReasonTooManyTargetGroups = "TooManyTargetGroups"

func setExportCondition(c *v1alpha1.ServiceExportCondition, st corev1.ConditionStatus, reason, msg string) {
	c.Status, c.Reason, c.Message = st, &reason, &msg
}

// failedExports counts the exports of the model that Lattice does not hold yet, and the
// withdrawn ones not deleted yet: a provider retries while it is positive.
func failedExports(res *deploy.Result) int {
	n := 0
	if res != nil {
		for _, r := range res.Exports {
			if !r.Programmed {
				n++
			}
		}
	}
	return n
}

// mergeExportStatus merges want into cur keeping each condition's transition time while its
// status is unchanged.
func mergeExportStatus(cur, want v1alpha1.ServiceExportStatus, now metav1.Time) v1alpha1.ServiceExportStatus {
	next := *want.DeepCopy()
	for i := range next.Conditions {
		c := &next.Conditions[i]
		c.LastTransitionTime = &now
		for _, old := range cur.Conditions {
			if old.Type == c.Type && old.Status == c.Status && old.LastTransitionTime != nil {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	return next
}

// exportFinalizers are the decisions about the finalizer of federated ServiceExports: held while
// live, released once deleted (or no longer federated) and Lattice holds none of their target
// groups, that is, unless their withdrawal failed in this pass. Other exports' failures do not
// hold them.
func (p *Pass) exportFinalizers(protect bool) []Finalizer {
	var out []Finalizer
	for i := range p.snapshot.ServiceExports {
		se := &p.snapshot.ServiceExports[i]
		federated := se.Annotations[translate.AnnotationFederation] == translate.FederationLattice
		live := se.DeletionTimestamp == nil && federated
		switch {
		case protect && live:
			out = append(out, Finalizer{Object: se, Hold: true})
		case !protect && !live && p.Result != nil:
			if r, ok := p.Result.Exports[model.ExportKey{Namespace: se.Namespace, Name: se.Name}]; ok && !r.Programmed {
				continue
			}
			out = append(out, Finalizer{Object: se})
		}
	}
	return out
}

// setExportStatus is SetStatus for a ServiceExport.
func (p *Pass) setExportStatus(se *v1alpha1.ServiceExport, now time.Time) (ours, changed bool) {
	want, ok := p.Output.ServiceExports[types.NamespacedName{Namespace: se.Namespace, Name: se.Name}]
	if !ok {
		return p.setWithdrawnExportStatus(se, now)
	}
	return true, merge(&se.Status, mergeExportStatus(se.Status, want, metav1.NewTime(now.Truncate(time.Second))))
}

// exportObjects are the snapshot's ServiceExports, whose status the pass may write.
func (p *Pass) exportObjects() []client.Object {
	out := make([]client.Object, 0, len(p.snapshot.ServiceExports))
	for i := range p.snapshot.ServiceExports {
		out = append(out, &p.snapshot.ServiceExports[i])
	}
	return out
}
