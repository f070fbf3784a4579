package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The executor: it runs a plan's phases in order, the sequences of a phase in parallel (up to
// Config.Concurrency) and each sequence's operations in order, and records every successful
// write in the observed state. Creates carry client tokens, deletes take NotFound as done, so
// running a plan again after any failure is safe.

// execute runs p and reports per route and gateway of m. The error collects the failures of
// cleanup, which belong to no route or gateway.
func (d *Deployer) execute(ctx context.Context, m *model.Model, p *Plan) (*Result, error) {
	x := &executor{d: d, failures: map[statusKey]string{}}
	for _, phase := range p.runPhases() {
		x.runPhase(ctx, phase)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
	}
	return d.result(m, p, x.failures), errors.Join(x.cleanupErrs...)
}

// executor runs the sequences of a plan and collects their failures.
type executor struct {
	d           *Deployer
	mu          sync.Mutex
	failures    map[statusKey]string
	cleanupErrs []error
}

// runPhase runs the sequences of one phase in parallel, up to Config.Concurrency at a time. A
// sequence with dependencies (after) runs in the slot of the last of them to finish, right
// away instead of at the back of the queue, or not at all if one of them failed.
func (x *executor) runPhase(ctx context.Context, phase []*sequence) {
	waiting := map[*sequence]int{}
	dependents := map[*sequence][]*sequence{}
	blocked := map[*sequence]string{}
	inPhase := map[*sequence]bool{}
	for _, s := range phase {
		inPhase[s] = true
	}
	for _, s := range phase {
		for _, dep := range s.after {
			if inPhase[dep] {
				waiting[s]++
				dependents[dep] = append(dependents[dep], s)
			}
		}
	}
	var chain func(s *sequence, skip string)
	chain = func(s *sequence, skip string) {
		ok := false
		if skip != "" {
			x.fail(s, nil, skip)
		} else {
			ok = x.run(ctx, s)
		}
		for _, next := range dependents[s] {
			x.mu.Lock()
			if !ok && blocked[next] == "" {
				blocked[next] = "not attempted until " + lastOp(s) + " succeeds"
			}
			waiting[next]--
			ready, why := waiting[next] == 0, blocked[next]
			x.mu.Unlock()
			if ready {
				chain(next, why)
			}
		}
	}
	var roots []*sequence
	for _, s := range phase {
		if waiting[s] == 0 {
			roots = append(roots, s)
		}
	}
	sem := make(chan struct{}, x.d.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, s := range roots {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			chain(s, "")
		}()
	}
	wg.Wait()
}

// lastOp names what a sequence ends with, for messages about what waits for it.
func lastOp(s *sequence) string {
	if len(s.ops) == 0 {
		return s.status.String()
	}
	op := s.ops[len(s.ops)-1]
	return op.Action + " " + op.Resource
}

// run runs the operations of s in order, stopping at the first failure, and reports whether
// all of them succeeded.
func (x *executor) run(ctx context.Context, s *sequence) bool {
	d := x.d
	if s.err != nil {
		x.mu.Lock()
		x.failures[s.status] = s.err.Error()
		x.mu.Unlock()
		d.recordApplied(s.applied, false)
		return false
	}
	for i, op := range s.ops {
		err := op.call.run(ctx, d)
		if err == nil {
			continue
		}
		d.recordApplied(s.applied, false)
		d.log.Info("lattice operation failed", "action", op.Action, "resource", op.Resource, "error", err.Error())
		x.fail(s, &op, statusMessage(op, err))
		x.mu.Lock()
		if s.status.isZero() {
			x.cleanupErrs = append(x.cleanupErrs, fmt.Errorf("%s %s: %w", op.Action, op.Resource, err))
		}
		for _, rest := range s.ops[i+1:] {
			if !rest.status.isZero() && rest.status != s.status {
				if _, seen := x.failures[rest.status]; !seen {
					x.failures[rest.status] = fmt.Sprintf("not attempted after %s %s failed", op.Action, op.Resource)
				}
			}
		}
		x.mu.Unlock()
		return false
	}
	d.recordApplied(s.applied, true)
	return true
}

