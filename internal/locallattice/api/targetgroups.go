package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// tgOut is every target-group answer: the full resource plus the summary's flattened config and
// the services using it.
type tgOut struct {
	*store.TargetGroup
	Port                        *int32   `json:"port,omitempty"`
	Protocol                    string   `json:"protocol,omitempty"`
	IPAddressType               string   `json:"ipAddressType,omitempty"`
	VPCIdentifier               string   `json:"vpcIdentifier,omitempty"`
	LambdaEventStructureVersion string   `json:"lambdaEventStructureVersion,omitempty"`
	ServiceARNs                 []string `json:"serviceArns"`
}

func renderTG(st *store.State, users map[string][]string, tg *store.TargetGroup) tgOut {
	out := tgOut{TargetGroup: tg, ServiceARNs: []string{}}
	if c := tg.Config; c != nil {
		out.Port, out.Protocol, out.IPAddressType, out.VPCIdentifier, out.LambdaEventStructureVersion =
			c.Port, c.Protocol, c.IPAddressType, c.VPCIdentifier, c.LambdaEventStructureVersion
	}
	for _, id := range users[tg.ID] {
		if svc := st.Services[id]; svc != nil {
			out.ServiceARNs = append(out.ServiceARNs, svc.ARN)
		}
	}
	return out
}

// checkTGConfig validates a config for the target-group type and fills the documented defaults.
func checkTGConfig(tgType string, cfg *store.TargetGroupConfig) error {
	var v validator
	if tgType == "LAMBDA" {
		if cfg != nil {
			v.check(cfg.Port == nil && cfg.Protocol == "" && cfg.ProtocolVersion == "" && cfg.IPAddressType == "" &&
				cfg.VPCIdentifier == "" && cfg.HealthCheck == nil, "config", "a LAMBDA target group accepts only lambdaEventStructureVersion")
			v.optEnum("config.lambdaEventStructureVersion", cfg.LambdaEventStructureVersion, "V1", "V2")
		}
		return v.err()
	}
	if cfg == nil {
		return invalidField("config", "is required for %s target groups", tgType)
	}
	v.enum("config.protocol", cfg.Protocol, "HTTP", "HTTPS", "TCP")
	v.int32Range("config.port", cfg.Port, 1, 65535)
	v.check(cfg.Port != nil || cfg.Protocol != "TCP", "config.port", "is required for TCP")
	if cfg.Protocol == "TCP" {
		v.check(cfg.ProtocolVersion == "", "config.protocolVersion", "does not apply to TCP")
	} else {
		v.optEnum("config.protocolVersion", cfg.ProtocolVersion, "HTTP1", "HTTP2", "GRPC")
	}
	v.check(vpcPattern.MatchString(cfg.VPCIdentifier), "config.vpcIdentifier", "must be a VPC ID")
	if tgType == "IP" {
		v.optEnum("config.ipAddressType", cfg.IPAddressType, "IPV4", "IPV6")
	} else {
		v.check(cfg.IPAddressType == "", "config.ipAddressType", "applies only to IP target groups")
	}
	if tgType == "ALB" {
		v.check(cfg.HealthCheck == nil, "config.healthCheck", "ALB target groups have no VPC Lattice health checks")
		v.check(cfg.Protocol != "TCP", "config.protocol", "ALB target groups use HTTP or HTTPS")
	}
	v.check(cfg.LambdaEventStructureVersion == "", "config.lambdaEventStructureVersion", "applies only to LAMBDA target groups")
	v.healthCheck("config.healthCheck", cfg.HealthCheck)
	if err := v.err(); err != nil {
		return err
	}
	if cfg.Port == nil {
		p := int32(80)
		if cfg.Protocol == "HTTPS" {
			p = 443
		}
		cfg.Port = &p
	}
	if cfg.Protocol != "TCP" && cfg.ProtocolVersion == "" {
		cfg.ProtocolVersion = "HTTP1"
	}
	if tgType == "IP" && cfg.IPAddressType == "" {
		cfg.IPAddressType = "IPV4"
	}
	return nil
}

