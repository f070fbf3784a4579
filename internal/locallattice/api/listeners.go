package api

import (
	"encoding/json"
	"net/http"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// findListener resolves the service and listener labels of a listener path.
func findListener(st *store.State, c *call) (*store.Service, *store.Listener, error) {
	svc, err := lookup(st.Services, c.params["serviceIdentifier"], "svc", rtService, "serviceIdentifier")
	if err != nil {
		return nil, nil, err
	}
	l, err := lookup(st.Listeners, c.params["listenerIdentifier"], "listener", rtListener, "listenerIdentifier")
	if err != nil {
		return nil, nil, err
	}
	if l.ServiceID != svc.ID {
		return nil, nil, notFound(rtListener, c.params["listenerIdentifier"])
	}
	return svc, l, nil
}

// resolveAction checks an action's target groups against the state and rewrites their
// identifiers to IDs: they must exist, suit the listener protocol, and belong to no other
// service (a target group serves a single service), within the per-service quota.
func (s *Server) resolveAction(st *store.State, svc *store.Service, protocol string, a *store.RuleAction, field string) error {
	if a.Forward == nil {
		if protocol == "TLS_PASSTHROUGH" {
			return invalidField(field, "a TLS_PASSTHROUGH listener must forward to TCP target groups")
		}
		return nil
	}
	users := st.TargetGroupUsers()
	used := map[string]bool{}
	for tg, svcs := range users {
		for _, id := range svcs {
			if id == svc.ID {
				used[tg] = true
			}
		}
	}
	tgs := make([]store.WeightedTargetGroup, len(a.Forward.TargetGroups))
	for i, w := range a.Forward.TargetGroups {
		tg, err := lookup(st.TargetGroups, w.TargetGroupIdentifier, "tg", rtTargetGroup, field+".forward.targetGroups.targetGroupIdentifier")
		if err != nil {
			return err
		}
		isTCP := tg.Config != nil && tg.Config.Protocol == "TCP"
		if protocol == "TLS_PASSTHROUGH" && !isTCP {
			return invalidField(field, "a TLS_PASSTHROUGH listener can forward only to TCP target groups, %s is not", tg.ID)
		}
		if protocol != "TLS_PASSTHROUGH" && isTCP {
			return invalidField(field, "TCP target group %s can be used only behind a TLS_PASSTHROUGH listener", tg.ID)
		}
		for _, other := range users[tg.ID] {
			if other != svc.ID {
				return conflict(rtTargetGroup, tg.ID, "target group %s is already used by service %s; a target group serves a single service", tg.ID, other)
			}
		}
		used[tg.ID] = true
		tgs[i] = store.WeightedTargetGroup{TargetGroupIdentifier: tg.ID, Weight: w.Weight}
	}
	if len(used) > s.quotas.TargetGroupsPerService {
		return quotaExceeded(rtTargetGroup, svc.ID, qcTGsPerService, s.quotas.TargetGroupsPerService)
	}
	a.Forward.TargetGroups = tgs
	return nil
}

func (s *Server) createListener(c *call) (int, json.RawMessage, error) {
	var in struct {
		ClientToken   *string           `json:"clientToken"`
		Name          string            `json:"name"`
		Protocol      string            `json:"protocol"`
		Port          *int32            `json:"port"`
		DefaultAction *store.RuleAction `json:"defaultAction"`
		Tags          map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.clientToken(in.ClientToken)
	v.name("name", in.Name, 3, 63, "listener-")
	v.enum("protocol", in.Protocol, "HTTP", "HTTPS", "TLS_PASSTHROUGH")
	v.int32Range("port", in.Port, 1, 65535)
	v.check(in.Port != nil || in.Protocol != "TLS_PASSTHROUGH", "port", "is required for TLS_PASSTHROUGH")
	v.action("defaultAction", in.DefaultAction)
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	port := int32(80)
	switch {
	case in.Port != nil:
		port = *in.Port
	case in.Protocol == "HTTPS":
		port = 443
	}
	return s.create(c, deref(in.ClientToken), http.StatusCreated, func(st *store.State) (any, error) {
		svc, err := lookup(st.Services, c.params["serviceIdentifier"], "svc", rtService, "serviceIdentifier")
		if err != nil {
			return nil, err
		}
		if in.Protocol == "TLS_PASSTHROUGH" && svc.CustomDomainName == "" {
			return nil, invalidField("protocol", "TLS_PASSTHROUGH needs a service with a customDomainName")
		}
		n := 0
		for _, l := range st.Listeners {
			if l.ServiceID != svc.ID {
				continue
			}
			n++
			if l.Name == in.Name {
				return nil, conflict(rtListener, l.ID, "listener name %s is already in use in service %s", in.Name, svc.ID)
			}
			if l.Port == port {
				return nil, conflict(rtListener, l.ID, "port %d is already used by listener %s", port, l.ID)
			}
		}
		if n >= s.quotas.ListenersPerService {
			return nil, quotaExceeded(rtListener, svc.ID, qcListeners, s.quotas.ListenersPerService)
		}
		if err := s.resolveAction(st, svc, in.Protocol, in.DefaultAction, "defaultAction"); err != nil {
			return nil, err
		}
		now := s.store.Now()
		id := newID("listener")
		arn := svc.ARN + "/listener/" + id
		l := &store.Listener{ID: id, ARN: arn, Name: in.Name, ServiceID: svc.ID, ServiceARN: svc.ARN,
			Protocol: in.Protocol, Port: port, DefaultAction: *in.DefaultAction, DefaultRuleID: newID("rule"),
			CreatedAt: now, LastUpdatedAt: now, Tags: copyTags(in.Tags)}
		st.Listeners[id] = l
		return l, nil
	})
}

func (s *Server) getListener(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		_, l, err := findListener(st, c)
		return l, err
	})
}

func (s *Server) listListeners(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		svc, err := lookup(st.Services, c.params["serviceIdentifier"], "svc", rtService, "serviceIdentifier")
		if err != nil {
			return nil, err
		}
		return list(c, store.SortedKeys(st.Listeners), func(id string) bool { return st.Listeners[id].ServiceID == svc.ID },
			func(id string) *store.Listener { return st.Listeners[id] })
	})
}

func (s *Server) updateListener(c *call) (int, json.RawMessage, error) {
	var in struct {
		DefaultAction *store.RuleAction `json:"defaultAction"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.action("defaultAction", in.DefaultAction)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		svc, l, err := findListener(st, c)
		if err != nil {
			return nil, err
		}
		if err := s.resolveAction(st, svc, l.Protocol, in.DefaultAction, "defaultAction"); err != nil {
			return nil, err
		}
		l.DefaultAction = *in.DefaultAction
		l.LastUpdatedAt = s.store.Now()
		return l, nil
	})
}

func (s *Server) deleteListener(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusNoContent, func(st *store.State) (any, error) {
		_, l, err := findListener(st, c)
		if err != nil {
			return nil, err
		}
		st.DeleteListener(l.ID)
		return nil, nil
	})
}