// fail records msg for the status of s, unless it has one already; a sequence of no status
// that did not get to an operation (op nil) is a cleanup error.
func (x *executor) fail(s *sequence, op *Op, msg string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if s.status.isZero() {
		if op == nil {
			x.cleanupErrs = append(x.cleanupErrs, fmt.Errorf("%s: %s", lastOp(s), msg))
		}
		return
	}
	if _, seen := x.failures[s.status]; !seen {
		x.failures[s.status] = msg
	}
}

// statusMessage is what a user reads in route or gateway status: the failed call and Lattice's
// own error code and message, without the SDK's request IDs and wrapping.
func statusMessage(op Op, err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return fmt.Sprintf("%s %s: %s: %s", op.Action, op.Resource, apiErr.ErrorCode(), apiErr.ErrorMessage())
	}
	return fmt.Sprintf("%s %s: %v", op.Action, op.Resource, err)
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

func isConflict(err error) bool {
	var c *types.ConflictException
	return errors.As(err, &c)
}

func isAccessDenied(err error) bool {
	var ad *types.AccessDeniedException
	if errors.As(err, &ad) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException"
}

// Client-token identities of the resources: what a create is about, independent of its inputs.

func serviceNetworkIdentity(name string) string     { return "sn/" + name }
func vpcAssociationIdentity(snID string) string     { return "snva/" + snID }
func targetGroupIdentity(name string) string        { return "tg/" + name }
func serviceIdentity(name string) string            { return "svc/" + name }
func associationIdentity(svcID, snID string) string { return "snsa/" + svcID + "/" + snID }
func listenerIdentity(svcID string, port int32) string {
	return fmt.Sprintf("listener/%s/%d", svcID, port)
}
func ruleIdentity(listenerID, ruleName string) string { return "rule/" + listenerID + "/" + ruleName }

// clientToken derives a create's idempotency token from who we are, what is created, how often
// this deployer saw that resource disappear and the token epoch. A retried create (by the SDK,
// by the next Apply after a failure, or by a fresh deployer after a crash) sends the same token
// and gets the same resource back; a re-creation after a deletion, or after a Refresh that found
// the resource gone, sends a new one, because Lattice would otherwise replay the answer naming
// the dead resource.
func (d *Deployer) clientToken(identity string, input any) *string {
	body, _ := json.Marshal(input)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d|%d|%s", d.cfg.ManagedBy(), identity, d.deletions.get(identity), d.tokenEpoch.Load(), body))
	return aws.String(hex.EncodeToString(sum[:])[:64])
}

// forget records that the resource with identity is gone and lets drop remove it from the
// observed state.
func (d *Deployer) forget(identity string, drop func()) {
	d.deletions.update(identity, func(n int) int { return n + 1 })
	drop()
}

// remove is every deletion: call, repeated while Lattice answers ConflictException (a dependent
// resource is still being deleted), NotFound taken as done, then the resource forgotten.
func (d *Deployer) remove(ctx context.Context, what, identity string, call func(context.Context) error, drop func()) error {
	err := d.retryConflict(ctx, what+" to be deletable", call)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", what, err)
	}
	d.forget(identity, drop)
	return nil
}

