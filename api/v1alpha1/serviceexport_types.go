package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceExportKind is the kind of ServiceExport.
const ServiceExportKind = "ServiceExport"

// ServiceExport makes the Service of the same name and namespace available to other clusters as
// standalone VPC Lattice target groups. It is this project's own resource, shaped like, but not
// implementing, the Kubernetes Multicluster Services API.
//
// +kubebuilder:object:root=true
type ServiceExport struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec chooses the exported ports.
	// +optional
	Spec ServiceExportSpec `json:"spec,omitempty"`

	// Status is the observed state of the export.
	// +optional
	Status ServiceExportStatus `json:"status,omitempty"`
}

// ServiceExportSpec is the desired export.
type ServiceExportSpec struct {
	// ExportedPorts lists the ports to export and the kind of route each serves. When empty, the
	// ports named by the application-networking.k8s.aws/port annotation are exported as HTTP.
	//
	// +optional
	ExportedPorts []ExportedPort `json:"exportedPorts,omitempty"`
}

// ExportedPort is one exported Service port.
type ExportedPort struct {
	// Port is the Service port number.
	Port int32 `json:"port"`

	// RouteType is the kind of route that will use the port: HTTP, GRPC or TLS.
	//
	// +kubebuilder:validation:Enum=HTTP;GRPC;TLS
	RouteType string `json:"routeType"`
}

// ServiceExportStatus is the observed state of an export.
type ServiceExportStatus struct {
	// +optional
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +listType=map
	// +listMapKey=type
	Conditions []ServiceExportCondition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// ServiceExportConditionType is the type of a ServiceExport condition.
type ServiceExportConditionType string

// ServiceExport condition types.
const (
	// ServiceExportValid is True when the exported Service exists and can be exported.
	ServiceExportValid ServiceExportConditionType = "Valid"
	// ServiceExportConflict is True when exports of the same Service disagree.
	ServiceExportConflict ServiceExportConditionType = "Conflict"
	// ServiceExportExported is True when VPC Lattice holds the exported target groups (ours; upstream
	// defines no condition saying so).
	ServiceExportExported ServiceExportConditionType = "Exported"
)

// ServiceExportCondition is one condition of a ServiceExport. Its shape predates metav1.Condition
// and is kept for compatibility.
type ServiceExportCondition struct {
	Type ServiceExportConditionType `json:"type"`
	// Status is True, False or Unknown.
	// +kubebuilder:validation:Enum=True;False;Unknown
	Status corev1.ConditionStatus `json:"status"`
	// +optional
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
	// +optional
	Reason *string `json:"reason,omitempty"`
	// +optional
	Message *string `json:"message,omitempty"`
}

// ServiceExportList is a list of ServiceExports.
//
// +kubebuilder:object:root=true
type ServiceExportList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// +listType=set
	Items []ServiceExport `json:"items"`
}
