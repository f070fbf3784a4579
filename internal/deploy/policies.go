package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The Lattice side of the four policy kinds: health checks and security groups (fields of a
// target group and of the VPC association), and the auth policy, auth type and access log
// subscriptions of services and service networks. Their observed state, operations and runs are
// here; diffpolicies.go decides which operations a model needs.

// authState is the auth type and auth policy of a service or service network. Discovery leaves it
// unknown; it is read only for resources a model wants an auth policy on, so auth configured by
// other means is left alone unless an IAMAuthPolicy takes the resource over.
type authState struct {
	known    bool
	authType string
	document string
}

// accessLogState is the access log subscriptions of a service or service network that carry our
// ManagedBy tag; others' subscriptions are never touched.
type accessLogState struct {
	known bool
	subs  []*accessLogSub
}

type accessLogSub struct {
	id, arn, destination string
	// policy is the AccessLogPolicy tag: "<namespace>/<name>".
	policy string
}

// holder is the service (network false) or service network an auth policy or access log
// subscription belongs to, by name.
type holder struct {
	network bool
	name    string
}

func (h holder) String() string {
	if h.network {
		return "service network " + h.name
	}
	return "service " + h.name
}

// state returns the holder's ID and policy state, or ok false when it does not exist.
func (d *Deployer) holderState(h holder) (id string, auth *authState, logs *accessLogState, ok bool) {
	if h.network {
		if st := d.state.serviceNetworks.get(h.name); st != nil {
			return st.id, &st.auth, &st.accessLogs, true
		}
		return "", nil, nil, false
	}
	if st := d.state.services.get(h.name); st != nil {
		return st.id, &st.auth, &st.accessLogs, true
	}
	return "", nil, nil, false
}

// policyDisplay is how the AccessLogPolicy tag names a policy.
func policyDisplay(k model.PolicyKey) string { return k.Namespace + "/" + k.Name }

// destinationKind is the service part of a destination ARN (s3, logs, firehose): Lattice allows
// one subscription per kind and resource, and cannot change the kind of a subscription.
func destinationKind(arn string) string {
	if parts := strings.SplitN(arn, ":", 4); len(parts) == 4 {
		return parts[2]
	}
	return arn
}

func accessLogIdentity(holderID, policy, kind string) string {
	return "als/" + holderID + "/" + policy + "/" + kind
}

// Operations.

type updateHealthCheck struct {
	tg string
	hc model.HealthCheck
}

func opUpdateHealthCheck(tg string, hc model.HealthCheck) Op {
	return Op{Action: "UpdateTargetGroup", Resource: "target group " + tg, Detail: "health check", call: updateHealthCheck{tg, hc}}
}

type updateSecurityGroups struct {
	sn  string
	sgs []string
}

func opUpdateSecurityGroups(sn, vpcID string, sgs []string) Op {
	return Op{Action: "UpdateServiceNetworkVpcAssociation", Resource: "service network " + sn + " ↔ " + vpcID,
		Detail: securityGroupsDetail(sgs), call: updateSecurityGroups{sn, sgs}}
}

type putAuthPolicy struct {
	h        holder
	document string
}

func opPutAuthPolicy(h holder, p *model.AuthPolicy) Op {
	return Op{Action: "PutAuthPolicy", Resource: h.String(), Detail: p.Policy.String(), call: putAuthPolicy{h, p.Document}}
}

type setAuthType struct {
	h        holder
	authType string
}

func opSetAuthType(h holder, authType string) Op {
	action := "UpdateService"
	if h.network {
		action = "UpdateServiceNetwork"
	}
	return Op{Action: action, Resource: h.String(), Detail: "authType " + authType, call: setAuthType{h, authType}}
}

type deleteAuthPolicy struct{ h holder }

func opDeleteAuthPolicy(h holder) Op {
	return Op{Action: "DeleteAuthPolicy", Resource: h.String(), call: deleteAuthPolicy{h}}
}

type createAccessLog struct {
	h   holder
	sub model.AccessLogSubscription
}

func opCreateAccessLog(h holder, sub model.AccessLogSubscription) Op {
	return Op{Action: "CreateAccessLogSubscription", Resource: "access log " + h.String() + " → " + sub.DestinationARN,
		Detail: sub.Policy.String(), call: createAccessLog{h, sub}}
}

type updateAccessLog struct {
	h           holder
	id          string
	destination string
}

func opUpdateAccessLog(h holder, have *accessLogSub, destination string) Op {
	return Op{Action: "UpdateAccessLogSubscription", Resource: "access log " + h.String() + " → " + destination,
		Detail: "was " + have.destination, call: updateAccessLog{h, have.id, destination}}
}

type deleteAccessLog struct {
	h  holder
	id string
}

func opDeleteAccessLog(h holder, have *accessLogSub) Op {
	return Op{Action: "DeleteAccessLogSubscription", Resource: "access log " + h.String() + " → " + have.destination,
		call: deleteAccessLog{h, have.id}}
}

// Runs.

func (c updateHealthCheck) run(ctx context.Context, d *Deployer) error {
	st := d.state.targetGroups.get(c.tg)
	if st == nil {
		return fmt.Errorf("target group %s does not exist", c.tg)
	}
	_, err := d.client.UpdateTargetGroup(ctx, &vpclattice.UpdateTargetGroupInput{TargetGroupIdentifier: aws.String(st.id),
		HealthCheck: toHealthCheck(&c.hc)})
	if err != nil {
		d.forgetTargetGroupIfGone(c.tg, err)
		return fmt.Errorf("update health check of target group %s: %w", c.tg, err)
	}
	hc := c.hc
	st.healthCheck, st.healthCheckKnown = &hc, true
	return nil
}

func (c updateSecurityGroups) run(ctx context.Context, d *Deployer) error {
	sn := d.state.serviceNetworks.get(c.sn)
	if sn == nil || sn.vpcAssoc == nil {
		return fmt.Errorf("service network %s has no VPC association", c.sn)
	}
	_, err := d.client.UpdateServiceNetworkVpcAssociation(ctx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: aws.String(sn.vpcAssoc.id), SecurityGroupIds: c.sgs})
	if err != nil {
		return fmt.Errorf("update security groups of the VPC association of service network %s: %w", c.sn, err)
	}
	sn.vpcAssoc.securityGroups, sn.vpcAssoc.securityGroupsKnown = slices.Clone(c.sgs), true
	return nil
}

