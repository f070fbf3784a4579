package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// targetsPerCall is the API's limit on Register/DeregisterTargets.
const targetsPerCall = 100

// rulesPerBatch is the API's limit on BatchUpdateRule.
const rulesPerBatch = 10

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

// clientToken derives a create's idempotency token from who we are, what is created, how often
// this deployer saw that resource disappear and how often it re-discovered the world. A retried
// create (by the SDK, by the next Apply after a failure, or by a fresh deployer after a crash)
// sends the same token and gets the same resource back; a re-creation after a deletion, or after
// a Refresh that found the resource gone, sends a new one, because Lattice would otherwise replay
// the answer naming the dead resource.
func (d *Deployer) clientToken(identity string, input any) *string {
	body, _ := json.Marshal(input)
	n, _ := d.tombstones.Load(identity)
	count, _ := n.(int)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%d|%d|%s", d.cfg.ManagedBy(), identity, count, d.generation.Load(), body))
	return aws.String(hex.EncodeToString(sum[:])[:64])
}

func (d *Deployer) bury(identity string) {
	for {
		n, loaded := d.tombstones.LoadOrStore(identity, 1)
		if !loaded {
			return
		}
		if d.tombstones.CompareAndSwap(identity, n, n.(int)+1) {
			return
		}
	}
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

// retryConflict repeats call while Lattice answers ConflictException (a dependent resource is
// still being deleted), with the same backoff as wait.
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

func (d *Deployer) maybeRetryConflict(ctx context.Context, retry bool, what string, call func(context.Context) error) error {
	if !retry {
		return call(ctx)
	}
	return d.retryConflict(ctx, what, call)
}

func tagOp(d *Deployer, resource string, arn func() string, tags map[string]string, done func(map[string]string)) Op {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, strings.TrimPrefix(k, model.TagPrefix))
	}
	return Op{Action: "TagResource", Resource: resource, Detail: strings.Join(sorted(keys), ","), run: func(ctx context.Context) error {
		_, err := d.client.TagResource(ctx, &vpclattice.TagResourceInput{ResourceArn: aws.String(arn()), Tags: tags})
		if err != nil {
			return fmt.Errorf("tag %s: %w", resource, err)
		}
		done(tags)
		return nil
	}}
}

// Service networks and the VPC association.

func (d *Deployer) opCreateServiceNetwork(sn model.ServiceNetwork) Op {
	return Op{Action: "CreateServiceNetwork", Resource: "service network " + sn.Name, run: func(ctx context.Context) error {
		in := &vpclattice.CreateServiceNetworkInput{Name: aws.String(sn.Name), Tags: sn.Tags}
		in.ClientToken = d.clientToken("sn/"+sn.Name, in)
		out, err := d.client.CreateServiceNetwork(ctx, in)
		if err != nil {
			return fmt.Errorf("create service network %s: %w", sn.Name, err)
		}
		d.state.setSN(sn.Name, &snState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: sn.Name, tags: mergeTags(nil, sn.Tags)})
		return nil
	}}
}

// opCreateVPCAssociation associates the VPC; after replacing another association (replacing) it
// retries while Lattice still reports the old one being removed.
func (d *Deployer) opCreateVPCAssociation(sn model.ServiceNetwork, replacing bool) Op {
	return Op{Action: "CreateServiceNetworkVpcAssociation", Resource: "service network " + sn.Name + " ↔ " + sn.VPCAssociation.VPCID,
		run: func(ctx context.Context) error {
			st := d.state.getSN(sn.Name)
			if st == nil {
				return fmt.Errorf("service network %s does not exist", sn.Name)
			}
			in := &vpclattice.CreateServiceNetworkVpcAssociationInput{ServiceNetworkIdentifier: aws.String(st.id),
				VpcIdentifier: aws.String(sn.VPCAssociation.VPCID), SecurityGroupIds: sn.VPCAssociation.SecurityGroupIDs, Tags: d.ownTags()}
			in.ClientToken = d.clientToken("snva/"+st.id, in)
			var out *vpclattice.CreateServiceNetworkVpcAssociationOutput
			err := d.maybeRetryConflict(ctx, replacing, "VPC association to be creatable", func(ctx context.Context) (err error) {
				out, err = d.client.CreateServiceNetworkVpcAssociation(ctx, in)
				return err
			})
			if err != nil {
				return fmt.Errorf("associate VPC %s with service network %s: %w", sn.VPCAssociation.VPCID, sn.Name, err)
			}
			st.vpcAssoc = &assocState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), status: string(out.Status), tags: d.ownTags(), tagsKnown: true}
			return nil
		}}
}