// wait polls check with exponential backoff until it reports done, fails, or WaitTimeout passes.
func (d *Deployer) wait(ctx context.Context, what string, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.WaitTimeout)
	defer cancel()
	delay := d.cfg.WaitInitial
	for {
		done, err := check(ctx)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", what, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// waitActive polls what a create answered CREATE_IN_PROGRESS for until it is ACTIVE; get
// returns its status and failure message.
func (d *Deployer) waitActive(ctx context.Context, what string, get func(context.Context) (status, failure string, err error)) error {
	return d.wait(ctx, what+" to become ACTIVE", func(ctx context.Context) (bool, error) {
		status, failure, err := get(ctx)
		switch {
		case err != nil:
			return false, err
		case status == "ACTIVE":
			return true, nil
		case status == "CREATE_FAILED":
			return false, fmt.Errorf("%s: CREATE_FAILED: %s", what, failure)
		}
		return false, nil
	})
}

// retryConflict repeats call while Lattice answers ConflictException, with the same backoff as
// wait.
func (d *Deployer) retryConflict(ctx context.Context, what string, call func(context.Context) error) error {
	var last error
	err := d.wait(ctx, what, func(ctx context.Context) (bool, error) {
		last = call(ctx)
		if last != nil && isConflict(last) {
			d.log.V(1).Info("conflict, retrying", "waitingFor", what, "error", last.Error())
			return false, nil
		}
		return true, last
	})
	if err != nil && last != nil && isConflict(last) {
		return fmt.Errorf("%w (last error: %v)", err, last)
	}
	return err
}

// retryConflictIf retries conflicts only when retry is set: a create retries while the resource
// it replaces is still going away.
func (d *Deployer) retryConflictIf(ctx context.Context, retry bool, what string, call func(context.Context) error) error {
	if !retry {
		return call(ctx)
	}
	return d.retryConflict(ctx, what, call)
}

// forgetServiceIfGone handles NotFound on a service or one of its children: the observed
// children are dropped and the next diff asks whether the service itself still exists.
func (d *Deployer) forgetServiceIfGone(name string, err error) {
	if !isNotFound(err) {
		return
	}
	if st := d.state.services.get(name); st != nil {
		st.childrenKnown, st.suspect, st.distrusted, st.listeners, st.assocs = false, true, true, nil, nil
	}
	// Whatever is re-created next must not replay the create of the resource that vanished.
	d.tokenEpoch.Add(1)
}

func (d *Deployer) forgetTargetGroupIfGone(name string, err error) {
	if isNotFound(err) {
		d.forget(targetGroupIdentity(name), func() { d.state.targetGroups.remove(name) })
	}
}

func (c tagResource) run(ctx context.Context, d *Deployer) error {
	_, err := d.client.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String(c.arn), Tags: c.tags})
	if err != nil {
		return fmt.Errorf("tag %s: %w", c.arn, err)
	}
	var tags *map[string]string
	switch c.holder {
	case taggedServiceNetwork:
		tags = &d.state.serviceNetworks.get(c.name).tags
	case taggedService:
		tags = &d.state.services.get(c.name).tags
	case taggedTargetGroup:
		tags = &d.state.targetGroups.get(c.name).tags
	default:
		return nil
	}
	*tags = mergeTags(*tags, c.tags)
	return nil
}

// Service networks and the VPC association.

func (c createServiceNetwork) run(ctx context.Context, d *Deployer) error {
	in := &vpclattice.CreateServiceNetworkInput{Name: aws.String(c.sn.Name), Tags: c.sn.Tags}
	if c.sn.Auth != nil {
		in.AuthType = types.AuthType(c.sn.Auth.AuthType)
	}
	in.ClientToken = d.clientToken(serviceNetworkIdentity(c.sn.Name), in)
	out, err := d.client.CreateServiceNetwork(ctx, in)
	if isConflict(err) {
		// Created out of band since discovery (upstream's workflow: create it, then apply the
		// Gateway): adopt it as discovery would have.
		return d.adoptServiceNetwork(ctx, c.sn)
	}
	if err != nil {
		return fmt.Errorf("create service network %s: %w", c.sn.Name, err)
	}
	d.state.serviceNetworks.set(c.sn.Name, &snState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: c.sn.Name, tags: mergeTags(nil, c.sn.Tags),
		auth: createdAuth(c.sn.Auth), accessLogs: accessLogState{known: true}})
	return nil
}

func (c createVPCAssociation) run(ctx context.Context, d *Deployer) error {
	sn := c.sn
	st := d.state.serviceNetworks.get(sn.Name)
	if st == nil {
		return fmt.Errorf("service network %s does not exist", sn.Name)
	}
	if st.vpcAssoc != nil {
		// Adopted after the plan was made (adoptServiceNetwork), already associated.
		return nil
	}
	in := &vpclattice.CreateServiceNetworkVpcAssociationInput{ServiceNetworkIdentifier: aws.String(st.id),
		VpcIdentifier: aws.String(sn.VPCAssociation.VPCID), SecurityGroupIds: sn.VPCAssociation.SecurityGroupIDs,
		Tags: mergeTags(d.cfg.ownTags(), sn.VPCAssociation.Tags)}
	in.ClientToken = d.clientToken(vpcAssociationIdentity(st.id), in)
	var out *vpclattice.CreateServiceNetworkVpcAssociationOutput
	err := d.retryConflictIf(ctx, c.replacing, "VPC association to be creatable", func(ctx context.Context) (err error) {
		out, err = d.client.CreateServiceNetworkVpcAssociation(ctx, in)
		return err
	})
	if err != nil {
		return fmt.Errorf("associate VPC %s with service network %s: %w", sn.VPCAssociation.VPCID, sn.Name, err)
	}
	st.vpcAssoc = &assocState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), status: string(out.Status), tags: d.cfg.ownTags(), tagsKnown: true,
		securityGroups: sn.VPCAssociation.SecurityGroupIDs, securityGroupsKnown: true}
	return nil
}

