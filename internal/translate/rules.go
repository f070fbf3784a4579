package translate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// ruleState is one Gateway API route rule.
type ruleState struct {
	index int
	// name is the rule's optional name (HTTPRouteNamedRouteRule, GRPCRouteNamedRouteRule).
	name     string
	label    string
	matches  []matchState
	backends []backendSpec
	// invalid lists why the rule cannot be expressed in Lattice; such rules are dropped and
	// reported with PartiallyInvalid (or reject the route when no rule is left).
	invalid []string
	action  model.Action
}

// matchState is one Gateway API match: one or two Lattice matches with a precedence rank.
type matchState struct {
	index int
	// rank orders matches by the spec's precedence, compared element-wise, larger first.
	rank   [4]int
	pieces []piece
}

// piece is one Lattice rule a match expands into.
type piece struct {
	suffix string
	match  model.HTTPMatch
}

type backendSpec struct {
	ref    gwv1.BackendObjectReference
	weight int64
}

func newRuleState(i int, name *gwv1.SectionName) *ruleState {
	rs := &ruleState{index: i, label: ruleLabel(i, name)}
	if name != nil {
		rs.name = string(*name)
	}
	return rs
}

// maxRuleNameLen is the Lattice rule-name limit.
const maxRuleNameLen = 63

// latticeRuleName is "r<rule>-m<match><suffix>", with the rule's name after the number when it
// has one ("r2-checkout-m1"), so the Lattice console and plans show it. The rule number keeps
// names unique whatever users call their rules; names that break Lattice's rules or length are
// cut and hashed.
func latticeRuleName(route model.RouteKey, rs *ruleState, match int, suffix string) string {
	if rs.name == "" {
		return fmt.Sprintf("r%d-m%d%s", rs.index+1, match+1, suffix)
	}
	want := fmt.Sprintf("r%d-%s-m%d%s", rs.index+1, rs.name, match+1, suffix)
	return latticeName(want, maxRuleNameLen, "", route.String(), want)
}

func ruleLabel(i int, name *gwv1.SectionName) string {
	if name != nil && *name != "" {
		return fmt.Sprintf("rule %d (%s)", i+1, *name)
	}
	return fmt.Sprintf("rule %d", i+1)
}

// weightOf applies the spec default of 1; negative weights (possible in files that skipped CRD
// validation) count as 0.
func weightOf(w *int32) int64 {
	if w == nil {
		return 1
	}
	return max(0, int64(*w))
}

var httpMethods = map[gwv1.HTTPMethod]bool{
	gwv1.HTTPMethodGet: true, gwv1.HTTPMethodHead: true, gwv1.HTTPMethodPost: true, gwv1.HTTPMethodPut: true,
	gwv1.HTTPMethodDelete: true, gwv1.HTTPMethodConnect: true, gwv1.HTTPMethodOptions: true,
	gwv1.HTTPMethodTrace: true, gwv1.HTTPMethodPatch: true,
}

func (t *translator) httpRoute(hr *gwv1.HTTPRoute) *routeState {
	r := newRouteState(model.KindHTTPRoute, &hr.ObjectMeta, hr.Spec.CommonRouteSpec, hr.Spec.Hostnames, hr.Status.Parents, t.cfg.ControllerName)
	rules := hr.Spec.Rules
	if len(rules) == 0 {
		rules = []gwv1.HTTPRouteRule{{}} // the CRD default: one rule matching every request
	}
	mode, set := hr.Annotations[AnnotationPathPrefix]
	stringPrefix := mode == PathPrefixString
	if set && !stringPrefix {
		r.notes = append(r.notes, fmt.Sprintf("annotation %s=%q is ignored: the only value is %q", AnnotationPathPrefix, mode, PathPrefixString))
	}
	for i := range rules {
		rule := &rules[i]
		rs := newRuleState(i, rule.Name)
		if len(rule.Filters) > 0 {
			rs.invalid = append(rs.invalid, "filters ("+filterTypes(rule.Filters)+") are not supported by VPC Lattice")
		}
		if rule.Timeouts != nil {
			rs.invalid = append(rs.invalid, "timeouts are not supported by VPC Lattice")
		}
		if rule.Retry != nil {
			rs.invalid = append(rs.invalid, "retry is not supported by VPC Lattice")
		}
		if rule.SessionPersistence != nil {
			rs.invalid = append(rs.invalid, "sessionPersistence is not supported by VPC Lattice")
		}
		addMatches(rs, rule.Matches, func(m *gwv1.HTTPRouteMatch) (matchState, string) { return t.httpMatch(m, stringPrefix) })
		for _, b := range rule.BackendRefs {
			if len(b.Filters) > 0 {
				rs.invalid = append(rs.invalid, "backendRef filters ("+filterTypes(b.Filters)+") are not supported by VPC Lattice")
			}
			rs.backends = append(rs.backends, backendSpec{ref: b.BackendObjectReference, weight: weightOf(b.Weight)})
		}
		r.rules = append(r.rules, rs)
	}
	return r
}