func (d *Deployer) opDeleteVPCAssociation(sn *snState) Op {
	return Op{Action: "DeleteServiceNetworkVpcAssociation", Resource: "service network " + sn.name + " ↔ " + d.cfg.VPCID,
		run: func(ctx context.Context) error {
			if sn.vpcAssoc == nil {
				return nil
			}
			id := sn.vpcAssoc.id
			err := d.retryConflict(ctx, "VPC association "+id+" to be deletable", func(ctx context.Context) error {
				_, err := d.client.DeleteServiceNetworkVpcAssociation(ctx, &vpclattice.DeleteServiceNetworkVpcAssociationInput{
					ServiceNetworkVpcAssociationIdentifier: aws.String(id)})
				return err
			})
			if err != nil && !isNotFound(err) {
				return fmt.Errorf("delete VPC association of service network %s: %w", sn.name, err)
			}
			d.bury("snva/" + sn.id)
			sn.vpcAssoc = nil
			return nil
		}}
}

func (d *Deployer) opDeleteServiceNetwork(sn *snState) Op {
	return Op{Action: "DeleteServiceNetwork", Resource: "service network " + sn.name, run: func(ctx context.Context) error {
		err := d.retryConflict(ctx, "service network "+sn.name+" to be deletable", func(ctx context.Context) error {
			_, err := d.client.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: aws.String(sn.id)})
			return err
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete service network %s: %w", sn.name, err)
		}
		d.bury("sn/" + sn.name)
		d.state.setSN(sn.name, nil)
		return nil
	}}
}

func (d *Deployer) ownTags() map[string]string {
	return map[string]string{model.TagManagedBy: d.cfg.ManagedBy()}
}

// Target groups and targets.

func (d *Deployer) opCreateTargetGroup(tg model.TargetGroup) Op {
	return Op{Action: "CreateTargetGroup", Resource: "target group " + tg.Name, Detail: fmt.Sprintf("%s:%d %s", tg.Protocol, tg.Port, tg.ProtocolVersion),
		run: func(ctx context.Context) error {
			in := &vpclattice.CreateTargetGroupInput{Name: aws.String(tg.Name), Type: types.TargetGroupType(tg.Type), Tags: tg.Tags,
				Config: &types.TargetGroupConfig{
					Port: aws.Int32(tg.Port), Protocol: types.TargetGroupProtocol(tg.Protocol),
					ProtocolVersion: types.TargetGroupProtocolVersion(tg.ProtocolVersion),
					IpAddressType:   types.IpAddressType(tg.IPAddressType), VpcIdentifier: aws.String(tg.VPCID),
					HealthCheck: toHealthCheck(tg.HealthCheck),
				}}
			in.ClientToken = d.clientToken("tg/"+tg.Name, in)
			out, err := d.client.CreateTargetGroup(ctx, in)
			if err != nil {
				return fmt.Errorf("create target group %s: %w", tg.Name, err)
			}
			st := &tgState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: tg.Name, status: string(out.Status),
				typ: tg.Type, protocol: tg.Protocol, protocolVersion: tg.ProtocolVersion, ipAddressType: tg.IPAddressType,
				vpcID: tg.VPCID, port: tg.Port, tags: mergeTags(nil, tg.Tags), healthCheck: tg.HealthCheck, healthCheckKnown: true,
				targets: map[model.Target]bool{}, targetsKnown: true}
			d.state.setTG(tg.Name, st)
			if out.Status == types.TargetGroupStatusActive {
				return nil
			}
			return d.wait(ctx, "target group "+tg.Name+" to become ACTIVE", func(ctx context.Context) (bool, error) {
				got, err := d.client.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: aws.String(st.id)})
				if err != nil {
					return false, err
				}
				switch got.Status {
				case types.TargetGroupStatusActive:
					st.status = string(got.Status)
					return true, nil
				case types.TargetGroupStatusCreateFailed:
					return false, fmt.Errorf("target group %s: CREATE_FAILED: %s", tg.Name, aws.ToString(got.FailureMessage))
				}
				return false, nil
			})
		}}
}