func (c putAuthPolicy) run(ctx context.Context, d *Deployer) error {
	id, auth, _, ok := d.holderState(c.h)
	if !ok {
		return fmt.Errorf("%s does not exist", c.h)
	}
	_, err := d.client.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: aws.String(id), Policy: aws.String(c.document)})
	if err != nil {
		d.forgetHolderIfGone(c.h, err)
		return fmt.Errorf("put auth policy of %s: %w", c.h, err)
	}
	auth.document = c.document
	return nil
}

func (c setAuthType) run(ctx context.Context, d *Deployer) error {
	id, auth, _, ok := d.holderState(c.h)
	if !ok {
		return fmt.Errorf("%s does not exist", c.h)
	}
	var err error
	if c.h.network {
		_, err = d.client.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: aws.String(id),
			AuthType: types.AuthType(c.authType)})
	} else {
		_, err = d.client.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: aws.String(id),
			AuthType: types.AuthType(c.authType)})
	}
	if err != nil {
		d.forgetHolderIfGone(c.h, err)
		return fmt.Errorf("set auth type of %s to %s: %w", c.h, c.authType, err)
	}
	auth.authType = c.authType
	return nil
}

func (c deleteAuthPolicy) run(ctx context.Context, d *Deployer) error {
	id, auth, _, ok := d.holderState(c.h)
	if !ok {
		return nil
	}
	_, err := d.client.DeleteAuthPolicy(ctx, &vpclattice.DeleteAuthPolicyInput{ResourceIdentifier: aws.String(id)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete auth policy of %s: %w", c.h, err)
	}
	auth.document = ""
	return nil
}

func (c createAccessLog) run(ctx context.Context, d *Deployer) error {
	id, _, logs, ok := d.holderState(c.h)
	if !ok {
		return fmt.Errorf("%s does not exist", c.h)
	}
	policy := policyDisplay(c.sub.Policy)
	// Discovery recognises our subscriptions by these two tags, whatever else the model adds.
	tags := mergeTags(mergeTags(nil, c.sub.Tags), d.cfg.ownTags())
	tags[model.TagAccessLogPolicy] = policy
	in := &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: aws.String(id),
		DestinationArn: aws.String(c.sub.DestinationARN), Tags: tags}
	in.ClientToken = d.clientToken(accessLogIdentity(id, policy, destinationKind(c.sub.DestinationARN)), in)
	out, err := d.client.CreateAccessLogSubscription(ctx, in)
	if err != nil {
		d.forgetHolderIfGone(c.h, err)
		return fmt.Errorf("create access log subscription of %s to %s: %w", c.h, c.sub.DestinationARN, err)
	}
	logs.subs = append(logs.subs, &accessLogSub{id: aws.ToString(out.Id), arn: aws.ToString(out.Arn),
		destination: c.sub.DestinationARN, policy: policy})
	return nil
}

