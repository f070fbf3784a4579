package deploy

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	taggingtypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"golang.org/x/sync/errgroup"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Observation is the only code that reads Lattice: one discovery pass, then the reads a diff asks
// for (see read), each done once per Deployer and cached.

// readKind names a fact the observed state may lack.
type readKind int

const (
	// readServiceExists checks that a suspect service still exists (GetService).
	readServiceExists readKind = iota
	// readChildren lists a service's listeners, rules and service-network associations.
	readChildren
	// readAssociations lists only a service's service-network associations: enough to delete it.
	readAssociations
	// readCertificate reads a service's certificate ARN (GetService).
	readCertificate
	// readTargets lists a target group's targets.
	readTargets
	// readVPCAssociationTags reads the tags of a service network's VPC association.
	readVPCAssociationTags
	// readAssociationTags reads the tags of a service's association with a service network.
	readAssociationTags
	// readImport resolves an import reference (see imports.go).
	readImport
	// readServiceNetworkTags reads a service network's tags again (see shared.go).
	readServiceNetworkTags
	// readServiceAuth and readServiceNetworkAuth read the auth type and auth policy.
	readServiceAuth
	readServiceNetworkAuth
	// readServiceAccessLogs and readServiceNetworkAccessLogs list our access log subscriptions.
	readServiceAccessLogs
	readServiceNetworkAccessLogs
	// readVPCAssociationSecurityGroups reads the security groups of a service network's VPC
	// association.
	readVPCAssociationSecurityGroups
	// readHealthCheck reads a target group's health check (GetTargetGroup).
	readHealthCheck
	// readAllAssociations lists the service associations of every service network, for every
	// service whose associations are needed (see batchAssociationReads).
	readAllAssociations
)

// read is one fact a diff needs: of the service, target group or service network name, and for
// readAssociationTags of the association with the service network whose ID is snID.
type read struct {
	kind readKind
	name string
	snID string
	imp  model.ImportRef
}

// discover reads what exists: every service network and service in the account, the target
// groups in the cluster VPC, the VPC's service-network association, and the tags of each of
// them (tags decide ownership). Cost: 4 list passes (one call per 100 resources) plus, with the
// Tagging API, one GetResources per 100 resources carrying a ManagedBy tag, or else one
// ListTagsForResource per listed resource. It runs once per Deployer and on Refresh.
func (d *Deployer) discover(ctx context.Context) (*observed, error) {
	o := &observed{}
	if err := d.listAll(ctx, o); err != nil {
		return nil, err
	}
	if d.cfg.Tagging != nil {
		err := d.readOwnershipPages(ctx, o)
		if err == nil {
			return o, nil
		}
		if !isAccessDenied(err) {
			return nil, err
		}
		d.log.Info("Resource Groups Tagging API not allowed (tag:GetResources); reading each resource's tags instead", "error", err.Error())
	}
	if err := d.readOwnership(ctx, o); err != nil {
		return nil, err
	}
	if err := d.discoverCertificates(ctx, o); err != nil {
		return nil, err
	}
	return o, nil
}

// taggedTypes are the Tagging API resource types whose ownership discovery needs.
var taggedTypes = []string{"vpc-lattice:servicenetwork", "vpc-lattice:service", "vpc-lattice:targetgroup"}

