package translate

import (
	"fmt"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// reasonConflictingImportAnnotations is upstream's ResolvedRefs reason for an import that names
// an external target group and filters exports at once.
const reasonConflictingImportAnnotations gwv1.RouteConditionReason = "ConflictingServiceImportAnnotations"

func isServiceImport(ref gwv1.BackendObjectReference) bool {
	return ref.Group != nil && string(*ref.Group) == v1alpha1.GroupName && ref.Kind != nil && string(*ref.Kind) == v1alpha1.ServiceImportKind
}

// routeTypeOf is the exported route type a route kind uses.
func routeTypeOf(kind model.RouteKind) string {
	switch kind {
	case model.KindGRPCRoute:
		return RouteTypeGRPC
	case model.KindTLSRoute:
		return RouteTypeTLS
	}
	return RouteTypeHTTP
}

// resolveImport checks a ServiceImport backendRef and returns the reference deploy resolves. The
// route's target-less group is added to tgs: it takes the import's share while nothing resolves.
func (t *translator) resolveImport(r *routeState, ref gwv1.BackendObjectReference, tgs map[string]model.TargetGroup) (*model.ImportRef, *backendError) {
	ns := r.key.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	display := backendDisplay{ns: ns, ref: &ref}
	if ns != r.key.Namespace && !t.referenceGranted(string(r.key.Kind), r.key.Namespace, v1alpha1.GroupName, v1alpha1.ServiceImportKind, ns, string(ref.Name)) {
		return nil, &backendError{gwv1.RouteReasonRefNotPermitted, fmt.Sprintf("backendRef %s: no ReferenceGrant in namespace %s allows %ss from namespace %s", display, ns, r.key.Kind, r.key.Namespace)}
	}
	si := t.serviceImport(ns, string(ref.Name))
	if si == nil {
		return nil, &backendError{gwv1.RouteReasonBackendNotFound, fmt.Sprintf("backendRef %s: ServiceImport not found", display)}
	}
	a := si.Annotations
	imp := &model.ImportRef{Namespace: ns, Name: si.Name, RouteType: routeTypeOf(r.key.Kind), Import: ns + "/" + si.Name}
	if arn := a[AnnotationImportTargetGroupARN]; arn != "" {
		if a[AnnotationImportExportName] != "" || a[AnnotationImportVPC] != "" || a[AnnotationImportCluster] != "" {
			return nil, &backendError{reasonConflictingImportAnnotations, fmt.Sprintf("backendRef %s: %s names an external target group and cannot be combined with %s, %s or %s",
				display, AnnotationImportTargetGroupARN, AnnotationImportExportName, AnnotationImportVPC, AnnotationImportCluster)}
		}
		imp.TargetGroupARN = arn
	} else {
		imp.Name = nonEmpty(a[AnnotationImportExportName], si.Name)
		imp.VPCID, imp.ClusterName = a[AnnotationImportVPC], a[AnnotationImportCluster]
		if ref.Port != nil {
			imp.Port = int32(*ref.Port)
		}
	}
	fallback := t.unresolvedTargetGroup(r)
	tgs[fallback.Name] = fallback
	imp.Fallback = fallback.Name
	return imp, nil
}

func (t *translator) serviceImport(ns, name string) *v1alpha1.ServiceImport {
	for i := range t.in.ServiceImports {
		if si := &t.in.ServiceImports[i]; si.Namespace == ns && si.Name == name && si.DeletionTimestamp == nil {
			return si
		}
	}
	return nil
}

// addImportWeight adds w to the entry of imp (one per distinct reference).
func addImportWeight(entries []weighted, imp *model.ImportRef, w int64) []weighted {
	key := "import:" + imp.Key()
	for i := range entries {
		if entries[i].tg == key {
			entries[i].weight += w
			return entries
		}
	}
	return append(entries, weighted{tg: key, weight: w, imp: imp})
}