func (d *Deployer) opUpdateHealthCheck(tg model.TargetGroup) Op {
	return Op{Action: "UpdateTargetGroup", Resource: "target group " + tg.Name, Detail: "health check", run: func(ctx context.Context) error {
		st := d.state.getTG(tg.Name)
		_, err := d.client.UpdateTargetGroup(ctx, &vpclattice.UpdateTargetGroupInput{
			TargetGroupIdentifier: aws.String(st.id), HealthCheck: toHealthCheck(tg.HealthCheck)})
		if err != nil {
			d.forgetTGIfGone(tg.Name, err)
			return fmt.Errorf("update health check of target group %s: %w", tg.Name, err)
		}
		st.healthCheck = tg.HealthCheck
		return nil
	}}
}

func (d *Deployer) forgetTGIfGone(name string, err error) {
	if isNotFound(err) {
		d.bury("tg/" + name)
		d.state.setTG(name, nil)
	}
}

// targetOps returns the Register and Deregister calls that turn have into want, chunked at the
// API limit. have == nil means the target group is created by the same plan and has no targets.
func (d *Deployer) targetOps(tgName string, want []model.Target, have map[model.Target]bool) []Op {
	wantSet := make(map[model.Target]bool, len(want))
	var add, remove []model.Target
	for _, t := range want {
		wantSet[t] = true
		if !have[t] {
			add = append(add, t)
		}
	}
	for t := range have {
		if !wantSet[t] {
			remove = append(remove, t)
		}
	}
	sortTargets(remove)
	var ops []Op
	for chunk := range slices.Chunk(add, targetsPerCall) {
		ops = append(ops, d.opTargets("RegisterTargets", tgName, chunk))
	}
	for chunk := range slices.Chunk(remove, targetsPerCall) {
		ops = append(ops, d.opTargets("DeregisterTargets", tgName, chunk))
	}
	return ops
}

func (d *Deployer) opTargets(action, tgName string, targets []model.Target) Op {
	return Op{Action: action, Resource: "target group " + tgName, Detail: fmt.Sprintf("%d targets", len(targets)),
		run: func(ctx context.Context) error {
			st := d.state.getTG(tgName)
			if st == nil {
				return fmt.Errorf("target group %s does not exist", tgName)
			}
			var ok []types.Target
			var failed []types.TargetFailure
			var err error
			if action == "RegisterTargets" {
				var out *vpclattice.RegisterTargetsOutput
				if out, err = d.client.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{
					TargetGroupIdentifier: aws.String(st.id), Targets: toTargets(targets)}); err == nil {
					ok, failed = out.Successful, out.Unsuccessful
				}
			} else {
				var out *vpclattice.DeregisterTargetsOutput
				if out, err = d.client.DeregisterTargets(ctx, &vpclattice.DeregisterTargetsInput{
					TargetGroupIdentifier: aws.String(st.id), Targets: toTargets(targets)}); err == nil {
					ok, failed = out.Successful, out.Unsuccessful
				}
			}
			if err != nil {
				d.forgetTGIfGone(tgName, err)
				return fmt.Errorf("%s on target group %s: %w", action, tgName, err)
			}
			for _, t := range ok {
				key := model.Target{IP: aws.ToString(t.Id), Port: aws.ToInt32(t.Port)}
				if action == "RegisterTargets" {
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
				return fmt.Errorf("%s on target group %s: %d failed: %s", action, tgName, len(failed), strings.Join(msgs, "; "))
			}
			return nil
		}}
}

func (d *Deployer) opDeleteTargetGroup(st *tgState) Op {
	return Op{Action: "DeleteTargetGroup", Resource: "target group " + st.name, run: func(ctx context.Context) error {
		err := d.retryConflict(ctx, "target group "+st.name+" to be deletable", func(ctx context.Context) error {
			_, err := d.client.DeleteTargetGroup(ctx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: aws.String(st.id)})
			return err
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete target group %s: %w", st.name, err)
		}
		d.bury("tg/" + st.name)
		d.state.setTG(st.name, nil)
		return nil
	}}
}

// Services and their service-network associations.

