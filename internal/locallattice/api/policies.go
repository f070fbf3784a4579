package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// taggable finds the tags of the resource an ARN names; ok is false when there is none.
func taggable(st *store.State, arn string) (tags *map[string]string, ok bool) {
	id := idOf(arn)
	pick := func(a string, t *map[string]string) (*map[string]string, bool) { return t, a == arn }
	switch prefix, _, _ := strings.Cut(id, "-"); prefix {
	case "sn":
		if r := st.ServiceNetworks[id]; r != nil {
			return pick(r.ARN, &r.Tags)
		}
	case "svc":
		if r := st.Services[id]; r != nil {
			return pick(r.ARN, &r.Tags)
		}
	case "listener":
		if r := st.Listeners[id]; r != nil {
			return pick(r.ARN, &r.Tags)
		}
	case "rule":
		if r := st.Rules[id]; r != nil {
			return pick(r.ARN, &r.Tags)
		}
	case "tg":
		if r := st.TargetGroups[id]; r != nil {
			return pick(r.ARN, &r.Tags)
		}
	case "snsa":
		if r := st.ServiceAssociations[id]; r != nil {
			return pick(r.ARN, &r.Tags)
		}
	case "snva":
		if r := st.VPCAssociations[id]; r != nil {
			return pick(r.ARN, &r.Tags)
		}
	case "als":
		if r := st.AccessLogSubscriptions[id]; r != nil {
			return pick(r.ARN, &r.Tags)
		}
	}
	return nil, false
}

func findTags(st *store.State, arn string) (*map[string]string, error) {
	if !arnPattern.MatchString(arn) || len(arn) > 1224 || !strings.Contains(arn, ":vpc-lattice:") {
		return nil, invalidField("resourceArn", "must be a VPC Lattice ARN")
	}
	t, ok := taggable(st, arn)
	if !ok {
		return nil, notFound(rtResource, arn)
	}
	return t, nil
}

func (s *Server) tagResource(c *call) (int, json.RawMessage, error) {
	var in struct {
		Tags map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.check(len(in.Tags) >= 1, "tags", "is required")
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		t, err := findTags(st, c.params["resourceArn"])
		if err != nil {
			return nil, err
		}
		// Copy on write: snapshots share the old map.
		tags := copyTags(*t)
		for k, val := range in.Tags {
			tags[k] = val
		}
		*t = tags
		return struct{}{}, nil
	})
}

func (s *Server) untagResource(c *call) (int, json.RawMessage, error) {
	keys := c.query["tagKeys"]
	if len(keys) < 1 || len(keys) > 200 {
		return 0, nil, invalidField("tagKeys", "must have 1 to 200 keys")
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		t, err := findTags(st, c.params["resourceArn"])
		if err != nil {
			return nil, err
		}
		tags := copyTags(*t)
		for _, k := range keys {
			delete(tags, k)
		}
		*t = tags
		return struct{}{}, nil
	})
}

func (s *Server) listTagsForResource(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		t, err := findTags(st, c.params["resourceArn"])
		if err != nil {
			return nil, err
		}
		return map[string]any{"tags": copyTags(*t)}, nil
	})
}

// policyTarget resolves an auth-policy or access-log resource identifier: a service network or
// a service, by ID or ARN.
func policyTarget(st *store.State, ident, field string) (id, arn, authType string, err error) {
	switch {
	case validIdentifier(ident, "sn"):
		sn, err := lookup(st.ServiceNetworks, ident, "sn", rtServiceNetwork, field)
		if err != nil {
			return "", "", "", err
		}
		return sn.ID, sn.ARN, sn.AuthType, nil
	case validIdentifier(ident, "svc"):
		svc, err := lookup(st.Services, ident, "svc", rtService, field)
		if err != nil {
			return "", "", "", err
		}
		return svc.ID, svc.ARN, svc.AuthType, nil
	}
	return "", "", "", invalidField(field, "must be a service network or service ID or ARN")
}

// policyState is Active only while the resource requires IAM auth.
func policyState(authType string) string {
	if authType == "AWS_IAM" {
		return "Active"
	}
	return "Inactive"
}