func (s *Server) createTargetGroup(c *call) (int, json.RawMessage, error) {
	var in struct {
		ClientToken *string                  `json:"clientToken"`
		Name        string                   `json:"name"`
		Type        string                   `json:"type"`
		Config      *store.TargetGroupConfig `json:"config"`
		Tags        map[string]string        `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.clientToken(in.ClientToken)
	v.name("name", in.Name, 3, 128, "tg-")
	v.enum("type", in.Type, "IP", "LAMBDA", "INSTANCE", "ALB")
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	if err := checkTGConfig(in.Type, in.Config); err != nil {
		return 0, nil, err
	}
	if in.Type == "LAMBDA" && in.Config != nil && in.Config.LambdaEventStructureVersion == "" {
		in.Config.LambdaEventStructureVersion = "V1"
	}
	return s.create(c, deref(in.ClientToken), http.StatusCreated, func(st *store.State) (any, error) {
		for _, tg := range st.TargetGroups {
			if tg.Name == in.Name {
				return nil, conflict(rtTargetGroup, tg.ID, "target group name %s is already in use by %s", in.Name, tg.ID)
			}
		}
		if len(st.TargetGroups) >= s.quotas.TargetGroups {
			return nil, quotaExceeded(rtTargetGroup, in.Name, qcTargetGroups, s.quotas.TargetGroups)
		}
		now := s.store.Now()
		id := newID("tg")
		tg := &store.TargetGroup{ID: id, ARN: s.arn("targetgroup/" + id), Name: in.Name, Type: in.Type,
			Config: in.Config, CreatedAt: now, LastUpdatedAt: now, Tags: copyTags(in.Tags)}
		tg.Status = s.settle(st, id, store.StatusCreateInProgress)
		st.TargetGroups[id] = tg
		return renderTG(st, nil, tg), nil
	})
}

func (s *Server) findTG(st *store.State, c *call) (*store.TargetGroup, error) {
	return lookup(st.TargetGroups, c.params["targetGroupIdentifier"], "tg", rtTargetGroup, "targetGroupIdentifier")
}

func (s *Server) getTargetGroup(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		tg, err := s.findTG(st, c)
		if err != nil {
			return nil, err
		}
		return renderTG(st, st.TargetGroupUsers(), tg), nil
	})
}

func (s *Server) listTargetGroups(c *call) (int, json.RawMessage, error) {
	vpc, tgType := c.query.Get("vpcIdentifier"), c.query.Get("targetGroupType")
	return s.view(func(st *store.State) (any, error) {
		users := st.TargetGroupUsers()
		keep := func(id string) bool {
			tg := st.TargetGroups[id]
			return (tgType == "" || tg.Type == tgType) && (vpc == "" || tg.Config != nil && tg.Config.VPCIdentifier == vpc)
		}
		return list(c, store.SortedKeys(st.TargetGroups), keep, func(id string) tgOut { return renderTG(st, users, st.TargetGroups[id]) })
	})
}

// updateTargetGroup replaces the health check, the only thing that can change.
func (s *Server) updateTargetGroup(c *call) (int, json.RawMessage, error) {
	var in struct {
		HealthCheck *store.HealthCheckConfig `json:"healthCheck"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	if in.HealthCheck == nil {
		return 0, nil, invalidField("healthCheck", "is required")
	}
	var v validator
	v.healthCheck("healthCheck", in.HealthCheck)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		tg, err := s.findTG(st, c)
		if err != nil {
			return nil, err
		}
		if tg.Type == "LAMBDA" || tg.Type == "ALB" {
			return nil, invalidField("healthCheck", "%s target groups have no health checks", tg.Type)
		}
		cfg := *tg.Config
		cfg.HealthCheck = in.HealthCheck
		tg.Config = &cfg
		tg.LastUpdatedAt = s.store.Now()
		return renderTG(st, st.TargetGroupUsers(), tg), nil
	})
}

