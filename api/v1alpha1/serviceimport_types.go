package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceImportKind is the kind of ServiceImport.
const ServiceImportKind = "ServiceImport"

// ServiceImport names target groups exported by ServiceExports (in this or another cluster), or an
// external target group, so that routes can use them as a backendRef.
//
// +kubebuilder:object:root=true
type ServiceImport struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the imported service.
	// +optional
	Spec ServiceImportSpec `json:"spec,omitempty"`

	// Status lists the clusters the service is imported from.
	// +optional
	Status ServiceImportStatus `json:"status,omitempty"`
}

// ServiceImportType is the type of a ServiceImport.
type ServiceImportType string

// ServiceImport types.
const (
	// ClusterSetIP imports are reached through a cluster-set virtual IP.
	ClusterSetIP ServiceImportType = "ClusterSetIP"
	// Headless imports address the backend pods directly.
	Headless ServiceImportType = "Headless"
)

// ServiceImportSpec describes an imported service. Only the name and annotations matter to VPC
// Lattice routing; the fields mirror the Multicluster Services API for compatibility.
type ServiceImportSpec struct {
	// +listType=atomic
	Ports []ServicePort `json:"ports"`
	// IPs holds the cluster-set virtual IP when Type is ClusterSetIP.
	// +kubebuilder:validation:MaxItems:=1
	// +optional
	IPs []string `json:"ips,omitempty"`
	// Type is ClusterSetIP or Headless.
	// +kubebuilder:validation:Enum=ClusterSetIP;Headless
	Type ServiceImportType `json:"type"`
	// SessionAffinity is ClientIP or None (default); ignored for Headless.
	// +optional
	SessionAffinity corev1.ServiceAffinity `json:"sessionAffinity,omitempty"`
	// SessionAffinityConfig configures ClientIP affinity.
	// +optional
	SessionAffinityConfig *corev1.SessionAffinityConfig `json:"sessionAffinityConfig,omitempty"`
}

// ServicePort is a port of an imported service.
type ServicePort struct {
	// Name of the port, a DNS label; optional when there is one port.
	// +optional
	Name string `json:"name,omitempty"`

	// Protocol is TCP (default), UDP or SCTP.
	// +optional
	Protocol corev1.Protocol `json:"protocol,omitempty"`

	// AppProtocol is the application protocol, as in a Service port.
	// +optional
	AppProtocol *string `json:"appProtocol,omitempty"`

	// Port number.
	Port int32 `json:"port"`
}

// ServiceImportStatus is the observed state of an import.
type ServiceImportStatus struct {
	// Clusters are the exporting clusters.
	// +optional
	// +patchStrategy=merge
	// +patchMergeKey=cluster
	// +listType=map
	// +listMapKey=cluster
	Clusters []ClusterStatus `json:"clusters,omitempty"`
}

// ClusterStatus names one exporting cluster.
type ClusterStatus struct {
	// Cluster is the exporting cluster's name, an RFC 1123 DNS label.
	Cluster string `json:"cluster"`
}

// ServiceImportList is a list of ServiceImports.
//
// +kubebuilder:object:root=true
type ServiceImportList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=set
	Items []ServiceImport `json:"items"`
}