func checkPolicyDocument(field, policy string, lo, hi int) error {
	var v validator
	v.length(field, policy, lo, hi)
	v.check(strings.TrimSpace(policy) != "" || lo == 0, field, "must not be blank")
	if policy != "" {
		v.check(json.Valid([]byte(policy)), field, "must be a JSON policy document")
	}
	return v.err()
}

func (s *Server) putAuthPolicy(c *call) (int, json.RawMessage, error) {
	var in struct {
		Policy *string `json:"policy"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.Policy == nil {
		return 0, nil, invalidField("policy", "is required")
	}
	if err := checkPolicyDocument("policy", *in.Policy, 0, 36864); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		id, _, authType, err := policyTarget(st, c.params["resourceIdentifier"], "resourceIdentifier")
		if err != nil {
			return nil, err
		}
		if len(*in.Policy) > maxAuthPolicyBytes {
			return nil, quotaExceeded(rtAuthPolicy, id, qcAuthPolicySize, maxAuthPolicyBytes)
		}
		now := s.store.Now()
		p := st.AuthPolicies[id]
		if p == nil {
			p = &store.AuthPolicy{ResourceID: id, CreatedAt: now}
			st.AuthPolicies[id] = p
		}
		p.Policy, p.LastUpdatedAt = *in.Policy, now
		return map[string]string{"policy": p.Policy, "state": policyState(authType)}, nil
	})
}

func (s *Server) getAuthPolicy(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		id, _, authType, err := policyTarget(st, c.params["resourceIdentifier"], "resourceIdentifier")
		if err != nil {
			return nil, err
		}
		p := st.AuthPolicies[id]
		if p == nil {
			return nil, notFound(rtAuthPolicy, c.params["resourceIdentifier"])
		}
		return struct {
			Policy        string    `json:"policy"`
			State         string    `json:"state"`
			CreatedAt     time.Time `json:"createdAt"`
			LastUpdatedAt time.Time `json:"lastUpdatedAt"`
		}{p.Policy, policyState(authType), p.CreatedAt, p.LastUpdatedAt}, nil
	})
}

func (s *Server) deleteAuthPolicy(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusNoContent, func(st *store.State) (any, error) {
		id, _, _, err := policyTarget(st, c.params["resourceIdentifier"], "resourceIdentifier")
		if err != nil {
			return nil, err
		}
		delete(st.AuthPolicies, id)
		return nil, nil
	})
}

// resourcePolicyTarget resolves the ARN of a service network or service.
func resourcePolicyTarget(st *store.State, arn string) (string, error) {
	if !strings.HasPrefix(arn, "arn:") {
		return "", invalidField("resourceArn", "must be an ARN")
	}
	_, resArn, _, err := policyTarget(st, arn, "resourceArn")
	if err == nil && resArn != arn {
		return "", notFound(rtResource, arn)
	}
	return resArn, err
}

func (s *Server) putResourcePolicy(c *call) (int, json.RawMessage, error) {
	var in struct {
		Policy string `json:"policy"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	if err := checkPolicyDocument("policy", in.Policy, 1, 10000); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		arn, err := resourcePolicyTarget(st, c.params["resourceArn"])
		if err != nil {
			return nil, err
		}
		st.ResourcePolicies[arn] = in.Policy
		return struct{}{}, nil
	})
}

func (s *Server) getResourcePolicy(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		arn, err := resourcePolicyTarget(st, c.params["resourceArn"])
		if err != nil {
			return nil, err
		}
		p, ok := st.ResourcePolicies[arn]
		if !ok {
			return nil, notFound(rtResourcePolicy, arn)
		}
		return map[string]string{"policy": p}, nil
	})
}

func (s *Server) deleteResourcePolicy(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusNoContent, func(st *store.State) (any, error) {
		arn, err := resourcePolicyTarget(st, c.params["resourceArn"])
		if err != nil {
			return nil, err
		}
		delete(st.ResourcePolicies, arn)
		return nil, nil
	})
}

