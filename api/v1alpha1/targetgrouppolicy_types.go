package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// TargetGroupPolicyKind is the kind of TargetGroupPolicy.
const TargetGroupPolicyKind = "TargetGroupPolicy"

// TargetGroupPolicy sets the protocol, protocol version and health check of the VPC Lattice target
// groups built for a Service or ServiceExport.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=gateway-api,shortName=tgp
// +kubebuilder:metadata:labels="gateway.networking.k8s.io/policy=Direct"
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="Target Kind",type=string,JSONPath=`.spec.targetRef.kind`
// +kubebuilder:printcolumn:name="Target Name",type=string,JSONPath=`.spec.targetRef.name`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type TargetGroupPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TargetGroupPolicySpec `json:"spec"`

	// Status is the observed state of the policy.
	//
	// +kubebuilder:default={conditions: {{type: "Accepted", status: "Unknown", reason:"NotReconciled", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"}}}
	Status PolicyStatus `json:"status,omitempty"`
}

// TargetGroupPolicyList is a list of TargetGroupPolicies.
//
// +kubebuilder:object:root=true
type TargetGroupPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TargetGroupPolicy `json:"items"`
}

// TargetGroupPolicySpec is the desired target group configuration.
type TargetGroupPolicySpec struct {
	// Protocol between VPC Lattice and the targets: HTTP (default), HTTPS or TCP.
	// Changing it replaces the target group.
	//
	// +optional
	Protocol *string `json:"protocol,omitempty"`

	// ProtocolVersion is HTTP1 (default) or HTTP2. Ignored for TCP, and for GRPCRoute backends,
	// which always use gRPC over HTTP/2. Changing it replaces the target group.
	//
	// +optional
	ProtocolVersion *string `json:"protocolVersion,omitempty"`

	// TargetRef is the Service or ServiceExport the policy applies to, following Gateway API
	// policy attachment.
	TargetRef *gwv1alpha2.NamespacedPolicyTargetReference `json:"targetRef"`

	// HealthCheck configures target health checks; changes are applied in place.
	//
	// +optional
	HealthCheck *HealthCheckConfig `json:"healthCheck,omitempty"`
}

// HealthCheckConfig is the health check of a VPC Lattice target group; the ranges are Lattice's.
type HealthCheckConfig struct {
	// Enabled turns health checking on or off.
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// IntervalSeconds is the approximate time between checks of one target.
	// +optional
	// +kubebuilder:validation:Minimum=5
	// +kubebuilder:validation:Maximum=300
	IntervalSeconds *int64 `json:"intervalSeconds,omitempty"`

	// TimeoutSeconds is how long to wait for a response before the check fails.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=120
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`

	// HealthyThresholdCount is how many consecutive successes make an unhealthy target healthy.
	// +optional
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=10
	HealthyThresholdCount *int64 `json:"healthyThresholdCount,omitempty"`

	// UnhealthyThresholdCount is how many consecutive failures make a target unhealthy.
	// +optional
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=10
	UnhealthyThresholdCount *int64 `json:"unhealthyThresholdCount,omitempty"`

	// StatusMatch is the HTTP status codes that count as success, such as "200" or "200-299".
	// +optional
	StatusMatch *string `json:"statusMatch,omitempty"`

	// Path is the request path of the check.
	// +optional
	Path *string `json:"path,omitempty"`

	// Port to check; defaults to the port the target receives traffic on.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int64 `json:"port,omitempty"`

	// Protocol of the check.
	// +optional
	Protocol *HealthCheckProtocol `json:"protocol,omitempty"`

	// ProtocolVersion of the check; HTTP1 when unset.
	// +optional
	ProtocolVersion *HealthCheckProtocolVersion `json:"protocolVersion,omitempty"`
}

// HealthCheckProtocol is the protocol of a health check.
//
// +kubebuilder:validation:Enum=HTTP;HTTPS
type HealthCheckProtocol string

// Health check protocols.
const (
	HealthCheckProtocolHTTP  HealthCheckProtocol = "HTTP"
	HealthCheckProtocolHTTPS HealthCheckProtocol = "HTTPS"
)

// HealthCheckProtocolVersion is the HTTP version of a health check.
//
// +kubebuilder:validation:Enum=HTTP1;HTTP2
type HealthCheckProtocolVersion string

// Health check protocol versions.
const (
	HealthCheckProtocolVersionHTTP1 HealthCheckProtocolVersion = "HTTP1"
	HealthCheckProtocolVersionHTTP2 HealthCheckProtocolVersion = "HTTP2"
)

// GetTargetRef returns the policy's target.
func (p *TargetGroupPolicy) GetTargetRef() *gwv1alpha2.NamespacedPolicyTargetReference {
	return p.Spec.TargetRef
}

// GetConditions returns the status conditions.
func (p *TargetGroupPolicy) GetConditions() []metav1.Condition { return p.Status.Conditions }

// SetConditions replaces the status conditions.
func (p *TargetGroupPolicy) SetConditions(c []metav1.Condition) { p.Status.Conditions = c }