func (c updateAccessLog) run(ctx context.Context, d *Deployer) error {
	_, _, logs, ok := d.holderState(c.h)
	if !ok {
		return fmt.Errorf("%s does not exist", c.h)
	}
	_, err := d.client.UpdateAccessLogSubscription(ctx, &vpclattice.UpdateAccessLogSubscriptionInput{
		AccessLogSubscriptionIdentifier: aws.String(c.id), DestinationArn: aws.String(c.destination)})
	if err != nil {
		if isNotFound(err) {
			logs.known = false
		}
		return fmt.Errorf("update access log subscription %s of %s: %w", c.id, c.h, err)
	}
	for _, s := range logs.subs {
		if s.id == c.id {
			s.destination = c.destination
		}
	}
	return nil
}

func (c deleteAccessLog) run(ctx context.Context, d *Deployer) error {
	id, _, logs, ok := d.holderState(c.h)
	if !ok {
		return nil
	}
	i := slices.IndexFunc(logs.subs, func(s *accessLogSub) bool { return s.id == c.id })
	if i < 0 {
		return nil
	}
	sub := logs.subs[i]
	// Through remove, so that a later subscription of the same policy and kind gets a fresh
	// client token instead of the answer naming this one.
	return d.remove(ctx, "access log subscription "+c.id+" of "+c.h.String(), accessLogIdentity(id, sub.policy, destinationKind(sub.destination)),
		func(ctx context.Context) error {
			_, err := d.client.DeleteAccessLogSubscription(ctx, &vpclattice.DeleteAccessLogSubscriptionInput{
				AccessLogSubscriptionIdentifier: aws.String(c.id)})
			return err
		}, func() { logs.subs = slices.DeleteFunc(logs.subs, func(s *accessLogSub) bool { return s.id == c.id }) })
}

// forgetHolderIfGone handles NotFound on a service or service network.
func (d *Deployer) forgetHolderIfGone(h holder, err error) {
	if !h.network {
		d.forgetServiceIfGone(h.name, err)
		return
	}
	if isNotFound(err) {
		d.forget(serviceNetworkIdentity(h.name), func() { d.state.serviceNetworks.remove(h.name) })
	}
}

// Observation.

// loadAuth reads the auth type and auth policy of a service or service network (2 calls). For a
// service, the GetService answer also gives its certificate.
func (d *Deployer) loadAuth(ctx context.Context, h holder) error {
	id, auth, _, ok := d.holderState(h)
	if !ok {
		return nil
	}
	var authType string
	if h.network {
		out, err := d.client.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: aws.String(id)})
		if err != nil {
			return fmt.Errorf("get %s: %w", h, err)
		}
		authType = string(out.AuthType)
	} else {
		out, err := d.client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String(id)})
		if err != nil {
			return fmt.Errorf("get %s: %w", h, err)
		}
		authType = string(out.AuthType)
		svc := d.state.services.get(h.name)
		svc.certARN, svc.certKnown = aws.ToString(out.CertificateArn), true
	}
	var document string
	out, err := d.client.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: aws.String(id)})
	switch {
	case err == nil:
		document = aws.ToString(out.Policy)
	case !isNotFound(err):
		return fmt.Errorf("get auth policy of %s: %w", h, err)
	}
	if authType == "" {
		authType = model.AuthTypeNone
	}
	*auth = authState{known: true, authType: authType, document: document}
	return nil
}

// loadAccessLogs lists the access log subscriptions of a service or service network and keeps
// ours (one call per 100, plus one ListTagsForResource per subscription).
func (d *Deployer) loadAccessLogs(ctx context.Context, h holder) error {
	id, _, logs, ok := d.holderState(h)
	if !ok {
		return nil
	}
	var subs []*accessLogSub
	err := eachPage(ctx, "access log subscriptions of "+h.String(), vpclattice.NewListAccessLogSubscriptionsPaginator(d.client,
		&vpclattice.ListAccessLogSubscriptionsInput{ResourceIdentifier: aws.String(id), MaxResults: aws.Int32(100)}),
		func(page *vpclattice.ListAccessLogSubscriptionsOutput) error {
			for _, a := range page.Items {
				tags, err := d.tags(ctx, aws.ToString(a.Arn))
				if err != nil {
					return err
				}
				if tags[model.TagManagedBy] == d.cfg.ManagedBy() {
					subs = append(subs, &accessLogSub{id: aws.ToString(a.Id), arn: aws.ToString(a.Arn),
						destination: aws.ToString(a.DestinationArn), policy: tags[model.TagAccessLogPolicy]})
				}
			}
			return nil
		})
	if err != nil {
		return err
	}
	*logs = accessLogState{known: true, subs: subs}
	return nil
}

func (d *Deployer) loadSecurityGroups(ctx context.Context, sn *snState) error {
	out, err := d.client.GetServiceNetworkVpcAssociation(ctx, &vpclattice.GetServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: aws.String(sn.vpcAssoc.id)})
	if err != nil {
		return fmt.Errorf("get VPC association of service network %s: %w", sn.name, err)
	}
	sn.vpcAssoc.securityGroups, sn.vpcAssoc.securityGroupsKnown = slices.Sorted(slices.Values(out.SecurityGroupIds)), true
	return nil
}

func (d *Deployer) loadHealthCheck(ctx context.Context, tg *tgState) error {
	out, err := d.client.GetTargetGroup(ctx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: aws.String(tg.id)})
	if err != nil {
		return fmt.Errorf("get target group %s: %w", tg.name, err)
	}
	var cfg *types.HealthCheckConfig
	if out.Config != nil {
		cfg = out.Config.HealthCheck
	}
	tg.healthCheck, tg.healthCheckKnown = fromHealthCheck(cfg, tg.protocolVersion), true
	return nil
}

// Conversions.

func toHealthCheck(hc *model.HealthCheck) *types.HealthCheckConfig {
	if hc == nil {
		return nil
	}
	cfg := &types.HealthCheckConfig{Enabled: aws.Bool(hc.Enabled), Protocol: types.TargetGroupProtocol(hc.Protocol),
		ProtocolVersion: types.HealthCheckProtocolVersion(hc.ProtocolVersion), Path: aws.String(hc.Path),
		HealthCheckIntervalSeconds: aws.Int32(hc.IntervalSeconds), HealthCheckTimeoutSeconds: aws.Int32(hc.TimeoutSeconds),
		HealthyThresholdCount: aws.Int32(hc.HealthyThresholdCount), UnhealthyThresholdCount: aws.Int32(hc.UnhealthyThresholdCount),
		Matcher: &types.MatcherMemberHttpCode{Value: hc.Matcher}}
	if hc.Port != 0 {
		cfg.Port = aws.Int32(hc.Port)
	}
	return cfg
}

// fromHealthCheck fills in Lattice's defaults as translate does, so that a health check read
// back compares equal to the model that wrote it.
func fromHealthCheck(cfg *types.HealthCheckConfig, protocolVersion string) *model.HealthCheck {
	hc := &model.HealthCheck{Enabled: protocolVersion == model.ProtocolVersionHTTP1 || protocolVersion == "",
		Protocol: model.ProtocolHTTP, ProtocolVersion: model.ProtocolVersionHTTP1, Path: "/",
		IntervalSeconds: 30, TimeoutSeconds: 5, HealthyThresholdCount: 5, UnhealthyThresholdCount: 2, Matcher: "200"}
	if cfg == nil {
		return hc
	}
	if cfg.Enabled != nil {
		hc.Enabled = *cfg.Enabled
	}
	if cfg.Protocol != "" {
		hc.Protocol = string(cfg.Protocol)
	}
	if cfg.ProtocolVersion != "" {
		hc.ProtocolVersion = string(cfg.ProtocolVersion)
	}
	if cfg.Path != nil {
		hc.Path = *cfg.Path
	}
	if m, ok := cfg.Matcher.(*types.MatcherMemberHttpCode); ok && m.Value != "" {
		hc.Matcher = m.Value
	}
	for _, f := range []struct {
		dst *int32
		src *int32
	}{{&hc.Port, cfg.Port}, {&hc.IntervalSeconds, cfg.HealthCheckIntervalSeconds}, {&hc.TimeoutSeconds, cfg.HealthCheckTimeoutSeconds},
		{&hc.HealthyThresholdCount, cfg.HealthyThresholdCount}, {&hc.UnhealthyThresholdCount, cfg.UnhealthyThresholdCount}} {
		if f.src != nil && *f.src != 0 {
			*f.dst = *f.src
		}
	}
	return hc
}

// createdAuth is the auth state of a resource just created for want: no policy yet.
func createdAuth(want *model.AuthPolicy) authState {
	if want == nil {
		return authState{known: true, authType: model.AuthTypeNone}
	}
	return authState{known: true, authType: want.AuthType}
}

func authDetail(a *model.AuthPolicy) string {
	if a == nil {
		return ""
	}
	return "authType " + a.AuthType
}

func securityGroupsDetail(sgs []string) string {
	if len(sgs) == 0 {
		return ""
	}
	return "security groups " + strings.Join(sgs, ",")
}
