package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// IAMAuthPolicyKind is the kind of IAMAuthPolicy.
const IAMAuthPolicyKind = "IAMAuthPolicy"

// IAMAuthPolicy puts an IAM auth policy on a Gateway's service network or a route's service and
// switches its auth type to AWS_IAM; deleting the policy switches it back to NONE.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=gateway-api,shortName=iap
// +kubebuilder:metadata:labels="gateway.networking.k8s.io/policy=Direct"
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Target Kind",type=string,JSONPath=`.spec.targetRef.kind`
// +kubebuilder:printcolumn:name="Target Name",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type IAMAuthPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec IAMAuthPolicySpec `json:"spec"`

	// Status is the observed state of the policy.
	//
	// +kubebuilder:default={conditions: {{type: "Accepted", status: "Unknown", reason:"NotReconciled", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"}}}
	Status PolicyStatus `json:"status,omitempty"`
}

// IAMAuthPolicyList is a list of IAMAuthPolicies.
//
// +kubebuilder:object:root=true
type IAMAuthPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IAMAuthPolicy `json:"items"`
}

// IAMAuthPolicySpec is the desired auth policy.
type IAMAuthPolicySpec struct {
	// Policy is the auth policy document, a JSON string in IAM policy syntax; VPC Lattice
	// validates it. See https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html
	Policy string `json:"policy"`

	// TargetRef is the Gateway, HTTPRoute or GRPCRoute the policy applies to, following Gateway
	// API policy attachment.
	TargetRef *gwv1alpha2.NamespacedPolicyTargetReference `json:"targetRef"`
}

// GetTargetRef returns the policy's target.
func (p *IAMAuthPolicy) GetTargetRef() *gwv1alpha2.NamespacedPolicyTargetReference {
	return p.Spec.TargetRef
}

// GetConditions returns the status conditions.
func (p *IAMAuthPolicy) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces the status conditions.
func (p *IAMAuthPolicy) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }
