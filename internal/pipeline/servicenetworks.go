package pipeline

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Programmed reasons of upstream's ServiceNetwork controller.
const (
	reasonReconcileError = "ReconcileError"
	reasonDeleteError    = "DeleteError"
)

// recordServiceNetworks fills in the Programmed condition, ARN and ID of each ServiceNetwork
// resource from what deploy answered: programmed (saying whether the network is ours or
// adopted), a Lattice error, or a deletion that failed.
func (p *Pass) recordServiceNetworks() {
	res := p.Result
	if res == nil {
		return
	}
	for name, st := range p.Output.ServiceNetworks {
		if c := meta.FindStatusCondition(st.Conditions, status.ConditionProgrammed); c == nil || c.Reason != status.ReasonPending {
			continue
		}
		if r, ok := res.ServiceNetworks[name]; ok {
			st.ServiceNetworkARN, st.ServiceNetworkID = r.ServiceNetworkARN, r.ServiceNetworkID
			o := status.Outcome{Programmed: r.Programmed, Reason: reasonReconcileError, Message: status.Truncate(r.Message)}
			if r.Programmed {
				o.Message = status.Truncate("aws-service-network-arn: " + r.ServiceNetworkARN + "; " + ownerNote(r.ManagedBy, p.managedBy))
			}
			status.SetProgrammed(st.Conditions, o)
		} else if msg, failed := res.Withdrawals.ServiceNetworks[name]; failed {
			status.SetProgrammed(st.Conditions, status.Outcome{Reason: reasonDeleteError, Message: status.Truncate(msg)})
		}
		p.Output.ServiceNetworks[name] = st
	}
}

func ownerNote(owner, us string) string {
	switch owner {
	case us:
		return "created by this controller, deleted with this resource"
	case "":
		return "adopted: not created by this controller, so never deleted by it"
	}
	return "owned by " + owner + ": used as it is, never changed or deleted by this controller"
}

// retried are the Programmed reasons of a ServiceNetwork resource that a pass is retried for.
var retried = map[string]bool{reasonReconcileError: true, reasonDeleteError: true, translate.ReasonDeleteBlocked: true}

// failedServiceNetworks counts the ServiceNetwork resources that Lattice refused, whose
// network failed to delete, or whose deletion is blocked: a provider retries while it is
// positive. (Without a deploy result every pass is retried anyway.)
func (p *Pass) failedServiceNetworks() int {
	n := 0
	for _, st := range p.Output.ServiceNetworks {
		if c := meta.FindStatusCondition(st.Conditions, status.ConditionProgrammed); c != nil && retried[c.Reason] {
			n++
		}
	}
	return n
}

// serviceNetworkFinalizers are the decisions about the finalizer of ServiceNetwork resources:
// held while live, released once deleted and neither blocked by a Gateway of that name nor
// failing to delete the network.
func (p *Pass) serviceNetworkFinalizers(protect bool) []Finalizer {
	var out []Finalizer
	for i := range p.snapshot.ServiceNetworks {
		sn := &p.snapshot.ServiceNetworks[i]
		switch {
		case protect && sn.DeletionTimestamp == nil:
			out = append(out, Finalizer{Object: sn, Hold: true})
		case !protect && sn.DeletionTimestamp != nil && p.Result != nil:
			if c := meta.FindStatusCondition(p.Output.ServiceNetworks[sn.Name].Conditions, status.ConditionProgrammed); c != nil && c.Reason == translate.ReasonDeleteBlocked {
				continue
			}
			if _, failed := p.Result.Withdrawals.ServiceNetworks[sn.Name]; failed {
				continue
			}
			out = append(out, Finalizer{Object: sn})
		}
	}
	return out
}

// setServiceNetworkStatus is SetStatus for a ServiceNetwork resource.
func (p *Pass) setServiceNetworkStatus(sn *v1alpha1.ServiceNetwork, now time.Time) (ours, changed bool) {
	want, ok := p.Output.ServiceNetworks[sn.Name]
	if !ok {
		return false, false
	}
	next := *want.DeepCopy()
	next.Conditions = status.MergeConditions(sn.Status.Conditions, want.Conditions, metav1.NewTime(now.Truncate(time.Second)))
	if next.ServiceNetworkARN == "" {
		// Kept while deploy has not answered, or the deletion is blocked or fails.
		next.ServiceNetworkARN, next.ServiceNetworkID = sn.Status.ServiceNetworkARN, sn.Status.ServiceNetworkID
	}
	return true, merge(&sn.Status, next)
}

// serviceNetworkObjects are the snapshot's ServiceNetwork resources, whose status the pass may
// write.
func (p *Pass) serviceNetworkObjects() []client.Object {
	out := make([]client.Object, 0, len(p.snapshot.ServiceNetworks))
	for i := range p.snapshot.ServiceNetworks {
		out = append(out, &p.snapshot.ServiceNetworks[i])
	}
	return out
}
