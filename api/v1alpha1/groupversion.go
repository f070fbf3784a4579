package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group shared with the AWS Gateway API Controller.
const GroupName = "application-networking.k8s.aws"

// GroupVersion identifies every type in this package.
var GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

var schemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

// AddToScheme registers every kind of this package, and its list, with a scheme.
var AddToScheme = schemeBuilder.AddToScheme

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&TargetGroupPolicy{}, &TargetGroupPolicyList{},
		&VpcAssociationPolicy{}, &VpcAssociationPolicyList{},
		&AccessLogPolicy{}, &AccessLogPolicyList{},
		&IAMAuthPolicy{}, &IAMAuthPolicyList{},
		&ServiceExport{}, &ServiceExportList{},
		&ServiceImport{}, &ServiceImportList{},
		&ServiceNetwork{}, &ServiceNetworkList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
