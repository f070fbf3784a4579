package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Spec hashes let a restarted deployer skip the reads that only confirm what it applied before.
// A service's tag vouches for its listeners, rules and service-network associations, a target
// group's for its targets. Three rules keep a tag honest:
//
//   - only Checkpoint writes it, with the hash of the model a sequence finished applying (a
//     create-time tag would vouch for children a crash may have left uncreated);
//   - before any change to what a tag vouches for, the diff removes it (UntagResource), so a
//     crash in the middle of a change leaves no tag rather than a stale one;
//   - only the first discovery trusts it: Refresh, NotFound on a child, adoption or a change of
//     additional tags fall back to reading, so drift is found there.

// specHashTag holds the hash; its prefix makes it a reserved key, never a stale user tag.
const specHashTag = "lattice-gateway/spec-hash"

// specHashVersion changes whenever what the hashes cover changes, so old tags stop matching.
const specHashVersion = "v1:"

// appliedSpec is what a sequence vouches for once all of its operations succeeded: the hash of
// the model state of one service's children or one target group's targets.
type appliedSpec struct {
	holder tagged
	name   string
	hash   string
	// targets are a target group's: vouched for by the hash, they become known without a read
	// (its deletion needs them).
	targets []model.Target
}

func hashOf(v any) string {
	body, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(append([]byte(specHashVersion), body...))
	return hex.EncodeToString(sum[:16])
}

// serviceSpecHash covers what readChildren would read of svc — its service networks, listeners
// and rules (the target groups rules forward to are named in the actions) — and its access log
// subscriptions.
func serviceSpecHash(svc *model.Service) string {
	return hashOf(struct {
		ServiceNetworks []string
		Listeners       []model.Listener
		AccessLogs      []model.AccessLogSubscription
	}{svc.ServiceNetworks, svc.Listeners, svc.AccessLogSubscriptions})
}

// targetsHash covers a target group's registered targets, in any order.
func targetsHash(targets []model.Target) string {
	sorted := slices.Clone(targets)
	sortTargets(sorted)
	return hashOf(slices.Compact(sorted))
}

// trusted says whether a resource's tags vouch for hash: the tag is ours and the state comes
// from a first discovery.
func (x *differ) trusted(tags map[string]string, hash string) bool {
	return x.obs.trustSpecs && hash != "" && x.owned(tags) && tags[specHashTag] == hash
}

// invalidate inserts, before the operations s gained since mark, the removal of the spec hash
// tag of a resource that has one: those operations change what it vouches for.
func invalidate(s *sequence, mark int, resource, arn string, tags map[string]string, holder tagged, name string) {
	if _, hashed := tags[specHashTag]; !hashed || len(s.ops) == mark {
		return
	}
	rest := slices.Clone(s.ops[mark:])
	s.ops = s.ops[:mark]
	s.add(opUntagResource(resource, arn, []string{specHashTag}, holder, name))
	s.ops = append(s.ops, rest...)
}

// recordApplied notes what a finished sequence made true (ok) or no longer knows (!ok).
func (d *Deployer) recordApplied(specs []appliedSpec, ok bool) {
	for _, a := range specs {
		hash := ""
		if ok {
			hash = a.hash
		}
		switch a.holder {
		case taggedService:
			if st := d.state.services.get(a.name); st != nil {
				st.applied = hash
			}
		case taggedTargetGroup:
			if st := d.state.targetGroups.get(a.name); st != nil {
				st.applied = hash
				if ok && !st.targetsKnown {
					st.targets, st.targetsKnown = map[model.Target]bool{}, true
					for _, t := range a.targets {
						st.targets[t] = true
					}
				}
			}
		}
	}
}

// Checkpoint tags every service and target group whose last apply succeeded with the hash of
// what it applied, where the tag differs: one TagResource each, Config.Concurrency at a time.
// A controller calls it when it stops gracefully, so that the next start's discovery needs no
// further reads for what did not change meanwhile. Each tag stands alone: a checkpoint cut short
// by ctx leaves the rest to be read at the next start. It returns the number of tags written.
func (d *Deployer) Checkpoint(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == nil {
		return 0, nil
	}
	var ops []Op
	own := d.cfg.ManagedBy()
	for _, name := range d.state.services.keys(func(s *svcState) bool {
		return s.applied != "" && s.applied != s.tags[specHashTag] && s.tags[model.TagManagedBy] == own
	}) {
		st := d.state.services.get(name)
		ops = append(ops, opTagResource("service "+name, st.arn, map[string]string{specHashTag: st.applied}, taggedService, name))
	}
	for _, name := range d.state.targetGroups.keys(func(t *tgState) bool {
		return t.applied != "" && t.applied != t.tags[specHashTag] && t.tags[model.TagManagedBy] == own
	}) {
		st := d.state.targetGroups.get(name)
		ops = append(ops, opTagResource("target group "+name, st.arn, map[string]string{specHashTag: st.applied}, taggedTargetGroup, name))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Concurrency)
	written := make([]bool, len(ops))
	for i, op := range ops {
		g.Go(func() error {
			if err := op.call.run(gctx, d); err != nil {
				return err
			}
			written[i] = true
			return nil
		})
	}
	err := g.Wait()
	n := 0
	for _, w := range written {
		if w {
			n++
		}
	}
	if err != nil {
		return n, errors.Join(errors.New("checkpoint spec hashes"), err)
	}
	return n, nil
}