func (c deleteVPCAssociation) run(ctx context.Context, d *Deployer) error {
	sn := d.state.serviceNetworks.get(c.sn)
	if sn == nil || sn.vpcAssoc == nil {
		return nil
	}
	id := sn.vpcAssoc.id
	return d.remove(ctx, "VPC association "+id+" of service network "+sn.name, vpcAssociationIdentity(sn.id), func(ctx context.Context) error {
		_, err := d.client.DeleteServiceNetworkVpcAssociation(ctx, &vpclattice.DeleteServiceNetworkVpcAssociationInput{
			ServiceNetworkVpcAssociationIdentifier: aws.String(id)})
		return err
	}, func() { sn.vpcAssoc = nil })
}

func (c deleteServiceNetwork) run(ctx context.Context, d *Deployer) error {
	sn := d.state.serviceNetworks.get(c.sn)
	if sn == nil {
		return nil
	}
	return d.deleteOrRelease(ctx, sn)
}

// Target groups and targets.

func (c createTargetGroup) run(ctx context.Context, d *Deployer) error {
	tg := c.tg
	in := &vpclattice.CreateTargetGroupInput{Name: aws.String(tg.Name), Type: types.TargetGroupType(tg.Type), Tags: tg.Tags,
		Config: &types.TargetGroupConfig{
			Port: aws.Int32(tg.Port), Protocol: types.TargetGroupProtocol(tg.Protocol),
			ProtocolVersion: types.TargetGroupProtocolVersion(tg.ProtocolVersion),
			IpAddressType:   types.IpAddressType(tg.IPAddressType), VpcIdentifier: aws.String(tg.VPCID),
			HealthCheck: toHealthCheck(tg.HealthCheck),
		}}
	in.ClientToken = d.clientToken(targetGroupIdentity(tg.Name), in)
	out, err := d.client.CreateTargetGroup(ctx, in)
	if err != nil {
		return fmt.Errorf("create target group %s: %w", tg.Name, err)
	}
	st := &tgState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: tg.Name, status: string(out.Status),
		typ: tg.Type, protocol: tg.Protocol, protocolVersion: tg.ProtocolVersion, ipAddressType: tg.IPAddressType,
		vpcID: tg.VPCID, port: tg.Port, tags: mergeTags(nil, tg.Tags), targets: map[model.Target]bool{}, targetsKnown: true,
		healthCheck: fromHealthCheck(toHealthCheck(tg.HealthCheck), tg.ProtocolVersion), healthCheckKnown: true}
	d.state.targetGroups.set(tg.Name, st)
	if out.Status == types.TargetGroupStatusActive {
		return nil
	}
	return d.waitActive(ctx, "target group "+tg.Name, func(ctx context.Context) (string, string, error) {
		got, err := d.client.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: aws.String(st.id)})
		if err != nil {
			return "", "", err
		}
		st.status = string(got.Status)
		return st.status, aws.ToString(got.FailureMessage), nil
	})
}