// filterTypes names the filters' types for a Dropped Rule message, for HTTPRoute and GRPCRoute
// filters alike.
func filterTypes[F gwv1.HTTPRouteFilter | gwv1.GRPCRouteFilter](fs []F) string {
	names := make([]string, len(fs))
	for i := range fs {
		switch f := any(fs[i]).(type) {
		case gwv1.HTTPRouteFilter:
			names[i] = string(f.Type)
		case gwv1.GRPCRouteFilter:
			names[i] = string(f.Type)
		}
	}
	return strings.Join(names, ", ")
}

// addMatches converts a rule's matches (none: one that matches everything) with convert, keeping
// the valid ones in rs.matches and the reason for each invalid one in rs.invalid.
func addMatches[M any](rs *ruleState, matches []M, convert func(*M) (matchState, string)) {
	if len(matches) == 0 {
		matches = make([]M, 1)
	}
	for j := range matches {
		ms, err := convert(&matches[j])
		if err != "" {
			rs.invalid = append(rs.invalid, fmt.Sprintf("match %d: %s", j+1, err))
			continue
		}
		ms.index = j
		rs.matches = append(rs.matches, ms)
	}
}

// httpMatch maps one HTTPRouteMatch. Gateway API PathPrefix matches whole path elements ("/abc"
// matches "/abc" and "/abc/x" but not "/abcd") while a Lattice prefix is a plain string prefix, so
// a non-root PathPrefix becomes two Lattice matches: exact "/abc" and prefix "/abc/"; with
// stringPrefix (AnnotationPathPrefix) it becomes upstream's one prefix "/abc".
func (t *translator) httpMatch(m *gwv1.HTTPRouteMatch, stringPrefix bool) (matchState, string) {
	var ms matchState
	if len(m.QueryParams) > 0 {
		return ms, "query parameter matches are not supported by VPC Lattice"
	}
	base := model.HTTPMatch{}
	if m.Method != nil {
		if !httpMethods[*m.Method] {
			return ms, fmt.Sprintf("method %q is not supported", *m.Method)
		}
		base.Method = string(*m.Method)
		ms.rank[2] = 1
	}
	headers, err := t.headerMatches(headerList(m.Headers))
	if err != "" {
		return ms, err
	}
	base.Headers = headers
	ms.rank[3] = len(headers)

	typ, value := gwv1.PathMatchPathPrefix, "/"
	if m.Path != nil {
		if m.Path.Type != nil {
			typ = *m.Path.Type
		}
		if m.Path.Value != nil {
			value = *m.Path.Value
		}
	}
	switch typ {
	case gwv1.PathMatchExact:
		if err := checkPath(value); err != "" {
			return ms, err
		}
		ms.rank[0] = 1
		ms.pieces = []piece{{match: withPath(base, model.MatchExact, value)}}
	case gwv1.PathMatchPathPrefix:
		ms.rank[1] = len(value)
		trimmed := strings.TrimRight(value, "/")
		if trimmed == "" {
			ms.pieces = []piece{{match: withPath(base, model.MatchPrefix, "/")}}
			break
		}
		if err := checkPath(trimmed + "/"); err != "" {
			return ms, err
		}
		if stringPrefix {
			ms.pieces = []piece{{match: withPath(base, model.MatchPrefix, value)}}
			break
		}
		ms.pieces = []piece{
			{suffix: "-exact", match: withPath(base, model.MatchExact, trimmed)},
			{match: withPath(base, model.MatchPrefix, trimmed+"/")},
		}
	case gwv1.PathMatchRegularExpression:
		lm, err := regexLiteral(value, model.MatchExact, model.MatchPrefix)
		if err == "" {
			err = checkPath(lm.value)
		}
		if err != "" {
			return ms, "path: " + err
		}
		if lm.typ == model.MatchExact {
			ms.rank[0] = 1
		} else {
			ms.rank[1] = len(lm.value)
		}
		p := withPath(base, lm.typ, lm.value)
		p.Path.CaseSensitive = lm.caseSensitive
		ms.pieces = []piece{{match: p}}
	default:
		return ms, fmt.Sprintf("path match type %s is not supported by VPC Lattice (Exact, PathPrefix and literal RegularExpressions are)", typ)
	}
	return ms, ""
}