// readOwnershipPages learns the tags of the listed resources from Tagging API pages of every
// resource with a ManagedBy tag, whoever's. A listed resource the pages do not name has no
// ManagedBy tag, so it is free to adopt; its other tags do not matter, because adoption adds
// the model's.
func (d *Deployer) readOwnershipPages(ctx context.Context, o *observed) error {
	set := tagSetters(o)
	for _, f := range set {
		f(map[string]string{})
	}
	p := resourcegroupstaggingapi.NewGetResourcesPaginator(d.cfg.Tagging, &resourcegroupstaggingapi.GetResourcesInput{
		ResourcesPerPage:    aws.Int32(100),
		ResourceTypeFilters: taggedTypes,
		TagFilters:          []taggingtypes.TagFilter{{Key: aws.String(model.TagManagedBy)}},
	})
	return eachPage(ctx, "resources tagged "+model.TagManagedBy, p, func(page *resourcegroupstaggingapi.GetResourcesOutput) error {
		for _, r := range page.ResourceTagMappingList {
			if f, listed := set[aws.ToString(r.ResourceARN)]; listed {
				tags := make(map[string]string, len(r.Tags))
				for _, t := range r.Tags {
					tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				f(tags)
			}
		}
		return nil
	})
}

// listAll fills o with the four discovery lists.
func (d *Deployer) listAll(ctx context.Context, o *observed) error {
	err := eachPage(ctx, "service networks", vpclattice.NewListServiceNetworksPaginator(d.client, &vpclattice.ListServiceNetworksInput{
		MaxResults: aws.Int32(100)}), func(page *vpclattice.ListServiceNetworksOutput) error {
		for _, s := range page.Items {
			o.serviceNetworks.set(aws.ToString(s.Name), &snState{id: aws.ToString(s.Id), arn: aws.ToString(s.Arn), name: aws.ToString(s.Name)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = eachPage(ctx, "services", vpclattice.NewListServicesPaginator(d.client, &vpclattice.ListServicesInput{
		MaxResults: aws.Int32(100)}), func(page *vpclattice.ListServicesOutput) error {
		for _, s := range page.Items {
			svc := &svcState{id: aws.ToString(s.Id), arn: aws.ToString(s.Arn), name: aws.ToString(s.Name),
				status: string(s.Status), customDomain: aws.ToString(s.CustomDomainName)}
			if s.DnsEntry != nil {
				svc.dnsName = aws.ToString(s.DnsEntry.DomainName)
			}
			o.services.set(svc.name, svc)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = eachPage(ctx, "target groups", vpclattice.NewListTargetGroupsPaginator(d.client, &vpclattice.ListTargetGroupsInput{
		MaxResults: aws.Int32(100), VpcIdentifier: aws.String(d.cfg.VPCID)}), func(page *vpclattice.ListTargetGroupsOutput) error {
		for _, t := range page.Items {
			o.targetGroups.set(aws.ToString(t.Name), &tgState{id: aws.ToString(t.Id), arn: aws.ToString(t.Arn), name: aws.ToString(t.Name),
				status: string(t.Status), typ: string(t.Type), protocol: string(t.Protocol),
				ipAddressType: string(t.IpAddressType), vpcID: aws.ToString(t.VpcIdentifier), port: aws.ToInt32(t.Port),
				serviceARNs: t.ServiceArns})
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = eachPage(ctx, "service network VPC associations", vpclattice.NewListServiceNetworkVpcAssociationsPaginator(d.client,
		&vpclattice.ListServiceNetworkVpcAssociationsInput{MaxResults: aws.Int32(100), VpcIdentifier: aws.String(d.cfg.VPCID)}),
		func(page *vpclattice.ListServiceNetworkVpcAssociationsOutput) error {
			for _, a := range page.Items {
				if sn := o.serviceNetworkByID(aws.ToString(a.ServiceNetworkId)); sn != nil {
					sn.vpcAssoc = &assocState{id: aws.ToString(a.Id), arn: aws.ToString(a.Arn), status: string(a.Status)}
				}
			}
			return nil
		})
	return err
}

// readOwnership reads the tags of every listed resource, in parallel: at start-up they are most
// of the discovery's calls.
func (d *Deployer) readOwnership(ctx context.Context, o *observed) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Concurrency)
	for arn, set := range tagSetters(o) {
		g.Go(func() error {
			tags, err := d.tags(gctx, arn)
			if err == nil {
				set(tags)
			}
			return err
		})
	}
	return g.Wait()
}

// tagSetters maps the ARN of every listed service network, service and target group to what
// records its tags in o.
func tagSetters(o *observed) map[string]func(map[string]string) {
	set := map[string]func(map[string]string){}
	for _, name := range o.serviceNetworks.keys(nil) {
		sn := o.serviceNetworks.get(name)
		set[sn.arn] = func(t map[string]string) { sn.tags = t }
	}
	for _, name := range o.services.keys(nil) {
		svc := o.services.get(name)
		set[svc.arn] = func(t map[string]string) { svc.tags = t }
	}
	for _, name := range o.targetGroups.keys(nil) {
		tg := o.targetGroups.get(name)
		set[tg.arn] = func(t map[string]string) { tg.tags, tg.protocolVersion = t, t[model.TagProtocolVersion] }
	}
	return set
}

// observe makes the reads, in parallel. Each read fills in only its own resource's facts, except
// readAllAssociations, which fills in every service still lacking associations: it runs after
// the others, so that it does not race with a service's own reads.
func (d *Deployer) observe(ctx context.Context, reads []read) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(d.cfg.Concurrency)
	var last []read
	for _, r := range reads {
		if r.kind == readAllAssociations {
			last = append(last, r)
			continue
		}
		g.Go(func() error { return d.load(gctx, r) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, r := range last {
		if err := d.load(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (d *Deployer) load(ctx context.Context, r read) error {
	switch r.kind {
	case readServiceExists:
		return d.verifyService(ctx, d.state.services.get(r.name))
	case readChildren:
		return d.loadChildren(ctx, d.state.services.get(r.name))
	case readAssociations:
		svc := d.state.services.get(r.name)
		assocs, err := d.loadAssociations(ctx, svc)
		if err == nil {
			svc.assocs = assocs
		}
		return err
	case readCertificate:
		return d.loadCertificate(ctx, d.state.services.get(r.name))
	case readTargets:
		return d.loadTargets(ctx, d.state.targetGroups.get(r.name))
	case readVPCAssociationTags:
		return d.loadAssociationTags(ctx, d.state.serviceNetworks.get(r.name).vpcAssoc)
	case readAssociationTags:
		return d.loadAssociationTags(ctx, d.state.services.get(r.name).assocs[r.snID])
	case readImport:
		return d.resolveImport(ctx, r.imp)
	case readServiceNetworkTags:
		return d.rereadServiceNetworkTags(ctx, d.state.serviceNetworks.get(r.name))
	case readServiceAuth, readServiceNetworkAuth:
		return d.loadAuth(ctx, holder{network: r.kind == readServiceNetworkAuth, name: r.name})
	case readServiceAccessLogs, readServiceNetworkAccessLogs:
		return d.loadAccessLogs(ctx, holder{network: r.kind == readServiceNetworkAccessLogs, name: r.name})
	case readVPCAssociationSecurityGroups:
		return d.loadSecurityGroups(ctx, d.state.serviceNetworks.get(r.name))
	case readHealthCheck:
		return d.loadHealthCheck(ctx, d.state.targetGroups.get(r.name))
	case readAllAssociations:
		return d.loadAllAssociations(ctx)
	}
	return fmt.Errorf("unknown read %d", r.kind)
}

// pages is an SDK paginator with pages of type O and client options of type C.
type pages[O, C any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*C)) (O, error)
}

// eachPage hands every page of p to f; what names the list in errors.
func eachPage[O, C any](ctx context.Context, what string, p pages[O, C], f func(O) error) error {
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", what, err)
		}
		if err := f(page); err != nil {
			return err
		}
	}
	return nil
}

// verifyService checks with Lattice that a suspect service still exists, and forgets it if not.
func (d *Deployer) verifyService(ctx context.Context, st *svcState) error {
	_, err := d.client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(st.id)})
	switch {
	case isNotFound(err):
		d.forget(serviceIdentity(st.name), func() { d.state.services.remove(st.name) })
		return nil
	case err != nil:
		return fmt.Errorf("get service %s: %w", st.name, err)
	}
	st.suspect = false
	return nil
}

func (d *Deployer) loadAssociationTags(ctx context.Context, a *assocState) error {
	tags, err := d.tags(ctx, a.arn)
	if err != nil {
		return err
	}
	a.tags, a.tagsKnown = tags, true
	return nil
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
	listeners := map[int32]*listenerState{}
	err := eachPage(ctx, "listeners of service "+svc.name, vpclattice.NewListListenersPaginator(d.client, &vpclattice.ListListenersInput{
		ServiceIdentifier: aws.String(svc.id), MaxResults: aws.Int32(100)}), func(page *vpclattice.ListListenersOutput) error {
		for _, l := range page.Items {
			ls, err := d.loadListener(ctx, svc, aws.ToString(l.Id))
			if err != nil {
				return err
			}
			listeners[ls.port] = ls
		}
		return nil
	})
	if err != nil {
		return err
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
	err := eachPage(ctx, "service network associations of service "+svc.name, vpclattice.NewListServiceNetworkServiceAssociationsPaginator(d.client,
		&vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: aws.String(svc.id), MaxResults: aws.Int32(100)}),
		func(page *vpclattice.ListServiceNetworkServiceAssociationsOutput) error {
			for _, a := range page.Items {
				if a.Status != types.ServiceNetworkServiceAssociationStatusDeleteInProgress {
					assocs[aws.ToString(a.ServiceNetworkId)] = &assocState{id: aws.ToString(a.Id), arn: aws.ToString(a.Arn), status: string(a.Status)}
				}
			}
			return nil
		})
	return assocs, err
}

// loadAllAssociations reads the associations of every listed service network (one call per
// 100) and gives each service whose associations are unknown the ones found for it.
func (d *Deployer) loadAllAssociations(ctx context.Context) error {
	byService := map[string]map[string]*assocState{}
	for _, name := range d.state.serviceNetworks.keys(nil) {
		sn := d.state.serviceNetworks.get(name)
		err := eachPage(ctx, "service associations of service network "+name, vpclattice.NewListServiceNetworkServiceAssociationsPaginator(d.client,
			&vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceNetworkIdentifier: aws.String(sn.id), MaxResults: aws.Int32(100)}),
			func(page *vpclattice.ListServiceNetworkServiceAssociationsOutput) error {
				for _, a := range page.Items {
					if a.Status == types.ServiceNetworkServiceAssociationStatusDeleteInProgress {
						continue
					}
					id := aws.ToString(a.ServiceId)
					if byService[id] == nil {
						byService[id] = map[string]*assocState{}
					}
					byService[id][sn.id] = &assocState{id: aws.ToString(a.Id), arn: aws.ToString(a.Arn), status: string(a.Status)}
				}
				return nil
			})
		if err != nil {
			return err
		}
	}
	for _, name := range d.state.services.keys(func(s *svcState) bool { return !s.childrenKnown && s.assocs == nil && !s.distrusted }) {
		svc := d.state.services.get(name)
		svc.assocs = byService[svc.id]
		if svc.assocs == nil {
			svc.assocs = map[string]*assocState{}
		}
	}
	return nil
}

func (d *Deployer) loadListener(ctx context.Context, svc *svcState, id string) (*listenerState, error) {
	l, err := d.client.GetListener(ctx, &vpclattice.GetListenerInput{ServiceIdentifier: aws.String(svc.id), ListenerIdentifier: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("get listener %s of service %s: %w", id, svc.name, err)
	}
	ls := &listenerState{id: id, arn: aws.ToString(l.Arn), name: aws.ToString(l.Name), protocol: string(l.Protocol),
		port: aws.ToInt32(l.Port), defaultAction: fromRuleAction(l.DefaultAction, d.state.targetGroupName), rules: map[string]*ruleState{}}
	err = eachPage(ctx, "rules of listener "+ls.name, vpclattice.NewListRulesPaginator(d.client, &vpclattice.ListRulesInput{
		ServiceIdentifier: aws.String(svc.id), ListenerIdentifier: aws.String(id), MaxResults: aws.Int32(100)}),
		func(page *vpclattice.ListRulesOutput) error {
			for _, r := range page.Items {
				if aws.ToBool(r.IsDefault) {
					continue
				}
				full, err := d.client.GetRule(ctx, &vpclattice.GetRuleInput{ServiceIdentifier: aws.String(svc.id),
					ListenerIdentifier: aws.String(id), RuleIdentifier: r.Id})
				if err != nil {
					return fmt.Errorf("get rule %s of listener %s: %w", aws.ToString(r.Name), ls.name, err)
				}
				ls.rules[aws.ToString(full.Id)] = &ruleState{id: aws.ToString(full.Id), arn: aws.ToString(full.Arn),
					name: aws.ToString(full.Name), priority: aws.ToInt32(full.Priority),
					match: fromRuleMatch(full.Match), action: fromRuleAction(full.Action, d.state.targetGroupName)}
			}
			return nil
		})
	return ls, err
}

// loadTargets reads the registered targets of a discovered target group. Draining targets are
// on their way out and count as absent.
func (d *Deployer) loadTargets(ctx context.Context, tg *tgState) error {
	targets := map[model.Target]bool{}
	err := eachPage(ctx, "targets of target group "+tg.name, vpclattice.NewListTargetsPaginator(d.client, &vpclattice.ListTargetsInput{
		TargetGroupIdentifier: aws.String(tg.id), MaxResults: aws.Int32(100)}), func(page *vpclattice.ListTargetsOutput) error {
		for _, t := range page.Items {
			if t.Status != types.TargetStatusDraining {
				targets[model.Target{IP: aws.ToString(t.Id), Port: aws.ToInt32(t.Port)}] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	tg.targets, tg.targetsKnown = targets, true
	return nil
}

func (d *Deployer) loadCertificate(ctx context.Context, svc *svcState) error {
	out, err := d.client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(svc.id)})
	if err != nil {
		return fmt.Errorf("get service %s: %w", svc.name, err)
	}
	svc.certARN, svc.certKnown = aws.ToString(out.CertificateArn), true
	return nil
}
