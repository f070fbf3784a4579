package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// VpcAssociationPolicyKind is the kind of VpcAssociationPolicy.
const VpcAssociationPolicyKind = "VpcAssociationPolicy"

// VpcAssociationPolicy configures the association between a Gateway's service network and the
// cluster's VPC: whether it exists, and which security groups guard it.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=gateway-api,shortName=vap
// +kubebuilder:metadata:labels="gateway.networking.k8s.io/policy=Direct"
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Target Kind",type=string,JSONPath=`.spec.targetRef.kind`
// +kubebuilder:printcolumn:name="Target Name",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type VpcAssociationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec VpcAssociationPolicySpec `json:"spec"`

	// Status is the observed state of the policy.
	//
	// +kubebuilder:default={conditions: {{type: "Accepted", status: "Unknown", reason:"NotReconciled", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"}}}
	Status PolicyStatus `json:"status,omitempty"`
}

// VpcAssociationPolicyList is a list of VpcAssociationPolicies.
//
// +kubebuilder:object:root=true
type VpcAssociationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VpcAssociationPolicy `json:"items"`
}

// SecurityGroupID is an EC2 security group ID.
//
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:MinLength=3
// +kubebuilder:validation:Pattern=`^sg-[0-9a-z]+$`
type SecurityGroupID string

// VpcAssociationPolicySpec is the desired service network to VPC association.
type VpcAssociationPolicySpec struct {
	// SecurityGroupIds are applied to the service network VPC association; they have no effect
	// when AssociateWithVpc is false. See
	// https://docs.aws.amazon.com/vpc-lattice/latest/ug/security-groups.html
	//
	// +optional
	// +kubebuilder:validation:MinItems=1
	SecurityGroupIds []SecurityGroupID `json:"securityGroupIds,omitempty"`

	// AssociateWithVpc says whether the cluster's VPC is associated with the service network;
	// true when unset.
	//
	// +optional
	AssociateWithVpc *bool `json:"associateWithVpc,omitempty"`

	// TargetRef is the Gateway the policy applies to, following Gateway API policy attachment.
	TargetRef *gwv1alpha2.NamespacedPolicyTargetReference `json:"targetRef"`
}

// GetTargetRef returns the policy's target.
func (p *VpcAssociationPolicy) GetTargetRef() *gwv1alpha2.NamespacedPolicyTargetReference {
	return p.Spec.TargetRef
}

// GetConditions returns the status conditions.
func (p *VpcAssociationPolicy) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces the status conditions.
func (p *VpcAssociationPolicy) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }
