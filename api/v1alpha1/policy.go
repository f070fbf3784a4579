package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gwv1alpha2 "sigs.k8s.io/gateway-api/apis/v1alpha2"
)

// Policy is what TargetGroupPolicy, VpcAssociationPolicy, AccessLogPolicy and IAMAuthPolicy share:
// one target reference and a list of conditions, so attachment and status code can be written once.
//
// +kubebuilder:object:generate=false
type Policy interface {
	metav1.Object
	runtime.Object
	GetTargetRef() *gwv1alpha2.NamespacedPolicyTargetReference
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
}

// PolicyStatus is the observed state of a policy.
type PolicyStatus struct {
	// Conditions report whether the policy is attached and applied. Known types are "Accepted" and
	// "Programmed", with the Gateway API policy reasons (Accepted, Invalid, TargetNotFound,
	// Conflicted).
	//
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:default={{type: "Accepted", status: "Unknown", reason:"Pending", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"},{type: "Programmed", status: "Unknown", reason:"Pending", message:"Waiting for controller", lastTransitionTime: "1970-01-01T00:00:00Z"}}
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}