func (c changeTargets) run(ctx context.Context, d *Deployer) error {
	action := "DeregisterTargets"
	if c.register {
		action = "RegisterTargets"
	}
	st := d.state.targetGroups.get(c.tg)
	if st == nil {
		return fmt.Errorf("target group %s does not exist", c.tg)
	}
	var ok []types.Target
	var failed []types.TargetFailure
	var err error
	if c.register {
		var out *vpclattice.RegisterTargetsOutput
		if out, err = d.client.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{
			TargetGroupIdentifier: aws.String(st.id), Targets: toTargets(c.targets)}); err == nil {
			ok, failed = out.Successful, out.Unsuccessful
		}
	} else {
		var out *vpclattice.DeregisterTargetsOutput
		if out, err = d.client.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{
			TargetGroupIdentifier: aws.String(st.id), Targets: toTargets(c.targets)}); err == nil {
			ok, failed = out.Successful, out.Unsuccessful
		}
	}
	if err != nil {
		d.forgetTargetGroupIfGone(c.tg, err)
		return fmt.Errorf("%s on target group %s: %w", action, c.tg, err)
	}
	for _, t := range ok {
		key := model.Target{IP: aws.ToString(t.Id), Port: aws.ToInt32(t.Port)}
		if c.register {
			st.targets[key] = true
		} else {
			delete(st.targets, key)
		}
	}
	if len(failed) > 0 {
		msgs := make([]string, 0, len(failed))
		for _, f := range failed {
			msgs = append(msgs, fmt.Sprintf("%s:%d %s %s", aws.ToString(f.Id), aws.ToInt32(f.Port), aws.ToString(f.FailureCode), aws.ToString(f.FailureMessage)))
		}
		return fmt.Errorf("%s on target group %s: %d failed: %s", action, c.tg, len(failed), strings.Join(msgs, "; "))
	}
	return nil
}

func (c deleteTargetGroup) run(ctx context.Context, d *Deployer) error {
	st := d.state.targetGroups.get(c.tg)
	if st == nil {
		return nil
	}
	del := func(ctx context.Context) error {
		_, err := d.client.DeleteTargetGroup(ctx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: aws.String(st.id)})
		return err
	}
	drop := func() { d.state.targetGroups.remove(st.name) }
	if c.once {
		if err := del(ctx); err != nil && !isNotFound(err) {
			return fmt.Errorf("delete exported target group %s (importers may still use it): %w", st.name, err)
		}
		d.forget(targetGroupIdentity(st.name), drop)
		return nil
	}
	return d.remove(ctx, "target group "+st.name, targetGroupIdentity(st.name), del, drop)
}

// Services and their service-network associations.

func (c createService) run(ctx context.Context, d *Deployer) error {
	svc := c.svc
	in := &vpclattice.CreateServiceInput{Name: aws.String(svc.Name), Tags: svc.Tags}
	if svc.CustomDomainName != "" {
		in.CustomDomainName = aws.String(svc.CustomDomainName)
	}
	certARN, err := d.certificateARN(&svc)
	if err != nil {
		return fmt.Errorf("create service %s: %w", svc.Name, err)
	}
	if certARN != "" {
		in.CertificateArn = aws.String(certARN)
	}
	if svc.Auth != nil {
		in.AuthType = types.AuthType(svc.Auth.AuthType)
	}
	in.ClientToken = d.clientToken(serviceIdentity(svc.Name), in)
	var out *vpclattice.CreateServiceOutput
	err = d.retryConflictIf(ctx, c.replacing, "service name "+svc.Name+" to be free", func(ctx context.Context) (err error) {
		out, err = d.client.CreateService(ctx, in)
		return err
	})
	if err != nil {
		return fmt.Errorf("create service %s: %w", svc.Name, err)
	}
	st := &svcState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: svc.Name, status: string(out.Status),
		customDomain: svc.CustomDomainName, certARN: certARN, certKnown: true, tags: mergeTags(nil, svc.Tags),
		childrenKnown: true, listeners: map[int32]*listenerState{}, assocs: map[string]*assocState{},
		auth: createdAuth(svc.Auth), accessLogs: accessLogState{known: true}}
	if out.DnsEntry != nil {
		st.dnsName = aws.ToString(out.DnsEntry.DomainName)
	}
	d.state.services.set(svc.Name, st)
	if out.Status == types.ServiceStatusActive {
		return nil
	}
	return d.waitActive(ctx, "service "+svc.Name, func(ctx context.Context) (string, string, error) {
		got, err := d.client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(st.id)})
		if err != nil {
			return "", "", err
		}
		st.status = string(got.Status)
		if got.DnsEntry != nil {
			st.dnsName = aws.ToString(got.DnsEntry.DomainName)
		}
		return st.status, aws.ToString(got.FailureMessage), nil
	})
}

