package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceNetworkKind is the kind of ServiceNetwork.
const ServiceNetworkKind = "ServiceNetwork"

// ServiceNetwork creates (or adopts) the VPC Lattice service network of the same name and deletes
// it, if owned, when the resource is deleted.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=gateway-api,shortName=sn
// +kubebuilder:storageversion
// +kubebuilder:printcolumn:name="ARN",type=string,JSONPath=`.status.serviceNetworkARN`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:subresource:status
type ServiceNetwork struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ServiceNetworkSpec `json:"spec,omitempty"`

	// Status is the observed state of the service network.
	//
	// +kubebuilder:default={conditions: {{type: "Accepted", status: "Unknown", reason:"NotReconciled", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"}}}
	Status ServiceNetworkStatus `json:"status,omitempty"`
}

// ServiceNetworkList is a list of ServiceNetworks.
//
// +kubebuilder:object:root=true
type ServiceNetworkList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceNetwork `json:"items"`
}

// ServiceNetworkSpec is empty: the resource name is the service network name.
type ServiceNetworkSpec struct{}

// ServiceNetworkStatus is the observed state of a service network.
type ServiceNetworkStatus struct {
	// Conditions are "Accepted" and "Programmed".
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:default={{type: "Accepted", status: "Unknown", reason:"Pending", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"},{type: "Programmed", status: "Unknown", reason:"Pending", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"}}
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ServiceNetworkARN is the ARN of the VPC Lattice service network.
	// +optional
	ServiceNetworkARN string `json:"serviceNetworkARN,omitempty"`

	// ServiceNetworkID is the ID of the VPC Lattice service network.
	// +optional
	ServiceNetworkID string `json:"serviceNetworkID,omitempty"`
}
