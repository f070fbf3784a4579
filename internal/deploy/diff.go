package deploy

import (
	"fmt"
	"maps"
	"slices"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The diff compares the model with the observed state and emits operations in the order
// Lattice's dependencies require: service network → VPC association → target groups → targets
// → service → service-network associations → listeners → rules (created/updated, priorities
// moved with BatchUpdateRule) → stale rules → stale listeners → stale associations; then, for
// what no model wants: services, target groups (once no rule uses them), service networks.
//
// It reads nothing. A fact the observed state lacks (children of a service, targets, a tag) is
// listed as a read; the caller observes the reads and diffs again, and only a diff that needed no
// read is a plan.

// notOwned starts the message of an ownership conflict as upstream's does, for alerts and
// scripts that match it.
const notOwned = "Found existing resource not owned by controller"

type differ struct {
	cfg        Config
	obs        *observed
	reads      []read
	asked      map[read]bool
	unresolved map[model.RouteKey][]string
	overLimit  map[model.RouteKey][]string
}

// diff returns the plan that makes obs match m, or the reads it needs first.
func diff(m *model.Model, obs *observed, cfg Config) (*Plan, []read) {
	x := &differ{cfg: cfg, obs: obs, asked: map[read]bool{}, unresolved: map[model.RouteKey][]string{}, overLimit: map[model.RouteKey][]string{}}
	m = x.resolveNames(m)
	p := &Plan{model: m, unresolved: x.unresolved, overLimit: x.overLimit}
	wantSN := map[string]bool{}
	for _, sn := range m.ServiceNetworks {
		wantSN[sn.Name] = true
		p.serviceNetworks = append(p.serviceNetworks, x.serviceNetwork(sn))
	}
	p.vpcAssociations = append(p.vpcAssociations, x.vpcAssociation(m))
	x.certificates(m, p)
	wantSvc, wantTG := map[string]bool{}, map[string]bool{}
	for i := range m.Services {
		svc := &m.Services[i]
		if dup := duplicateName(svc, wantSvc, wantTG); dup != nil {
			// Two routes claiming one Lattice resource would race on it; the first one keeps it.
			p.services = append(p.services, &sequence{status: routeStatus(svc.Route), err: dup})
			continue
		}
		wantSvc[svc.Name] = true
		for _, tg := range svc.TargetGroups {
			wantTG[tg.Name] = true
		}
		p.services = append(p.services, x.service(svc, wantSN))
	}
	x.exports(p, m, wantTG)
	var staleSvcs []*svcState
	for _, name := range obs.services.keys(func(s *svcState) bool { return x.owned(s.tags) }) {
		if !wantSvc[name] {
			st := obs.services.get(name)
			staleSvcs = append(staleSvcs, st)
			p.staleServices = append(p.staleServices, x.serviceDeletion(st))
		}
	}
	for _, name := range obs.targetGroups.keys(func(t *tgState) bool { return x.owned(t.tags) }) {
		if wantTG[name] {
			continue
		}
		st := obs.targetGroups.get(name)
		var s *sequence
		if key, ok := exportOf(st); ok {
			s = x.exportDeletion(st, key)
		} else {
			s = x.targetGroupDeletion(st)
		}
		// Lattice refuses to delete a target group a rule still uses: after its users.
		for i, svc := range staleSvcs {
			if usesTargetGroup(svc, st) {
				s.after = append(s.after, p.staleServices[i])
			}
		}
		p.staleTargetGroups = append(p.staleTargetGroups, s)
	}
	for _, name := range obs.serviceNetworks.keys(func(s *snState) bool { return x.owned(s.tags) || s.vpcAssoc != nil }) {
		if !wantSN[name] {
			p.staleServiceNetworks = append(p.staleServiceNetworks, x.leaveServiceNetwork(obs.serviceNetworks.get(name)))
		}
	}
	x.batchAssociationReads()
	return p, x.reads
}

// batchAssociationReads replaces the association reads of many services (deleting routes after
// a restart that read no children) by one listing per service network, when that is fewer
// calls. A service whose deletion failed (distrusted) is read alone: it may be associated with
// a network the account does not list.
func (x *differ) batchAssociationReads() {
	n := 0
	for _, r := range x.reads {
		if r.kind == readAssociations && !x.obs.services.get(r.name).distrusted {
			n++
		}
	}
	if n <= len(x.obs.serviceNetworks.keys(nil)) {
		return
	}
	x.reads = slices.DeleteFunc(x.reads, func(r read) bool {
		return r.kind == readAssociations && !x.obs.services.get(r.name).distrusted
	})
	x.reads = append(x.reads, read{kind: readAllAssociations})
}

func (x *differ) need(r read) {
	if !x.asked[r] {
		x.asked[r] = true
		x.reads = append(x.reads, r)
	}
}

func (x *differ) owned(tags map[string]string) bool {
	return tags[model.TagManagedBy] == x.cfg.ManagedBy()
}

// mayManage says whether a resource whose ManagedBy tag is owner may be changed by this
// deployer for a route that allows takeover from takeoverFrom.
func (x *differ) mayManage(owner, takeoverFrom string) bool {
	return owner == "" || owner == x.cfg.ManagedBy() || (takeoverFrom != "" && owner == takeoverFrom)
}

// associationOwned says whether a is ours, asking for r when its tags are unknown.
func (x *differ) associationOwned(a *assocState, r read) bool {
	if !a.tagsKnown {
		x.need(r)
		return false
	}
	return x.owned(a.tags)
}

func (x *differ) serviceNetworkName(id string) string {
	if sn := x.obs.serviceNetworkByID(id); sn != nil {
		return sn.name
	}
	return id
}

func duplicateName(svc *model.Service, services, tgs map[string]bool) error {
	if services[svc.Name] {
		return fmt.Errorf("lattice service name %s is used by another route", svc.Name)
	}
	seen := map[string]bool{}
	for _, tg := range svc.TargetGroups {
		if tgs[tg.Name] || seen[tg.Name] {
			return errDuplicateTargetGroup(tg.Name)
		}
		seen[tg.Name] = true
	}
	return nil
}

func errDuplicateTargetGroup(name string) error {
	return fmt.Errorf("target group name %s is used twice", name)
}

func (x *differ) serviceNetwork(sn model.ServiceNetwork) *sequence {
	s := &sequence{status: networkStatus(sn)}
	st := x.obs.serviceNetworks.get(sn.Name)
	h := holder{network: true, name: sn.Name}
	if st == nil {
		s.add(opCreateServiceNetwork(sn))
		x.newResourcePolicies(s, h, sn.AccessLogSubscriptions, sn.Auth)
		return s
	}
	// Ours, or untagged and adopted as upstream does. Another controller's network is never
	// modified, but services may still join it.
	if mb := st.tags[model.TagManagedBy]; mb == x.cfg.ManagedBy() || mb == "" {
		if missing := missingTags(adoptedTags(sn, st), st.tags); missing != nil {
			s.add(opTagResource("service network "+sn.Name, st.arn, missing, taggedServiceNetwork, sn.Name))
		}
		// Only our own network loses the additional tags no longer asked for: an adopted one's
		// tags are its owner's.
		if stale := staleTags(sn.Tags, st.tags); mb != "" && stale != nil {
			s.add(opUntagResource("service network "+sn.Name, st.arn, stale, taggedServiceNetwork, sn.Name))
		}
		x.resourcePolicies(s, h, sn.AccessLogSubscriptions, sn.Auth, st.auth, st.accessLogs)
	}
	return s
}

// vpcAssociation associates the cluster VPC with the one service network that wants it. A VPC
// can have only one association, so an association we own with another network goes first.
func (x *differ) vpcAssociation(m *model.Model) *sequence {
	var want *model.ServiceNetwork
	for i := range m.ServiceNetworks {
		if m.ServiceNetworks[i].VPCAssociation != nil {
			want = &m.ServiceNetworks[i]
			break
		}
	}
	if want == nil {
		// Nobody wants the VPC associated: remove our association from networks that stay
		// (stale networks lose theirs with them).
		s := &sequence{}
		for _, sn := range m.ServiceNetworks {
			st := x.obs.serviceNetworks.get(sn.Name)
			if st != nil && st.vpcAssoc != nil && x.associationOwned(st.vpcAssoc, read{kind: readVPCAssociationTags, name: sn.Name}) {
				s.add(opDeleteVPCAssociation(sn.Name, x.cfg.VPCID))
			}
		}
		return s
	}
	s := &sequence{status: networkStatus(*want)}
	if st := x.obs.serviceNetworks.get(want.Name); st != nil && st.vpcAssoc != nil {
		x.securityGroups(s, want, st.vpcAssoc)
		return s
	}
	replacing := false
	for _, name := range x.obs.serviceNetworks.keys(func(sn *snState) bool { return sn.vpcAssoc != nil }) {
		other := x.obs.serviceNetworks.get(name)
		if !x.associationOwned(other.vpcAssoc, read{kind: readVPCAssociationTags, name: name}) {
			s.err = fmt.Errorf("VPC %s is already associated with service network %s, not managed by %s", x.cfg.VPCID, name, x.cfg.ManagedBy())
			return s
		}
		s.add(opDeleteVPCAssociation(name, x.cfg.VPCID))
		replacing = true
	}
	s.add(opCreateVPCAssociation(*want, replacing))
	return s
}

func (x *differ) service(svc *model.Service, wantSN map[string]bool) *sequence {
	s := &sequence{status: routeStatus(svc.Route)}
	svc, resolved := x.resolveService(svc)
	if !resolved {
		return s
	}
	st := x.obs.services.get(svc.Name)
	if st != nil && st.suspect {
		x.need(read{kind: readServiceExists, name: svc.Name})
		return s
	}
	adopt := false
	if st != nil {
		mb := st.tags[model.TagManagedBy]
		if !x.mayManage(mb, svc.AllowTakeoverFrom) {
			s.err = fmt.Errorf("%s: %s (lattice service %s is owned by %s)", notOwned, st.arn, svc.Name, mb)
			return s
		}
		adopt = mb != x.cfg.ManagedBy()
	}
	for _, sn := range svc.ServiceNetworks {
		if !wantSN[sn] && x.obs.serviceNetworks.get(sn) == nil {
			s.err = fmt.Errorf("service network %s does not exist", sn)
			return s
		}
	}
	for _, tg := range svc.TargetGroups {
		if x.targetGroup(s, tg, svc.AllowTakeoverFrom); s.err != nil {
			return s
		}
	}
	s.applied = append(s.applied, appliedSpec{holder: taggedService, name: svc.Name, hash: serviceSpecHash(svc)})
	switch {
	case st == nil:
		x.createService(s, svc, false)
	case st.customDomain != svc.CustomDomainName:
		// The custom domain name cannot be changed: replace the service.
		if !st.childrenKnown {
			x.need(read{kind: readChildren, name: svc.Name})
			return s
		}
		for _, snID := range slices.Sorted(maps.Keys(st.assocs)) {
			s.add(opDeleteAssociation(svc.Name, snID, x.serviceNetworkName(snID)))
		}
		s.add(opDeleteService(svc.Name))
		x.createService(s, svc, true)
	default:
		x.serviceUpdate(s, svc, st, childTagging{adopt: adopt})
	}
	return s
}

// createService adds the creation of svc and all its children; replacing says that a service of
// the same name is deleted just before.
func (x *differ) createService(s *sequence, svc *model.Service, replacing bool) {
	s.add(opCreateService(*svc, replacing))
	x.newResourcePolicies(s, holder{name: svc.Name}, svc.AccessLogSubscriptions, svc.Auth)
	for _, sn := range svc.ServiceNetworks {
		s.add(opCreateAssociation(svc.Name, sn))
	}
	for _, l := range svc.Listeners {
		x.createListener(s, svc.Name, l)
	}
}

func (x *differ) createListener(s *sequence, svcName string, l model.Listener) {
	s.add(opCreateListener(svcName, l))
	for _, r := range l.Rules {
		s.add(opCreateRule(svcName, l.Port, r))
	}
}

// targetGroup adds one target group of a service to s; takeoverFrom is the owner whose target
// groups the route may take over along with its service.
func (x *differ) targetGroup(s *sequence, tg model.TargetGroup, takeoverFrom string) {
	st := x.obs.targetGroups.get(tg.Name)
	if st == nil {
		s.add(opCreateTargetGroup(tg))
		s.add(targetOps(tg.Name, tg.Targets, nil)...)
		s.applied = append(s.applied, appliedSpec{holder: taggedTargetGroup, name: tg.Name, hash: targetsHash(tg.Targets), targets: tg.Targets})
		return
	}
	if mb := st.tags[model.TagManagedBy]; !x.mayManage(mb, takeoverFrom) {
		s.err = fmt.Errorf("%s: %s (target group %s is owned by %s)", notOwned, st.arn, tg.Name, mb)
		return
	}
	if !sameImmutable(st, tg) {
		s.err = fmt.Errorf("target group %s exists with another type, port, protocol, IP address type or VPC, which cannot be changed; delete it to let it be re-created", tg.Name)
		return
	}
	if missing := missingTags(tg.Tags, st.tags); missing != nil {
		s.add(opTagResource("target group "+tg.Name, st.arn, missing, taggedTargetGroup, tg.Name))
	}
	if stale := staleTags(tg.Tags, st.tags); stale != nil {
		s.add(opUntagResource("target group "+tg.Name, st.arn, stale, taggedTargetGroup, tg.Name))
	}
	x.healthCheck(s, tg, st)
	x.syncTargets(s, tg, st, &x.reads)
}

// syncTargets adds the target changes of an existing target group to s, or asks for its
// targets; a spec hash tag that vouches for the model's targets saves the read.
func (x *differ) syncTargets(s *sequence, tg model.TargetGroup, st *tgState, reads *[]read) {
	hash := targetsHash(tg.Targets)
	s.applied = append(s.applied, appliedSpec{holder: taggedTargetGroup, name: tg.Name, hash: hash, targets: tg.Targets})
	if !st.targetsKnown {
		if !x.trusted(st.tags, hash) {
			*reads = append(*reads, read{kind: readTargets, name: tg.Name})
		}
		return
	}
	mark := len(s.ops)
	s.add(targetOps(tg.Name, tg.Targets, st.targets)...)
	invalidate(s, mark, "target group "+tg.Name, st.arn, st.tags, taggedTargetGroup, tg.Name)
}

func (x *differ) serviceUpdate(s *sequence, svc *model.Service, st *svcState, ct childTagging) {
	missing := missingTags(svc.Tags, st.tags)
	if missing != nil {
		s.add(opTagResource("service "+svc.Name, st.arn, missing, taggedService, svc.Name))
	}
	ct.stale = staleTags(svc.Tags, st.tags)
	if ct.stale != nil {
		s.add(opUntagResource("service "+svc.Name, st.arn, ct.stale, taggedService, svc.Name))
	}
	ct.extraChanged = ct.stale != nil || slices.ContainsFunc(slices.Collect(maps.Keys(missing)), func(k string) bool { return !model.ReservedTagKey(k) })
	if svc.CertificateARN != "" || svc.Certificate != "" {
		if !st.certKnown {
			x.need(read{kind: readCertificate, name: svc.Name})
		} else if want, ok := x.wantCertificateARN(svc); !ok || st.certARN != want {
			s.add(opUpdateCertificate(*svc))
		}
	}
	// A spec hash tag vouches for the children, and for the absence of our access log
	// subscriptions (where the model has some, their ARNs are needed for status: read).
	trust := !st.distrusted && !ct.adopt && !ct.extraChanged && x.trusted(st.tags, serviceSpecHash(svc))
	mark := len(s.ops)
	defer func() { invalidate(s, mark, "service "+svc.Name, st.arn, st.tags, taggedService, svc.Name) }()
	if trust && !st.accessLogs.known && len(svc.AccessLogSubscriptions) == 0 {
		x.auth(s, holder{name: svc.Name}, svc.Auth, st.auth)
	} else {
		x.resourcePolicies(s, holder{name: svc.Name}, svc.AccessLogSubscriptions, svc.Auth, st.auth, st.accessLogs)
	}
	if !st.childrenKnown {
		if !trust {
			x.need(read{kind: readChildren, name: svc.Name})
		}
		return
	}
	wantSNIDs := map[string]bool{}
	for _, sn := range svc.ServiceNetworks {
		if snSt := x.obs.serviceNetworks.get(sn); snSt != nil {
			wantSNIDs[snSt.id] = true
			if a := st.assocs[snSt.id]; a != nil {
				if ct.adopt {
					x.adoptTag(s, "association "+svc.Name+"/"+sn, a.arn)
				}
				continue
			}
		}
		s.add(opCreateAssociation(svc.Name, sn))
	}
	x.listeners(s, svc, st, ct)
	for _, snID := range slices.Sorted(maps.Keys(st.assocs)) {
		if !wantSNIDs[snID] && x.associationOwned(st.assocs[snID], read{kind: readAssociationTags, name: svc.Name, snID: snID}) {
			s.add(opDeleteAssociation(svc.Name, snID, x.serviceNetworkName(snID)))
		}
	}
}

// listeners adds the changes of an existing service's listeners and their rules to s.
func (x *differ) listeners(s *sequence, svc *model.Service, st *svcState, ct childTagging) {
	var staleRules []Op
	for _, l := range svc.Listeners {
		ls := st.listeners[l.Port]
		if ls != nil && ls.protocol != l.Protocol {
			s.add(opDeleteListener(svc.Name, l.Port))
			ls = nil
		}
		if ls == nil {
			x.createListener(s, svc.Name, l)
			continue
		}
		x.tagChild(s, fmt.Sprintf("listener %s/%d", svc.Name, l.Port), ls.arn, l.Tags, ct)
		if !sameAction(ls.defaultAction, l.DefaultAction) {
			s.add(opUpdateListener(svc.Name, l))
		}
		staleRules = append(staleRules, x.rules(s, svc.Name, l, ls, ct)...)
	}
	s.add(staleRules...)
	wantPorts := map[int32]bool{}
	for _, l := range svc.Listeners {
		wantPorts[l.Port] = true
	}
	for _, port := range slices.Sorted(maps.Keys(st.listeners)) {
		if !wantPorts[port] {
			s.add(opDeleteListener(svc.Name, port))
		}
	}
}

// childTagging says why the existing listeners and rules of a service are tagged: the service is
// adopted (they get our ManagedBy), or its additional tags changed. Children's tags are not
// observed; they carry the service's additional tags, so the service's stale ones are theirs.
type childTagging struct {
	adopt, extraChanged bool
	stale               []string
}

// tagChild tags an existing listener or rule with want, and removes ct.stale, when ct asks.
func (x *differ) tagChild(s *sequence, resource, arn string, want map[string]string, ct childTagging) {
	if ct.adopt || ct.extraChanged {
		s.add(opTagResource(resource, arn, mergeTags(x.cfg.ownTags(), want), taggedChild, ""))
	}
	if ct.stale != nil {
		s.add(opUntagResource(resource, arn, ct.stale, taggedChild, ""))
	}
}

// adoptTag tags a child of an adopted service as ours.
func (x *differ) adoptTag(s *sequence, resource, arn string) {
	s.add(opTagResource(resource, arn, x.cfg.ownTags(), taggedChild, ""))
}

// rules adds the creates and updates of a listener's rules to s and returns the deletions of
// stale rules, which run after every listener's new rules are in place. Existing rules are
// paired with desired ones by name, then by identical match, then by priority, so that a rule is
// updated in place (one BatchUpdateRule for up to 10 rules) rather than deleted and created.
func (x *differ) rules(s *sequence, svcName string, l model.Listener, ls *listenerState, ct childTagging) []Op {
	existing := slices.SortedFunc(maps.Values(ls.rules), func(a, b *ruleState) int { return int(a.priority) - int(b.priority) })
	paired := map[string]*ruleState{} // desired name -> existing
	used := map[string]bool{}         // existing IDs
	pair := func(same func(model.Rule, *ruleState) bool) {
		for _, want := range l.Rules {
			if paired[want.Name] != nil {
				continue
			}
			for _, have := range existing {
				if !used[have.id] && same(want, have) {
					paired[want.Name], used[have.id] = have, true
					break
				}
			}
		}
	}
	pair(func(w model.Rule, h *ruleState) bool { return w.Name == h.name })
	pair(func(w model.Rule, h *ruleState) bool { return sameMatch(w.Match, h.match) })
	pair(func(w model.Rule, h *ruleState) bool { return w.Priority == h.priority })

	var updates []ruleUpdate
	var creates []model.Rule
	targetPriorities := map[int32]bool{}
	for _, want := range l.Rules {
		have := paired[want.Name]
		if have == nil {
			creates = append(creates, want)
			targetPriorities[want.Priority] = true
			continue
		}
		x.tagChild(s, fmt.Sprintf("rule %s/%d/%s", svcName, l.Port, have.name), have.arn, want.Tags, ct)
		if have.priority != want.Priority || !sameMatch(have.match, want.Match) || !sameAction(have.action, want.Action) {
			updates = append(updates, ruleUpdate{id: have.id, want: want})
			targetPriorities[want.Priority] = true
		}
	}
	var stale []Op
	for _, have := range existing {
		if used[have.id] {
			continue
		}
		del := opDeleteRule(svcName, l.Port, have)
		if targetPriorities[have.priority] {
			// Its priority is needed now: it goes before the rules that take its place.
			s.add(del)
		} else {
			stale = append(stale, del)
		}
	}
	for chunk := range slices.Chunk(updates, rulesPerBatch) {
		s.add(opBatchUpdateRules(svcName, l.Port, chunk))
	}
	for _, r := range creates {
		s.add(opCreateRule(svcName, l.Port, r))
	}
	return stale
}

// serviceDeletion removes a service no model wants: associations first (Lattice refuses to
// delete an associated service), then the service, which takes its listeners and rules along.
func (x *differ) serviceDeletion(st *svcState) *sequence {
	s := &sequence{status: withdrawnService(st.tags)}
	if !st.childrenKnown && st.assocs == nil {
		x.need(read{kind: readAssociations, name: st.name})
		return s
	}
	for _, snID := range slices.Sorted(maps.Keys(st.assocs)) {
		s.add(opDeleteAssociation(st.name, snID, x.serviceNetworkName(snID)))
	}
	s.add(opDeleteService(st.name))
	return s
}

// usesTargetGroup says whether svc forwarded to tg when it was discovered or, where its
// listeners are known, does now.
func usesTargetGroup(svc *svcState, tg *tgState) bool {
	if slices.Contains(tg.serviceARNs, svc.arn) {
		return true
	}
	forwards := func(a model.Action) bool {
		return slices.ContainsFunc(a.Forward, func(w model.WeightedTargetGroup) bool { return w.TargetGroup == tg.name })
	}
	for _, l := range svc.listeners {
		if forwards(l.defaultAction) {
			return true
		}
		for _, r := range l.rules {
			if forwards(r.action) {
				return true
			}
		}
	}
	return false
}

func (x *differ) targetGroupDeletion(st *tgState) *sequence {
	return x.drainAndDelete(&sequence{status: withdrawnTargetGroup(st.tags)}, st, opDeleteTargetGroup(st.name))
}

// drainAndDelete adds to s the deregistration of a target group's targets, then del.
func (x *differ) drainAndDelete(s *sequence, st *tgState, del Op) *sequence {
	if !st.targetsKnown {
		x.need(read{kind: readTargets, name: st.name})
		return s
	}
	s.add(targetOps(st.name, nil, st.targets)...)
	s.add(del)
	return s
}

func (x *differ) serviceNetworkDeletion(st *snState) *sequence {
	s := &sequence{status: withdrawnNetwork(st)}
	if st.vpcAssoc != nil {
		s.add(opDeleteVPCAssociation(st.name, x.cfg.VPCID))
	}
	s.add(opDeleteServiceNetwork(st.name))
	return s
}
