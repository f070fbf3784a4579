package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

type snsaOut struct {
	*store.ServiceNetworkServiceAssociation
	ServiceName        string          `json:"serviceName"`
	ServiceARN         string          `json:"serviceArn"`
	ServiceNetworkName string          `json:"serviceNetworkName"`
	ServiceNetworkARN  string          `json:"serviceNetworkArn"`
	DNSEntry           *store.DNSEntry `json:"dnsEntry,omitempty"`
	CustomDomainName   string          `json:"customDomainName,omitempty"`
}

func renderSNSA(st *store.State, a *store.ServiceNetworkServiceAssociation) snsaOut {
	out := snsaOut{ServiceNetworkServiceAssociation: a}
	if svc := st.Services[a.ServiceID]; svc != nil {
		dns := svc.DNSEntry
		out.ServiceName, out.ServiceARN, out.DNSEntry, out.CustomDomainName = svc.Name, svc.ARN, &dns, svc.CustomDomainName
	}
	if sn := st.ServiceNetworks[a.ServiceNetworkID]; sn != nil {
		out.ServiceNetworkName, out.ServiceNetworkARN = sn.Name, sn.ARN
	}
	return out
}

func (s *Server) createSNSA(c *call) (int, json.RawMessage, error) {
	var in struct {
		ClientToken              *string           `json:"clientToken"`
		ServiceIdentifier        string            `json:"serviceIdentifier"`
		ServiceNetworkIdentifier string            `json:"serviceNetworkIdentifier"`
		Tags                     map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.clientToken(in.ClientToken)
	v.identifier("serviceIdentifier", in.ServiceIdentifier, "svc")
	v.identifier("serviceNetworkIdentifier", in.ServiceNetworkIdentifier, "sn")
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.create(c, deref(in.ClientToken), http.StatusOK, func(st *store.State) (any, error) {
		svc, err := lookup(st.Services, in.ServiceIdentifier, "svc", rtService, "serviceIdentifier")
		if err != nil {
			return nil, err
		}
		sn, err := lookup(st.ServiceNetworks, in.ServiceNetworkIdentifier, "sn", rtServiceNetwork, "serviceNetworkIdentifier")
		if err != nil {
			return nil, err
		}
		n := 0
		for _, a := range st.ServiceAssociations {
			if a.ServiceNetworkID != sn.ID {
				continue
			}
			n++
			if a.ServiceID == svc.ID {
				return nil, conflict(rtSNSA, a.ID, "service %s is already associated with service network %s: association %s is %s", svc.ID, sn.ID, a.ID, a.Status)
			}
		}
		if n >= s.quotas.ServicesPerServiceNetwork {
			return nil, quotaExceeded(rtSNSA, sn.ID, qcServicesPerSN, s.quotas.ServicesPerServiceNetwork)
		}
		id := newID("snsa")
		a := &store.ServiceNetworkServiceAssociation{ID: id, ARN: s.arn("servicenetworkserviceassociation/" + id),
			CreatedBy: s.store.AccountID(), CreatedAt: s.store.Now(), ServiceID: svc.ID, ServiceNetworkID: sn.ID,
			Tags: copyTags(in.Tags)}
		a.Status = s.settle(st, id, store.StatusCreateInProgress)
		st.ServiceAssociations[id] = a
		return renderSNSA(st, a), nil
	})
}

func (s *Server) getSNSA(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		a, err := lookup(st.ServiceAssociations, c.params["serviceNetworkServiceAssociationIdentifier"], "snsa", rtSNSA, "serviceNetworkServiceAssociationIdentifier")
		if err != nil {
			return nil, err
		}
		return renderSNSA(st, a), nil
	})
}

// optionalFilter resolves an optional ID-or-ARN query filter to an ID.
func optionalFilter(c *call, name, prefix string) (string, error) {
	v := c.query.Get(name)
	if v == "" {
		return "", nil
	}
	if !validIdentifier(v, prefix) {
		return "", invalidField(name, "must be a %s- ID or its ARN", prefix)
	}
	return idOf(v), nil
}

