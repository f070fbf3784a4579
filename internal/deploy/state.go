package deploy

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"golang.org/x/sync/errgroup"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The actual-state cache. It is filled by one discovery pass (see discover) and afterwards kept
// current from the deployer's own writes, so that an unchanged model costs no API call at all.
// Children of a service (listeners, rules, associations) and the targets of a target group are
// read lazily, the first time a plan needs them.

type snState struct {
	id, arn, name string
	tags          map[string]string
	// vpcAssoc is the association of the cluster VPC with this service network, if any.
	vpcAssoc *assocState
}

type assocState struct {
	id, arn, status string
	tags            map[string]string
	tagsKnown       bool
}

type svcState struct {
	id, arn, name, status string
	dnsName, customDomain string
	certARN               string
	certKnown             bool
	tags                  map[string]string
	// childrenKnown is set once listeners, rules and associations are in the cache.
	childrenKnown bool
	// suspect is set when Lattice answered NotFound for the service or a child of it.
	suspect   bool
	listeners map[int32]*listenerState // by port
	assocs    map[string]*assocState   // by service network ID
}

type listenerState struct {
	id, arn, name, protocol string
	port                    int32
	defaultAction           model.Action
	rules                   map[string]*ruleState // by rule ID
}

type ruleState struct {
	id, arn, name string
	priority      int32
	match         model.HTTPMatch
	action        model.Action
}

type tgState struct {
	id, arn, name, status string
	typ, protocol         string
	protocolVersion       string
	ipAddressType, vpcID  string
	port                  int32
	tags                  map[string]string
	healthCheck           *model.HealthCheck
	healthCheckKnown      bool
	targets               map[model.Target]bool
	targetsKnown          bool
}

type cache struct {
	mu       sync.Mutex
	loaded   bool
	sns      map[string]*snState  // by name
	services map[string]*svcState // by name
	tgs      map[string]*tgState  // by name
}

func newCache() *cache {
	return &cache{sns: map[string]*snState{}, services: map[string]*svcState{}, tgs: map[string]*tgState{}}
}

func (c *cache) tgName(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, tg := range c.tgs {
		if tg.id == id || tg.arn == id {
			return name
		}
	}
	return "id:" + id
}

func (c *cache) getTG(name string) *tgState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tgs[name]
}

func (c *cache) setTG(name string, tg *tgState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if tg == nil {
		delete(c.tgs, name)
		return
	}
	c.tgs[name] = tg
}

func (c *cache) getService(name string) *svcState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.services[name]
}

func (c *cache) setService(name string, svc *svcState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if svc == nil {
		delete(c.services, name)
		return
	}
	c.services[name] = svc
}

func (c *cache) getSN(name string) *snState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sns[name]
}

func (c *cache) setSN(name string, sn *snState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sn == nil {
		delete(c.sns, name)
		return
	}
	c.sns[name] = sn
}

func (c *cache) snByIDLocked(id string) *snState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snByID(id)
}

// snByID must be called with c.mu held or before the cache is shared.
func (c *cache) snByID(id string) *snState {
	for _, sn := range c.sns {
		if sn.id == id || sn.arn == id {
			return sn
		}
	}
	return nil
}