func (c updateCertificate) run(ctx context.Context, d *Deployer) error {
	arn, err := d.certificateARN(&c.svc)
	if err != nil {
		return fmt.Errorf("update certificate of service %s: %w", c.svc.Name, err)
	}
	if st := d.state.services.get(c.svc.Name); st.certARN != arn {
		_, err = d.client.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: aws.String(st.id), CertificateArn: aws.String(arn)})
		if err != nil {
			d.forgetServiceIfGone(c.svc.Name, err)
			return fmt.Errorf("update certificate of service %s: %w", c.svc.Name, err)
		}
		st.certARN = arn
	}
	return nil
}

// Lattice refuses to delete a service while its associations are still being removed; remove
// retries that conflict.
func (c deleteService) run(ctx context.Context, d *Deployer) error {
	st := d.state.services.get(c.svc)
	if st == nil {
		return nil
	}
	err := d.remove(ctx, "service "+c.svc, serviceIdentity(c.svc), func(ctx context.Context) error {
		_, err := d.client.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: aws.String(st.id)})
		return err
	}, func() { d.state.services.remove(c.svc) })
	if err != nil && !st.childrenKnown {
		// Its associations may have come from the per-network listing: read them alone next.
		st.assocs, st.distrusted = nil, true
	}
	return err
}

func (c createAssociation) run(ctx context.Context, d *Deployer) error {
	st, sn := d.state.services.get(c.svc), d.state.serviceNetworks.get(c.sn)
	if sn == nil {
		return fmt.Errorf("service network %s does not exist", c.sn)
	}
	in := &vpclattice.CreateServiceNetworkServiceAssociationInput{ServiceIdentifier: aws.String(st.id),
		ServiceNetworkIdentifier: aws.String(sn.id), Tags: d.cfg.ownTags()}
	in.ClientToken = d.clientToken(associationIdentity(st.id, sn.id), in)
	out, err := d.client.CreateServiceNetworkServiceAssociation(ctx, in)
	if err != nil {
		d.forgetServiceIfGone(c.svc, err)
		return fmt.Errorf("associate service %s with service network %s: %w", c.svc, c.sn, err)
	}
	st.assocs[sn.id] = &assocState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), status: string(out.Status), tags: d.cfg.ownTags(), tagsKnown: true}
	if out.DnsEntry != nil && st.dnsName == "" {
		st.dnsName = aws.ToString(out.DnsEntry.DomainName)
	}
	return nil
}

func (c deleteAssociation) run(ctx context.Context, d *Deployer) error {
	st := d.state.services.get(c.svc)
	a := st.assocs[c.snID]
	return d.remove(ctx, "association "+a.id+" of service "+c.svc+" with service network "+c.snName, associationIdentity(st.id, c.snID),
		func(ctx context.Context) error {
			_, err := d.client.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{
				ServiceNetworkServiceAssociationIdentifier: aws.String(a.id)})
			return err
		}, func() { delete(st.assocs, c.snID) })
}

// Listeners and rules.

func (c createListener) run(ctx context.Context, d *Deployer) error {
	l := c.listener
	st := d.state.services.get(c.svc)
	in := &vpclattice.CreateListenerInput{ServiceIdentifier: aws.String(st.id), Name: aws.String(l.Name),
		Protocol: types.ListenerProtocol(l.Protocol), Port: aws.Int32(l.Port),
		DefaultAction: toRuleAction(l.DefaultAction, d.state.targetGroupID), Tags: l.Tags}
	in.ClientToken = d.clientToken(listenerIdentity(st.id, l.Port), in)
	out, err := d.client.CreateListener(ctx, in)
	if err != nil {
		d.forgetServiceIfGone(c.svc, err)
		return fmt.Errorf("create listener %s on service %s: %w", l.Name, c.svc, err)
	}
	st.listeners[l.Port] = &listenerState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: l.Name,
		protocol: l.Protocol, port: l.Port, defaultAction: l.DefaultAction, rules: map[string]*ruleState{}}
	return nil
}

