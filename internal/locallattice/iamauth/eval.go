package iamauth

import (
	"net/netip"
	"strconv"
	"strings"
)

// ActionInvoke is the action of every HTTP request to a Lattice service.
const ActionInvoke = "vpc-lattice-svcs:Invoke"

// Principal is an authenticated caller.
type Principal struct {
	ARN string
	// OrgID is the principal's AWS Organizations ID (aws:PrincipalOrgID), empty for none.
	OrgID string
	Tags  map[string]string
}

// Account is the account ID in the principal's ARN.
func (p *Principal) Account() string {
	parts := strings.SplitN(p.ARN, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// Request is what a policy is evaluated against.
type Request struct {
	// Principal is nil for an unsigned (anonymous) request.
	Principal *Principal
	Action    string
	Resource  string
	// Keys are the request's condition keys (vpc-lattice-svcs:*, aws:SourceIp, …), lower case.
	// Principal keys (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalTag/*) are derived
	// from Principal.
	Keys map[string]string
}

func (r *Request) value(key string) (string, bool) {
	if v, ok := r.Keys[key]; ok {
		return v, true
	}
	if r.Principal == nil {
		// The console's "authenticated only" template tests StringNotEqualsIgnoreCase
		// aws:PrincipalType "anonymous".
		return "Anonymous", key == "aws:principaltype"
	}
	switch key {
	case "aws:principalarn":
		return r.Principal.ARN, true
	case "aws:principalaccount":
		return r.Principal.Account(), true
	case "aws:principaltype":
		return principalType(r.Principal.ARN), true
	case "aws:principalorgid":
		return r.Principal.OrgID, r.Principal.OrgID != ""
	}
	if tag, ok := strings.CutPrefix(key, "aws:principaltag/"); ok {
		for k, v := range r.Principal.Tags {
			if strings.EqualFold(k, tag) {
				return v, true
			}
		}
	}
	return "", false
}

func principalType(arn string) string {
	switch {
	case strings.Contains(arn, ":assumed-role/"):
		return "AssumedRole"
	case strings.HasSuffix(arn, ":root"):
		return "Account"
	case strings.Contains(arn, ":user/"):
		return "User"
	}
	return "Role"
}

// Decision is a policy's answer for one request.
type Decision int

// Decisions: no statement applies (an implicit deny), an Allow applies, or a Deny applies.
const (
	NotAllowed Decision = iota
	Allowed
	Denied
)

// Evaluate applies every statement: an explicit Deny wins over any Allow.
func (p *Policy) Evaluate(r *Request) Decision {
	out := NotAllowed
	for i := range p.Statements {
		s := &p.Statements[i]
		if !s.applies(r) {
			continue
		}
		if !s.Allow {
			return Denied
		}
		out = Allowed
	}
	return out
}

func (s *Statement) applies(r *Request) bool {
	switch {
	case s.Principals != nil && !s.Principals.matches(r.Principal):
		return false
	case s.NotPrincipal != nil && s.NotPrincipal.matches(r.Principal):
		return false
	case s.Principals == nil && s.NotPrincipal == nil:
		// Resource policies name a principal; a statement without one applies to nobody.
		return false
	case !listMatches(s.Actions, s.NotActions, r.Action, true):
		return false
	case !listMatches(s.Resources, s.NotResources, r.Resource, false):
		return false
	}
	for i := range s.Conditions {
		if !s.Conditions[i].holds(r) {
			return false
		}
	}
	return true
}

// listMatches: the value matches one pattern of pos, or (with neg set) none of neg. An absent
// Resource element means every resource.
func listMatches(pos, neg []string, v string, fold bool) bool {
	if neg != nil {
		return !anyGlob(neg, v, fold)
	}
	return pos == nil || anyGlob(pos, v, fold)
}

func anyGlob(patterns []string, v string, fold bool) bool {
	for _, p := range patterns {
		if glob(p, v, fold) {
			return true
		}
	}
	return false
}

func (ps *principalSet) matches(p *Principal) bool {
	if ps.any {
		return true
	}
	if p == nil {
		return false
	}
	account := p.Account()
	for _, a := range ps.aws {
		switch {
		case a == p.ARN, a == account, a == "arn:aws:iam::"+account+":root":
			return true
		case strings.HasPrefix(p.ARN, "arn:aws:sts::") && a == assumedRoleToRole(p.ARN):
			// A role grants its sessions access.
			return true
		}
	}
	return false
}

// assumedRoleToRole maps arn:aws:sts::acct:assumed-role/Name/session to arn:aws:iam::acct:role/Name.
func assumedRoleToRole(arn string) string {
	rest, ok := strings.CutPrefix(arn, "arn:aws:sts::")
	if !ok {
		return ""
	}
	acct, res, ok := strings.Cut(rest, ":assumed-role/")
	if !ok {
		return ""
	}
	role, _, _ := strings.Cut(res, "/")
	return "arn:aws:iam::" + acct + ":role/" + role
}

// SessionName is the session of an assumed-role ARN, empty otherwise.
func SessionName(arn string) string {
	_, res, ok := strings.Cut(arn, ":assumed-role/")
	if !ok {
		return ""
	}
	_, session, _ := strings.Cut(res, "/")
	return session
}

func (c *condition) holds(r *Request) bool {
	v, ok := r.value(c.key)
	if !ok {
		if c.op.name == "Null" {
			return anyValue(c.values, func(want string) bool { return strings.EqualFold(want, "true") })
		}
		// IAM: a missing key fails every operator except the negated ones and IfExists.
		return c.ifExists || c.op.negated
	}
	if c.op.name == "Null" {
		return anyValue(c.values, func(want string) bool { return strings.EqualFold(want, "false") })
	}
	hit := anyValue(c.values, func(want string) bool { return c.op.match(want, v) })
	if c.op.negated {
		return !hit
	}
	return hit
}

func anyValue(values []string, f func(string) bool) bool {
	for _, v := range values {
		if f(v) {
			return true
		}
	}
	return false
}

// operator is a condition operator; negated ones hold when no value matches.
type operator struct {
	name    string
	negated bool
	match   func(want, got string) bool
	check   func(want string) error // validates a policy value at parse time
}

var operators = map[string]operator{}

func init() {
	add := func(name string, match func(want, got string) bool, check func(string) error, negatedName string) {
		operators[name] = operator{name: name, match: match, check: check}
		if negatedName != "" {
			operators[negatedName] = operator{name: negatedName, negated: true, match: match, check: check}
		}
	}
	add("StringEquals", func(w, g string) bool { return w == g }, nil, "StringNotEquals")
	add("StringEqualsIgnoreCase", strings.EqualFold, nil, "StringNotEqualsIgnoreCase")
	add("StringLike", func(w, g string) bool { return glob(w, g, false) }, nil, "StringNotLike")
	add("ArnEquals", func(w, g string) bool { return w == g }, nil, "ArnNotEquals")
	add("ArnLike", arnLike, nil, "ArnNotLike")
	add("IpAddress", ipMatch, checkCIDR, "NotIpAddress")
	add("Bool", strings.EqualFold, checkBool, "")
	add("Null", nil, checkBool, "")
	add("NumericEquals", numeric(func(w, g float64) bool { return g == w }), checkNumber, "NumericNotEquals")
	add("NumericLessThan", numeric(func(w, g float64) bool { return g < w }), checkNumber, "")
	add("NumericLessThanEquals", numeric(func(w, g float64) bool { return g <= w }), checkNumber, "")
	add("NumericGreaterThan", numeric(func(w, g float64) bool { return g > w }), checkNumber, "")
	add("NumericGreaterThanEquals", numeric(func(w, g float64) bool { return g >= w }), checkNumber, "")
}

// arnLike compares the six ARN parts one by one, each a glob, as IAM does.
func arnLike(want, got string) bool {
	w, g := strings.SplitN(want, ":", 6), strings.SplitN(got, ":", 6)
	if len(w) != 6 || len(g) != 6 {
		return glob(want, got, false)
	}
	for i := range w {
		if !glob(w[i], g[i], false) {
			return false
		}
	}
	return true
}

func ipMatch(want, got string) bool {
	p, err := parseCIDR(want)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(got)
	return err == nil && p.Contains(a.Unmap())
}

func numeric(cmp func(want, got float64) bool) func(string, string) bool {
	return func(want, got string) bool {
		w, err1 := strconv.ParseFloat(want, 64)
		g, err2 := strconv.ParseFloat(got, 64)
		return err1 == nil && err2 == nil && cmp(w, g)
	}
}

func checkNumber(v string) error {
	_, err := strconv.ParseFloat(v, 64)
	return err
}

// glob matches IAM wildcards: * any run of characters, ? any one character; nothing else is
// special.
func glob(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	// path.Match treats '[' and '\\' specially and its '*' stops at '/', so IAM's simpler syntax
	// is matched here: one pass that backtracks only to the last star.
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	var p, i, star, mark = 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