// discover reads what exists: every service network and service in the account, the target
// groups in the cluster VPC, the VPC's service-network association, and the tags of each of
// them (tags decide ownership). Cost: 4 list passes (one call per 100 resources) plus one
// ListTagsForResource per listed resource. It runs once per Deployer and on Refresh.
func (d *Deployer) discover(ctx context.Context) (*cache, error) {
	c := newCache()
	snPages := vpclattice.NewListServiceNetworksPaginator(d.client, &vpclattice.ListServiceNetworksInput{MaxResults: aws.Int32(100)})
	for snPages.HasMorePages() {
		page, err := snPages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list service networks: %w", err)
		}
		for _, s := range page.Items {
			c.sns[aws.ToString(s.Name)] = &snState{id: aws.ToString(s.Id), arn: aws.ToString(s.Arn), name: aws.ToString(s.Name)}
		}
	}
	svcPages := vpclattice.NewListServicesPaginator(d.client, &vpclattice.ListServicesInput{MaxResults: aws.Int32(100)})
	for svcPages.HasMorePages() {
		page, err := svcPages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		for _, s := range page.Items {
			svc := &svcState{id: aws.ToString(s.Id), arn: aws.ToString(s.Arn), name: aws.ToString(s.Name),
				status: string(s.Status), customDomain: aws.ToString(s.CustomDomainName)}
			if s.DnsEntry != nil {
				svc.dnsName = aws.ToString(s.DnsEntry.DomainName)
			}
			c.services[svc.name] = svc
		}
	}
	tgPages := vpclattice.NewListTargetGroupsPaginator(d.client, &vpclattice.ListTargetGroupsInput{
		MaxResults: aws.Int32(100), VpcIdentifier: aws.String(d.cfg.VPCID),
	})
	for tgPages.HasMorePages() {
		page, err := tgPages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list target groups: %w", err)
		}
		for _, t := range page.Items {
			tg := &tgState{id: aws.ToString(t.Id), arn: aws.ToString(t.Arn), name: aws.ToString(t.Name),
				status: string(t.Status), typ: string(t.Type), protocol: string(t.Protocol),
				ipAddressType: string(t.IpAddressType), vpcID: aws.ToString(t.VpcIdentifier), port: aws.ToInt32(t.Port)}
			c.tgs[tg.name] = tg
		}
	}
	vpcPages := vpclattice.NewListServiceNetworkVpcAssociationsPaginator(d.client, &vpclattice.ListServiceNetworkVpcAssociationsInput{
		MaxResults: aws.Int32(100), VpcIdentifier: aws.String(d.cfg.VPCID),
	})
	for vpcPages.HasMorePages() {
		page, err := vpcPages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list service network VPC associations: %w", err)
		}
		for _, a := range page.Items {
			if sn := c.snByID(aws.ToString(a.ServiceNetworkId)); sn != nil {
				sn.vpcAssoc = &assocState{id: aws.ToString(a.Id), arn: aws.ToString(a.Arn), status: string(a.Status)}
			}
		}
	}
	// Tags are read in parallel: at start-up they are most of the discovery's calls.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Concurrency)
	readTags := func(arn string, set func(map[string]string)) {
		g.Go(func() error {
			tags, err := d.tags(gctx, arn)
			if err == nil {
				set(tags)
			}
			return err
		})
	}
	for _, sn := range c.sns {
		readTags(sn.arn, func(t map[string]string) { sn.tags = t })
	}
	for _, svc := range c.services {
		readTags(svc.arn, func(t map[string]string) { svc.tags = t })
	}
	for _, tg := range c.tgs {
		readTags(tg.arn, func(t map[string]string) { tg.tags, tg.protocolVersion = t, t[model.TagProtocolVersion] })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	c.loaded = true
	return c, nil
}

