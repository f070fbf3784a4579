package deploy

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
)

// Client is the part of the VPC Lattice API the deployer uses; *vpclattice.Client satisfies it
// (latticeclient.New builds one with metrics, rate limits and retries). Only observe reads, only
// the executor writes.
type Client interface {
	vpclattice.ListServiceNetworksAPIClient
	vpclattice.ListServicesAPIClient
	vpclattice.ListTargetGroupsAPIClient
	vpclattice.ListServiceNetworkVpcAssociationsAPIClient
	vpclattice.ListServiceNetworkServiceAssociationsAPIClient
	vpclattice.ListListenersAPIClient
	vpclattice.ListRulesAPIClient
	vpclattice.ListTargetsAPIClient
	ListTagsForResource(context.Context, *vpclattice.ListTagsForResourceInput, ...func(*vpclattice.Options)) (*vpclattice.ListTagsForResourceOutput, error)
	GetService(context.Context, *vpclattice.GetServiceInput, ...func(*vpclattice.Options)) (*vpclattice.GetServiceOutput, error)
	GetListener(context.Context, *vpclattice.GetListenerInput, ...func(*vpclattice.Options)) (*vpclattice.GetListenerOutput, error)
	GetRule(context.Context, *vpclattice.GetRuleInput, ...func(*vpclattice.Options)) (*vpclattice.GetRuleOutput, error)
	GetTargetGroup(context.Context, *vpclattice.GetTargetGroupInput, ...func(*vpclattice.Options)) (*vpclattice.GetTargetGroupOutput, error)
	GetServiceNetwork(context.Context, *vpclattice.GetServiceNetworkInput, ...func(*vpclattice.Options)) (*vpclattice.GetServiceNetworkOutput, error)
	GetServiceNetworkVpcAssociation(context.Context, *vpclattice.GetServiceNetworkVpcAssociationInput, ...func(*vpclattice.Options)) (*vpclattice.GetServiceNetworkVpcAssociationOutput, error)
	GetAuthPolicy(context.Context, *vpclattice.GetAuthPolicyInput, ...func(*vpclattice.Options)) (*vpclattice.GetAuthPolicyOutput, error)
	vpclattice.ListAccessLogSubscriptionsAPIClient

	TagResource(context.Context, *vpclattice.TagResourceInput, ...func(*vpclattice.Options)) (*vpclattice.TagResourceOutput, error)
	UntagResource(context.Context, *vpclattice.UntagResourceInput, ...func(*vpclattice.Options)) (*vpclattice.UntagResourceOutput, error)
	CreateServiceNetwork(context.Context, *vpclattice.CreateServiceNetworkInput, ...func(*vpclattice.Options)) (*vpclattice.CreateServiceNetworkOutput, error)
	DeleteServiceNetwork(context.Context, *vpclattice.DeleteServiceNetworkInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteServiceNetworkOutput, error)
	CreateServiceNetworkVpcAssociation(context.Context, *vpclattice.CreateServiceNetworkVpcAssociationInput, ...func(*vpclattice.Options)) (*vpclattice.CreateServiceNetworkVpcAssociationOutput, error)
	DeleteServiceNetworkVpcAssociation(context.Context, *vpclattice.DeleteServiceNetworkVpcAssociationInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteServiceNetworkVpcAssociationOutput, error)
	CreateTargetGroup(context.Context, *vpclattice.CreateTargetGroupInput, ...func(*vpclattice.Options)) (*vpclattice.CreateTargetGroupOutput, error)
	DeleteTargetGroup(context.Context, *vpclattice.DeleteTargetGroupInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteTargetGroupOutput, error)
	RegisterTargets(context.Context, *vpclattice.RegisterTargetsInput, ...func(*vpclattice.Options)) (*vpclattice.RegisterTargetsOutput, error)
	DeregisterTargets(context.Context, *vpclattice.DeregisterTargetsInput, ...func(*vpclattice.Options)) (*vpclattice.DeregisterTargetsOutput, error)
	CreateService(context.Context, *vpclattice.CreateServiceInput, ...func(*vpclattice.Options)) (*vpclattice.CreateServiceOutput, error)
	UpdateService(context.Context, *vpclattice.UpdateServiceInput, ...func(*vpclattice.Options)) (*vpclattice.UpdateServiceOutput, error)
	DeleteService(context.Context, *vpclattice.DeleteServiceInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteServiceOutput, error)
	CreateServiceNetworkServiceAssociation(context.Context, *vpclattice.CreateServiceNetworkServiceAssociationInput, ...func(*vpclattice.Options)) (*vpclattice.CreateServiceNetworkServiceAssociationOutput, error)
	DeleteServiceNetworkServiceAssociation(context.Context, *vpclattice.DeleteServiceNetworkServiceAssociationInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteServiceNetworkServiceAssociationOutput, error)
	CreateListener(context.Context, *vpclattice.CreateListenerInput, ...func(*vpclattice.Options)) (*vpclattice.CreateListenerOutput, error)
	UpdateListener(context.Context, *vpclattice.UpdateListenerInput, ...func(*vpclattice.Options)) (*vpclattice.UpdateListenerOutput, error)
	DeleteListener(context.Context, *vpclattice.DeleteListenerInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteListenerOutput, error)
	CreateRule(context.Context, *vpclattice.CreateRuleInput, ...func(*vpclattice.Options)) (*vpclattice.CreateRuleOutput, error)
	BatchUpdateRule(context.Context, *vpclattice.BatchUpdateRuleInput, ...func(*vpclattice.Options)) (*vpclattice.BatchUpdateRuleOutput, error)
	DeleteRule(context.Context, *vpclattice.DeleteRuleInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteRuleOutput, error)

	UpdateTargetGroup(context.Context, *vpclattice.UpdateTargetGroupInput, ...func(*vpclattice.Options)) (*vpclattice.UpdateTargetGroupOutput, error)
	UpdateServiceNetwork(context.Context, *vpclattice.UpdateServiceNetworkInput, ...func(*vpclattice.Options)) (*vpclattice.UpdateServiceNetworkOutput, error)
	UpdateServiceNetworkVpcAssociation(context.Context, *vpclattice.UpdateServiceNetworkVpcAssociationInput, ...func(*vpclattice.Options)) (*vpclattice.UpdateServiceNetworkVpcAssociationOutput, error)
	PutAuthPolicy(context.Context, *vpclattice.PutAuthPolicyInput, ...func(*vpclattice.Options)) (*vpclattice.PutAuthPolicyOutput, error)
	DeleteAuthPolicy(context.Context, *vpclattice.DeleteAuthPolicyInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteAuthPolicyOutput, error)
	CreateAccessLogSubscription(context.Context, *vpclattice.CreateAccessLogSubscriptionInput, ...func(*vpclattice.Options)) (*vpclattice.CreateAccessLogSubscriptionOutput, error)
	UpdateAccessLogSubscription(context.Context, *vpclattice.UpdateAccessLogSubscriptionInput, ...func(*vpclattice.Options)) (*vpclattice.UpdateAccessLogSubscriptionOutput, error)
	DeleteAccessLogSubscription(context.Context, *vpclattice.DeleteAccessLogSubscriptionInput, ...func(*vpclattice.Options)) (*vpclattice.DeleteAccessLogSubscriptionOutput, error)
}

var _ Client = (*vpclattice.Client)(nil)

// TaggingClient is the Resource Groups Tagging API call discovery uses to learn ownership a page
// of 100 resources at a time; *resourcegroupstaggingapi.Client satisfies it (latticeclient.NewTagging).
type TaggingClient interface {
	resourcegroupstaggingapi.GetResourcesAPIClient
}

var _ TaggingClient = (*resourcegroupstaggingapi.Client)(nil)
