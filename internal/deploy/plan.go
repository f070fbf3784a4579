package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// owner says whose status an operation's failure belongs to: a route, a gateway, or nobody
// (cleanup of resources no model wants).
type owner struct {
	route   model.RouteKey
	gateway model.GatewayKey
	kind    string
}

func routeOwner(k model.RouteKey) owner     { return owner{kind: "route", route: k} }
func gatewayOwner(k model.GatewayKey) owner { return owner{kind: "gateway", gateway: k} }
func (o owner) isZero() bool                { return o.kind == "" }

// Op is one API call of a plan.
type Op struct {
	// Action is the API operation, e.g. "CreateRule".
	Action string
	// Resource names what it acts on, e.g. "rule inventory-default/80/rule-2".
	Resource string
	// Detail is a short human description of the change.
	Detail string
	owner  owner
	run    func(ctx context.Context) error
}

func (o Op) String() string {
	s := o.Action + " " + o.Resource
	if o.Detail != "" {
		s += " (" + o.Detail + ")"
	}
	return s
}

// group is a sequence of operations that depend on each other; a failure skips the rest.
type group struct {
	owner owner
	ops   []Op
	err   error // set when planning already found the group cannot proceed
}

func (g *group) add(op Op) {
	if op.owner.isZero() {
		op.owner = g.owner
	}
	g.ops = append(g.ops, op)
}

// Plan is the ordered work that makes Lattice match a model. Phases run in order; the groups of
// a phase are independent of each other.
type Plan struct {
	serviceNetworks      []*group
	vpcAssociations      []*group
	services             []*group
	staleServices        []*group
	staleTargetGroups    []*group
	staleServiceNetworks []*group
}

func (p *Plan) phases() [][]*group {
	return [][]*group{p.serviceNetworks, p.vpcAssociations, p.services, p.staleServices, p.staleTargetGroups, p.staleServiceNetworks}
}

// Ops lists every operation in execution order (groups of one phase may actually run in parallel).
func (p *Plan) Ops() []Op {
	var ops []Op
	for _, phase := range p.phases() {
		for _, g := range phase {
			ops = append(ops, g.ops...)
		}
	}
	return ops
}

// Len is the number of API calls the plan makes, waits for asynchronous states not counted.
func (p *Plan) Len() int { return len(p.Ops()) }

// String prints the plan, one operation per line, with the problems found while planning.
func (p *Plan) String() string {
	var b strings.Builder
	for _, phase := range p.phases() {
		for _, g := range phase {
			if g.err != nil {
				fmt.Fprintf(&b, "! %s: %v\n", g.ownerString(), g.err)
			}
			for _, op := range g.ops {
				fmt.Fprintf(&b, "%s\n", op)
			}
		}
	}
	if b.Len() == 0 {
		return "no changes\n"
	}
	return b.String()
}

func (g *group) ownerString() string {
	switch g.owner.kind {
	case "route":
		return g.owner.route.String()
	case "gateway":
		return "Gateway/" + g.owner.gateway.String()
	}
	return "cleanup"
}

func (d *Deployer) plan(ctx context.Context, m *model.Model) (*Plan, error) {
	if m == nil {
		// An absent model must not read as "delete everything".
		return nil, errors.New("plan: nil model")
	}
	if err := d.ensureLoaded(ctx); err != nil {
		return nil, err
	}
	if err := d.prefetch(ctx, m); err != nil {
		return nil, err
	}
	p := &Plan{}
	wantSN := map[string]bool{}
	for _, sn := range m.ServiceNetworks {
		wantSN[sn.Name] = true
		p.serviceNetworks = append(p.serviceNetworks, d.planServiceNetwork(sn))
	}
	if g, err := d.planVPCAssociation(ctx, m); err != nil {
		return nil, err
	} else if g != nil {
		p.vpcAssociations = append(p.vpcAssociations, g)
	}
	wantSvc, wantTG := map[string]bool{}, map[string]bool{}
	for i := range m.Services {
		svc := &m.Services[i]
		if dup := duplicateName(svc, wantSvc, wantTG); dup != nil {
			// Two routes claiming one Lattice resource would race on it; the first one keeps it.
			p.services = append(p.services, &group{owner: routeOwner(svc.Route), err: dup})
			continue
		}
		wantSvc[svc.Name] = true
		for _, tg := range svc.TargetGroups {
			wantTG[tg.Name] = true
		}
		g, err := d.planService(ctx, svc, wantSN)
		if err != nil {
			return nil, err
		}
		p.services = append(p.services, g)
	}
	for _, name := range ownedNames(d.state.services, d.cfg.ManagedBy(), func(s *svcState) map[string]string { return s.tags }) {
		if wantSvc[name] {
			continue
		}
		g, err := d.planServiceDeletion(ctx, d.state.services[name])
		if err != nil {
			return nil, err
		}
		p.staleServices = append(p.staleServices, g)
	}
	for _, name := range ownedNames(d.state.tgs, d.cfg.ManagedBy(), func(t *tgState) map[string]string { return t.tags }) {
		if wantTG[name] {
			continue
		}
		g, err := d.planTargetGroupDeletion(ctx, d.state.tgs[name])
		if err != nil {
			return nil, err
		}
		p.staleTargetGroups = append(p.staleTargetGroups, g)
	}
	for _, name := range ownedNames(d.state.sns, d.cfg.ManagedBy(), func(s *snState) map[string]string { return s.tags }) {
		if !wantSN[name] {
			p.staleServiceNetworks = append(p.staleServiceNetworks, d.planServiceNetworkDeletion(d.state.sns[name]))
		}
	}
	return p, nil
}

func duplicateName(svc *model.Service, services, tgs map[string]bool) error {
	if services[svc.Name] {
		return fmt.Errorf("lattice service name %s is used by another route", svc.Name)
	}
	seen := map[string]bool{}
	for _, tg := range svc.TargetGroups {
		if tgs[tg.Name] || seen[tg.Name] {
			return fmt.Errorf("target group name %s is used twice", tg.Name)
		}
		seen[tg.Name] = true
	}
	return nil
}

// ownedNames returns the sorted names of the resources carrying managedBy as ManagedBy tag.
func ownedNames[T any](all map[string]T, managedBy string, tags func(T) map[string]string) []string {
	var names []string
	for name, r := range all {
		if tags(r)[model.TagManagedBy] == managedBy {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
