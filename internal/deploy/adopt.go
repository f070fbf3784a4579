package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// adoptServiceNetwork finds the service network named like sn that a create found in use, adds
// it to the observed state with its tags and VPC association, and tags it as ours when it is
// untagged. Another controller's network is used, never modified.
func (d *Deployer) adoptServiceNetwork(ctx context.Context, sn model.ServiceNetwork) error {
	var found *snState
	err := eachPage(ctx, "service networks", vpclattice.NewListServiceNetworksPaginator(d.client, &vpclattice.ListServiceNetworksInput{
		MaxResults: aws.Int32(100)}), func(page *vpclattice.ListServiceNetworksOutput) error {
		for _, s := range page.Items {
			if aws.ToString(s.Name) == sn.Name {
				found = &snState{id: aws.ToString(s.Id), arn: aws.ToString(s.Arn), name: sn.Name}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adopt service network %s: %w", sn.Name, err)
	}
	if found == nil {
		return fmt.Errorf("create service network %s: the name is in use, but no service network of that name is visible", sn.Name)
	}
	if found.tags, err = d.tags(ctx, found.arn); err != nil {
		return fmt.Errorf("adopt service network %s: %w", sn.Name, err)
	}
	err = eachPage(ctx, "VPC associations of service network "+sn.Name, vpclattice.NewListServiceNetworkVpcAssociationsPaginator(d.client,
		&vpclattice.ListServiceNetworkVpcAssociationsInput{ServiceNetworkIdentifier: aws.String(found.id), VpcIdentifier: aws.String(d.cfg.VPCID)}),
		func(page *vpclattice.ListServiceNetworkVpcAssociationsOutput) error {
			for _, a := range page.Items {
				found.vpcAssoc = &assocState{id: aws.ToString(a.Id), arn: aws.ToString(a.Arn), status: string(a.Status)}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("adopt service network %s: %w", sn.Name, err)
	}
	d.state.serviceNetworks.set(sn.Name, found)
	// The plan that hit the conflict did not know this network: read what the next diff would ask
	// for now, so that the apply after the adoption is a steady state.
	if err := d.loadAccessLogs(ctx, holder{network: true, name: sn.Name}); err != nil {
		return fmt.Errorf("adopt service network %s: %w", sn.Name, err)
	}
	if _, owned := found.tags[model.TagManagedBy]; owned {
		return nil
	}
	if _, err := d.client.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String(found.arn), Tags: sn.Tags}); err != nil {
		return fmt.Errorf("tag adopted service network %s: %w", sn.Name, err)
	}
	found.tags = mergeTags(found.tags, sn.Tags)
	return nil
}
