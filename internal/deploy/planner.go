package deploy

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The planners compare the model with the cache and emit operations in the order Lattice's
// dependencies require: service network → VPC association → target groups → targets → service
// → service-network associations → listeners → rules (created/updated, priorities moved with
// BatchUpdateRule) → stale rules → stale listeners → stale associations; then, for what no model
// wants: services, target groups (once no rule uses them), service networks.

func (d *Deployer) planServiceNetwork(sn model.ServiceNetwork) *group {
	g := &group{owner: gatewayOwner(sn.Gateway)}
	st := d.state.sns[sn.Name]
	if st == nil {
		g.add(d.opCreateServiceNetwork(sn))
		return g
	}
	switch mb := st.tags[model.TagManagedBy]; mb {
	case d.cfg.ManagedBy(), "":
		// Ours, or untagged and adopted as upstream does.
		if missing := missingTags(sn.Tags, st.tags); missing != nil {
			g.add(tagOp(d, "service network "+sn.Name, func() string { return st.arn }, missing,
				func(t map[string]string) { st.tags = mergeTags(st.tags, t) }))
		}
	default:
		// Another controller's network: services may still join it, but it is never modified.
		d.log.V(1).Info("using service network owned by another controller", "serviceNetwork", sn.Name, "owner", mb)
	}
	return g
}

// planVPCAssociation associates the cluster VPC with the one service network that wants it. A VPC
// can have only one association, so an association we own with another network goes first.
func (d *Deployer) planVPCAssociation(ctx context.Context, m *model.Model) (*group, error) {
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
		g := &group{}
		for _, sn := range m.ServiceNetworks {
			st := d.state.sns[sn.Name]
			if st == nil || st.vpcAssoc == nil {
				continue
			}
			if owned, err := d.assocOwned(ctx, st.vpcAssoc); err != nil {
				return nil, err
			} else if owned {
				g.add(d.opDeleteVPCAssociation(st))
			}
		}
		return g, nil
	}
	g := &group{owner: gatewayOwner(want.Gateway)}
	if st := d.state.sns[want.Name]; st != nil && st.vpcAssoc != nil {
		return g, nil
	}
	replacing := false
	for _, name := range sorted(mapKeys(d.state.sns)) {
		other := d.state.sns[name]
		if other.vpcAssoc == nil {
			continue
		}
		owned, err := d.assocOwned(ctx, other.vpcAssoc)
		if err != nil {
			return nil, err
		}
		if !owned {
			g.err = fmt.Errorf("VPC %s is already associated with service network %s, not managed by %s", d.cfg.VPCID, name, d.cfg.ManagedBy())
			return g, nil
		}
		g.add(d.opDeleteVPCAssociation(other))
		replacing = true
	}
	g.add(d.opCreateVPCAssociation(*want, replacing))
	return g, nil
}

func (d *Deployer) assocOwned(ctx context.Context, a *assocState) (bool, error) {
	if !a.tagsKnown {
		tags, err := d.tags(ctx, a.arn)
		if err != nil {
			return false, err
		}
		a.tags, a.tagsKnown = tags, true
	}
	return a.tags[model.TagManagedBy] == d.cfg.ManagedBy(), nil
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func (d *Deployer) planService(ctx context.Context, svc *model.Service, wantSN map[string]bool) (*group, error) {
	g := &group{owner: routeOwner(svc.Route)}
	st, err := d.verifyService(ctx, svc.Name)
	if err != nil {
		return nil, err
	}
	adopt := false
	if st != nil {
		mb := st.tags[model.TagManagedBy]
		if !d.mayManage(mb, svc.AllowTakeoverFrom) {
			g.err = fmt.Errorf("lattice service %s is owned by %s", svc.Name, mb)
			return g, nil
		}
		adopt = mb != d.cfg.ManagedBy()
	}
	for _, sn := range svc.ServiceNetworks {
		if !wantSN[sn] && d.state.sns[sn] == nil {
			g.err = fmt.Errorf("service network %s does not exist", sn)
			return g, nil
		}
	}
	for _, tg := range svc.TargetGroups {
		if err := d.planTargetGroup(ctx, g, tg, svc.AllowTakeoverFrom); err != nil || g.err != nil {
			return g, err
		}
	}
	fresh := st == nil
	if !fresh && st.customDomain != svc.CustomDomainName {
		// The custom domain name cannot be changed: replace the service.
		if err := d.loadChildren(ctx, st); err != nil {
			return nil, err
		}
		for _, snID := range sorted(mapKeys(st.assocs)) {
			g.add(d.opDeleteAssociation(svc.Name, snID))
		}
		g.add(d.opDeleteService(svc.Name))
	}
	if fresh || st.customDomain != svc.CustomDomainName {
		g.add(d.opCreateService(svc, !fresh))
		for _, sn := range svc.ServiceNetworks {
			g.add(d.opCreateAssociation(svc.Name, sn))
		}
		for _, l := range svc.Listeners {
			g.add(d.opCreateListener(svc.Name, l))
			for _, r := range l.Rules {
				g.add(d.opCreateRule(svc.Name, l.Port, r))
			}
		}
		return g, nil
	}
	if err := d.planServiceUpdate(ctx, g, svc, st, adopt); err != nil {
		return nil, err
	}
	return g, nil
}

// verifyService returns the cached service, after checking with Lattice that a suspect one still
// exists.
func (d *Deployer) verifyService(ctx context.Context, name string) (*svcState, error) {
	st := d.state.services[name]
	if st == nil || !st.suspect {
		return st, nil
	}
	_, err := d.client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(st.id)})
	switch {
	case isNotFound(err):
		d.bury("svc/" + name)
		delete(d.state.services, name)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("get service %s: %w", name, err)
	}
	st.suspect = false
	return st, nil
}

