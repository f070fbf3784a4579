// Package v1alpha1 holds the Go types of the application-networking.k8s.aws/v1alpha1 CRDs. Names,
// fields, validation, short names and printer columns match the AWS Gateway API Controller's CRDs,
// so manifests written for that controller apply unchanged.
//
// +kubebuilder:object:generate=true
// +groupName=application-networking.k8s.aws
package v1alpha1
