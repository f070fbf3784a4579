package deploy

import (
	"maps"
	"reflect"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// The conversions below go between the model (target groups by name) and the API (target groups
// by ID). The observed state keeps actions by name so that comparing desired and actual needs no
// IDs, which do not exist yet when a plan is made.

func toRuleMatch(m model.HTTPMatch) types.RuleMatch {
	hm := types.HttpMatch{HeaderMatches: []types.HeaderMatch{}}
	if m.Method != "" {
		hm.Method = aws.String(m.Method)
	}
	if m.Path != nil {
		pm := &types.PathMatch{CaseSensitive: aws.Bool(m.Path.CaseSensitive)}
		if m.Path.Type == model.MatchExact {
			pm.Match = &types.PathMatchTypeMemberExact{Value: m.Path.Value}
		} else {
			pm.Match = &types.PathMatchTypeMemberPrefix{Value: m.Path.Value}
		}
		hm.PathMatch = pm
	}
	for _, h := range m.Headers {
		var mt types.HeaderMatchType
		switch h.Type {
		case model.MatchPrefix:
			mt = &types.HeaderMatchTypeMemberPrefix{Value: h.Value}
		case model.MatchContains:
			mt = &types.HeaderMatchTypeMemberContains{Value: h.Value}
		default:
			mt = &types.HeaderMatchTypeMemberExact{Value: h.Value}
		}
		hm.HeaderMatches = append(hm.HeaderMatches, types.HeaderMatch{
			Name: aws.String(h.Name), Match: mt, CaseSensitive: aws.Bool(h.CaseSensitive),
		})
	}
	return &types.RuleMatchMemberHttpMatch{Value: hm}
}

func fromRuleMatch(rm types.RuleMatch) model.HTTPMatch {
	var m model.HTTPMatch
	hmm, ok := rm.(*types.RuleMatchMemberHttpMatch)
	if !ok {
		return m
	}
	hm := hmm.Value
	m.Method = aws.ToString(hm.Method)
	if hm.PathMatch != nil {
		p := &model.PathMatch{CaseSensitive: aws.ToBool(hm.PathMatch.CaseSensitive)}
		switch v := hm.PathMatch.Match.(type) {
		case *types.PathMatchTypeMemberExact:
			p.Type, p.Value = model.MatchExact, v.Value
		case *types.PathMatchTypeMemberPrefix:
			p.Type, p.Value = model.MatchPrefix, v.Value
		}
		m.Path = p
	}
	for _, h := range hm.HeaderMatches {
		hdr := model.HeaderMatch{Name: aws.ToString(h.Name), CaseSensitive: aws.ToBool(h.CaseSensitive)}
		switch v := h.Match.(type) {
		case *types.HeaderMatchTypeMemberExact:
			hdr.Type, hdr.Value = model.MatchExact, v.Value
		case *types.HeaderMatchTypeMemberPrefix:
			hdr.Type, hdr.Value = model.MatchPrefix, v.Value
		case *types.HeaderMatchTypeMemberContains:
			hdr.Type, hdr.Value = model.MatchContains, v.Value
		}
		m.Headers = append(m.Headers, hdr)
	}
	return m
}

// toRuleAction resolves target-group names to IDs with idOf.
func toRuleAction(a model.Action, idOf func(name string) string) types.RuleAction {
	if len(a.Forward) == 0 {
		return &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(a.FixedResponse)}}
	}
	fwd := types.ForwardAction{}
	for _, w := range a.Forward {
		fwd.TargetGroups = append(fwd.TargetGroups, types.WeightedTargetGroup{
			TargetGroupIdentifier: aws.String(idOf(w.TargetGroup)), Weight: aws.Int32(w.Weight),
		})
	}
	return &types.RuleActionMemberForward{Value: fwd}
}

// fromRuleAction maps target-group IDs back to names with nameOf.
func fromRuleAction(ra types.RuleAction, nameOf func(id string) string) model.Action {
	switch v := ra.(type) {
	case *types.RuleActionMemberForward:
		var a model.Action
		for _, w := range v.Value.TargetGroups {
			a.Forward = append(a.Forward, model.WeightedTargetGroup{
				TargetGroup: nameOf(aws.ToString(w.TargetGroupIdentifier)), Weight: aws.ToInt32(w.Weight),
			})
		}
		return a
	case *types.RuleActionMemberFixedResponse:
		return model.Action{FixedResponse: aws.ToInt32(v.Value.StatusCode)}
	}
	return model.Action{}
}

func toTargets(ts []model.Target) []types.Target {
	out := make([]types.Target, 0, len(ts))
	for _, t := range ts {
		out = append(out, types.Target{Id: aws.String(t.IP), Port: aws.Int32(t.Port)})
	}
	return out
}

// sameMatch compares matches as Lattice does: no headers and an empty header list are equal.
func sameMatch(a, b model.HTTPMatch) bool {
	if len(a.Headers) == 0 && len(b.Headers) == 0 {
		a.Headers, b.Headers = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func sameAction(a, b model.Action) bool {
	return slices.Equal(a.Forward, b.Forward) && a.FixedResponse == b.FixedResponse
}

// missingTags returns the entries of want that have is lacks or holds with another value.
func missingTags(want, have map[string]string) map[string]string {
	var out map[string]string
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func mergeTags(dst map[string]string, src map[string]string) map[string]string {
	if dst == nil {
		dst = map[string]string{}
	}
	maps.Copy(dst, src)
	return dst
}
