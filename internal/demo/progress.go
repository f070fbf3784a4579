package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
)

// progress describes what Lattice holds right now, e.g. "service networks 1; services 1 ACTIVE,
// 1 CREATE_IN_PROGRESS; target groups 4 ACTIVE": while the deployer waits for asynchronous
// creates, this is what a user watches.
func progress(ctx context.Context, c *vpclattice.Client) string {
	sns, err := c.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})
	if err != nil {
		return "(Lattice: " + err.Error() + ")"
	}
	svcs, err := c.ListServices(ctx, &vpclattice.ListServicesInput{})
	if err != nil {
		return "(Lattice: " + err.Error() + ")"
	}
	tgs, err := c.ListTargetGroups(ctx, &vpclattice.ListTargetGroupsInput{})
	if err != nil {
		return "(Lattice: " + err.Error() + ")"
	}
	svcStates := map[string]int{}
	for _, s := range svcs.Items {
		svcStates[string(s.Status)]++
	}
	tgStates := map[string]int{}
	for _, t := range tgs.Items {
		tgStates[string(t.Status)]++
	}
	return fmt.Sprintf("service networks %d; services %s; target groups %s", len(sns.Items), counts(svcStates), counts(tgStates))
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}