func withPath(m model.HTTPMatch, typ, value string) model.HTTPMatch {
	m.Path = &model.PathMatch{Type: typ, Value: value, CaseSensitive: true}
	return m
}

// checkPath applies the Lattice path limits: 1-200 characters from [a-zA-Z0-9@:%_+.~#?&/=-],
// starting with '/'.
func checkPath(p string) string {
	if len(p) > 200 || !strings.HasPrefix(p, "/") {
		return fmt.Sprintf("path %q: VPC Lattice needs a path of at most 200 characters starting with '/'", p)
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("@:%_+.~#?&/=-", c)) {
			return fmt.Sprintf("path %q: character %q is not allowed by VPC Lattice", p, c)
		}
	}
	return ""
}

// header is the kind-neutral view of an HTTP or gRPC header match.
type header struct {
	name, value string
	regex       bool
}

func headerList(hs []gwv1.HTTPHeaderMatch) []header {
	out := make([]header, len(hs))
	for i, h := range hs {
		out[i] = header{name: string(h.Name), value: h.Value, regex: h.Type != nil && *h.Type != gwv1.HeaderMatchExact}
	}
	return out
}

// headerMatches maps exact header matches, and regular expressions that are a literal, a literal
// prefix or a contained literal; the first of several equivalent names wins, as the spec says.
// Lattice compares names case-insensitively and values case-sensitively when asked.
func (t *translator) headerMatches(hs []header) ([]model.HeaderMatch, string) {
	var out []model.HeaderMatch
	seen := map[string]bool{}
	for _, h := range hs {
		key := strings.ToLower(h.name)
		if seen[key] {
			continue
		}
		seen[key] = true
		hm := model.HeaderMatch{Name: h.name, Type: model.MatchExact, Value: h.value, CaseSensitive: true}
		if h.regex {
			lm, err := regexLiteral(h.value, model.MatchExact, model.MatchPrefix, model.MatchContains)
			if err != "" {
				return nil, fmt.Sprintf("header %s: %s", h.name, err)
			}
			hm.Type, hm.Value, hm.CaseSensitive = lm.typ, lm.value, lm.caseSensitive
		}
		if len(hm.Name) > 100 || len(hm.Value) > 200 || hm.Value == "" {
			return nil, fmt.Sprintf("header %s: VPC Lattice allows names up to 100 and values of 1-200 characters", h.name)
		}
		out = append(out, hm)
	}
	if len(out) > t.cfg.Quotas.HeaderMatchesPerRule {
		return nil, fmt.Sprintf("%d header matches exceed the VPC Lattice limit of %d per rule", len(out), t.cfg.Quotas.HeaderMatchesPerRule)
	}
	return out, ""
}

func (t *translator) grpcRoute(gr *gwv1.GRPCRoute) *routeState {
	r := newRouteState(model.KindGRPCRoute, &gr.ObjectMeta, gr.Spec.CommonRouteSpec, gr.Spec.Hostnames, gr.Status.Parents, t.cfg.ControllerName)
	rules := gr.Spec.Rules
	if len(rules) == 0 {
		rules = []gwv1.GRPCRouteRule{{}}
	}
	for i := range rules {
		rule := &rules[i]
		rs := newRuleState(i, rule.Name)
		if len(rule.Filters) > 0 {
			rs.invalid = append(rs.invalid, "filters ("+filterTypes(rule.Filters)+") are not supported by VPC Lattice")
		}
		if rule.SessionPersistence != nil {
			rs.invalid = append(rs.invalid, "sessionPersistence is not supported by VPC Lattice")
		}
		addMatches(rs, rule.Matches, t.grpcMatch)
		for _, b := range rule.BackendRefs {
			if len(b.Filters) > 0 {
				rs.invalid = append(rs.invalid, "backendRef filters ("+filterTypes(b.Filters)+") are not supported by VPC Lattice")
			}
			rs.backends = append(rs.backends, backendSpec{ref: b.BackendObjectReference, weight: weightOf(b.Weight)})
		}
		r.rules = append(r.rules, rs)
	}
	return r
}

