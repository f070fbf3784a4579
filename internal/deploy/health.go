package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// TargetStatuses reads the Lattice status of every target registered for the Kubernetes Service
// namespace/name, across the target groups this controller owns for it, keyed by target. It
// reads Lattice each time: target health changes without any deploy, and the pod readiness gate
// must follow it.
func (d *Deployer) TargetStatuses(ctx context.Context, namespace, name string) (map[model.Target]string, error) {
	// The deployer's lock keeps a running Apply from changing tags under us; ListTargets runs
	// without it.
	d.mu.Lock()
	// Right after a restart the gate may ask before the first Apply discovered Lattice; an
	// empty answer would turn ready pods unready.
	if d.state == nil {
		if err := d.rediscover(ctx, true); err != nil {
			d.mu.Unlock()
			return nil, fmt.Errorf("target statuses of service %s/%s: %w", namespace, name, err)
		}
	}
	var ids []string
	d.state.targetGroups.keys(func(t *tgState) bool {
		if t.tags[model.TagManagedBy] == d.cfg.ManagedBy() && t.tags[model.TagServiceNamespace] == namespace && t.tags[model.TagServiceName] == name {
			ids = append(ids, t.id)
		}
		return false
	})
	d.mu.Unlock()
	out := map[model.Target]string{}
	for _, id := range ids {
		err := eachPage(ctx, "targets of target group "+id, vpclattice.NewListTargetsPaginator(d.client, &vpclattice.ListTargetsInput{
			TargetGroupIdentifier: aws.String(id), MaxResults: aws.Int32(100)}), func(page *vpclattice.ListTargetsOutput) error {
			for _, t := range page.Items {
				out[model.Target{IP: aws.ToString(t.Id), Port: aws.ToInt32(t.Port)}] = string(t.Status)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("target statuses of service %s/%s: %w", namespace, name, err)
		}
	}
	return out, nil
}
