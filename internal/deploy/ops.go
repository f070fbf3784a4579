package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The operations a plan is made of: one struct per API call, holding the identity (names; IDs are
// looked up when the call runs) and the inputs. Their run methods are in execute.go.

// targetsPerCall is the API's limit on Register/DeregisterTargets.
const targetsPerCall = 100

// rulesPerBatch is the API's limit on BatchUpdateRule.
const rulesPerBatch = 10

// call is the data of one operation; run performs it and records the result in the observed
// state.
type call interface {
	run(ctx context.Context, d *Deployer) error
}

// tagged says whose tags in the observed state a TagResource updates.
type tagged int

const (
	// taggedChild is a listener, rule or association: its tags are not kept.
	taggedChild tagged = iota
	taggedServiceNetwork
	taggedService
	taggedTargetGroup
)

type tagResource struct {
	arn  string
	tags map[string]string
	// holder and name locate the resource in the observed state.
	holder tagged
	name   string
}

func opTagResource(resource, arn string, tags map[string]string, holder tagged, name string) Op {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, strings.TrimPrefix(k, model.TagPrefix))
	}
	slices.Sort(keys)
	return Op{Action: "TagResource", Resource: resource, Detail: strings.Join(keys, ","),
		call: tagResource{arn: arn, tags: tags, holder: holder, name: name}}
}

// Service networks and the VPC association.

type createServiceNetwork struct{ sn model.ServiceNetwork }

func opCreateServiceNetwork(sn model.ServiceNetwork) Op {
	return Op{Action: "CreateServiceNetwork", Resource: "service network " + sn.Name, Detail: authDetail(sn.Auth), call: createServiceNetwork{sn}}
}

// createVPCAssociation associates the VPC; after replacing another association (replacing) it
// retries while Lattice still reports the old one being removed.
type createVPCAssociation struct {
	sn        model.ServiceNetwork
	replacing bool
}

func opCreateVPCAssociation(sn model.ServiceNetwork, replacing bool) Op {
	return Op{Action: "CreateServiceNetworkVpcAssociation", Resource: "service network " + sn.Name + " ↔ " + sn.VPCAssociation.VPCID,
		Detail: securityGroupsDetail(sn.VPCAssociation.SecurityGroupIDs), call: createVPCAssociation{sn: sn, replacing: replacing}}
}

type deleteVPCAssociation struct{ sn string }

func opDeleteVPCAssociation(sn, vpcID string) Op {
	return Op{Action: "DeleteServiceNetworkVpcAssociation", Resource: "service network " + sn + " ↔ " + vpcID, call: deleteVPCAssociation{sn}}
}

type deleteServiceNetwork struct{ sn string }

func opDeleteServiceNetwork(sn string) Op {
	return Op{Action: "DeleteServiceNetwork", Resource: "service network " + sn, call: deleteServiceNetwork{sn}}
}

// Target groups and targets.

type createTargetGroup struct{ tg model.TargetGroup }

func opCreateTargetGroup(tg model.TargetGroup) Op {
	detail := fmt.Sprintf("%s:%d %s", tg.Protocol, tg.Port, tg.ProtocolVersion)
	if tg.HealthCheck != nil {
		detail += ", health check"
	}
	return Op{Action: "CreateTargetGroup", Resource: "target group " + tg.Name, Detail: detail, call: createTargetGroup{tg}}
}

// changeTargets registers (register) or deregisters targets of a target group.
type changeTargets struct {
	tg       string
	targets  []model.Target
	register bool
}

// targetOps returns the Register and Deregister calls that turn have into want, chunked at the
// API limit. have == nil means the target group is created by the same plan and has no targets.
func targetOps(tgName string, want []model.Target, have map[model.Target]bool) []Op {
	wantSet := make(map[model.Target]bool, len(want))
	var add, remove []model.Target
	for _, t := range want {
		wantSet[t] = true
		if !have[t] {
			add = append(add, t)
		}
	}
	for t := range have {
		if !wantSet[t] {
			remove = append(remove, t)
		}
	}
	sortTargets(remove)
	var ops []Op
	for chunk := range slices.Chunk(add, targetsPerCall) {
		ops = append(ops, opChangeTargets(tgName, chunk, true))
	}
	for chunk := range slices.Chunk(remove, targetsPerCall) {
		ops = append(ops, opChangeTargets(tgName, chunk, false))
	}
	return ops
}

func opChangeTargets(tgName string, targets []model.Target, register bool) Op {
	action := "DeregisterTargets"
	if register {
		action = "RegisterTargets"
	}
	return Op{Action: action, Resource: "target group " + tgName, Detail: fmt.Sprintf("%d targets", len(targets)),
		call: changeTargets{tg: tgName, targets: targets, register: register}}
}

