package translate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Multi-cluster annotations shared with the upstream controller.
const (
	// AnnotationFederation opts a ServiceExport in; its value must be FederationLattice.
	AnnotationFederation = "application-networking.k8s.aws/federation"
	FederationLattice    = "amazon-vpc-lattice"
	// AnnotationExportPort is the legacy comma-separated list of exported ports (HTTP).
	AnnotationExportPort = "application-networking.k8s.aws/port"
	// AnnotationExportServiceName names the exported Service when it differs from the export.
	AnnotationExportServiceName = "application-networking.k8s.aws/service-name"
	// AnnotationImportExportName names the export an import resolves to when it differs.
	AnnotationImportExportName = "application-networking.k8s.aws/export-name"
	// AnnotationImportVPC and AnnotationImportCluster keep only the exports of one VPC or cluster.
	AnnotationImportVPC     = "application-networking.k8s.aws/aws-vpc"
	AnnotationImportCluster = "application-networking.k8s.aws/aws-eks-cluster-name"
	// AnnotationImportTargetGroupARN makes an import use an external target group as it is.
	AnnotationImportTargetGroupARN = "application-networking.k8s.aws/target-group-arn"
)

// Route types of exported ports.
const (
	RouteTypeHTTP = "HTTP"
	RouteTypeGRPC = "GRPC"
	RouteTypeTLS  = "TLS"
)

// ServiceExport condition reasons.
const (
	ReasonExportValid           = "Valid"
	ReasonExportServiceNotFound = "ServiceNotFound"
	ReasonExportInvalidPort     = "InvalidPort"
	ReasonExportNoConflict      = "NoConflict"
)

