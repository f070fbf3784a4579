package deploy

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/acm"

	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/internal/golden"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The second golden stage: testdata/<case>.in.yaml holds a desired model and the observed
// Lattice state; <case>.plan.txt is what diff makes of them (go test -update regenerates). The
// cases run as the controller 111122223333/c/vpc-1.

// goldenInput is a case file. The observed state is written by name; IDs and ARNs are derived
// from the names (sn-<name>, svc-<name>, tg-<name>, ...). With SyncTargets, the case is the
// targets-only path for those target groups instead of a whole diff.
type goldenInput struct {
	Model       model.Model    `json:"model"`
	Observed    observedByName `json:"observed"`
	SyncTargets []string       `json:"syncTargets"`
}

type observedByName struct {
	ServiceNetworks []struct {
		Name           string            `json:"name"`
		Tags           map[string]string `json:"tags"`
		VPCAssociation *assocByName      `json:"vpcAssociation"`
		policiesByName `json:",inline"`
	} `json:"serviceNetworks"`
	Services []struct {
		Name             string            `json:"name"`
		CustomDomainName string            `json:"customDomainName"`
		CertificateARN   string            `json:"certificateARN"`
		Tags             map[string]string `json:"tags"`
		// Suspect: Lattice answered NotFound for it or a child since it was observed.
		Suspect bool `json:"suspect"`
		// ChildrenUnknown, CertificateUnknown: not read yet.
		ChildrenUnknown    bool `json:"childrenUnknown"`
		CertificateUnknown bool `json:"certificateUnknown"`
		policiesByName     `json:",inline"`
		Associations       []assocByName `json:"associations"`
		Listeners          []struct {
			Port          int32        `json:"port"`
			Protocol      string       `json:"protocol"`
			DefaultAction model.Action `json:"defaultAction"`
			Rules         []struct {
				Name     string          `json:"name"`
				Priority int32           `json:"priority"`
				Match    model.HTTPMatch `json:"match"`
				Action   model.Action    `json:"action"`
			} `json:"rules"`
		} `json:"listeners"`
	} `json:"services"`
	TargetGroups []struct {
		Name            string            `json:"name"`
		Type            string            `json:"type"`
		Port            int32             `json:"port"`
		Protocol        string            `json:"protocol"`
		ProtocolVersion string            `json:"protocolVersion"`
		IPAddressType   string            `json:"ipAddressType"`
		VPCID           string            `json:"vpcID"`
		Tags            map[string]string `json:"tags"`
		Targets         []model.Target    `json:"targets"`
		TargetsUnknown  bool              `json:"targetsUnknown"`
		// HealthCheck is as Lattice reports it, defaults filled in; HealthCheckUnknown: not
		// read yet.
		HealthCheck        *model.HealthCheck `json:"healthCheck"`
		HealthCheckUnknown bool               `json:"healthCheckUnknown"`
	} `json:"targetGroups"`
	// Imports are resolved import references: the target group IDs they resolved to (another
	// cluster's, or tg-<name> for one listed above), or why nothing.
	Imports []struct {
		Ref            model.ImportRef `json:"ref"`
		TargetGroupIDs []string        `json:"targetGroupIDs"`
		Why            string          `json:"why"`
	} `json:"imports"`
	// Certificates are ACM certificates of ours; their ARNs end in cert-<arn>.
	Certificates []struct {
		ARN    string `json:"arn"`
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	} `json:"certificates"`
}

// policiesByName is the auth and access log state of a service or service network. Unless said
// unknown, they are known: authType NONE and no subscription when absent.
type policiesByName struct {
	AuthType    string `json:"authType"`
	AuthPolicy  string `json:"authPolicy"`
	AuthUnknown bool   `json:"authUnknown"`
	AccessLogs  []struct {
		Destination string `json:"destination"`
		// Policy is the AccessLogPolicy tag, <namespace>/<name>.
		Policy string `json:"policy"`
	} `json:"accessLogs"`
	AccessLogsUnknown bool `json:"accessLogsUnknown"`
}

func (p policiesByName) build(holderID string) (authState, accessLogState) {
	auth := authState{known: !p.AuthUnknown, authType: p.AuthType, document: p.AuthPolicy}
	if auth.authType == "" {
		auth.authType = model.AuthTypeNone
	}
	logs := accessLogState{known: !p.AccessLogsUnknown}
	for _, a := range p.AccessLogs {
		id := "als-" + holderID + "-" + destinationKind(a.Destination)
		logs.subs = append(logs.subs, &accessLogSub{id: id, arn: arn(id), destination: a.Destination, policy: a.Policy})
	}
	return auth, logs
}