func (s *Server) listSNSAs(c *call) (int, json.RawMessage, error) {
	snID, err := optionalFilter(c, "serviceNetworkIdentifier", "sn")
	if err != nil {
		return 0, nil, err
	}
	svcID, err := optionalFilter(c, "serviceIdentifier", "svc")
	if err != nil {
		return 0, nil, err
	}
	return s.view(func(st *store.State) (any, error) {
		keep := func(id string) bool {
			a := st.ServiceAssociations[id]
			return (snID == "" || a.ServiceNetworkID == snID) && (svcID == "" || a.ServiceID == svcID)
		}
		return list(c, store.SortedKeys(st.ServiceAssociations), keep, func(id string) snsaOut { return renderSNSA(st, st.ServiceAssociations[id]) })
	})
}

type deleted struct {
	ID     string `json:"id"`
	ARN    string `json:"arn"`
	Status string `json:"status"`
}

func (s *Server) deleteSNSA(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		a, err := lookup(st.ServiceAssociations, c.params["serviceNetworkServiceAssociationIdentifier"], "snsa", rtSNSA, "serviceNetworkServiceAssociationIdentifier")
		if err != nil {
			return nil, err
		}
		if a.Status == store.StatusCreateInProgress {
			return nil, conflict(rtSNSA, a.ID, "association %s is %s", a.ID, a.Status)
		}
		a.Status = store.StatusDeleteInProgress
		s.retire(st, a.ID, func() { st.DeleteAssociation(a.ID) })
		return deleted{a.ID, a.ARN, store.StatusDeleteInProgress}, nil
	})
}

type snvaOut struct {
	*store.ServiceNetworkVpcAssociation
	ServiceNetworkName string `json:"serviceNetworkName"`
	ServiceNetworkARN  string `json:"serviceNetworkArn"`
}

func renderSNVA(st *store.State, a *store.ServiceNetworkVpcAssociation) snvaOut {
	out := snvaOut{ServiceNetworkVpcAssociation: a}
	if sn := st.ServiceNetworks[a.ServiceNetworkID]; sn != nil {
		out.ServiceNetworkName, out.ServiceNetworkARN = sn.Name, sn.ARN
	}
	return out
}

func checkSecurityGroups(v *validator, sgs []string, lo int) {
	v.check(len(sgs) >= lo && len(sgs) <= 5, "securityGroupIds", "must have %d to 5 entries", lo)
	for i, sg := range sgs {
		v.check(sgPattern.MatchString(sg), fmt.Sprintf("securityGroupIds[%d]", i), "must be a security group ID")
	}
}

