package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// ruleOut is every rule answer; the default rule has no match and no priority.
type ruleOut struct {
	ARN           string           `json:"arn"`
	ID            string           `json:"id"`
	Name          string           `json:"name"`
	IsDefault     bool             `json:"isDefault"`
	Match         *store.RuleMatch `json:"match,omitempty"`
	Priority      *int32           `json:"priority,omitempty"`
	Action        store.RuleAction `json:"action"`
	CreatedAt     time.Time        `json:"createdAt"`
	LastUpdatedAt time.Time        `json:"lastUpdatedAt"`
}

func renderRule(r *store.Rule) ruleOut {
	m, p := r.Match, r.Priority
	return ruleOut{ARN: r.ARN, ID: r.ID, Name: r.Name, Match: &m, Priority: &p, Action: r.Action,
		CreatedAt: r.CreatedAt, LastUpdatedAt: r.LastUpdatedAt}
}

func renderDefaultRule(l *store.Listener) ruleOut {
	return ruleOut{ARN: l.ARN + "/rule/" + l.DefaultRuleID, ID: l.DefaultRuleID, Name: "default", IsDefault: true,
		Action: l.DefaultAction, CreatedAt: l.CreatedAt, LastUpdatedAt: l.LastUpdatedAt}
}

// normaliseMatch makes headerMatches an empty list rather than null, as the real API answers.
func normaliseMatch(m *store.RuleMatch) {
	if m.HTTPMatch != nil && m.HTTPMatch.HeaderMatches == nil {
		m.HTTPMatch.HeaderMatches = []store.HeaderMatch{}
	}
}

// findRule resolves a rule path; isDefault reports the listener's default rule (r is nil then).
func findRule(st *store.State, c *call, ident string) (svc *store.Service, l *store.Listener, r *store.Rule, isDefault bool, err error) {
	svc, l, err = findListener(st, c)
	if err != nil {
		return nil, nil, nil, false, err
	}
	if !validIdentifier(ident, "rule") {
		return nil, nil, nil, false, invalidField("ruleIdentifier", "must be a rule- ID or its ARN")
	}
	id := idOf(ident)
	if id == l.DefaultRuleID {
		return svc, l, nil, true, nil
	}
	r = st.Rules[id]
	if r == nil || r.ListenerID != l.ID {
		return nil, nil, nil, false, notFound(rtRule, ident)
	}
	return svc, l, r, false, nil
}

