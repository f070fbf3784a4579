package describe

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// FetchLattice reads the service networks, services (with listeners, rules, tags, associations,
// auth policies and access-log subscriptions) and target groups (with targets and tags) that
// Build may need. It reads the whole account, which is what a debugging tool on one account can
// afford; the controller itself never does.
func FetchLattice(ctx context.Context, c *vpclattice.Client) (*Lattice, error) {
	f := fetcher{ctx: ctx, c: c}
	out := &Lattice{}
	sns := vpclattice.NewListServiceNetworksPaginator(c, &vpclattice.ListServiceNetworksInput{})
	for sns.HasMorePages() {
		page, err := sns.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list service networks: %w", err)
		}
		for _, s := range page.Items {
			sn := ServiceNetwork{Name: aws.ToString(s.Name), ID: aws.ToString(s.Id), ARN: aws.ToString(s.Arn), AuthPolicy: f.authPolicy(s.Id)}
			vpcs := vpclattice.NewListServiceNetworkVpcAssociationsPaginator(c, &vpclattice.ListServiceNetworkVpcAssociationsInput{ServiceNetworkIdentifier: s.Id})
			for vpcs.HasMorePages() {
				vp, err := vpcs.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("list VPC associations of %s: %w", sn.Name, err)
				}
				for _, a := range vp.Items {
					sn.VPCs = append(sn.VPCs, aws.ToString(a.VpcId)+" "+string(a.Status))
				}
			}
			out.ServiceNetworks = append(out.ServiceNetworks, sn)
		}
	}
	svcs := vpclattice.NewListServicesPaginator(c, &vpclattice.ListServicesInput{})
	for svcs.HasMorePages() {
		page, err := svcs.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		for _, s := range page.Items {
			svc, err := f.service(s)
			if err != nil {
				return nil, err
			}
			out.Services = append(out.Services, *svc)
		}
	}
	tgs := vpclattice.NewListTargetGroupsPaginator(c, &vpclattice.ListTargetGroupsInput{})
	for tgs.HasMorePages() {
		page, err := tgs.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list target groups: %w", err)
		}
		for _, g := range page.Items {
			tg := TargetGroup{Name: aws.ToString(g.Name), ID: aws.ToString(g.Id), ARN: aws.ToString(g.Arn), Status: string(g.Status), Targets: []Target{}}
			if tg.Tags, err = f.tags(g.Arn); err != nil {
				return nil, err
			}
			targets := vpclattice.NewListTargetsPaginator(c, &vpclattice.ListTargetsInput{TargetGroupIdentifier: g.Id})
			for targets.HasMorePages() {
				tp, err := targets.NextPage(ctx)
				if err != nil {
					return nil, fmt.Errorf("list targets of %s: %w", tg.Name, err)
				}
				for _, t := range tp.Items {
					tg.Targets = append(tg.Targets, Target{ID: aws.ToString(t.Id), Port: aws.ToInt32(t.Port), Status: string(t.Status), Reason: aws.ToString(t.ReasonCode)})
				}
			}
			out.TargetGroups = append(out.TargetGroups, tg)
		}
	}
	return out, nil
}

type fetcher struct {
	ctx context.Context
	c   *vpclattice.Client
}

func (f *fetcher) tags(arn *string) (map[string]string, error) {
	out, err := f.c.ListTagsForResource(f.ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", aws.ToString(arn), err)
	}
	return out.Tags, nil
}

// authPolicy is the resource's auth policy; absent policies (and errors reading one) show as none.
func (f *fetcher) authPolicy(id *string) string {
	out, err := f.c.GetAuthPolicy(f.ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: id})
	if err != nil {
		return ""
	}
	return aws.ToString(out.Policy)
}