type assocByName struct {
	// ServiceNetwork names the service network a service is associated with.
	ServiceNetwork string            `json:"serviceNetwork"`
	Tags           map[string]string `json:"tags"`
	TagsUnknown    bool              `json:"tagsUnknown"`
	// SecurityGroupIDs of a VPC association; SecurityGroupsUnknown: not read yet.
	SecurityGroupIDs      []string `json:"securityGroupIDs"`
	SecurityGroupsUnknown bool     `json:"securityGroupsUnknown"`
}

func arn(id string) string { return "arn:aws:vpc-lattice:us-west-2:111122223333:" + id }

func (in observedByName) build() *observed {
	// As after a first discovery: spec hash tags vouch.
	o := &observed{trustSpecs: true}
	assoc := func(id string, a assocByName) *assocState {
		return &assocState{id: id, arn: arn(id), status: "ACTIVE", tags: a.Tags, tagsKnown: !a.TagsUnknown,
			securityGroups: a.SecurityGroupIDs, securityGroupsKnown: !a.SecurityGroupsUnknown}
	}
	for _, sn := range in.ServiceNetworks {
		st := &snState{id: "sn-" + sn.Name, arn: arn("sn-" + sn.Name), name: sn.Name, tags: sn.Tags}
		st.auth, st.accessLogs = sn.build(st.id)
		if sn.VPCAssociation != nil {
			st.vpcAssoc = assoc("snva-"+sn.Name, *sn.VPCAssociation)
		}
		o.serviceNetworks.set(sn.Name, st)
	}
	for _, tg := range in.TargetGroups {
		st := &tgState{id: "tg-" + tg.Name, arn: arn("tg-" + tg.Name), name: tg.Name, status: "ACTIVE", typ: tg.Type,
			protocol: tg.Protocol, protocolVersion: tg.ProtocolVersion, ipAddressType: tg.IPAddressType, vpcID: tg.VPCID,
			port: tg.Port, tags: tg.Tags, targetsKnown: !tg.TargetsUnknown, targets: map[model.Target]bool{},
			healthCheck: tg.HealthCheck, healthCheckKnown: !tg.HealthCheckUnknown}
		for _, t := range tg.Targets {
			st.targets[t] = true
		}
		o.targetGroups.set(tg.Name, st)
	}
	for _, imp := range in.Imports {
		st := &importState{why: imp.Why}
		for _, id := range imp.TargetGroupIDs {
			st.tgs = append(st.tgs, importedTG{id: id, arn: arn("targetgroup/" + id)})
		}
		o.imports.set(imp.Ref.Key(), st)
	}
	for _, c := range in.Certificates {
		a := "arn:aws:acm:us-west-2:111122223333:certificate/" + c.ARN
		o.certificates.set(a, &certState{arn: a, name: c.Name, sha256: c.SHA256})
	}
	for _, svc := range in.Services {
		id := "svc-" + svc.Name
		st := &svcState{id: id, arn: arn(id), name: svc.Name, status: "ACTIVE", dnsName: id + ".7d67968.vpc-lattice-svcs.us-west-2.on.aws",
			customDomain: svc.CustomDomainName, certARN: svc.CertificateARN, certKnown: !svc.CertificateUnknown, tags: svc.Tags,
			childrenKnown: !svc.ChildrenUnknown, suspect: svc.Suspect}
		st.auth, st.accessLogs = svc.build(id)
		if st.childrenKnown {
			st.listeners, st.assocs = map[int32]*listenerState{}, map[string]*assocState{}
			for _, a := range svc.Associations {
				st.assocs["sn-"+a.ServiceNetwork] = assoc("snsa-"+svc.Name+"-"+a.ServiceNetwork, a)
			}
			for _, l := range svc.Listeners {
				lid := fmt.Sprintf("listener-%s-%d", svc.Name, l.Port)
				ls := &listenerState{id: lid, arn: arn(lid), name: fmt.Sprintf("%s-%d", strings.ToLower(l.Protocol), l.Port),
					protocol: l.Protocol, port: l.Port, defaultAction: l.DefaultAction, rules: map[string]*ruleState{}}
				for _, r := range l.Rules {
					rid := "rule-" + svc.Name + "-" + r.Name
					ls.rules[rid] = &ruleState{id: rid, arn: arn(rid), name: r.Name, priority: r.Priority, match: r.Match, action: r.Action}
				}
				st.listeners[l.Port] = ls
			}
		}
		o.services.set(svc.Name, st)
	}
	return o
}

