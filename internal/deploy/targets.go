package deploy

import (
	"context"
	"errors"
	"fmt"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// SyncTargets is the fast path for endpoint changes: it brings only the targets of the named
// target groups in line with m, one RegisterTargets and/or one DeregisterTargets call per target
// group (per 100 targets), without looking at services, listeners or rules. Target groups that
// do not exist yet are reported as not programmed; Apply creates them. The Result holds the
// routes that own the named target groups.
func (d *Deployer) SyncTargets(ctx context.Context, m *model.Model, tgNames []string) (*Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m == nil {
		return nil, errors.New("sync targets: nil model")
	}
	sub := &model.Model{}
	p, err := d.settle(ctx, func() (*Plan, []read) {
		p, owners, reads := diffTargets(m, tgNames, d.state, d.cfg)
		sub.Services = owners
		return p, reads
	})
	if err != nil {
		return nil, err
	}
	return d.execute(ctx, sub, p)
}

// diffTargets plans the target changes of the named target groups (model names) and returns
// the services that own them, or the target lists it needs first.
func diffTargets(m *model.Model, tgNames []string, obs *observed, cfg Config) (p *Plan, owners []model.Service, reads []read) {
	want := make(map[string]bool, len(tgNames))
	for _, n := range tgNames {
		want[n] = true
	}
	p = &Plan{}
	x := &differ{cfg: cfg, obs: obs}
	// Adopted target groups keep their Lattice names (see resolveNames); the order is kept.
	resolved := x.resolveNames(m)
	for _, e := range m.Exports {
		s := &sequence{status: exportStatus(e.Key)}
		if x.syncTargetGroups(s, e.TargetGroups, e.TargetGroups, want, &reads) {
			p.exports = append(p.exports, s)
		}
	}
	for i, svc := range resolved.Services {
		s := &sequence{status: routeStatus(svc.Route)}
		if x.syncTargetGroups(s, m.Services[i].TargetGroups, svc.TargetGroups, want, &reads) {
			p.services = append(p.services, s)
			owners = append(owners, svc)
		}
	}
	return p, owners, reads
}

// syncTargetGroups adds to s the target changes of those of tgs (named in Lattice as in
// resolved) whose model names are wanted, and reports whether any was.
func (x *differ) syncTargetGroups(s *sequence, tgs, resolved []model.TargetGroup, want map[string]bool, reads *[]read) (touched bool) {
	for j, tg := range resolved {
		name := tgs[j].Name
		if !want[name] {
			continue
		}
		want[name] = false // a second claim on the same name is Apply's to report
		touched = true
		st := x.obs.targetGroups.get(tg.Name)
		if st == nil {
			s.err = fmt.Errorf("target group %s is not deployed yet", tg.Name)
			break
		}
		x.syncTargets(s, tg, st, reads)
	}
	return touched
}
