package translate

import (
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

func TestRegexLiteral(t *testing.T) {
	all := []string{model.MatchExact, model.MatchPrefix, model.MatchContains}
	for _, tc := range []struct {
		expr string
		want literalMatch
	}{
		{`^/api/.*`, literalMatch{model.MatchPrefix, "/api/", true}},
		{`/api/.*`, literalMatch{model.MatchPrefix, "/api/", true}},
		{`^/exact$`, literalMatch{model.MatchExact, "/exact", true}},
		{`/exact`, literalMatch{model.MatchExact, "/exact", true}},
		{`.*beta.*`, literalMatch{model.MatchContains, "beta", true}},
		{`^.*beta.*$`, literalMatch{model.MatchContains, "beta", true}},
		{`(/v1)/(.*)`, literalMatch{model.MatchPrefix, "/v1/", true}},
		{`/a\.b`, literalMatch{model.MatchExact, "/a.b", true}},
		{`(?i)beta.*`, literalMatch{model.MatchPrefix, "beta", false}},
		{`(?s)prod.*`, literalMatch{model.MatchPrefix, "prod", true}},
	} {
		got, err := regexLiteral(tc.expr, all...)
		if err != "" || got != tc.want {
			t.Errorf("regexLiteral(%q) = %+v, %q; want %+v", tc.expr, got, err, tc.want)
		}
	}
	for _, expr := range []string{`/v[0-9]+`, `.*beta`, `a|b`, `.*`, `/api/.+`, `^$`, `(`, `/x.*/y`, `(?i)a.*b`} {
		if got, err := regexLiteral(expr, all...); err == "" {
			t.Errorf("regexLiteral(%q) = %+v, want a reason", expr, got)
		}
	}
	if _, err := regexLiteral(`.*beta.*`, model.MatchExact, model.MatchPrefix); err == "" {
		t.Error("contains must be refused where only exact and prefix are allowed")
	}
}