func (s *Server) createRule(c *call) (int, json.RawMessage, error) {
	var in struct {
		ClientToken *string           `json:"clientToken"`
		Name        string            `json:"name"`
		Match       *store.RuleMatch  `json:"match"`
		Priority    *int32            `json:"priority"`
		Action      *store.RuleAction `json:"action"`
		Tags        map[string]string `json:"tags"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	var v validator
	v.clientToken(in.ClientToken)
	v.name("name", in.Name, 3, 63, "rule-")
	v.match("match", in.Match)
	v.check(in.Priority != nil, "priority", "is required")
	v.int32Range("priority", in.Priority, 1, 2000)
	v.action("action", in.Action)
	v.tags(in.Tags)
	if err := v.err(); err != nil {
		return 0, nil, err
	}
	return s.create(c, deref(in.ClientToken), http.StatusCreated, func(st *store.State) (any, error) {
		svc, l, err := findListener(st, c)
		if err != nil {
			return nil, err
		}
		if l.Protocol == "TLS_PASSTHROUGH" {
			return nil, invalidField("match", "a TLS_PASSTHROUGH listener has only its default rule")
		}
		n := 0
		for _, r := range st.Rules {
			if r.ListenerID != l.ID {
				continue
			}
			n++
			if r.Name == in.Name {
				return nil, conflict(rtRule, r.ID, "rule name %s is already in use in listener %s", in.Name, l.ID)
			}
			if r.Priority == *in.Priority {
				return nil, conflict(rtRule, r.ID, "priority %d is already used by rule %s", r.Priority, r.ID)
			}
		}
		if n >= s.quotas.RulesPerListener {
			return nil, quotaExceeded(rtRule, l.ID, qcRules, s.quotas.RulesPerListener)
		}
		if err := s.resolveAction(st, svc, l.Protocol, in.Action, "action"); err != nil {
			return nil, err
		}
		normaliseMatch(in.Match)
		now := s.store.Now()
		id := newID("rule")
		r := &store.Rule{ID: id, ARN: l.ARN + "/rule/" + id, Name: in.Name, ListenerID: l.ID, ServiceID: svc.ID,
			Priority: *in.Priority, Match: *in.Match, Action: *in.Action, CreatedAt: now, LastUpdatedAt: now,
			Tags: copyTags(in.Tags)}
		st.Rules[id] = r
		return renderRule(r), nil
	})
}

func (s *Server) getRule(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		_, l, r, isDefault, err := findRule(st, c, c.params["ruleIdentifier"])
		switch {
		case err != nil:
			return nil, err
		case isDefault:
			return renderDefaultRule(l), nil
		}
		return renderRule(r), nil
	})
}

func (s *Server) listRules(c *call) (int, json.RawMessage, error) {
	return s.view(func(st *store.State) (any, error) {
		_, l, err := findListener(st, c)
		if err != nil {
			return nil, err
		}
		ids := []string{l.DefaultRuleID}
		for _, id := range store.SortedKeys(st.Rules) {
			if st.Rules[id].ListenerID == l.ID {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		return list(c, ids, nil, func(id string) ruleOut {
			if id == l.DefaultRuleID {
				return renderDefaultRule(l)
			}
			return renderRule(st.Rules[id])
		})
	})
}

// ruleUpdate is UpdateRule's body and one entry of BatchUpdateRule.
type ruleUpdate struct {
	RuleIdentifier string            `json:"ruleIdentifier"`
	Match          *store.RuleMatch  `json:"match"`
	Priority       *int32            `json:"priority"`
	Action         *store.RuleAction `json:"action"`
}

func (u *ruleUpdate) validate(prefix string) error {
	var v validator
	if u.Match != nil {
		v.match(prefix+"match", u.Match)
	}
	v.int32Range(prefix+"priority", u.Priority, 1, 2000)
	if u.Action != nil {
		v.action(prefix+"action", u.Action)
	}
	return v.err()
}

// prepare checks an update against the state without applying it.
func (s *Server) prepare(st *store.State, c *call, u *ruleUpdate) (*store.Rule, error) {
	svc, l, r, isDefault, err := findRule(st, c, u.RuleIdentifier)
	if err != nil {
		return nil, err
	}
	if isDefault {
		return nil, validationError("other", "the default rule cannot be changed with UpdateRule; use UpdateListener", nil)
	}
	if u.Action != nil {
		if err := s.resolveAction(st, svc, l.Protocol, u.Action, "action"); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (s *Server) apply(r *store.Rule, u *ruleUpdate) ruleOut {
	if u.Match != nil {
		normaliseMatch(u.Match)
		r.Match = *u.Match
	}
	if u.Priority != nil {
		r.Priority = *u.Priority
	}
	if u.Action != nil {
		r.Action = *u.Action
	}
	r.LastUpdatedAt = s.store.Now()
	return renderRule(r)
}

func (s *Server) updateRule(c *call) (int, json.RawMessage, error) {
	var u ruleUpdate
	if err := c.decode(&u); err != nil {
		return 0, nil, err
	}
	u.RuleIdentifier = c.params["ruleIdentifier"]
	if err := u.validate(""); err != nil {
		return 0, nil, err
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		r, err := s.prepare(st, c, &u)
		if err != nil {
			return nil, err
		}
		if u.Priority != nil {
			for _, o := range st.Rules {
				if o.ListenerID == r.ListenerID && o.ID != r.ID && o.Priority == *u.Priority {
					return nil, conflict(rtRule, o.ID, "priority %d is already used by rule %s", o.Priority, o.ID)
				}
			}
		}
		return s.apply(r, &u), nil
	})
}

type ruleFailure struct {
	RuleIdentifier string `json:"ruleIdentifier"`
	FailureCode    string `json:"failureCode"`
	FailureMessage string `json:"failureMessage"`
}

// batchUpdateRule applies several updates at once, so priorities can be swapped; an update that
// fails, or whose final priority would clash, is reported in unsuccessful and not applied.
func (s *Server) batchUpdateRule(c *call) (int, json.RawMessage, error) {
	var in struct {
		Rules []ruleUpdate `json:"rules"`
	}
	if err := c.decode(&in); err != nil {
		return 0, nil, err
	}
	if len(in.Rules) < 1 || len(in.Rules) > 10 {
		return 0, nil, invalidField("rules", "must have 1 to 10 entries")
	}
	for i := range in.Rules {
		if in.Rules[i].RuleIdentifier == "" {
			return 0, nil, invalidField(fmt.Sprintf("rules[%d].ruleIdentifier", i), "is required")
		}
	}
	return s.update(http.StatusOK, func(st *store.State) (any, error) {
		_, l, err := findListener(st, c)
		if err != nil {
			return nil, err
		}
		out := struct {
			Successful   []ruleOut     `json:"successful"`
			Unsuccessful []ruleFailure `json:"unsuccessful"`
		}{Successful: []ruleOut{}, Unsuccessful: []ruleFailure{}}
		fail := func(u *ruleUpdate, err error) {
			f := ruleFailure{RuleIdentifier: u.RuleIdentifier, FailureCode: "InternalServerException", FailureMessage: err.Error()}
			var ae *apiError
			if errors.As(err, &ae) {
				f.FailureCode, f.FailureMessage = ae.Type, ae.Message
			}
			out.Unsuccessful = append(out.Unsuccessful, f)
		}
		ok := map[int]*store.Rule{}
		for i := range in.Rules {
			u := &in.Rules[i]
			if err := u.validate(fmt.Sprintf("rules[%d].", i)); err != nil {
				fail(u, err)
				continue
			}
			r, err := s.prepare(st, c, u)
			if err != nil {
				fail(u, err)
				continue
			}
			ok[i] = r
		}
		// Drop updates whose final priority clashes until the rest is consistent; each round
		// removes at least one, so this ends.
		for {
			final := map[string]int32{}
			for _, r := range st.Rules {
				if r.ListenerID == l.ID {
					final[r.ID] = r.Priority
				}
			}
			for i, r := range ok {
				if p := in.Rules[i].Priority; p != nil {
					final[r.ID] = *p
				}
			}
			owners := map[int32][]string{}
			for id, p := range final {
				owners[p] = append(owners[p], id)
			}
			clash := -1
			for i := range in.Rules {
				if r := ok[i]; r != nil && len(owners[final[r.ID]]) > 1 && in.Rules[i].Priority != nil {
					clash = i
					break
				}
			}
			if clash < 0 {
				break
			}
			fail(&in.Rules[clash], conflict(rtRule, ok[clash].ID, "priority %d would be used by more than one rule", *in.Rules[clash].Priority))
			delete(ok, clash)
		}
		for i := range in.Rules {
			if r := ok[i]; r != nil {
				out.Successful = append(out.Successful, s.apply(r, &in.Rules[i]))
			}
		}
		return out, nil
	})
}

func (s *Server) deleteRule(c *call) (int, json.RawMessage, error) {
	return s.update(http.StatusNoContent, func(st *store.State) (any, error) {
		_, _, r, isDefault, err := findRule(st, c, c.params["ruleIdentifier"])
		switch {
		case err != nil:
			return nil, err
		case isDefault:
			return nil, validationError("other", "the default rule cannot be deleted", nil)
		}
		delete(st.Rules, r.ID)
		return nil, nil
	})
}
