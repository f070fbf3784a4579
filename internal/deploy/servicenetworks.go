package deploy

import (
	"maps"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// ServiceNetworkResult is the outcome for the service network of one ServiceNetwork resource.
type ServiceNetworkResult struct {
	Programmed                          bool
	Message                             string
	ServiceNetworkARN, ServiceNetworkID string
	// ManagedBy is the network's ManagedBy tag: ours when we created it, empty when we adopted a
	// network nobody owns (never deleted by us), another controller's when it shares its own.
	ManagedBy string
}

// networkStatus is whom a model service network reports to: its Gateway (also for the
// ServiceNetwork resource of the same name, if any), else its ServiceNetwork resource.
func networkStatus(sn model.ServiceNetwork) statusKey {
	if sn.Gateway == (model.GatewayKey{}) && sn.Resource != "" {
		return statusKey{kind: "servicenetwork", network: sn.Name}
	}
	k := gatewayStatus(sn.Gateway)
	k.network = sn.Resource
	return k
}

// withdrawnNetwork is whom the deletion of a network no model wants reports to: the Gateway it
// was created for, if any, and whatever ServiceNetwork resource named it.
func withdrawnNetwork(st *snState) statusKey {
	k := withdrawnGateway(st.tags)
	if k.isZero() {
		k.kind = "servicenetwork"
	}
	k.network = st.name
	return k
}

// adoptedTags are the tags to put on an existing network sn wants that has no owner: all of
// them, as upstream adopts; but a ServiceNetwork resource adopts a network it did not create
// without our ManagedBy tag, so that deleting the resource never deletes that network.
func adoptedTags(sn model.ServiceNetwork, st *snState) map[string]string {
	if sn.Resource == "" || st.tags[model.TagManagedBy] == sn.Tags[model.TagManagedBy] {
		return sn.Tags
	}
	tags := maps.Clone(sn.Tags)
	delete(tags, model.TagManagedBy)
	return tags
}

func (d *Deployer) serviceNetworkResults(m *model.Model, failures map[statusKey]string) map[string]ServiceNetworkResult {
	out := map[string]ServiceNetworkResult{}
	for _, sn := range m.ServiceNetworks {
		if sn.Resource == "" {
			continue
		}
		r := ServiceNetworkResult{Programmed: true}
		if msg, failed := failures[networkStatus(sn)]; failed {
			r = ServiceNetworkResult{Message: msg}
		}
		if st := d.state.serviceNetworks.get(sn.Name); st != nil {
			r.ServiceNetworkARN, r.ServiceNetworkID, r.ManagedBy = st.arn, st.id, st.tags[model.TagManagedBy]
		} else if r.Programmed {
			r = ServiceNetworkResult{Message: "service network " + sn.Name + " does not exist"}
		}
		out[sn.Resource] = r
	}
	return out
}
