package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Multi-cluster: a ServiceExport becomes standalone target groups in the exporting cluster's
// VPC; a ServiceImport backend becomes a reference that deploy resolves to the exported target
// groups of every cluster (found by tag) or to an external target group.

// Tag keys and values of exported target groups. SourceTypeKey = ServiceExport,
// ServiceName = the export's name and ServiceNamespace its namespace are upstream's;
// TagExportedPort is ours, so that an import can tell exported ports apart (target groups
// exported by upstream lack it and match any port); TagExportDeleted marks an export being
// deleted, so importers stop using it before Lattice lets it be deleted.
const (
	SourceTypeServiceExport = "ServiceExport"
	TagExportedPort         = TagPrefix + "ExportedPort"
	TagExportDeleted        = TagPrefix + "ExportDeleted"
)

// ExportKey is the stable identity of a ServiceExport.
type ExportKey struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (k ExportKey) String() string { return "ServiceExport/" + k.Namespace + "/" + k.Name }

// Export is the standalone target groups of one ServiceExport, one per exported port and route
// type, with the Service's endpoints as targets. They belong to no Lattice service.
type Export struct {
	Key ExportKey `json:"key"`
	// TargetGroups sorted by Name.
	TargetGroups []TargetGroup `json:"targetGroups"`
}

// ImportRef is a forward target that deploy resolves when it runs: the exported target groups
// of (Namespace, Name) in every cluster of the account, narrowed by the filters, or the
// external target group TargetGroupARN. Translate cannot resolve it: exports of other clusters
// are known only to Lattice.
type ImportRef struct {
	Namespace string `json:"namespace"`
	// Name is the export's name (the ServiceImport's, or its export-name annotation).
	Name string `json:"name"`
	// Port, when set, keeps exports of that port (exports without the ExportedPort tag match).
	Port int32 `json:"port,omitempty"`
	// RouteType is the exported port's route type the route kind needs: HTTP, GRPC or TLS.
	RouteType string `json:"routeType"`
	// VPCID and ClusterName, when set, keep only exports of that VPC and cluster.
	VPCID       string `json:"vpcID,omitempty"`
	ClusterName string `json:"clusterName,omitempty"`
	// TargetGroupARN names an external target group, used as it is and never modified.
	TargetGroupARN string `json:"targetGroupARN,omitempty"`
	// Import is the ServiceImport, "namespace/name", for messages.
	Import string `json:"import"`
	// Fallback is the route's target-less group that takes the share when nothing resolves, so
	// that share answers 5xx as the spec asks of unresolved backends.
	Fallback string `json:"fallback"`
}

// Key identifies what the reference resolves to (Import and Fallback do not change that).
func (r ImportRef) Key() string {
	if r.TargetGroupARN != "" {
		return "arn:" + r.TargetGroupARN
	}
	return fmt.Sprintf("%s/%s:%s/%s/%s/%s", r.Namespace, r.Name, strconv.Itoa(int(r.Port)), r.RouteType, r.VPCID, r.ClusterName)
}

// Imports lists the distinct import references of m's forward actions, in model order.
func (m *Model) Imports() []ImportRef {
	var out []ImportRef
	seen := map[string]bool{}
	for _, svc := range m.Services {
		for _, l := range svc.Listeners {
			actions := []Action{l.DefaultAction}
			for _, r := range l.Rules {
				actions = append(actions, r.Action)
			}
			for _, a := range actions {
				for _, f := range a.Forward {
					if f.Import != nil && !seen[f.Import.Key()] {
						seen[f.Import.Key()] = true
						out = append(out, *f.Import)
					}
				}
			}
		}
	}
	return out
}

// ManagedByVPC is the VPC part of a ManagedBy tag value ("<account>/<cluster>/<vpc>").
func ManagedByVPC(managedBy string) string {
	return managedBy[strings.LastIndex(managedBy, "/")+1:]
}