// planTargetGroup plans one target group of a service; takeoverFrom is the owner whose target
// groups the route may take over along with its service.
func (d *Deployer) planTargetGroup(ctx context.Context, g *group, tg model.TargetGroup, takeoverFrom string) error {
	st := d.state.tgs[tg.Name]
	if st == nil {
		g.add(d.opCreateTargetGroup(tg))
		g.ops = append(g.ops, withOwner(d.targetOps(tg.Name, tg.Targets, nil), g.owner)...)
		return nil
	}
	if mb := st.tags[model.TagManagedBy]; !d.mayManage(mb, takeoverFrom) {
		g.err = fmt.Errorf("target group %s is owned by %s", tg.Name, mb)
		return nil
	}
	if st.typ != tg.Type || st.port != tg.Port || st.protocol != tg.Protocol || st.ipAddressType != tg.IPAddressType ||
		st.vpcID != tg.VPCID || (st.protocolVersion != "" && st.protocolVersion != tg.ProtocolVersion) {
		g.err = fmt.Errorf("target group %s exists with another type, port, protocol, IP address type or VPC, which cannot be changed; delete it to let it be re-created", tg.Name)
		return nil
	}
	if missing := missingTags(tg.Tags, st.tags); missing != nil {
		g.add(tagOp(d, "target group "+tg.Name, func() string { return st.arn }, missing,
			func(t map[string]string) { st.tags = mergeTags(st.tags, t) }))
	}
	if tg.HealthCheck != nil {
		if err := d.loadHealthCheck(ctx, st); err != nil {
			return err
		}
		if !reflect.DeepEqual(st.healthCheck, tg.HealthCheck) {
			g.add(d.opUpdateHealthCheck(tg))
		}
	}
	if err := d.loadTargets(ctx, st); err != nil {
		return err
	}
	g.ops = append(g.ops, withOwner(d.targetOps(tg.Name, tg.Targets, st.targets), g.owner)...)
	return nil
}

func withOwner(ops []Op, o owner) []Op {
	for i := range ops {
		ops[i].owner = o
	}
	return ops
}

func (d *Deployer) planServiceUpdate(ctx context.Context, g *group, svc *model.Service, st *svcState, adopt bool) error {
	if missing := missingTags(svc.Tags, st.tags); missing != nil {
		g.add(tagOp(d, "service "+svc.Name, func() string { return st.arn }, missing,
			func(t map[string]string) { st.tags = mergeTags(st.tags, t) }))
	}
	if svc.CertificateARN != "" {
		if err := d.loadCert(ctx, st); err != nil {
			return err
		}
		if st.certARN != svc.CertificateARN {
			g.add(d.opUpdateCertificate(svc))
		}
	}
	if err := d.loadChildren(ctx, st); err != nil {
		return err
	}
	wantSNIDs := map[string]bool{}
	for _, sn := range svc.ServiceNetworks {
		snSt := d.state.sns[sn]
		if snSt != nil {
			wantSNIDs[snSt.id] = true
			if a := st.assocs[snSt.id]; a != nil {
				if adopt {
					d.planAdoptTag(g, "association "+svc.Name+"/"+sn, a.arn)
				}
				continue
			}
		}
		g.add(d.opCreateAssociation(svc.Name, sn))
	}
	var late []Op
	for _, l := range svc.Listeners {
		ls := st.listeners[l.Port]
		if ls != nil && ls.protocol != l.Protocol {
			g.add(d.opDeleteListener(svc.Name, l.Port))
			ls = nil
		}
		if ls == nil {
			g.add(d.opCreateListener(svc.Name, l))
			for _, r := range l.Rules {
				g.add(d.opCreateRule(svc.Name, l.Port, r))
			}
			continue
		}
		if adopt {
			d.planAdoptTag(g, fmt.Sprintf("listener %s/%d", svc.Name, l.Port), ls.arn)
		}
		if !sameAction(ls.defaultAction, l.DefaultAction) {
			g.add(d.opUpdateListener(svc.Name, l))
		}
		late = append(late, d.planRules(g, svc.Name, l, ls, adopt)...)
	}
	g.ops = append(g.ops, late...)
	wantPorts := map[int32]bool{}
	for _, l := range svc.Listeners {
		wantPorts[l.Port] = true
	}
	for _, port := range sortedPorts(st.listeners) {
		if !wantPorts[port] {
			g.add(d.opDeleteListener(svc.Name, port))
		}
	}
	for _, snID := range sorted(mapKeys(st.assocs)) {
		if wantSNIDs[snID] {
			continue
		}
		owned, err := d.assocOwned(ctx, st.assocs[snID])
		if err != nil {
			return err
		}
		if owned {
			g.add(d.opDeleteAssociation(svc.Name, snID))
		}
	}
	return nil
}