func (f *fetcher) service(s types.ServiceSummary) (*Service, error) {
	svc := &Service{Name: aws.ToString(s.Name), ID: aws.ToString(s.Id), ARN: aws.ToString(s.Arn), Status: string(s.Status), AuthPolicy: f.authPolicy(s.Id)}
	if s.DnsEntry != nil {
		svc.DNSName = aws.ToString(s.DnsEntry.DomainName)
	}
	var err error
	if svc.Tags, err = f.tags(s.Arn); err != nil {
		return nil, err
	}
	assocs, err := f.c.ListServiceNetworkServiceAssociations(f.ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: s.Id})
	if err != nil {
		return nil, fmt.Errorf("list service network associations of %s: %w", svc.Name, err)
	}
	for _, a := range assocs.Items {
		svc.Networks = append(svc.Networks, aws.ToString(a.ServiceNetworkName)+" "+string(a.Status))
	}
	logs, err := f.c.ListAccessLogSubscriptions(f.ctx, &vpclattice.ListAccessLogSubscriptionsInput{ResourceIdentifier: s.Id})
	if err != nil {
		return nil, fmt.Errorf("list access-log subscriptions of %s: %w", svc.Name, err)
	}
	for _, l := range logs.Items {
		svc.AccessLogs = append(svc.AccessLogs, aws.ToString(l.DestinationArn))
	}
	ls, err := f.c.ListListeners(f.ctx, &vpclattice.ListListenersInput{ServiceIdentifier: s.Id})
	if err != nil {
		return nil, fmt.Errorf("list listeners of %s: %w", svc.Name, err)
	}
	for _, l := range ls.Items {
		lis := Listener{Name: aws.ToString(l.Name), ID: aws.ToString(l.Id), ARN: aws.ToString(l.Arn), Protocol: string(l.Protocol), Port: aws.ToInt32(l.Port)}
		rules, err := f.c.ListRules(f.ctx, &vpclattice.ListRulesInput{ServiceIdentifier: s.Id, ListenerIdentifier: l.Id})
		if err != nil {
			return nil, fmt.Errorf("list rules of %s/%s: %w", svc.Name, lis.Name, err)
		}
		for _, rs := range rules.Items {
			r, err := f.c.GetRule(f.ctx, &vpclattice.GetRuleInput{ServiceIdentifier: s.Id, ListenerIdentifier: l.Id, RuleIdentifier: rs.Id})
			if err != nil {
				return nil, fmt.Errorf("get rule %s: %w", aws.ToString(rs.Id), err)
			}
			lis.Rules = append(lis.Rules, rule(r))
		}
		sort.SliceStable(lis.Rules, func(i, j int) bool { return rulePriority(lis.Rules[i]) < rulePriority(lis.Rules[j]) })
		svc.Listeners = append(svc.Listeners, lis)
	}
	sort.Slice(svc.Listeners, func(i, j int) bool { return svc.Listeners[i].Port < svc.Listeners[j].Port })
	return svc, nil
}

// rulePriority sorts the default rule last.
func rulePriority(r Rule) int {
	if p, err := strconv.Atoi(r.Priority); err == nil {
		return p
	}
	return 1 << 30
}

func rule(r *vpclattice.GetRuleOutput) Rule {
	out := Rule{Name: aws.ToString(r.Name), ID: aws.ToString(r.Id), Priority: "default", Match: "*"}
	if !aws.ToBool(r.IsDefault) {
		out.Priority = strconv.Itoa(int(aws.ToInt32(r.Priority)))
	}
	if m, ok := r.Match.(*types.RuleMatchMemberHttpMatch); ok {
		out.Match = httpMatch(m.Value)
	}
	switch a := r.Action.(type) {
	case *types.RuleActionMemberFixedResponse:
		out.Action = "fixed-response " + strconv.Itoa(int(aws.ToInt32(a.Value.StatusCode)))
	case *types.RuleActionMemberForward:
		parts := []string{"forward"}
		for _, g := range a.Value.TargetGroups {
			id := aws.ToString(g.TargetGroupIdentifier)
			out.TargetGroups = append(out.TargetGroups, id)
			parts = append(parts, id+"="+strconv.Itoa(int(aws.ToInt32(g.Weight))))
		}
		out.Action = strings.Join(parts, " ")
	}
	return out
}

func httpMatch(m types.HttpMatch) string {
	var parts []string
	if m.Method != nil {
		parts = append(parts, *m.Method)
	}
	if m.PathMatch != nil {
		switch p := m.PathMatch.Match.(type) {
		case *types.PathMatchTypeMemberExact:
			parts = append(parts, "path = "+p.Value)
		case *types.PathMatchTypeMemberPrefix:
			parts = append(parts, "path "+p.Value+"*")
		}
	}
	for _, h := range m.HeaderMatches {
		switch v := h.Match.(type) {
		case *types.HeaderMatchTypeMemberExact:
			parts = append(parts, "header "+aws.ToString(h.Name)+" = "+v.Value)
		case *types.HeaderMatchTypeMemberPrefix:
			parts = append(parts, "header "+aws.ToString(h.Name)+" "+v.Value+"*")
		case *types.HeaderMatchTypeMemberContains:
			parts = append(parts, "header "+aws.ToString(h.Name)+" ~ "+v.Value)
		}
	}
	if len(parts) == 0 {
		return "*"
	}
	return strings.Join(parts, ", ")
}