// prefetch reads, in parallel, what planning m will need and the cache lacks: the children of
// existing services the model may manage and the targets (and health checks) of existing target
// groups. Each goroutine touches only its own service's and target groups' state.
func (d *Deployer) prefetch(ctx context.Context, m *model.Model) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Concurrency)
	for i := range m.Services {
		svc := &m.Services[i]
		st := d.state.services[svc.Name]
		tgs := make([]*tgState, len(svc.TargetGroups))
		for j, tg := range svc.TargetGroups {
			tgs[j] = d.state.tgs[tg.Name]
		}
		g.Go(func() error {
			if st != nil && !st.suspect && d.mayManage(st.tags[model.TagManagedBy], svc.AllowTakeoverFrom) {
				if err := d.loadChildren(gctx, st); err != nil {
					return err
				}
			}
			for j, tg := range tgs {
				if tg == nil || !d.mayManage(tg.tags[model.TagManagedBy], svc.AllowTakeoverFrom) {
					continue
				}
				if err := d.loadTargets(gctx, tg); err != nil {
					return err
				}
				if svc.TargetGroups[j].HealthCheck != nil {
					if err := d.loadHealthCheck(gctx, tg); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// mayManage says whether a resource whose ManagedBy tag is owner may be changed by this
// deployer for a route that allows takeover from takeoverFrom.
func (d *Deployer) mayManage(owner, takeoverFrom string) bool {
	return owner == "" || owner == d.cfg.ManagedBy() || (takeoverFrom != "" && owner == takeoverFrom)
}

func (d *Deployer) tags(ctx context.Context, arn string) (map[string]string, error) {
	out, err := d.client.ListTagsForResource(ctx, &vpclattice.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil {
		if isAccessDenied(err) {
			// Resources shared from another account cannot be read; they are not ours.
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("list tags of %s: %w", arn, err)
	}
	if out.Tags == nil {
		return map[string]string{}, nil
	}
	return out.Tags, nil
}

// loadChildren reads a discovered service's listeners, rules and service-network associations.
// Cost: 2 + 2 per listener + 1 per rule calls, once per service per Deployer.
func (d *Deployer) loadChildren(ctx context.Context, svc *svcState) error {
	if svc.childrenKnown {
		return nil
	}
	listeners := map[int32]*listenerState{}
	lPages := vpclattice.NewListListenersPaginator(d.client, &vpclattice.ListListenersInput{
		ServiceIdentifier: aws.String(svc.id), MaxResults: aws.Int32(100),
	})
	for lPages.HasMorePages() {
		page, err := lPages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list listeners of service %s: %w", svc.name, err)
		}
		for _, l := range page.Items {
			ls, err := d.loadListener(ctx, svc, aws.ToString(l.Id))
			if err != nil {
				return err
			}
			listeners[ls.port] = ls
		}
	}
	assocs, err := d.loadAssociations(ctx, svc)
	if err != nil {
		return err
	}
	svc.listeners, svc.assocs, svc.childrenKnown = listeners, assocs, true
	return nil
}

// loadAssociations reads a discovered service's service-network associations (one call per 100).
func (d *Deployer) loadAssociations(ctx context.Context, svc *svcState) (map[string]*assocState, error) {
	assocs := map[string]*assocState{}
	aPages := vpclattice.NewListServiceNetworkServiceAssociationsPaginator(d.client, &vpclattice.ListServiceNetworkServiceAssociationsInput{
		ServiceIdentifier: aws.String(svc.id), MaxResults: aws.Int32(100),
	})
	for aPages.HasMorePages() {
		page, err := aPages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list service network associations of service %s: %w", svc.name, err)
		}
		for _, a := range page.Items {
			if a.Status == types.ServiceNetworkServiceAssociationStatusDeleteInProgress {
				continue
			}
			assocs[aws.ToString(a.ServiceNetworkId)] = &assocState{id: aws.ToString(a.Id), arn: aws.ToString(a.Arn), status: string(a.Status)}
		}
	}
	return assocs, nil
}

func (d *Deployer) loadListener(ctx context.Context, svc *svcState, id string) (*listenerState, error) {
	l, err := d.client.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: aws.String(svc.id), ListenerIdentifier: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("get listener %s of service %s: %w", id, svc.name, err)
	}
	ls := &listenerState{id: id, arn: aws.ToString(l.Arn), name: aws.ToString(l.Name), protocol: string(l.Protocol),
		port: aws.ToInt32(l.Port), defaultAction: d.fromAction(l.DefaultAction), rules: map[string]*ruleState{}}
	rPages := vpclattice.NewListRulesPaginator(d.client, &vpclattice.ListRulesInput{
		ServiceIdentifier: aws.String(svc.id), ListenerIdentifier: aws.String(id), MaxResults: aws.Int32(100),
	})
	for rPages.HasMorePages() {
		page, err := rPages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list rules of listener %s: %w", ls.name, err)
		}
		for _, r := range page.Items {
			if aws.ToBool(r.IsDefault) {
				continue
			}
			full, err := d.client.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: aws.String(svc.id),
				ListenerIdentifier: aws.String(id), RuleIdentifier: r.Id})
			if err != nil {
				return nil, fmt.Errorf("get rule %s of listener %s: %w", aws.ToString(r.Name), ls.name, err)
			}
			ls.rules[aws.ToString(full.Id)] = &ruleState{id: aws.ToString(full.Id), arn: aws.ToString(full.Arn),
				name: aws.ToString(full.Name), priority: aws.ToInt32(full.Priority),
				match: fromRuleMatch(full.Match), action: d.fromAction(full.Action)}
		}
	}
	return ls, nil
}

func (d *Deployer) fromAction(a types.RuleAction) model.Action {
	return fromRuleAction(a, d.state.tgName)
}

// loadTargets reads the registered targets of a discovered target group. Draining targets are
// on their way out and count as absent.
func (d *Deployer) loadTargets(ctx context.Context, tg *tgState) error {
	if tg.targetsKnown {
		return nil
	}
	targets := map[model.Target]bool{}
	pages := vpclattice.NewListTargetsPaginator(d.client, &vpclattice.ListTargetsInput{
		TargetGroupIdentifier: aws.String(tg.id), MaxResults: aws.Int32(100),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list targets of target group %s: %w", tg.name, err)
		}
		for _, t := range page.Items {
			if t.Status == types.TargetStatusDraining {
				continue
			}
			targets[model.Target{IP: aws.ToString(t.Id), Port: aws.ToInt32(t.Port)}] = true
		}
	}
	tg.targets, tg.targetsKnown = targets, true
	return nil
}

func (d *Deployer) loadHealthCheck(ctx context.Context, tg *tgState) error {
	if tg.healthCheckKnown {
		return nil
	}
	out, err := d.client.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: aws.String(tg.id)})
	if err != nil {
		return fmt.Errorf("get target group %s: %w", tg.name, err)
	}
	if out.Config != nil {
		tg.healthCheck = fromHealthCheck(out.Config.HealthCheck)
		if out.Config.ProtocolVersion != "" {
			tg.protocolVersion = string(out.Config.ProtocolVersion)
		}
	}
	tg.healthCheckKnown = true
	return nil
}

func (d *Deployer) loadCert(ctx context.Context, svc *svcState) error {
	if svc.certKnown {
		return nil
	}
	out, err := d.client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(svc.id)})
	if err != nil {
		return fmt.Errorf("get service %s: %w", svc.name, err)
	}
	svc.certARN, svc.certKnown = aws.ToString(out.CertificateArn), true
	return nil
}