// opCreateService creates the service; when it replaces a deleted one of the same name
// (replacing), it retries while the old one is still being deleted.
func (d *Deployer) opCreateService(svc *model.Service, replacing bool) Op {
	return Op{Action: "CreateService", Resource: "service " + svc.Name, Detail: svc.CustomDomainName, run: func(ctx context.Context) error {
		in := &vpclattice.CreateServiceInput{Name: aws.String(svc.Name), Tags: svc.Tags}
		if svc.CustomDomainName != "" {
			in.CustomDomainName = aws.String(svc.CustomDomainName)
		}
		if svc.CertificateARN != "" {
			in.CertificateArn = aws.String(svc.CertificateARN)
		}
		in.ClientToken = d.clientToken("svc/"+svc.Name, in)
		var out *vpclattice.CreateServiceOutput
		err := d.maybeRetryConflict(ctx, replacing, "service name "+svc.Name+" to be free", func(ctx context.Context) (err error) {
			out, err = d.client.CreateService(ctx, in)
			return err
		})
		if err != nil {
			return fmt.Errorf("create service %s: %w", svc.Name, err)
		}
		st := &svcState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: svc.Name, status: string(out.Status),
			customDomain: svc.CustomDomainName, certARN: svc.CertificateARN, certKnown: true, tags: mergeTags(nil, svc.Tags),
			childrenKnown: true, listeners: map[int32]*listenerState{}, assocs: map[string]*assocState{}}
		if out.DnsEntry != nil {
			st.dnsName = aws.ToString(out.DnsEntry.DomainName)
		}
		d.state.setService(svc.Name, st)
		if out.Status == types.ServiceStatusActive {
			return nil
		}
		return d.wait(ctx, "service "+svc.Name+" to become ACTIVE", func(ctx context.Context) (bool, error) {
			got, err := d.client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(st.id)})
			if err != nil {
				return false, err
			}
			switch got.Status {
			case types.ServiceStatusActive:
				st.status = string(got.Status)
				if got.DnsEntry != nil {
					st.dnsName = aws.ToString(got.DnsEntry.DomainName)
				}
				return true, nil
			case types.ServiceStatusCreateFailed:
				return false, fmt.Errorf("service %s: CREATE_FAILED: %s", svc.Name, aws.ToString(got.FailureMessage))
			}
			return false, nil
		})
	}}
}

func (d *Deployer) opUpdateCertificate(svc *model.Service) Op {
	return Op{Action: "UpdateService", Resource: "service " + svc.Name, Detail: "certificate", run: func(ctx context.Context) error {
		st := d.state.getService(svc.Name)
		_, err := d.client.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: aws.String(st.id), CertificateArn: aws.String(svc.CertificateARN)})
		if err != nil {
			d.forgetServiceIfGone(svc.Name, err)
			return fmt.Errorf("update certificate of service %s: %w", svc.Name, err)
		}
		st.certARN = svc.CertificateARN
		return nil
	}}
}

// forgetServiceIfGone handles NotFound on a service or one of its children: the cached children
// are dropped and the next plan checks whether the service itself still exists.
func (d *Deployer) forgetServiceIfGone(name string, err error) {
	if !isNotFound(err) {
		return
	}
	if st := d.state.getService(name); st != nil {
		st.childrenKnown, st.suspect = false, true
	}
	// Whatever is re-created next must not replay the create of the resource that vanished.
	d.generation.Add(1)
}

// opDeleteService deletes a service and what it cascades to (listeners, rules). Lattice refuses
// while associations are still being removed; that conflict is retried with backoff.
func (d *Deployer) opDeleteService(name string) Op {
	return Op{Action: "DeleteService", Resource: "service " + name, run: func(ctx context.Context) error {
		st := d.state.getService(name)
		if st == nil {
			return nil
		}
		err := d.retryConflict(ctx, "service "+name+" to be deletable", func(ctx context.Context) error {
			_, err := d.client.DeleteService(ctx, &vpclattice.DeleteServiceInput{ServiceIdentifier: aws.String(st.id)})
			return err
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete service %s: %w", name, err)
		}
		d.bury("svc/" + name)
		d.state.setService(name, nil)
		return nil
	}}
}

func (d *Deployer) opCreateAssociation(svcName, snName string) Op {
	return Op{Action: "CreateServiceNetworkServiceAssociation", Resource: "service " + svcName + " ↔ service network " + snName,
		run: func(ctx context.Context) error {
			st, sn := d.state.getService(svcName), d.state.getSN(snName)
			if sn == nil {
				return fmt.Errorf("service network %s does not exist", snName)
			}
			in := &vpclattice.CreateServiceNetworkServiceAssociationInput{ServiceIdentifier: aws.String(st.id),
				ServiceNetworkIdentifier: aws.String(sn.id), Tags: d.ownTags()}
			in.ClientToken = d.clientToken("snsa/"+st.id+"/"+sn.id, in)
			out, err := d.client.CreateServiceNetworkServiceAssociation(ctx, in)
			if err != nil {
				d.forgetServiceIfGone(svcName, err)
				return fmt.Errorf("associate service %s with service network %s: %w", svcName, snName, err)
			}
			st.assocs[sn.id] = &assocState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), status: string(out.Status), tags: d.ownTags(), tagsKnown: true}
			if out.DnsEntry != nil && st.dnsName == "" {
				st.dnsName = aws.ToString(out.DnsEntry.DomainName)
			}
			return nil
		}}
}