func (d *Deployer) planAdoptTag(g *group, resource, arn string) {
	g.add(tagOp(d, resource, func() string { return arn }, d.ownTags(), func(map[string]string) {}))
}

func sortedPorts(m map[int32]*listenerState) []int32 {
	ports := make([]int32, 0, len(m))
	for p := range m {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	return ports
}

// planRules adds the creates and updates of a listener's rules to g and returns the deletions of
// stale rules, which run after every listener's new rules are in place. Existing rules are
// paired with desired ones by name, then by identical match, then by priority, so that a rule is
// updated in place (one BatchUpdateRule for up to 10 rules) rather than deleted and created.
func (d *Deployer) planRules(g *group, svcName string, l model.Listener, ls *listenerState, adopt bool) []Op {
	existing := make([]*ruleState, 0, len(ls.rules))
	for _, r := range ls.rules {
		existing = append(existing, r)
	}
	slices.SortFunc(existing, func(a, b *ruleState) int { return int(a.priority) - int(b.priority) })
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
		if adopt {
			d.planAdoptTag(g, fmt.Sprintf("rule %s/%d/%s", svcName, l.Port, have.name), have.arn)
		}
		if have.priority != want.Priority || !sameMatch(have.match, want.Match) || !sameAction(have.action, want.Action) {
			updates = append(updates, ruleUpdate{id: have.id, want: want})
			targetPriorities[want.Priority] = true
		}
	}
	var late []Op
	for _, have := range existing {
		if used[have.id] {
			continue
		}
		if targetPriorities[have.priority] {
			// Its priority is needed now: it goes before the rules that take its place.
			g.add(d.opDeleteRule(svcName, l.Port, have))
		} else {
			late = append(late, withOwner([]Op{d.opDeleteRule(svcName, l.Port, have)}, g.owner)...)
		}
	}
	for chunk := range slices.Chunk(updates, rulesPerBatch) {
		g.add(d.opBatchUpdateRules(svcName, l.Port, chunk))
	}
	for _, r := range creates {
		g.add(d.opCreateRule(svcName, l.Port, r))
	}
	return late
}

// planServiceDeletion removes a service no model wants: associations first (Lattice refuses to
// delete an associated service), then the service, which takes its listeners and rules along.
func (d *Deployer) planServiceDeletion(ctx context.Context, st *svcState) (*group, error) {
	g := &group{}
	if !st.childrenKnown {
		// Listeners and rules go with the service; only the associations must be removed first.
		assocs, err := d.loadAssociations(ctx, st)
		if err != nil {
			return nil, err
		}
		st.assocs = assocs
	}
	for _, snID := range sorted(mapKeys(st.assocs)) {
		g.add(d.opDeleteAssociation(st.name, snID))
	}
	g.add(d.opDeleteService(st.name))
	return g, nil
}

func (d *Deployer) planTargetGroupDeletion(ctx context.Context, st *tgState) (*group, error) {
	g := &group{}
	if err := d.loadTargets(ctx, st); err != nil {
		return nil, err
	}
	g.ops = append(g.ops, d.targetOps(st.name, nil, st.targets)...)
	g.add(d.opDeleteTargetGroup(st))
	return g, nil
}

func (d *Deployer) planServiceNetworkDeletion(st *snState) *group {
	g := &group{}
	if st.vpcAssoc != nil {
		g.add(d.opDeleteVPCAssociation(st))
	}
	g.add(d.opDeleteServiceNetwork(st))
	return g
}
