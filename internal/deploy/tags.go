package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Additional tags (the tags annotation) are diffed as upstream diffs them: a user tag a resource
// has and the model does not want is removed. AWS's and the controllers' own keys never are.

// staleTags are the keys of have that want lacks and that are not reserved, sorted; nil if none.
func staleTags(want, have map[string]string) []string {
	var out []string
	for k := range have {
		if _, ok := want[k]; !ok && !model.ReservedTagKey(k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

type untagResource struct {
	arn  string
	keys []string
	// holder and name locate the resource in the observed state.
	holder tagged
	name   string
}

func opUntagResource(resource, arn string, keys []string, holder tagged, name string) Op {
	return Op{Action: "UntagResource", Resource: resource, Detail: strings.Join(keys, ","),
		call: untagResource{arn: arn, keys: keys, holder: holder, name: name}}
}

func (c untagResource) run(ctx context.Context, d *Deployer) error {
	if _, err := d.client.UntagResource(ctx, &vpclattice.UntagResourceInput{ResourceArn: aws.String(c.arn), TagKeys: c.keys}); err != nil {
		return fmt.Errorf("untag %s: %w", c.arn, err)
	}
	var tags map[string]string
	switch c.holder {
	case taggedServiceNetwork:
		tags = d.state.serviceNetworks.get(c.name).tags
	case taggedService:
		tags = d.state.services.get(c.name).tags
	case taggedTargetGroup:
		tags = d.state.targetGroups.get(c.name).tags
	default:
		return nil
	}
	for _, k := range c.keys {
		delete(tags, k)
	}
	return nil
}