// opDeleteAssociation removes the association of a service with a service network.
func (d *Deployer) opDeleteAssociation(svcName, snID string) Op {
	snName := snID
	if sn := d.state.snByIDLocked(snID); sn != nil {
		snName = sn.name
	}
	return Op{Action: "DeleteServiceNetworkServiceAssociation", Resource: "service " + svcName + " ↔ service network " + snName,
		run: func(ctx context.Context) error {
			st := d.state.getService(svcName)
			a := st.assocs[snID]
			err := d.retryConflict(ctx, "association "+a.id+" to be deletable", func(ctx context.Context) error {
				_, err := d.client.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{
					ServiceNetworkServiceAssociationIdentifier: aws.String(a.id)})
				return err
			})
			if err != nil && !isNotFound(err) {
				return fmt.Errorf("disassociate service %s from service network %s: %w", svcName, snName, err)
			}
			d.bury("snsa/" + st.id + "/" + snID)
			delete(st.assocs, snID)
			return nil
		}}
}

// Listeners and rules.

func (d *Deployer) opCreateListener(svcName string, l model.Listener) Op {
	return Op{Action: "CreateListener", Resource: fmt.Sprintf("listener %s/%d", svcName, l.Port), Detail: l.Protocol,
		run: func(ctx context.Context) error {
			st := d.state.getService(svcName)
			in := &vpclattice.CreateListenerInput{ServiceIdentifier: aws.String(st.id), Name: aws.String(l.Name),
				Protocol: types.ListenerProtocol(l.Protocol), Port: aws.Int32(l.Port),
				DefaultAction: toRuleAction(l.DefaultAction, d.tgID), Tags: l.Tags}
			in.ClientToken = d.clientToken(fmt.Sprintf("listener/%s/%d", st.id, l.Port), in)
			out, err := d.client.CreateListener(ctx, in)
			if err != nil {
				d.forgetServiceIfGone(svcName, err)
				return fmt.Errorf("create listener %s on service %s: %w", l.Name, svcName, err)
			}
			st.listeners[l.Port] = &listenerState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: l.Name,
				protocol: l.Protocol, port: l.Port, defaultAction: l.DefaultAction, rules: map[string]*ruleState{}}
			return nil
		}}
}

func (d *Deployer) tgID(name string) string {
	if st := d.state.getTG(name); st != nil {
		return st.id
	}
	return name
}

func (d *Deployer) opUpdateListener(svcName string, l model.Listener) Op {
	return Op{Action: "UpdateListener", Resource: fmt.Sprintf("listener %s/%d", svcName, l.Port), Detail: "default action",
		run: func(ctx context.Context) error {
			st := d.state.getService(svcName)
			ls := st.listeners[l.Port]
			_, err := d.client.UpdateListener(ctx, &vpclattice.UpdateListenerInput{ServiceIdentifier: aws.String(st.id),
				ListenerIdentifier: aws.String(ls.id), DefaultAction: toRuleAction(l.DefaultAction, d.tgID)})
			if err != nil {
				d.forgetServiceIfGone(svcName, err)
				return fmt.Errorf("update listener %s of service %s: %w", ls.name, svcName, err)
			}
			ls.defaultAction = l.DefaultAction
			return nil
		}}
}

func (d *Deployer) opDeleteListener(svcName string, port int32) Op {
	return Op{Action: "DeleteListener", Resource: fmt.Sprintf("listener %s/%d", svcName, port), run: func(ctx context.Context) error {
		st := d.state.getService(svcName)
		ls := st.listeners[port]
		_, err := d.client.DeleteListener(ctx, &vpclattice.DeleteListenerInput{ServiceIdentifier: aws.String(st.id), ListenerIdentifier: aws.String(ls.id)})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete listener %s of service %s: %w", ls.name, svcName, err)
		}
		d.bury(fmt.Sprintf("listener/%s/%d", st.id, port))
		delete(st.listeners, port)
		return nil
	}}
}

