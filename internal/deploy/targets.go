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
	if err := d.ensureLoaded(ctx); err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(tgNames))
	for _, n := range tgNames {
		want[n] = true
	}
	p := &Plan{}
	sub := &model.Model{}
	for i := range m.Services {
		svc := &m.Services[i]
		g := &group{owner: routeOwner(svc.Route)}
		touched := false
		for _, tg := range svc.TargetGroups {
			if !want[tg.Name] {
				continue
			}
			want[tg.Name] = false // a second claim on the same name is Apply's to report
			touched = true
			st := d.state.tgs[tg.Name]
			if st == nil {
				g.err = fmt.Errorf("target group %s is not deployed yet", tg.Name)
				break
			}
			if err := d.loadTargets(ctx, st); err != nil {
				return nil, err
			}
			g.ops = append(g.ops, withOwner(d.targetOps(tg.Name, tg.Targets, st.targets), g.owner)...)
		}
		if touched {
			p.services = append(p.services, g)
			sub.Services = append(sub.Services, *svc)
		}
	}
	return d.execute(ctx, sub, p)
}
