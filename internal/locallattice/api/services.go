package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

func (s *Server) createService(c *call) (int, json.RawMessage, error) {
	var in struct {
		ClientToken      *string           `json:"clientToken"`
		Name             string            `json:"name"`
		Tags             map[string]string `json:"tags"`
		CustomDomainName string            `json:"customDomainName"`
		CertificateARN   string            `json:"certificateArn"`
		AuthType         string            `json:"authType"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.clientToken(in.ClientToken)
	v.name("name", in.Name, 3, 40, "svc-")
	if in.CustomDomainName != "" {
		v.length("customDomainName", in.CustomDomainName, 3, 255)
	}
	v.check(len(in.CertificateARN) <= 2048 && certPattern.MatchString(in.CertificateARN), "certificateArn", "must be an ACM certificate ARN")
	v.optEnum("authType", in.AuthType, "NONE", "AWS_IAM")
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.create(c, deref(in.ClientToken), http.StatusCreated, func(st *store.State) (any, error) {
		for _, svc := range st.Services {
			if svc.Name == in.Name {
				return nil, conflict(rtService, svc.ID, "service name %s is already in use by %s", in.Name, svc.ID)
			}
			if in.CustomDomainName != "" && strings.EqualFold(svc.CustomDomainName, in.CustomDomainName) {
				return nil, conflict(rtService, svc.ID, "custom domain name %s is already used by service %s", in.CustomDomainName, svc.ID)
			}
		}
		if len(st.Services) >= s.quotas.Services {
			return nil, quotaExceeded(rtService, in.Name, qcServices, s.quotas.Services)
		}
		now := s.store.Now()
		id := newID("svc")
		svc := &store.Service{ID: id, ARN: s.arn("service/" + id), Name: in.Name,
			CustomDomainName: in.CustomDomainName, CertificateARN: in.CertificateARN,
			AuthType: orDefault(in.AuthType, "NONE"), DNSEntry: s.dnsEntry(in.Name, id),
			CreatedAt: now, LastUpdatedAt: now, Tags: copyTags(in.Tags)}
		svc.Status = s.settle(st, id, store.StatusCreateInProgress)
		st.Services[id] = svc
		return svc, nil
	})
}

func (s *Server) getService(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		return lookup(st.Services, c.params["serviceIdentifier"], "svc", rtService, "serviceIdentifier")
	})
}

func (s *Server) listServices(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		return list(c, store.SortedKeys(st.Services), nil, func(id string) *store.Service { return st.Services[id] })
	})
}

func (s *Server) updateService(c *call) (int, json.RawMessage, error) {
	var in struct {
		CertificateARN *string `json:"certificateArn"`
		AuthType       string  `json:"authType"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	if in.CertificateARN != nil {
		v.check(len(*in.CertificateARN) <= 2048 && certPattern.MatchString(*in.CertificateARN), "certificateArn", "must be an ACM certificate ARN")
	}
	v.optEnum("authType", in.AuthType, "NONE", "AWS_IAM")
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		svc, err := lookup(st.Services, c.params["serviceIdentifier"], "svc", rtService, "serviceIdentifier")
		if err != nil {
			return nil, err
		}
		if in.CertificateARN != nil {
			svc.CertificateARN = *in.CertificateARN
		}
		if in.AuthType != "" {
			svc.AuthType = in.AuthType
		}
		svc.LastUpdatedAt = s.store.Now()
		return svc, nil
	})
}

func (s *Server) deleteService(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		svc, err := lookup(st.Services, c.params["serviceIdentifier"], "svc", rtService, "serviceIdentifier")
		if err != nil {
			return nil, err
		}
		for _, a := range st.ServiceAssociations {
			if a.ServiceID == svc.ID {
				return nil, conflict(rtService, svc.ID, "service %s is associated with service network %s (%s)", svc.ID, a.ServiceNetworkID, a.Status)
			}
		}
		out := struct {
			ID     string `json:"id"`
			ARN    string `json:"arn"`
			Name   string `json:"name"`
			Status string `json:"status"`
		}{svc.ID, svc.ARN, svc.Name, store.StatusDeleteInProgress}
		svc.Status = store.StatusDeleteInProgress
		s.retire(st, svc.ID, func() { st.DeleteService(svc.ID) })
		return out, nil
	})
}