func (s *Server) createSNVA(c *call) (int, json.RawMessage, error) {
	var in struct {
		ClientToken              *string           `json:"clientToken"`
		ServiceNetworkIdentifier string            `json:"serviceNetworkIdentifier"`
		VPCIdentifier            string            `json:"vpcIdentifier"`
		PrivateDNSEnabled        *bool             `json:"privateDnsEnabled"`
		SecurityGroupIDs         []string          `json:"securityGroupIds"`
		DNSOptions               *store.DNSOptions `json:"dnsOptions"`
		Tags                     map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.clientToken(in.ClientToken)
	v.identifier("serviceNetworkIdentifier", in.ServiceNetworkIdentifier, "sn")
	v.check(vpcPattern.MatchString(in.VPCIdentifier), "vpcIdentifier", "must be a VPC ID")
	checkSecurityGroups(&v, in.SecurityGroupIDs, 0)
	if o := in.DNSOptions; o != nil {
		v.optEnum("dnsOptions.privateDnsPreference", o.PrivateDNSPreference, "VERIFIED_DOMAINS_ONLY", "ALL_DOMAINS",
			"VERIFIED_DOMAINS_AND_SPECIFIED_DOMAINS", "SPECIFIED_DOMAINS_ONLY")
		v.check(len(o.PrivateDNSSpecifiedDomains) <= 10, "dnsOptions.privateDnsSpecifiedDomains", "at most 10 domains")
	}
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.create(c, deref(in.ClientToken), http.StatusOK, func(st *store.State) (any, error) {
		sn, err := lookup(st.ServiceNetworks, in.ServiceNetworkIdentifier, "sn", rtServiceNetwork, "serviceNetworkIdentifier")
		if err != nil {
			return nil, err
		}
		n := 0
		for _, a := range st.VPCAssociations {
			if a.VPCID == in.VPCIdentifier {
				return nil, conflict(rtSNVA, a.ID, "VPC %s is already associated with service network %s: association %s is %s; a VPC has one service network", in.VPCIdentifier, a.ServiceNetworkID, a.ID, a.Status)
			}
			if a.ServiceNetworkID == sn.ID {
				n++
			}
		}
		if n >= s.quotas.VPCsPerServiceNetwork {
			return nil, quotaExceeded(rtSNVA, sn.ID, qcVPCsPerSN, s.quotas.VPCsPerServiceNetwork)
		}
		now := s.store.Now()
		id := newID("snva")
		a := &store.ServiceNetworkVpcAssociation{ID: id, ARN: s.arn("servicenetworkvpcassociation/" + id),
			CreatedBy: s.store.AccountID(), CreatedAt: now, LastUpdatedAt: now, ServiceNetworkID: sn.ID,
			VPCID: in.VPCIdentifier, SecurityGroupIDs: in.SecurityGroupIDs, PrivateDNS: in.PrivateDNSEnabled == nil || *in.PrivateDNSEnabled,
			DNSOptions: in.DNSOptions, Tags: copyTags(in.Tags)}
		a.Status = s.settle(st, id, store.StatusCreateInProgress)
		st.VPCAssociations[id] = a
		return renderSNVA(st, a), nil
	})
}

func (s *Server) findSNVA(st *store.State, c *call) (*store.ServiceNetworkVpcAssociation, error) {
	return lookup(st.VPCAssociations, c.params["serviceNetworkVpcAssociationIdentifier"], "snva", rtSNVA, "serviceNetworkVpcAssociationIdentifier")
}

func (s *Server) getSNVA(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		a, err := s.findSNVA(st, c)
		if err != nil {
			return nil, err
		}
		return renderSNVA(st, a), nil
	})
}

func (s *Server) listSNVAs(c *call) (int, json.RawMessage, error) {
	snID, err := optionalFilter(c, "serviceNetworkIdentifier", "sn")
	if err != nil {
		return 0, nil, err
	}
	vpc := c.query.Get("vpcIdentifier")
	return s.view(func(st *store.State) (any, error) {
		keep := func(id string) bool {
			a := st.VPCAssociations[id]
			return (snID == "" || a.ServiceNetworkID == snID) && (vpc == "" || a.VPCID == vpc)
		}
		return list(c, store.SortedKeys(st.VPCAssociations), keep, func(id string) snvaOut { return renderSNVA(st, st.VPCAssociations[id]) })
	})
}

func (s *Server) updateSNVA(c *call) (int, json.RawMessage, error) {
	var in struct {
		SecurityGroupIDs []string `json:"securityGroupIds"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	checkSecurityGroups(&v, in.SecurityGroupIDs, 1)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		a, err := s.findSNVA(st, c)
		if err != nil {
			return nil, err
		}
		if a.Status != store.StatusActive {
			return nil, conflict(rtSNVA, a.ID, "association %s is %s", a.ID, a.Status)
		}
		a.SecurityGroupIDs = in.SecurityGroupIDs
		a.LastUpdatedAt = s.store.Now()
		a.Status = s.settle(st, a.ID, store.StatusUpdateInProgress)
		return renderSNVA(st, a), nil
	})
}

func (s *Server) deleteSNVA(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		a, err := s.findSNVA(st, c)
		if err != nil {
			return nil, err
		}
		if a.Status == store.StatusCreateInProgress {
			return nil, conflict(rtSNVA, a.ID, "association %s is %s", a.ID, a.Status)
		}
		a.Status = store.StatusDeleteInProgress
		a.LastUpdatedAt = s.store.Now()
		s.retire(st, a.ID, func() { st.DeleteAssociation(a.ID) })
		return deleted{a.ID, a.ARN, store.StatusDeleteInProgress}, nil
	})
}
