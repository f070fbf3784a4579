package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// A service network shared by clusters: two clusters' Gateways of one name use one network,
// created and owned by the first, joined by the other (its VPC association and service
// associations are its own). The owner that leaves while another cluster still uses it cannot
// delete it (ConflictException); it releases it instead, setting its ManagedBy tag to "", and is
// done. A cluster that leaves a network it does not own deletes its own VPC association and reads
// the network's tags once more: a released network is deleted by it, the last user, or released
// again when still in use.

// releasedTags mark a service network that its owner left while others used it.
var releasedTags = map[string]string{model.TagManagedBy: ""}

// leaveServiceNetwork is the sequence of a network no model wants: deleted when ours (or
// released), else only our VPC association removed.
func (x *differ) leaveServiceNetwork(st *snState) *sequence {
	if x.owned(st.tags) {
		return x.serviceNetworkDeletion(st)
	}
	s := &sequence{status: withdrawnNetwork(st)}
	if st.vpcAssoc == nil || !x.associationOwned(st.vpcAssoc, read{kind: readVPCAssociationTags, name: st.name}) {
		return s
	}
	if !st.tagsReread {
		// Its owner may have left and released it since discovery.
		x.need(read{kind: readServiceNetworkTags, name: st.name})
		return s
	}
	if mb, ok := st.tags[model.TagManagedBy]; ok && mb == "" {
		return x.serviceNetworkDeletion(st)
	}
	s.add(opDeleteVPCAssociation(st.name, x.cfg.VPCID))
	return s
}

func (d *Deployer) rereadServiceNetworkTags(ctx context.Context, sn *snState) error {
	tags, err := d.tags(ctx, sn.arn)
	if err != nil {
		return err
	}
	sn.tags, sn.tagsReread = tags, true
	return nil
}

// deleteOrRelease deletes a service network; when Lattice refuses because other VPCs or services
// still use it, it releases the network to them instead.
func (d *Deployer) deleteOrRelease(ctx context.Context, sn *snState) error {
	released := false
	err := d.remove(ctx, "service network "+sn.name, serviceNetworkIdentity(sn.name), func(ctx context.Context) error {
		_, err := d.client.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: aws.String(sn.id)})
		if !isConflict(err) {
			return err
		}
		shared, lerr := d.usedByOthers(ctx, sn)
		if lerr != nil || !shared {
			return err // ours still being removed: wait and retry
		}
		released = true
		return nil
	}, func() {})
	if err != nil {
		return err
	}
	if !released {
		d.state.serviceNetworks.remove(sn.name)
		return nil
	}
	if _, err := d.client.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String(sn.arn), Tags: releasedTags}); err != nil {
		return fmt.Errorf("release shared service network %s: %w", sn.name, err)
	}
	sn.tags = mergeTags(sn.tags, releasedTags)
	d.log.Info("released shared service network to the clusters still using it", "serviceNetwork", sn.name)
	return nil
}

// usedByOthers says whether VPC or service associations other than ones being deleted remain.
func (d *Deployer) usedByOthers(ctx context.Context, sn *snState) (bool, error) {
	vpcs, err := d.client.ListServiceNetworkVpcAssociations(ctx, &vpclattice.ListServiceNetworkVpcAssociationsInput{
		ServiceNetworkIdentifier: aws.String(sn.id), MaxResults: aws.Int32(100)})
	if err != nil {
		return false, fmt.Errorf("list VPC associations of service network %s: %w", sn.name, err)
	}
	for _, a := range vpcs.Items {
		if a.Status != types.ServiceNetworkVpcAssociationStatusDeleteInProgress && aws.ToString(a.VpcId) != d.cfg.VPCID {
			return true, nil
		}
	}
	svcs, err := d.client.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{
		ServiceNetworkIdentifier: aws.String(sn.id), MaxResults: aws.Int32(100)})
	if err != nil {
		return false, fmt.Errorf("list service associations of service network %s: %w", sn.name, err)
	}
	for _, a := range svcs.Items {
		if a.Status != types.ServiceNetworkServiceAssociationStatusDeleteInProgress {
			return true, nil
		}
	}
	return false, nil
}