func (c updateListener) run(ctx context.Context, d *Deployer) error {
	l := c.listener
	st := d.state.services.get(c.svc)
	ls := st.listeners[l.Port]
	_, err := d.client.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: aws.String(st.id),
		ListenerIdentifier: aws.String(ls.id), DefaultAction: toRuleAction(l.DefaultAction, d.state.targetGroupID)})
	if err != nil {
		d.forgetServiceIfGone(c.svc, err)
		return fmt.Errorf("update listener %s of service %s: %w", ls.name, c.svc, err)
	}
	ls.defaultAction = l.DefaultAction
	return nil
}

func (c deleteListener) run(ctx context.Context, d *Deployer) error {
	st := d.state.services.get(c.svc)
	ls := st.listeners[c.port]
	return d.remove(ctx, "listener "+ls.name+" of service "+c.svc, listenerIdentity(st.id, c.port), func(ctx context.Context) error {
		_, err := d.client.DeleteListener(ctx, &vpclattice.DeleteListenerInput{ServiceIdentifier: aws.String(st.id), ListenerIdentifier: aws.String(ls.id)})
		return err
	}, func() { delete(st.listeners, c.port) })
}

func (c createRule) run(ctx context.Context, d *Deployer) error {
	r := c.rule
	st := d.state.services.get(c.svc)
	ls := st.listeners[c.port]
	in := &vpclattice.CreateRuleInput{ServiceIdentifier: aws.String(st.id), ListenerIdentifier: aws.String(ls.id),
		Name: aws.String(r.Name), Priority: aws.Int32(r.Priority), Match: toRuleMatch(r.Match),
		Action: toRuleAction(r.Action, d.state.targetGroupID), Tags: r.Tags}
	in.ClientToken = d.clientToken(ruleIdentity(ls.id, r.Name), in)
	out, err := d.client.CreateRule(ctx, in)
	if err != nil {
		d.forgetServiceIfGone(c.svc, err)
		return fmt.Errorf("create rule %s on listener %s of service %s: %w", r.Name, ls.name, c.svc, err)
	}
	ls.rules[aws.ToString(out.Id)] = &ruleState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: r.Name,
		priority: r.Priority, match: r.Match, action: r.Action}
	return nil
}

func (c batchUpdateRules) run(ctx context.Context, d *Deployer) error {
	st := d.state.services.get(c.svc)
	ls := st.listeners[c.port]
	in := &vpclattice.BatchUpdateRuleInput{ServiceIdentifier: aws.String(st.id), ListenerIdentifier: aws.String(ls.id)}
	for _, u := range c.updates {
		in.Rules = append(in.Rules, types.RuleUpdate{RuleIdentifier: aws.String(u.id), Priority: aws.Int32(u.want.Priority),
			Match: toRuleMatch(u.want.Match), Action: toRuleAction(u.want.Action, d.state.targetGroupID)})
	}
	out, err := d.client.BatchUpdateRule(ctx, in)
	if err != nil {
		d.forgetServiceIfGone(c.svc, err)
		return fmt.Errorf("update rules of listener %s of service %s: %w", ls.name, c.svc, err)
	}
	failed := map[string]string{}
	for _, f := range out.Unsuccessful {
		failed[aws.ToString(f.RuleIdentifier)] = aws.ToString(f.FailureCode) + ": " + aws.ToString(f.FailureMessage)
	}
	var msgs []string
	for _, u := range c.updates {
		if msg, bad := failed[u.id]; bad {
			msgs = append(msgs, u.want.Name+" "+msg)
			continue
		}
		r := ls.rules[u.id]
		r.priority, r.match, r.action = u.want.Priority, u.want.Match, u.want.Action
	}
	if len(msgs) > 0 {
		return fmt.Errorf("update rules of listener %s of service %s: %s", ls.name, c.svc, strings.Join(msgs, "; "))
	}
	return nil
}

func (c deleteRule) run(ctx context.Context, d *Deployer) error {
	st := d.state.services.get(c.svc)
	ls := st.listeners[c.port]
	return d.remove(ctx, "rule "+c.name+" of listener "+ls.name+" of service "+c.svc, ruleIdentity(ls.id, c.name), func(ctx context.Context) error {
		_, err := d.client.DeleteRule(ctx, &vpclattice.DeleteRuleInput{ServiceIdentifier: aws.String(st.id),
			ListenerIdentifier: aws.String(ls.id), RuleIdentifier: aws.String(c.id)})
		return err
	}, func() { delete(ls.rules, c.id) })
}