func (s *Server) deleteTargetGroup(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		tg, err := s.findTG(st, c)
		if err != nil {
			return nil, err
		}
		if users := st.TargetGroupUsers()[tg.ID]; len(users) > 0 {
			return nil, conflict(rtTargetGroup, tg.ID, "target group %s is used by service %s", tg.ID, users[0])
		}
		if tg.Status == store.StatusCreateInProgress {
			return nil, conflict(rtTargetGroup, tg.ID, "target group %s is %s", tg.ID, tg.Status)
		}
		out := struct {
			ID     string `json:"id"`
			ARN    string `json:"arn"`
			Status string `json:"status"`
		}{tg.ID, tg.ARN, store.StatusDeleteInProgress}
		tg.Status = store.StatusDeleteInProgress
		s.retire(st, tg.ID, func() { st.DeleteTargetGroup(tg.ID) })
		return out, nil
	})
}

type targetIn struct {
	ID   string `json:"id"`
	Port *int32 `json:"port"`
}

type targetFailure struct {
	ID             string `json:"id"`
	Port           *int32 `json:"port,omitempty"`
	FailureCode    string `json:"failureCode"`
	FailureMessage string `json:"failureMessage"`
}

type targetOut struct {
	ID   string `json:"id"`
	Port int32  `json:"port"`
}

type targetsResult struct {
	Successful   []targetOut     `json:"successful"`
	Unsuccessful []targetFailure `json:"unsuccessful"`
}

func decodeTargets(c *call, lo, hi int) ([]targetIn, error) {
	var in struct {
		Targets []targetIn `json:"targets"`
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if len(in.Targets) < lo || len(in.Targets) > hi {
		return nil, invalidField("targets", "must have %d to %d entries", lo, hi)
	}
	var v validator
	for i, t := range in.Targets {
		v.length(fmt.Sprintf("targets[%d].id", i), t.ID, 1, 200)
		v.int32Range(fmt.Sprintf("targets[%d].port", i), t.Port, 1, 65535)
	}
	return in.Targets, v.err()
}

func targetPort(tg *store.TargetGroup, p *int32) int32 {
	switch {
	case p != nil:
		return *p
	case tg.Config != nil && tg.Config.Port != nil:
		return *tg.Config.Port
	}
	return 80
}

// badTarget explains why id can't be a target of tg, or returns "".
func badTarget(tg *store.TargetGroup, id string) string {
	switch tg.Type {
	case "IP":
		addr, err := netip.ParseAddr(id)
		if err != nil {
			return "not an IP address"
		}
		if want6 := tg.Config != nil && tg.Config.IPAddressType == "IPV6"; addr.Is4() == want6 {
			return "IP address family does not match the target group's ipAddressType"
		}
	case "INSTANCE":
		if !isInstanceID(id) {
			return "not an EC2 instance ID"
		}
	case "LAMBDA", "ALB":
		if !arnPattern.MatchString(id) {
			return "not an ARN"
		}
	}
	return ""
}

// isInstanceID reports whether v looks like an EC2 instance ID: i- and lowercase hex.
func isInstanceID(v string) bool {
	rest, ok := strings.CutPrefix(v, "i-")
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// changeTargets decodes the targets of a Register/DeregisterTargets call and, in one store
// update, lets apply change its target group and fill the per-target answer.
func (s *Server) changeTargets(c *call, apply func(tg *store.TargetGroup, targets []targetIn, res *targetsResult) error) (int, json.RawMessage, error) {
	targets, err := decodeTargets(c, 1, 100)
	if err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		tg, err := s.findTG(st, c)
		if err != nil {
			return nil, err
		}
		res := targetsResult{Successful: []targetOut{}, Unsuccessful: []targetFailure{}}
		if err := apply(tg, targets, &res); err != nil {
			return nil, err
		}
		return res, nil
	})
}