// exports builds the standalone target groups of every federated ServiceExport and its status.
// Exports without the federation annotation are left to whatever other implementation serves
// them, as upstream does.
func (t *translator) exports() {
	items := make([]*v1alpha1.ServiceExport, 0, len(t.in.ServiceExports))
	for i := range t.in.ServiceExports {
		if se := &t.in.ServiceExports[i]; se.Annotations[AnnotationFederation] == FederationLattice {
			items = append(items, se)
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	for _, se := range items {
		tgs, reason, msg := t.exportTargetGroups(se)
		valid := reason == ""
		if valid {
			reason, msg = ReasonExportValid, fmt.Sprintf("exports %d target groups", len(tgs))
			t.out.Model.Exports = append(t.out.Model.Exports, model.Export{Key: model.ExportKey{Namespace: se.Namespace, Name: se.Name}, TargetGroups: tgs})
		}
		exported := exportCondition(v1alpha1.ServiceExportExported, corev1.ConditionUnknown, "Pending", messageWaiting)
		if !valid {
			exported = exportCondition(v1alpha1.ServiceExportExported, corev1.ConditionFalse, "Invalid", "the export is not valid")
		}
		t.out.ServiceExports[types.NamespacedName{Namespace: se.Namespace, Name: se.Name}] = v1alpha1.ServiceExportStatus{Conditions: []v1alpha1.ServiceExportCondition{
			exportCondition(v1alpha1.ServiceExportValid, boolStatus(valid), reason, msg),
			exportCondition(v1alpha1.ServiceExportConflict, corev1.ConditionFalse, ReasonExportNoConflict, "no other owner holds its target groups"),
			exported,
		}}
	}
}

func boolStatus(b bool) corev1.ConditionStatus {
	if b {
		return corev1.ConditionTrue
	}
	return corev1.ConditionFalse
}

func exportCondition(typ v1alpha1.ServiceExportConditionType, st corev1.ConditionStatus, reason, msg string) v1alpha1.ServiceExportCondition {
	return v1alpha1.ServiceExportCondition{Type: typ, Status: st, Reason: &reason, Message: &msg}
}

// exportedPorts are the (port, route type) pairs an export asks for: spec.exportedPorts, else
// the legacy port annotation (HTTP).
func exportedPorts(se *v1alpha1.ServiceExport) ([]v1alpha1.ExportedPort, error) {
	if len(se.Spec.ExportedPorts) > 0 {
		return se.Spec.ExportedPorts, nil
	}
	var out []v1alpha1.ExportedPort
	for _, s := range strings.Split(se.Annotations[AnnotationExportPort], ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := strconv.ParseInt(s, 10, 32)
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("annotation %s: %q is not a port number", AnnotationExportPort, s)
		}
		out = append(out, v1alpha1.ExportedPort{Port: int32(p), RouteType: RouteTypeHTTP})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no port to export: set spec.exportedPorts or the %s annotation", AnnotationExportPort)
	}
	return out, nil
}

// exportTargetGroups builds an export's target groups, or says why it is invalid (reason, msg).
func (t *translator) exportTargetGroups(se *v1alpha1.ServiceExport) (tgs []model.TargetGroup, reason, msg string) {
	svcName := nonEmpty(se.Annotations[AnnotationExportServiceName], se.Name)
	svc, ok := t.services[types.NamespacedName{Namespace: se.Namespace, Name: svcName}]
	if !ok {
		return nil, ReasonExportServiceNotFound, fmt.Sprintf("Service %s/%s not found", se.Namespace, svcName)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, ReasonExportServiceNotFound, fmt.Sprintf("Service %s/%s is ExternalName: it has no endpoints to export", se.Namespace, svcName)
	}
	ports, err := exportedPorts(se)
	if err != nil {
		return nil, ReasonExportInvalidPort, err.Error()
	}
	seen := map[v1alpha1.ExportedPort]bool{}
	for _, ep := range ports {
		if seen[ep] {
			return nil, ReasonExportInvalidPort, fmt.Sprintf("port %d is exported twice for %s", ep.Port, ep.RouteType)
		}
		seen[ep] = true
		tg, err := t.exportTargetGroup(se, svc, ep)
		if err != nil {
			return nil, ReasonExportInvalidPort, err.Error()
		}
		tgs = append(tgs, tg)
	}
	sort.Slice(tgs, func(i, j int) bool { return tgs[i].Name < tgs[j].Name })
	return tgs, "", ""
}

// routeKindOf is the route kind whose target groups an exported route type matches.
func routeKindOf(routeType string) (model.RouteKind, bool) {
	switch routeType {
	case RouteTypeHTTP:
		return model.KindHTTPRoute, true
	case RouteTypeGRPC:
		return model.KindGRPCRoute, true
	case RouteTypeTLS:
		return model.KindTLSRoute, true
	}
	return "", false
}

func (t *translator) exportTargetGroup(se *v1alpha1.ServiceExport, svc *corev1.Service, ep v1alpha1.ExportedPort) (model.TargetGroup, error) {
	kind, ok := routeKindOf(ep.RouteType)
	if !ok {
		return model.TargetGroup{}, fmt.Errorf("port %d: routeType %q is not HTTP, GRPC or TLS", ep.Port, ep.RouteType)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == ep.Port && (svc.Spec.Ports[i].Protocol == "" || svc.Spec.Ports[i].Protocol == corev1.ProtocolTCP) {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return model.TargetGroup{}, fmt.Errorf("port %d: the Service %s/%s has no such TCP port", ep.Port, svc.Namespace, svc.Name)
	}
	protocol, version := tgProtocol(kind)
	if kind == model.KindHTTPRoute && sp.AppProtocol != nil && *sp.AppProtocol == "kubernetes.io/h2c" {
		version = model.ProtocolVersionHTTP2
	}
	defaultProtocol := protocol
	protocol, version, hc, policy := t.targetGroupPolicy(kind, targetKey{group: v1alpha1.GroupName, kind: kindServiceExport, namespace: se.Namespace, name: se.Name}, protocol, version)
	label := tgProtoLabel(protocol, version)
	identity := []string{model.SourceTypeServiceExport, se.Namespace, se.Name, strconv.Itoa(int(ep.Port)), ep.RouteType, version}
	if protocol != defaultProtocol {
		label = sanitize(protocol) + "-" + label
		identity = append(identity, protocol)
	}
	tags := map[string]string{
		model.TagManagedBy:        t.managedBy,
		model.TagClusterName:      t.cfg.ClusterName,
		model.TagServiceName:      se.Name,
		model.TagServiceNamespace: se.Namespace,
		model.TagSourceTypeKey:    model.SourceTypeServiceExport,
		model.TagExportedPort:     strconv.Itoa(int(ep.Port)),
	}
	if version != "" {
		tags[model.TagProtocolVersion] = version
	}
	tg := t.ipTargetGroup(svc, sp, protocol, version)
	tg.Name = targetGroupName(se.Namespace, se.Name, ep.Port, label, identity...)
	tg.HealthCheck, tg.Tags, tg.Policy = hc, tags, policy
	return tg, nil
}
