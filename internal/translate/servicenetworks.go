package translate

import (
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// ServiceNetwork resources (upstream's CRD, PR #936) ask for the service network of their name:
// created and owned when missing, adopted as it is when it exists. Their deletion is blocked
// while a Gateway of ours with that name exists, as upstream's is; deploy deletes the network
// only if it is ours.

// ReasonDeleteBlocked is upstream's Programmed reason of a ServiceNetwork whose deletion waits
// for a Gateway of its name to go.
const ReasonDeleteBlocked = "DeleteBlocked"

// conditionAccepted is the type and the positive reason of upstream's Accepted condition.
const conditionAccepted = "Accepted"

func (t *translator) serviceNetworkResources() {
	items := make([]*v1alpha1.ServiceNetwork, 0, len(t.in.ServiceNetworks))
	for i := range t.in.ServiceNetworks {
		items = append(items, &t.in.ServiceNetworks[i])
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	byName := map[string]int{}
	for i, sn := range t.out.Model.ServiceNetworks {
		byName[sn.Name] = i
	}
	for _, r := range items {
		gen := r.Generation
		if !validLatticeName(r.Name, maxServiceNetworkNameLen, "") {
			t.out.ServiceNetworks[r.Name] = v1alpha1.ServiceNetworkStatus{Conditions: []metav1.Condition{
				cond(conditionAccepted, false, status.ReasonInvalid,
					fmt.Sprintf("%q is not a VPC Lattice service network name: %d to %d characters a-z, 0-9 and '-', no leading, trailing or double '-'", r.Name, minNameLen, maxServiceNetworkNameLen), gen),
				cond(status.ConditionProgrammed, false, status.ReasonInvalid, "ServiceNetwork is not accepted", gen),
			}}
			continue
		}
		extra, notes := additionalTags(r.Annotations)
		msg := strings.Join(append([]string{"Accepted"}, notes...), "; ")
		programmed, wanted := pending(gen), true
		if r.DeletionTimestamp != nil {
			if gw := t.gatewayNamed(r.Name); gw != nil {
				programmed = cond(status.ConditionProgrammed, false, ReasonDeleteBlocked,
					fmt.Sprintf("Cannot delete: Gateway %s still uses this service network; delete it first", gw), gen)
			} else {
				// Out of the model: deploy deletes the network if ours.
				programmed.Message, wanted = "Deleting: the service network goes if this controller created it", false
			}
		}
		t.out.ServiceNetworks[r.Name] = v1alpha1.ServiceNetworkStatus{Conditions: []metav1.Condition{
			cond(conditionAccepted, true, conditionAccepted, msg, gen), programmed}}
		if !wanted {
			continue
		}
		if i, ok := byName[r.Name]; ok {
			sn := &t.out.Model.ServiceNetworks[i]
			sn.Resource = r.Name
			addTags(extra, &sn.Tags)
			continue
		}
		sn := model.ServiceNetwork{Name: r.Name, Resource: r.Name, Tags: map[string]string{model.TagManagedBy: t.managedBy}}
		addTags(extra, &sn.Tags)
		byName[r.Name] = len(t.out.Model.ServiceNetworks)
		t.out.Model.ServiceNetworks = append(t.out.Model.ServiceNetworks, sn)
	}
	sort.Slice(t.out.Model.ServiceNetworks, func(i, j int) bool {
		return t.out.Model.ServiceNetworks[i].Name < t.out.Model.ServiceNetworks[j].Name
	})
}

// gatewayNamed is the first Gateway of ours named name, in any namespace, or nil: upstream
// matches Gateways and service networks by name alone.
func (t *translator) gatewayNamed(name string) *model.GatewayKey {
	var found *model.GatewayKey
	for k := range t.gatewaysByKey {
		if k.Name == name && (found == nil || k.Namespace < found.Namespace) {
			found = &k
		}
	}
	return found
}