func (s *Server) registerTargets(c *call) (int, json.RawMessage, error) {
	return s.changeTargets(c, func(tg *store.TargetGroup, targets []targetIn, res *targetsResult) error {
		next := append([]store.Target(nil), tg.Targets...)
		for _, t := range targets {
			port := targetPort(tg, t.Port)
			if why := badTarget(tg, t.ID); why != "" {
				res.Unsuccessful = append(res.Unsuccessful, targetFailure{ID: t.ID, Port: t.Port, FailureCode: "InvalidTarget", FailureMessage: why})
				continue
			}
			found := false
			for i := range next {
				if next[i].ID == t.ID && next[i].Port == port {
					found = true
					if next[i].Status == store.TargetDraining {
						next[i] = store.Target{ID: t.ID, Port: port, Status: store.TargetInitial}
					}
				}
			}
			if !found {
				next = append(next, store.Target{ID: t.ID, Port: port, Status: store.TargetInitial})
			}
			res.Successful = append(res.Successful, targetOut{ID: t.ID, Port: port})
		}
		if tg.Type == "LAMBDA" && len(next) > 1 {
			return invalidField("targets", "a LAMBDA target group has exactly one target")
		}
		if len(next) > s.quotas.TargetsPerTargetGroup {
			return quotaExceeded(rtTarget, tg.ID, qcTargets, s.quotas.TargetsPerTargetGroup)
		}
		tg.Targets = next
		return nil
	})
}

// deregisterTargets moves targets to DRAINING for the draining delay (or removes them when it
// is 0); unknown targets count as deregistered, so the call is idempotent.
func (s *Server) deregisterTargets(c *call) (int, json.RawMessage, error) {
	return s.changeTargets(c, func(tg *store.TargetGroup, targets []targetIn, res *targetsResult) error {
		gone := map[int]bool{}
		for _, t := range targets {
			port := targetPort(tg, t.Port)
			for i, have := range tg.Targets {
				if have.ID == t.ID && have.Port == port && have.Status != store.TargetDraining {
					gone[i] = true
				}
			}
			res.Successful = append(res.Successful, targetOut{ID: t.ID, Port: port})
		}
		if len(gone) == 0 {
			return nil
		}
		delay := s.store.DrainingDelay()
		if delay <= 0 {
			kept := make([]store.Target, 0, len(tg.Targets))
			for i, t := range tg.Targets {
				if !gone[i] {
					kept = append(kept, t)
				}
			}
			tg.Targets = kept
			return nil
		}
		until := s.store.Now().Add(delay)
		for i := range gone {
			tg.Targets[i].Status, tg.Targets[i].ReasonCode, tg.Targets[i].DrainingUntil = store.TargetDraining, "", until
		}
		go s.store.Schedule(until)
		return nil
	})
}

type targetSummary struct {
	ID         string `json:"id"`
	Port       int32  `json:"port"`
	Status     string `json:"status"`
	ReasonCode string `json:"reasonCode,omitempty"`
}

func (s *Server) listTargets(c *call) (int, json.RawMessage, error) {
	filter, err := decodeTargets(c, 0, 20)
	if err != nil {
		return 0, nil, err
	}
	return s.view(func(st *store.State) (any, error) {
		tg, err := s.findTG(st, c)
		if err != nil {
			return nil, err
		}
		used := st.TargetGroupInUse(tg.ID)
		byKey := map[string]targetSummary{}
		for _, t := range tg.Targets {
			if !matchesFilter(filter, t) {
				continue
			}
			byKey[fmt.Sprintf("%s/%05d", t.ID, t.Port)] = targetSummary{ID: t.ID, Port: t.Port,
				Status: store.EffectiveTargetStatus(tg, used, t), ReasonCode: t.ReasonCode}
		}
		return list(c, store.SortedKeys(byKey), nil, func(k string) targetSummary { return byKey[k] })
	})
}

func matchesFilter(filter []targetIn, t store.Target) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if f.ID == t.ID && (f.Port == nil || *f.Port == t.Port) {
			return true
		}
	}
	return false
}
