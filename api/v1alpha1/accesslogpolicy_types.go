package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// AccessLogPolicyKind is the kind of AccessLogPolicy.
const AccessLogPolicyKind = "AccessLogPolicy"

// AccessLogPolicy sends the access logs of a Gateway's service network, or of a route's service,
// to S3, CloudWatch Logs or Firehose through a VPC Lattice access log subscription.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=gateway-api,shortName=alp
// +kubebuilder:metadata:labels="gateway.networking.k8s.io/policy=Direct"
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Target Kind",type=string,JSONPath=`.spec.targetRef.kind`
// +kubebuilder:printcolumn:name="Target Name",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type AccessLogPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AccessLogPolicySpec `json:"spec"`

	// Status is the observed state of the policy.
	//
	// +kubebuilder:default={conditions: {{type: "Accepted", status: "Unknown", reason:"NotReconciled", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"}}}
	Status PolicyStatus `json:"status,omitempty"`
}

// AccessLogPolicyList is a list of AccessLogPolicies.
//
// +kubebuilder:object:root=true
type AccessLogPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessLogPolicy `json:"items"`
}

// AccessLogPolicySpec is the desired access log subscription.
type AccessLogPolicySpec struct {
	// DestinationArn is the ARN of the S3 bucket, CloudWatch Logs log group or Firehose delivery
	// stream that receives the logs. Changing it replaces the access log subscription.
	//
	// +optional
	// +kubebuilder:validation:Pattern=`^arn(:[a-z0-9]+([.-][a-z0-9]+)*){2}(:([a-z0-9]+([.-][a-z0-9]+)*)?){2}:([^/].*)?`
	DestinationArn *string `json:"destinationArn,omitempty"`

	// TargetRef is the Gateway, HTTPRoute or GRPCRoute the policy applies to, following Gateway
	// API policy attachment.
	TargetRef *gwv1alpha2.NamespacedPolicyTargetReference `json:"targetRef"`
}

// GetTargetRef returns the policy's target.
func (p *AccessLogPolicy) GetTargetRef() *gwv1alpha2.NamespacedPolicyTargetReference {
	return p.Spec.TargetRef
}

// GetConditions returns the status conditions.
func (p *AccessLogPolicy) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces the status conditions.
func (p *AccessLogPolicy) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }
