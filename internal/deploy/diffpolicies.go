package deploy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The policy part of the diff (pure, like diff.go). Order matters for the auth policy: it is put
// before authType becomes AWS_IAM and deleted only after authType is NONE, so that no request
// meets AWS_IAM without a policy (which denies everything). A new service or service network is
// created with authType AWS_IAM and gets its policy before it is associated with anything, so it
// is never reachable without auth either.

// newResourcePolicies adds the auth policy and access log subscriptions of a service or service
// network created earlier in s.
func (x *differ) newResourcePolicies(s *sequence, h holder, subs []model.AccessLogSubscription, auth *model.AuthPolicy) {
	if auth != nil {
		s.add(opPutAuthPolicy(h, auth))
	}
	for _, sub := range subs {
		s.add(opCreateAccessLog(h, sub))
	}
}

// resourcePolicies adds the changes of the auth policy and access log subscriptions of an
// existing service or service network.
func (x *differ) resourcePolicies(s *sequence, h holder, subs []model.AccessLogSubscription, want *model.AuthPolicy,
	auth authState, logs accessLogState) {
	x.auth(s, h, want, auth)
	if !logs.known {
		x.need(holderRead(h, readServiceAccessLogs, readServiceNetworkAccessLogs))
		return
	}
	x.accessLogs(s, h, subs, logs.subs)
}

func holderRead(h holder, service, network readKind) read {
	if h.network {
		return read{kind: network, name: h.name}
	}
	return read{kind: service, name: h.name}
}

func (x *differ) auth(s *sequence, h holder, want *model.AuthPolicy, have authState) {
	if want != nil && !have.known {
		x.need(holderRead(h, readServiceAuth, readServiceNetworkAuth))
		return
	}
	if !have.known {
		// Never read, because no model asked for auth here: whatever is there is not ours.
		return
	}
	if want != nil {
		if have.document != want.Document {
			s.add(opPutAuthPolicy(h, want))
		}
		if have.authType != want.AuthType {
			s.add(opSetAuthType(h, want.AuthType))
		}
		return
	}
	if have.authType != model.AuthTypeNone {
		s.add(opSetAuthType(h, model.AuthTypeNone))
	}
	if have.document != "" {
		s.add(opDeleteAuthPolicy(h))
	}
}

// accessLogs pairs our subscriptions with the wanted ones by policy and destination kind: a new
// destination of the same kind is an update, anything else a replacement. Deletions go first,
// because Lattice allows one subscription per destination kind and resource.
func (x *differ) accessLogs(s *sequence, h holder, want []model.AccessLogSubscription, have []*accessLogSub) {
	type pairKey struct{ policy, kind string }
	byKey := map[pairKey]*accessLogSub{}
	for _, sub := range have {
		k := pairKey{sub.policy, destinationKind(sub.destination)}
		if byKey[k] == nil {
			byKey[k] = sub
		}
	}
	used := map[*accessLogSub]bool{}
	var updates, creates []Op
	for _, w := range want {
		k := pairKey{policyDisplay(w.Policy), destinationKind(w.DestinationARN)}
		cur := byKey[k]
		if cur == nil {
			creates = append(creates, opCreateAccessLog(h, w))
			continue
		}
		used[cur] = true
		if cur.destination != w.DestinationARN {
			updates = append(updates, opUpdateAccessLog(h, cur, w.DestinationARN))
		}
	}
	stale := slices.Clone(have)
	slices.SortFunc(stale, func(a, b *accessLogSub) int { return strings.Compare(a.destination, b.destination) })
	for _, sub := range stale {
		if !used[sub] {
			s.add(opDeleteAccessLog(h, sub))
		}
	}
	s.add(updates...)
	s.add(creates...)
}

// healthCheck updates the health check of an existing target group in place. A model without one
// leaves the target group's as it is.
func (x *differ) healthCheck(s *sequence, tg model.TargetGroup, st *tgState) {
	if tg.HealthCheck == nil {
		return
	}
	if !st.healthCheckKnown {
		x.need(read{kind: readHealthCheck, name: tg.Name})
		return
	}
	if st.healthCheck == nil || !reflect.DeepEqual(*st.healthCheck, *tg.HealthCheck) {
		s.add(opUpdateHealthCheck(tg.Name, *tg.HealthCheck))
	}
}

// securityGroups changes the security groups of the existing VPC association of want. Lattice
// cannot update an association to none: then it is replaced. They are read only when a
// VpcAssociationPolicy decides them.
func (x *differ) securityGroups(s *sequence, want *model.ServiceNetwork, a *assocState) {
	sgs := want.VPCAssociation.SecurityGroupIDs
	if !a.securityGroupsKnown {
		if want.VPCAssociationPolicy != nil || len(sgs) > 0 {
			x.need(read{kind: readVPCAssociationSecurityGroups, name: want.Name})
		}
		return
	}
	if slices.Equal(a.securityGroups, sgs) {
		return
	}
	if !x.associationOwned(a, read{kind: readVPCAssociationTags, name: want.Name}) {
		if a.tagsKnown {
			s.err = fmt.Errorf("the VPC association of service network %s is not managed by %s; its security groups are left as they are", want.Name, x.cfg.ManagedBy())
		}
		return
	}
	if len(sgs) == 0 {
		s.add(opDeleteVPCAssociation(want.Name, x.cfg.VPCID))
		s.add(opCreateVPCAssociation(*want, true))
		return
	}
	s.add(opUpdateSecurityGroups(want.Name, x.cfg.VPCID, sgs))
}