// destinationKind is the AWS service of an access-log destination: logs, s3 or firehose.
func destinationKind(arn string) string {
	parts := strings.SplitN(arn, ":", 4)
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

func checkDestination(arn string) error {
	var v validator
	v.length("destinationArn", arn, 20, 2048)
	v.check(arnPattern.MatchString(arn), "destinationArn", "must be an ARN")
	v.enum("destinationArn", destinationKind(arn), "logs", "s3", "firehose")
	return v.err()
}

func (s *Server) createAccessLog(c *call) (int, json.RawMessage, error) {
	var in struct {
		ClientToken           *string           `json:"clientToken"`
		ResourceIdentifier    string            `json:"resourceIdentifier"`
		DestinationARN        string            `json:"destinationArn"`
		ServiceNetworkLogType string            `json:"serviceNetworkLogType"`
		Tags                  map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.clientToken(in.ClientToken)
	v.check(in.ResourceIdentifier != "", "resourceIdentifier", "is required")
	v.optEnum("serviceNetworkLogType", in.ServiceNetworkLogType, "SERVICE", "RESOURCE")
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	if err := checkDestination(in.DestinationARN); err != nil {
		return 0, nil, err
	}
	return s.create(c, deref(in.ClientToken), http.StatusCreated, func(st *store.State) (any, error) {
		id, arn, _, err := policyTarget(st, in.ResourceIdentifier, "resourceIdentifier")
		if err != nil {
			return nil, err
		}
		if in.ServiceNetworkLogType != "" && !strings.HasPrefix(id, "sn-") {
			return nil, invalidField("serviceNetworkLogType", "applies only to service networks")
		}
		for _, a := range st.AccessLogSubscriptions {
			if a.ResourceID == id && destinationKind(a.DestinationARN) == destinationKind(in.DestinationARN) && a.ServiceNetworkLogType == in.ServiceNetworkLogType {
				return nil, conflict(rtAccessLog, a.ID, "resource %s already has a %s access log subscription %s", id, destinationKind(a.DestinationARN), a.ID)
			}
		}
		now := s.store.Now()
		alsID := newID("als")
		a := &store.AccessLogSubscription{ID: alsID, ARN: s.arn("accesslogsubscription/" + alsID), ResourceID: id,
			ResourceARN: arn, DestinationARN: in.DestinationARN, ServiceNetworkLogType: in.ServiceNetworkLogType,
			CreatedAt: now, LastUpdatedAt: now, Tags: copyTags(in.Tags)}
		st.AccessLogSubscriptions[alsID] = a
		return a, nil
	})
}

func (s *Server) findAccessLog(st *store.State, c *call) (*store.AccessLogSubscription, error) {
	return lookup(st.AccessLogSubscriptions, c.params["accessLogSubscriptionIdentifier"], "als", rtAccessLog, "accessLogSubscriptionIdentifier")
}

func (s *Server) getAccessLog(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) { return s.findAccessLog(st, c) })
}

func (s *Server) listAccessLogs(c *call) (int, json.RawMessage, error) {
	ident := c.query.Get("resourceIdentifier")
	if ident == "" {
		return 0, nil, invalidField("resourceIdentifier", "is required")
	}
	return s.view(func(st *store.State) (any, error) {
		id, _, _, err := policyTarget(st, ident, "resourceIdentifier")
		if err != nil {
			return nil, err
		}
		keep := func(aid string) bool { return st.AccessLogSubscriptions[aid].ResourceID == id }
		return list(c, store.SortedKeys(st.AccessLogSubscriptions), keep, func(aid string) *store.AccessLogSubscription {
			return st.AccessLogSubscriptions[aid]
		})
	})
}

func (s *Server) updateAccessLog(c *call) (int, json.RawMessage, error) {
	var in struct {
		DestinationARN string `json:"destinationArn"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	if err := checkDestination(in.DestinationARN); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		a, err := s.findAccessLog(st, c)
		if err != nil {
			return nil, err
		}
		if destinationKind(a.DestinationARN) != destinationKind(in.DestinationARN) {
			return nil, invalidField("destinationArn", "the destination type (%s) cannot change", destinationKind(a.DestinationARN))
		}
		a.DestinationARN, a.LastUpdatedAt = in.DestinationARN, s.store.Now()
		return a, nil
	})
}

func (s *Server) deleteAccessLog(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusNoContent, func(st *store.State) (any, error) {
		a, err := s.findAccessLog(st, c)
		if err != nil {
			return nil, err
		}
		delete(st.AccessLogSubscriptions, a.ID)
		return nil, nil
	})
}