// grpcMatch maps service/method onto the HTTP/2 path /<service>/<method>, always with POST.
// A method without a service would need a suffix match, which Lattice lacks.
func (t *translator) grpcMatch(m *gwv1.GRPCRouteMatch) (matchState, string) {
	var ms matchState
	hs := make([]header, len(m.Headers))
	for i, h := range m.Headers {
		hs[i] = header{name: string(h.Name), value: h.Value, regex: h.Type != nil && *h.Type != gwv1.GRPCHeaderMatchExact}
	}
	headers, err := t.headerMatches(hs)
	if err != "" {
		return ms, err
	}
	base := model.HTTPMatch{Method: string(gwv1.HTTPMethodPost), Headers: headers}
	ms.rank[2] = len(headers)
	var service, method string
	if mm := m.Method; mm != nil {
		if mm.Type != nil && *mm.Type != gwv1.GRPCMethodMatchExact {
			return ms, "only Exact gRPC method matches are supported by VPC Lattice"
		}
		if mm.Service != nil {
			service = *mm.Service
		}
		if mm.Method != nil {
			method = *mm.Method
		}
	}
	ms.rank[0], ms.rank[1] = len(service), len(method)
	var p model.HTTPMatch
	switch {
	case service == "" && method == "":
		p = withPath(base, model.MatchPrefix, "/")
	case service == "":
		return ms, "a method match without a service is not supported: VPC Lattice has no path suffix match"
	case method == "":
		p = withPath(base, model.MatchPrefix, "/"+service+"/")
	default:
		p = withPath(base, model.MatchExact, "/"+service+"/"+method)
	}
	if err := checkPath(p.Path.Value); err != "" {
		return ms, err
	}
	ms.pieces = []piece{{match: p}}
	return ms, ""
}

func (t *translator) tlsRoute(tr *gwv1.TLSRoute) *routeState {
	r := newRouteState(model.KindTLSRoute, &tr.ObjectMeta, tr.Spec.CommonRouteSpec, tr.Spec.Hostnames, tr.Status.Parents, t.cfg.ControllerName)
	if len(tr.Spec.Rules) != 1 {
		r.reject(fmt.Sprintf("a TLSRoute needs exactly one rule, found %d", len(tr.Spec.Rules)))
	}
	for i := range tr.Spec.Rules {
		rule := &tr.Spec.Rules[i]
		rs := newRuleState(i, rule.Name)
		for _, b := range rule.BackendRefs {
			rs.backends = append(rs.backends, backendSpec{ref: b.BackendObjectReference, weight: weightOf(b.Weight)})
		}
		r.rules = append(r.rules, rs)
	}
	return r
}

// rankedPiece is one candidate Lattice rule during ordering.
type rankedPiece struct {
	rule  *ruleState
	match *matchState
	piece piece
}

