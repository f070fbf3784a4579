package deploy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// statusKey says whose status an operation's failure belongs to: a route, a gateway, or nobody
// (cleanup of resources no model wants).
type statusKey struct {
	route   model.RouteKey
	gateway model.GatewayKey
	export  model.ExportKey
	// network is the ServiceNetwork resource (or the network being deleted) that a Gateway's
	// service network also reports to; kind "servicenetwork" when no Gateway does.
	network string
	kind    string
}

func routeStatus(k model.RouteKey) statusKey     { return statusKey{kind: "route", route: k} }
func gatewayStatus(k model.GatewayKey) statusKey { return statusKey{kind: "gateway", gateway: k} }
func (k statusKey) isZero() bool                 { return k.kind == "" }

func (k statusKey) String() string {
	switch k.kind {
	case "route":
		return k.route.String()
	case "gateway":
		return "Gateway/" + k.gateway.String()
	case "export":
		return k.export.String()
	case "servicenetwork":
		return "ServiceNetwork/" + k.network
	}
	return "cleanup"
}

// Op is one API call of a plan, as data: what is called (Action), on what (Resource and the
// identity and inputs in call), for whose status. The executor runs it; IDs are looked up in the
// observed state only then, because resources created earlier in the plan have none before.
type Op struct {
	// Action is the API operation, e.g. "CreateRule".
	Action string
	// Resource names what it acts on, e.g. "rule inventory-default/80/rule-2".
	Resource string
	// Detail is a short human description of the change.
	Detail string
	status statusKey
	call   call
}

func (o Op) String() string {
	s := o.Action + " " + o.Resource
	if o.Detail != "" {
		s += " (" + o.Detail + ")"
	}
	return s
}

// sequence is a list of operations in dependency order: each may need what the ones before it
// created, so a failure skips the rest.
type sequence struct {
	status statusKey
	ops    []Op
	err    error // set when the diff already found the sequence cannot proceed
	// conflict says that err is about a resource another controller owns.
	conflict bool
	// applied is what the sequence makes true when all of its operations succeed.
	applied []appliedSpec
	// after are the sequences of the same phase that must succeed before this one starts.
	after []*sequence
}

// add appends ops; those without a status of their own report to the sequence's.
func (s *sequence) add(ops ...Op) {
	for _, op := range ops {
		if op.status.isZero() {
			op.status = s.status
		}
		s.ops = append(s.ops, op)
	}
}

// Plan is the ordered work that makes Lattice match a model. Phases run in order; the sequences
// of a phase are independent of each other and run in parallel.
type Plan struct {
	serviceNetworks      []*sequence
	vpcAssociations      []*sequence
	exports              []*sequence
	certificates         []*sequence
	services             []*sequence
	staleServices        []*sequence
	staleCertificates    []*sequence
	staleTargetGroups    []*sequence
	staleServiceNetworks []*sequence
	// unresolved are the imports of each route that resolved to nothing.
	unresolved map[model.RouteKey][]string
	// overLimit are the forward actions of each route cut to Lattice's limit of target groups.
	overLimit map[model.RouteKey][]string
	// model is the planned model with the names of the existing resources it adopts.
	model *model.Model
}

func (p *Plan) phases() [][]*sequence {
	return [][]*sequence{p.serviceNetworks, p.vpcAssociations, p.certificates, p.exports, p.services, p.staleServices, p.staleCertificates,
		p.staleTargetGroups, p.staleServiceNetworks}
}

// runPhases are the phases as the executor runs them: stale services and stale target groups
// together, each target group's deletion after the deletions of the services that use it
// (sequence.after) rather than after all of them; stale certificates after both.
func (p *Plan) runPhases() [][]*sequence {
	return [][]*sequence{p.serviceNetworks, p.vpcAssociations, p.certificates, p.exports, p.services,
		append(slices.Clone(p.staleServices), p.staleTargetGroups...), p.staleCertificates, p.staleServiceNetworks}
}

// Ops lists every operation in execution order (sequences of one phase may actually run in
// parallel).
func (p *Plan) Ops() []Op {
	var ops []Op
	for _, phase := range p.phases() {
		for _, s := range phase {
			ops = append(ops, s.ops...)
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
		for _, s := range phase {
			if s.err != nil {
				fmt.Fprintf(&b, "! %s: %v\n", s.status, s.err)
			}
			for _, op := range s.ops {
				fmt.Fprintf(&b, "%s\n", op)
			}
		}
	}
	if b.Len() == 0 {
		return "no changes\n"
	}
	return b.String()
}