type deleteTargetGroup struct{ tg string }

func opDeleteTargetGroup(tg string) Op {
	return Op{Action: "DeleteTargetGroup", Resource: "target group " + tg, call: deleteTargetGroup{tg}}
}

// Services and their service-network associations.

// createService creates the service; when it replaces a deleted one of the same name
// (replacing), it retries while the old one is still being deleted.
type createService struct {
	svc       model.Service
	replacing bool
}

func opCreateService(svc model.Service, replacing bool) Op {
	detail := svc.CustomDomainName
	if a := authDetail(svc.Auth); a != "" {
		detail = strings.TrimPrefix(detail+", "+a, ", ")
	}
	return Op{Action: "CreateService", Resource: "service " + svc.Name, Detail: detail,
		call: createService{svc: svc, replacing: replacing}}
}

// updateCertificate sets the service's certificate; an imported one's ARN is looked up when it
// runs, after the plan's imports.
type updateCertificate struct{ svc model.Service }

func opUpdateCertificate(svc model.Service) Op {
	return Op{Action: "UpdateService", Resource: "service " + svc.Name, Detail: "certificate", call: updateCertificate{svc}}
}

// deleteService deletes a service and what it cascades to (listeners, rules).
type deleteService struct{ svc string }

func opDeleteService(svc string) Op {
	return Op{Action: "DeleteService", Resource: "service " + svc, call: deleteService{svc}}
}

type createAssociation struct{ svc, sn string }

func opCreateAssociation(svc, sn string) Op {
	return Op{Action: "CreateServiceNetworkServiceAssociation", Resource: "service " + svc + " ↔ service network " + sn,
		call: createAssociation{svc, sn}}
}

// deleteAssociation removes the association of a service with the service network snID; snName
// is for people.
type deleteAssociation struct{ svc, snID, snName string }

func opDeleteAssociation(svc, snID, snName string) Op {
	return Op{Action: "DeleteServiceNetworkServiceAssociation", Resource: "service " + svc + " ↔ service network " + snName,
		call: deleteAssociation{svc, snID, snName}}
}

// Listeners and rules.

type createListener struct {
	svc      string
	listener model.Listener
}

func opCreateListener(svc string, l model.Listener) Op {
	return Op{Action: "CreateListener", Resource: fmt.Sprintf("listener %s/%d", svc, l.Port), Detail: l.Protocol,
		call: createListener{svc, l}}
}

type updateListener struct {
	svc      string
	listener model.Listener
}

func opUpdateListener(svc string, l model.Listener) Op {
	return Op{Action: "UpdateListener", Resource: fmt.Sprintf("listener %s/%d", svc, l.Port), Detail: "default action",
		call: updateListener{svc, l}}
}

type deleteListener struct {
	svc  string
	port int32
}

func opDeleteListener(svc string, port int32) Op {
	return Op{Action: "DeleteListener", Resource: fmt.Sprintf("listener %s/%d", svc, port), call: deleteListener{svc, port}}
}

type createRule struct {
	svc  string
	port int32
	rule model.Rule
}

func opCreateRule(svc string, port int32, r model.Rule) Op {
	return Op{Action: "CreateRule", Resource: fmt.Sprintf("rule %s/%d/%s", svc, port, r.Name), Detail: fmt.Sprintf("priority %d", r.Priority),
		call: createRule{svc, port, r}}
}

// ruleUpdate gives the existing rule id the priority, match and action of want.
type ruleUpdate struct {
	id   string
	want model.Rule
}

type batchUpdateRules struct {
	svc     string
	port    int32
	updates []ruleUpdate
}

func opBatchUpdateRules(svc string, port int32, updates []ruleUpdate) Op {
	names := make([]string, 0, len(updates))
	for _, u := range updates {
		names = append(names, u.want.Name)
	}
	return Op{Action: "BatchUpdateRule", Resource: fmt.Sprintf("rules %s/%d/{%s}", svc, port, strings.Join(names, ",")),
		call: batchUpdateRules{svc, port, updates}}
}

type deleteRule struct {
	svc      string
	port     int32
	id, name string
}

func opDeleteRule(svc string, port int32, r *ruleState) Op {
	return Op{Action: "DeleteRule", Resource: fmt.Sprintf("rule %s/%d/%s", svc, port, r.name), call: deleteRule{svc, port, r.id, r.name}}
}

func sortTargets(ts []model.Target) {
	slices.SortFunc(ts, func(a, b model.Target) int {
		if c := strings.Compare(a.IP, b.IP); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
}