func TestDiffGolden(t *testing.T) {
	dir := "testdata"
	cases := golden.Cases(t, dir)
	if len(cases) < 25 {
		t.Fatalf("%d golden cases, want at least 25", len(cases))
	}
	var cfg Config
	cfg.AccountID, cfg.ClusterName, cfg.VPCID = "111122223333", "c", "vpc-1"
	// The diff only checks that there is an ACM client; it never calls it.
	cfg.ACM = acm.New(acm.Options{})
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			var in goldenInput
			if err := yaml.UnmarshalStrict(golden.Input(t, dir, name), &in); err != nil {
				t.Fatal(err)
			}
			obs := in.Observed.build()
			var p *Plan
			var reads []read
			if in.SyncTargets != nil {
				p, _, reads = diffTargets(&in.Model, in.SyncTargets, obs, cfg)
			} else {
				p, reads = diff(&in.Model, obs, cfg)
			}
			golden.CheckFile(t, filepath.Join(dir, name+".plan.txt"), []byte(printDiff(p, reads, obs)))
		})
	}
}

// printDiff shows the plan by phase and sequence (the operations of one sequence run in order,
// sequences of one phase in parallel), with the status each reports to; or, when the diff needs
// to observe first, what it would read.
func printDiff(p *Plan, reads []read, obs *observed) string {
	var b strings.Builder
	if len(reads) > 0 {
		b.WriteString("observe first:\n")
		for _, r := range reads {
			fmt.Fprintf(&b, "  %s\n", describeRead(r, obs))
		}
		return b.String()
	}
	names := []string{"service networks", "VPC association", "certificates", "exports", "services", "stale services", "stale certificates", "stale target groups", "stale service networks"}
	for i, phase := range p.phases() {
		header := false
		for _, s := range phase {
			if len(s.ops) == 0 && s.err == nil {
				continue
			}
			if !header {
				fmt.Fprintf(&b, "# %s\n", names[i])
				header = true
			}
			fmt.Fprintf(&b, "[%s]\n", s.status)
			if s.err != nil {
				fmt.Fprintf(&b, "  ! %v\n", s.err)
			}
			for _, op := range s.ops {
				fmt.Fprintf(&b, "  %s\n", op)
			}
		}
	}
	writeRouteNotes(&b, "unresolved imports", p.unresolved)
	writeRouteNotes(&b, "forward actions over the target group limit", p.overLimit)
	if b.Len() == 0 {
		return "no changes\n"
	}
	return b.String()
}

// writeRouteNotes prints what the plan reports on routes' statuses, by route.
func writeRouteNotes(b *strings.Builder, title string, notes map[model.RouteKey][]string) {
	if len(notes) == 0 {
		return
	}
	keys := slices.SortedFunc(maps.Keys(notes), func(a, b model.RouteKey) int { return strings.Compare(a.String(), b.String()) })
	fmt.Fprintf(b, "# route status: %s\n", title)
	for _, k := range keys {
		fmt.Fprintf(b, "[%s]\n", k)
		for _, n := range notes[k] {
			fmt.Fprintf(b, "  %s\n", n)
		}
	}
}

func describeRead(r read, obs *observed) string {
	switch r.kind {
	case readServiceExists:
		return "GetService " + r.name + " (suspect: does it still exist?)"
	case readChildren:
		return "listeners, rules and associations of service " + r.name
	case readAssociations:
		return "associations of service " + r.name
	case readCertificate:
		return "certificate of service " + r.name
	case readTargets:
		return "targets of target group " + r.name
	case readVPCAssociationTags:
		return "tags of the VPC association of service network " + r.name
	case readAssociationTags:
		sn := obs.serviceNetworkByID(r.snID)
		return "tags of the association of service " + r.name + " with service network " + sn.name
	case readServiceNetworkTags:
		return "tags of service network " + r.name + " (released by its owner?)"
	case readImport:
		return "exports of ServiceImport " + r.imp.Import + " (" + r.imp.Key() + ")"
	case readServiceAuth:
		return "auth type and auth policy of service " + r.name
	case readServiceNetworkAuth:
		return "auth type and auth policy of service network " + r.name
	case readServiceAccessLogs:
		return "access log subscriptions of service " + r.name
	case readServiceNetworkAccessLogs:
		return "access log subscriptions of service network " + r.name
	case readVPCAssociationSecurityGroups:
		return "security groups of the VPC association of service network " + r.name
	case readHealthCheck:
		return "health check of target group " + r.name
	case readAllAssociations:
		return "service associations of every service network"
	}
	return fmt.Sprintf("unknown read %d", r.kind)
}