// buildRules resolves backends, orders the matches of valid rules by Gateway API precedence,
// enforces the rules-per-listener quota by dropping whole rules of lowest precedence, and
// numbers the Lattice rules 1..N.
func (t *translator) buildRules(r *routeState) {
	tgs := map[string]model.TargetGroup{}
	for _, rs := range r.rules {
		if len(rs.invalid) == 0 {
			t.ruleAction(r, rs, tgs)
		}
	}
	r.targetGroups = tgs
	if r.key.Kind == model.KindTLSRoute {
		if dropped := r.droppedRules(); len(dropped) > 0 {
			r.reject(strings.Join(dropped, "; "))
		}
		return
	}
	var cands []rankedPiece
	for _, rs := range r.rules {
		if len(rs.invalid) > 0 {
			continue
		}
		for mi := range rs.matches {
			for _, p := range rs.matches[mi].pieces {
				cands = append(cands, rankedPiece{rule: rs, match: &rs.matches[mi], piece: p})
			}
		}
	}
	order := rulePriorities(r)
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if order != nil && order[a.rule] != order[b.rule] {
			return order[a.rule] < order[b.rule]
		}
		if a.match.rank != b.match.rank {
			for k := range a.match.rank {
				if a.match.rank[k] != b.match.rank[k] {
					return a.match.rank[k] > b.match.rank[k]
				}
			}
		}
		if a.rule.index != b.rule.index {
			return a.rule.index < b.rule.index
		}
		return a.match.index < b.match.index
	})

	kept := map[*ruleState]bool{}
	count := 0
	why := t.quotaExcess(r)
	for _, c := range cands {
		if _, decided := kept[c.rule]; decided {
			continue
		}
		n := 0
		for _, m := range c.rule.matches {
			n += len(m.pieces)
		}
		kept[c.rule] = count+n <= t.cfg.Quotas.RulesPerListener
		if kept[c.rule] {
			count += n
		} else {
			c.rule.invalid = append(c.rule.invalid, fmt.Sprintf("its %d Lattice rules would exceed the limit of %d rules per listener%s", n, t.cfg.Quotas.RulesPerListener, why))
		}
	}
	prio := int32(0)
	for _, c := range cands {
		if !kept[c.rule] {
			continue
		}
		prio++
		r.latticeRules = append(r.latticeRules, model.Rule{
			Name:     latticeRuleName(r.key, c.rule, c.match.index, c.piece.suffix),
			Priority: prio,
			Match:    c.piece.match,
			Action:   c.rule.action,
			Tags:     map[string]string{model.TagManagedBy: t.managedBy},
		})
	}
	if len(r.latticeRules) == 0 {
		r.reject("no rule can be programmed: " + strings.Join(r.droppedRules(), "; "))
	}
}

// rulePriorities orders a route's rules by upstream's rule-<i>-priority annotations (i counts
// rules from 0): annotated rules by their value, the others after them in rule order, as upstream
// assigns max+1, max+2, ... The Lattice rules are then numbered 1..N in that order (a rule may
// take several). nil when no rule is annotated: Gateway API precedence applies.
func rulePriorities(r *routeState) map[*ruleState]int64 {
	order := map[*ruleState]int64{}
	top := int64(0)
	for _, rs := range r.rules {
		key := fmt.Sprintf(annotationRulePriority, rs.index)
		v, ok := r.meta.Annotations[key]
		if !ok {
			continue
		}
		p, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			r.notes = append(r.notes, fmt.Sprintf("annotation %s=%q is ignored: not an integer", key, v))
			continue
		}
		order[rs] = p
		top = max(top, p)
	}
	if len(order) == 0 {
		return nil
	}
	r.notes = append(r.notes, "rule order follows the rule-<i>-priority annotations, not Gateway API precedence")
	for _, rs := range r.rules {
		if _, ok := order[rs]; !ok {
			top++
			order[rs] = top
		}
	}
	return order
}

// quotaExcess explains a rules-per-listener overflow that only the spec's two-rule PathPrefix
// causes: "" when the route fits the quota, or would not fit it with one rule per prefix either.
func (t *translator) quotaExcess(r *routeState) string {
	pieces, single := 0, 0
	for _, rs := range r.rules {
		if len(rs.invalid) > 0 {
			continue
		}
		for _, m := range rs.matches {
			pieces += len(m.pieces)
			single++
		}
	}
	if pieces <= t.cfg.Quotas.RulesPerListener || single > t.cfg.Quotas.RulesPerListener {
		return ""
	}
	return fmt.Sprintf(" only because each PathPrefix match takes two Lattice rules (exact and prefix, to match whole path elements): the route needs %d rules, %d with one string-prefix rule per PathPrefix as upstream does; annotation %s: %q opts in to that",
		pieces, single, AnnotationPathPrefix, PathPrefixString)
}

// droppedRules describes the rules that are not programmed.
func (r *routeState) droppedRules() []string {
	var out []string
	for _, rs := range r.rules {
		if len(rs.invalid) > 0 {
			out = append(out, rs.label+": "+strings.Join(rs.invalid, ", "))
		}
	}
	return out
}
