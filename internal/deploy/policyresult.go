package deploy

import (
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Resource types of PolicyResult.ResourceType, as upstream's iam-auth-policy-resource-type
// annotation spells them.
const (
	ResourceTypeService        = "Service"
	ResourceTypeServiceNetwork = "ServiceNetwork"
)

// PolicyResult is the outcome of one policy's Lattice changes: what its Programmed condition and
// upstream's bookkeeping annotations need.
type PolicyResult struct {
	// Programmed is true when every route and gateway whose Lattice resources the policy changes
	// was deployed, and its own resource (subscription, association) exists.
	Programmed bool
	// Message is the first failure when Programmed is false.
	Message string
	// ARN is the VPC association's (VpcAssociationPolicy that associates) or the access log
	// subscription's (AccessLogPolicy).
	ARN string
	// ResourceID, ResourceType (ResourceTypeService or ResourceTypeServiceNetwork) and
	// ResourceName name what an IAMAuthPolicy's auth policy is on.
	ResourceID, ResourceType, ResourceName string
}

// policyResults derives each policy's result from those of its targets and reads the ARNs and IDs
// from the observed state.
func (d *Deployer) policyResults(m *model.Model, res *Result) map[model.PolicyKey]PolicyResult {
	out := map[model.PolicyKey]PolicyResult{}
	for key, targets := range m.PolicyTargets() {
		pr := PolicyResult{Programmed: true}
		fail := func(programmed bool, msg string) {
			if !programmed && pr.Programmed {
				pr.Programmed, pr.Message = false, msg
			}
		}
		for _, gw := range targets.Gateways {
			r := res.Gateways[gw]
			fail(r.Programmed, r.Message)
		}
		for _, rt := range targets.Routes {
			r := res.Routes[rt]
			fail(r.Programmed, r.Message)
		}
		out[key] = pr
	}
	for _, sn := range m.ServiceNetworks {
		st := d.state.serviceNetworks.get(sn.Name)
		if st == nil {
			continue
		}
		if k := sn.VPCAssociationPolicy; k != nil && sn.VPCAssociation != nil {
			pr := out[*k]
			if st.vpcAssoc != nil {
				pr.ARN = st.vpcAssoc.arn
			} else if pr.Programmed {
				pr.Programmed, pr.Message = false, "service network "+sn.Name+" is not associated with VPC "+sn.VPCAssociation.VPCID
			}
			out[*k] = pr
		}
		if mb := st.tags[model.TagManagedBy]; mb != "" && mb != d.cfg.ManagedBy() {
			// Services may join another controller's network, but its policies are its own.
			foreign := PolicyResult{Message: "service network " + sn.Name + " is managed by " + mb + "; its auth and access logs are not changed"}
			for _, sub := range sn.AccessLogSubscriptions {
				out[sub.Policy] = foreign
			}
			if sn.Auth != nil {
				out[sn.Auth.Policy] = foreign
			}
			continue
		}
		d.holderResults(out, sn.AccessLogSubscriptions, sn.Auth, st.id, ResourceTypeServiceNetwork, sn.Name, st.accessLogs)
	}
	for _, svc := range m.Services {
		if st := d.state.services.get(svc.Name); st != nil {
			d.holderResults(out, svc.AccessLogSubscriptions, svc.Auth, st.id, ResourceTypeService, svc.Name, st.accessLogs)
		}
	}
	return out
}

func (d *Deployer) holderResults(out map[model.PolicyKey]PolicyResult, subs []model.AccessLogSubscription, auth *model.AuthPolicy,
	id, typ, name string, logs accessLogState) {
	if auth != nil {
		pr := out[auth.Policy]
		pr.ResourceID, pr.ResourceType, pr.ResourceName = id, typ, name
		out[auth.Policy] = pr
	}
	for _, sub := range subs {
		pr := out[sub.Policy]
		for _, have := range logs.subs {
			if have.policy == policyDisplay(sub.Policy) && have.destination == sub.DestinationARN {
				pr.ARN = have.arn
			}
		}
		if pr.ARN == "" && pr.Programmed {
			pr.Programmed, pr.Message = false, "no access log subscription of "+name+" to "+sub.DestinationARN
		}
		out[sub.Policy] = pr
	}
}
