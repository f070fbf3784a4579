package dataplane

import (
	"net/http"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// matcher is a compiled HTTPMatch (reference §3.2): conditions are ANDed, absent ones match.
type matcher struct {
	method  string // exact, case-sensitive; "" matches any
	path    *pathMatcher
	headers []headerMatcher
}

type pathMatcher struct {
	value         string
	prefix        bool
	caseSensitive bool
}

type matchKind uint8

const (
	matchExact matchKind = iota
	matchPrefix
	matchContains
)

type headerMatcher struct {
	name          string // canonical MIME header key: names are case-insensitive
	value         string // lower-cased unless caseSensitive
	kind          matchKind
	caseSensitive bool
}

// compileMatch returns nil for a rule that matches everything.
func compileMatch(m store.RuleMatch) *matcher {
	h := m.HTTPMatch
	if h == nil {
		return nil
	}
	out := &matcher{method: h.Method}
	if pm := h.PathMatch; pm != nil {
		p := &pathMatcher{caseSensitive: pm.CaseSensitive != nil && *pm.CaseSensitive}
		switch {
		case pm.Match.Exact != nil:
			p.value = *pm.Match.Exact
		case pm.Match.Prefix != nil:
			p.value, p.prefix = *pm.Match.Prefix, true
		default:
			p = nil
		}
		out.path = p
	}
	for _, hm := range h.HeaderMatches {
		c := headerMatcher{name: http.CanonicalHeaderKey(hm.Name), caseSensitive: hm.CaseSensitive != nil && *hm.CaseSensitive}
		switch {
		case hm.Match.Exact != nil:
			c.value, c.kind = *hm.Match.Exact, matchExact
		case hm.Match.Prefix != nil:
			c.value, c.kind = *hm.Match.Prefix, matchPrefix
		case hm.Match.Contains != nil:
			c.value, c.kind = *hm.Match.Contains, matchContains
		default:
			// A header match without a value cannot be satisfied; keep it so the rule never
			// matches rather than silently widening it.
			c.kind, c.value = matchExact, "\x00"
		}
		if !c.caseSensitive {
			c.value = strings.ToLower(c.value)
		}
		out.headers = append(out.headers, c)
	}
	return out
}

func (m *matcher) matches(r *http.Request) bool {
	if m == nil {
		return true
	}
	if m.method != "" && r.Method != m.method {
		return false
	}
	if m.path != nil && !m.path.matches(r.URL.EscapedPath()) {
		return false
	}
	for i := range m.headers {
		if !m.headers[i].matches(r.Header) {
			return false
		}
	}
	return true
}

func (p *pathMatcher) matches(path string) bool {
	if p.prefix {
		if len(path) < len(p.value) {
			return false
		}
		path = path[:len(p.value)]
	} else if len(path) != len(p.value) {
		return false
	}
	if p.caseSensitive {
		return path == p.value
	}
	return strings.EqualFold(path, p.value)
}

// matches is true when any value of the header satisfies the condition.
func (h *headerMatcher) matches(hdr http.Header) bool {
	for _, v := range hdr[h.name] {
		if !h.caseSensitive {
			v = strings.ToLower(v)
		}
		switch h.kind {
		case matchExact:
			if v == h.value {
				return true
			}
		case matchPrefix:
			if strings.HasPrefix(v, h.value) {
				return true
			}
		case matchContains:
			if strings.Contains(v, h.value) {
				return true
			}
		}
	}
	return false
}
