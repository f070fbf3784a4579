package api

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// lookup resolves an identifier (ID or ARN) in m: a malformed one is a ValidationException, an
// unknown one a ResourceNotFoundException.
func lookup[T any](m map[string]*T, ident, prefix, resourceType, field string) (*T, error) {
	if !validIdentifier(ident, prefix) {
		return nil, invalidField(field, "must be a %s- ID or its ARN", prefix)
	}
	r := m[idOf(ident)]
	if r == nil {
		return nil, notFound(resourceType, ident)
	}
	return r, nil
}

func quotaExceeded(resourceType, resourceID, quotaCode string, limit int) *apiError {
	return &apiError{Status: http.StatusPaymentRequired, Type: "ServiceQuotaExceededException",
		Message: fmt.Sprintf("quota of %d exceeded for %s", limit, resourceType),
		Fields: map[string]any{"resourceType": resourceType, "resourceId": resourceID,
			"serviceCode": serviceCode, "quotaCode": quotaCode}}
}

// Quota codes: L-D64E952E is the documented listener quota; the others are stable stand-ins.
const (
	qcServiceNetworks  = "L-A4C7D2B1"
	qcServices         = "L-7D3E3A5C"
	qcTargetGroups     = "L-0C1A8F2E"
	qcListeners        = "L-D64E952E"
	qcRules            = "L-9E5E4F1B"
	qcTGsPerService    = "L-3B2D5C7A"
	qcTargets          = "L-5F1C9E2D"
	qcServicesPerSN    = "L-8C1B7E3F"
	qcVPCsPerSN        = "L-2E9D4A6C"
	qcAuthPolicySize   = "L-6A1D3C8E"
	maxAuthPolicyBytes = 10 * 1024
)

type snOut struct {
	*store.ServiceNetwork
	NumberOfAssociatedVPCs     int64 `json:"numberOfAssociatedVPCs"`
	NumberOfAssociatedServices int64 `json:"numberOfAssociatedServices"`
}

func renderSN(st *store.State, sn *store.ServiceNetwork) snOut {
	out := snOut{ServiceNetwork: sn}
	for _, a := range st.VPCAssociations {
		if a.ServiceNetworkID == sn.ID {
			out.NumberOfAssociatedVPCs++
		}
	}
	for _, a := range st.ServiceAssociations {
		if a.ServiceNetworkID == sn.ID {
			out.NumberOfAssociatedServices++
		}
	}
	return out
}

func (s *Server) createServiceNetwork(c *call) (int, json.RawMessage, error) {
	var in struct {
		ClientToken   *string              `json:"clientToken"`
		Name          string               `json:"name"`
		AuthType      string               `json:"authType"`
		Tags          map[string]string    `json:"tags"`
		SharingConfig *store.SharingConfig `json:"sharingConfig"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.clientToken(in.ClientToken)
	v.name("name", in.Name, 3, 63, "")
	v.optEnum("authType", in.AuthType, "NONE", "AWS_IAM")
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.create(c, deref(in.ClientToken), http.StatusCreated, func(st *store.State) (any, error) {
		for _, sn := range st.ServiceNetworks {
			if sn.Name == in.Name {
				return nil, conflict(rtServiceNetwork, sn.ID, "service network name %s is already in use by %s", in.Name, sn.ID)
			}
		}
		if len(st.ServiceNetworks) >= s.quotas.ServiceNetworks {
			return nil, quotaExceeded(rtServiceNetwork, in.Name, qcServiceNetworks, s.quotas.ServiceNetworks)
		}
		now := s.store.Now()
		id := newID("sn")
		sn := &store.ServiceNetwork{ID: id, ARN: s.arn("servicenetwork/" + id), Name: in.Name,
			AuthType: orDefault(in.AuthType, "NONE"), SharingConfig: in.SharingConfig,
			CreatedAt: now, LastUpdatedAt: now, Tags: copyTags(in.Tags)}
		st.ServiceNetworks[id] = sn
		return sn, nil
	})
}

func (s *Server) getServiceNetwork(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		sn, err := lookup(st.ServiceNetworks, c.params["serviceNetworkIdentifier"], "sn", rtServiceNetwork, "serviceNetworkIdentifier")
		if err != nil {
			return nil, err
		}
		return renderSN(st, sn), nil
	})
}

func (s *Server) listServiceNetworks(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		return list(c, store.SortedKeys(st.ServiceNetworks), nil, func(id string) snOut {
			return renderSN(st, st.ServiceNetworks[id])
		})
	})
}

func (s *Server) updateServiceNetwork(c *call) (int, json.RawMessage, error) {
	var in struct {
		AuthType string `json:"authType"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.enum("authType", in.AuthType, "NONE", "AWS_IAM")
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		sn, err := lookup(st.ServiceNetworks, c.params["serviceNetworkIdentifier"], "sn", rtServiceNetwork, "serviceNetworkIdentifier")
		if err != nil {
			return nil, err
		}
		sn.AuthType = in.AuthType
		sn.LastUpdatedAt = s.store.Now()
		return sn, nil
	})
}

func (s *Server) deleteServiceNetwork(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusNoContent, func(st *store.State) (any, error) {
		sn, err := lookup(st.ServiceNetworks, c.params["serviceNetworkIdentifier"], "sn", rtServiceNetwork, "serviceNetworkIdentifier")
		if err != nil {
			return nil, err
		}
		for _, a := range st.ServiceAssociations {
			if a.ServiceNetworkID == sn.ID {
				return nil, conflict(rtServiceNetwork, sn.ID, "service network %s still has service association %s (%s)", sn.ID, a.ID, a.Status)
			}
		}
		for _, a := range st.VPCAssociations {
			if a.ServiceNetworkID == sn.ID {
				return nil, conflict(rtServiceNetwork, sn.ID, "service network %s still has VPC association %s (%s)", sn.ID, a.ID, a.Status)
			}
		}
		st.DeleteServiceNetwork(sn.ID)
		return nil, nil
	})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func copyTags(t map[string]string) map[string]string {
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	return out
}