func (d *Deployer) opCreateRule(svcName string, port int32, r model.Rule) Op {
	return Op{Action: "CreateRule", Resource: fmt.Sprintf("rule %s/%d/%s", svcName, port, r.Name), Detail: fmt.Sprintf("priority %d", r.Priority),
		run: func(ctx context.Context) error {
			st := d.state.getService(svcName)
			ls := st.listeners[port]
			in := &vpclattice.CreateRuleInput{ServiceIdentifier: aws.String(st.id), ListenerIdentifier: aws.String(ls.id),
				Name: aws.String(r.Name), Priority: aws.Int32(r.Priority), Match: toRuleMatch(r.Match),
				Action: toRuleAction(r.Action, d.tgID), Tags: r.Tags}
			in.ClientToken = d.clientToken("rule/"+ls.id+"/"+r.Name, in)
			out, err := d.client.CreateRule(ctx, in)
			if err != nil {
				d.forgetServiceIfGone(svcName, err)
				return fmt.Errorf("create rule %s on listener %s of service %s: %w", r.Name, ls.name, svcName, err)
			}
			ls.rules[aws.ToString(out.Id)] = &ruleState{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn), name: r.Name,
				priority: r.Priority, match: r.Match, action: r.Action}
			return nil
		}}
}

type ruleUpdate struct {
	id   string
	want model.Rule
}

func (d *Deployer) opBatchUpdateRules(svcName string, port int32, updates []ruleUpdate) Op {
	names := make([]string, 0, len(updates))
	for _, u := range updates {
		names = append(names, u.want.Name)
	}
	return Op{Action: "BatchUpdateRule", Resource: fmt.Sprintf("rules %s/%d/{%s}", svcName, port, strings.Join(names, ",")),
		run: func(ctx context.Context) error {
			st := d.state.getService(svcName)
			ls := st.listeners[port]
			in := &vpclattice.BatchUpdateRuleInput{ServiceIdentifier: aws.String(st.id), ListenerIdentifier: aws.String(ls.id)}
			for _, u := range updates {
				in.Rules = append(in.Rules, types.RuleUpdate{RuleIdentifier: aws.String(u.id), Priority: aws.Int32(u.want.Priority),
					Match: toRuleMatch(u.want.Match), Action: toRuleAction(u.want.Action, d.tgID)})
			}
			out, err := d.client.BatchUpdateRule(ctx, in)
			if err != nil {
				d.forgetServiceIfGone(svcName, err)
				return fmt.Errorf("update rules of listener %s of service %s: %w", ls.name, svcName, err)
			}
			failed := map[string]string{}
			for _, f := range out.Unsuccessful {
				failed[aws.ToString(f.RuleIdentifier)] = aws.ToString(f.FailureCode) + ": " + aws.ToString(f.FailureMessage)
			}
			var msgs []string
			for _, u := range updates {
				if msg, bad := failed[u.id]; bad {
					msgs = append(msgs, u.want.Name+" "+msg)
					continue
				}
				r := ls.rules[u.id]
				r.priority, r.match, r.action = u.want.Priority, u.want.Match, u.want.Action
			}
			if len(msgs) > 0 {
				return fmt.Errorf("update rules of listener %s of service %s: %s", ls.name, svcName, strings.Join(msgs, "; "))
			}
			return nil
		}}
}

func (d *Deployer) opDeleteRule(svcName string, port int32, r *ruleState) Op {
	return Op{Action: "DeleteRule", Resource: fmt.Sprintf("rule %s/%d/%s", svcName, port, r.name), run: func(ctx context.Context) error {
		st := d.state.getService(svcName)
		ls := st.listeners[port]
		_, err := d.client.DeleteRule(ctx, &vpclattice.DeleteRuleInput{ServiceIdentifier: aws.String(st.id),
			ListenerIdentifier: aws.String(ls.id), RuleIdentifier: aws.String(r.id)})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("delete rule %s of listener %s of service %s: %w", r.name, ls.name, svcName, err)
		}
		d.bury("rule/" + ls.id + "/" + r.name)
		delete(ls.rules, r.id)
		return nil
	}}
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

func sortTargets(ts []model.Target) {
	slices.SortFunc(ts, func(a, b model.Target) int {
		if c := strings.Compare(a.IP, b.IP); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
}
