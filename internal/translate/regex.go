package translate

import (
	"fmt"
	"regexp/syntax"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// literalMatch is a RegularExpression match reduced to a Lattice string match.
type literalMatch struct {
	typ           string // model.MatchExact, MatchPrefix or MatchContains
	value         string
	caseSensitive bool
}

// regexLiteral reduces a Gateway API RegularExpression to the Lattice match it is equivalent to,
// when there is one. The expression must match the whole value (RE2 full-match semantics, as
// Envoy-based implementations read it), so a literal L is exact, "L.*" is a prefix and ".*L.*"
// contains L; "^" and "$" change nothing. allowed lists the match types the caller can program.
// Anything else (classes, alternations, repetitions of literals, a suffix ".*L") has no Lattice
// equivalent and returns a reason.
func regexLiteral(expr string, allowed ...string) (literalMatch, string) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return literalMatch{}, fmt.Sprintf("regular expression %q does not parse: %v", expr, err)
	}
	parts := flatten(re.Simplify())
	for len(parts) > 0 && (parts[0].Op == syntax.OpBeginText || parts[0].Op == syntax.OpBeginLine) {
		parts = parts[1:]
	}
	for len(parts) > 0 && (parts[len(parts)-1].Op == syntax.OpEndText || parts[len(parts)-1].Op == syntax.OpEndLine) {
		parts = parts[:len(parts)-1]
	}
	lead := len(parts) > 0 && anyString(parts[0])
	if lead {
		parts = parts[1:]
	}
	trail := len(parts) > 0 && anyString(parts[len(parts)-1])
	if trail {
		parts = parts[:len(parts)-1]
	}
	lit, fold, ok := literalOf(parts)
	var m literalMatch
	switch {
	case !ok || lit == "":
		return m, fmt.Sprintf("regular expression %q is not a literal, a literal prefix (\"L.*\") or a contained literal (\".*L.*\"), which is all VPC Lattice can match", expr)
	case lead && trail:
		m.typ = model.MatchContains
	case lead:
		return m, fmt.Sprintf("regular expression %q is a suffix match, which VPC Lattice does not have", expr)
	case trail:
		m.typ = model.MatchPrefix
	default:
		m.typ = model.MatchExact
	}
	for _, a := range allowed {
		if a == m.typ {
			m.value, m.caseSensitive = lit, !fold
			return m, ""
		}
	}
	return literalMatch{}, fmt.Sprintf("regular expression %q is a %s match, which VPC Lattice does not offer here", expr, m.typ)
}

// flatten returns the sequence a concatenation consists of, with capture groups opened.
func flatten(re *syntax.Regexp) []*syntax.Regexp {
	switch re.Op {
	case syntax.OpCapture:
		return flatten(re.Sub[0])
	case syntax.OpConcat:
		var out []*syntax.Regexp
		for _, s := range re.Sub {
			out = append(out, flatten(s)...)
		}
		return out
	case syntax.OpEmptyMatch:
		return nil
	}
	return []*syntax.Regexp{re}
}

// anyString reports whether re is ".*": any run of characters. Newlines, which "." excludes by
// default, do not occur in paths or header values.
func anyString(re *syntax.Regexp) bool {
	if re.Op == syntax.OpCapture {
		return anyString(re.Sub[0])
	}
	return re.Op == syntax.OpStar && (re.Sub[0].Op == syntax.OpAnyChar || re.Sub[0].Op == syntax.OpAnyCharNotNL)
}

// literalOf joins a run of literals that agree on case folding; ok is false when parts holds
// anything else.
func literalOf(parts []*syntax.Regexp) (lit string, fold, ok bool) {
	for i, p := range parts {
		if p.Op != syntax.OpLiteral {
			return "", false, false
		}
		f := p.Flags&syntax.FoldCase != 0
		if i > 0 && f != fold {
			return "", false, false
		}
		fold = f
		lit += string(p.Rune)
	}
	if fold {
		// The parser keeps folded literals in upper case; either case means the same.
		lit = strings.ToLower(lit)
	}
	return lit, fold, true
}
