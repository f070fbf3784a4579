package api

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// validator collects field errors so one ValidationException lists them all.
type validator struct{ fields []fieldError }

func (v *validator) fail(name, format string, args ...any) {
	v.fields = append(v.fields, fieldError{Name: name, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) check(ok bool, name, format string, args ...any) {
	if !ok {
		v.fail(name, format, args...)
	}
}

func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msgs := make([]string, len(v.fields))
	for i, f := range v.fields {
		msgs[i] = f.Name + ": " + f.Message
	}
	return validationError("fieldValidationFailed", strings.Join(msgs, "; "), v.fields)
}

func (v *validator) length(name, val string, lo, hi int) {
	if n := len(val); n < lo || n > hi {
		v.fail(name, "length must be from %d to %d characters", lo, hi)
	}
}

// name checks the common name rule: [a-z0-9-], no leading, trailing or double hyphen, and no
// reserved prefix. The model writes it with lookaheads, which RE2 lacks.
func (v *validator) name(field, val string, lo, hi int, reserved string) {
	if n := len(val); n < lo || n > hi {
		v.fail(field, "length must be from %d to %d characters", lo, hi)
		return
	}
	for _, r := range val {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			v.fail(field, "may contain only lowercase letters, digits and hyphens")
			return
		}
	}
	switch {
	case strings.HasPrefix(val, "-") || strings.HasSuffix(val, "-"):
		v.fail(field, "must not start or end with a hyphen")
	case strings.Contains(val, "--"):
		v.fail(field, "must not contain consecutive hyphens")
	case reserved != "" && strings.HasPrefix(val, reserved):
		v.fail(field, "must not start with %q", reserved)
	}
}

func (v *validator) enum(field, val string, allowed ...string) {
	for _, a := range allowed {
		if val == a {
			return
		}
	}
	v.fail(field, "must be one of %s", strings.Join(allowed, ", "))
}

func (v *validator) optEnum(field, val string, allowed ...string) {
	if val != "" {
		v.enum(field, val, allowed...)
	}
}

func (v *validator) identifier(field, val, prefix string) {
	if val == "" {
		v.fail(field, "is required")
		return
	}
	v.check(validIdentifier(val, prefix), field, "must be a %s- ID or its ARN", prefix)
}

func (v *validator) int32Range(field string, val *int32, lo, hi int32) {
	if val != nil && (*val < lo || *val > hi) {
		v.fail(field, "must be from %d to %d", lo, hi)
	}
}

func (v *validator) clientToken(val *string) {
	if val != nil {
		v.check(len(*val) >= 1 && len(*val) <= 64 && strings.TrimSpace(*val) != "", "clientToken", "length must be from 1 to 64 printable characters")
	}
}

func (v *validator) tags(tags map[string]string) {
	v.check(len(tags) <= 200, "tags", "at most 200 tags")
	for k, val := range tags {
		v.check(len(k) >= 1 && len(k) <= 128, "tags", "key %q: length must be from 1 to 128", k)
		v.check(!strings.HasPrefix(strings.ToLower(k), "aws:"), "tags", "key %q: the aws: prefix is reserved", k)
		v.check(len(val) <= 256, "tags", "value of %q: at most 256 characters", k)
	}
}

var (
	pathPattern   = regexp.MustCompile(`^/[a-zA-Z0-9@:%_+.~#?&/=-]*$`)
	certPattern   = regexp.MustCompile(`^(arn(:[a-z0-9]+([.-][a-z0-9]+)*){2}(:([a-z0-9]+([.-][a-z0-9]+)*)?){2}:certificate/[0-9a-z-]+)?$`)
	vpcPattern    = regexp.MustCompile(`^vpc-([0-9a-z]{8}|[0-9a-z]{17})$`)
	sgPattern     = regexp.MustCompile(`^sg-([0-9a-z]{8}|[0-9a-z]{17})$`)
	matcherRegexp = regexp.MustCompile(`^[0-9-,]+$`)
	arnPattern    = regexp.MustCompile(`^arn:[a-z0-9][-.a-z0-9]{0,62}:[a-z0-9-]+:[^:]*:[^:]*:.+$`)
)

// action checks a RuleAction union; field is its member name in the request.
func (v *validator) action(field string, a *store.RuleAction) {
	if a == nil {
		v.fail(field, "is required")
		return
	}
	switch {
	case a.Forward != nil && a.FixedResponse != nil:
		v.fail(field, "must set exactly one of forward and fixedResponse")
	case a.Forward != nil:
		tgs := a.Forward.TargetGroups
		v.check(len(tgs) >= 1 && len(tgs) <= 10, field+".forward.targetGroups", "must have 1 to 10 target groups")
		for i, w := range tgs {
			f := fmt.Sprintf("%s.forward.targetGroups[%d]", field, i)
			v.identifier(f+".targetGroupIdentifier", w.TargetGroupIdentifier, "tg")
			v.int32Range(f+".weight", w.Weight, 0, 999)
			v.check(len(tgs) == 1 || w.Weight != nil, f+".weight", "is required when forwarding to several target groups")
		}
	case a.FixedResponse != nil:
		c := a.FixedResponse.StatusCode
		v.check(c == 404 || c == 500, field+".fixedResponse.statusCode", "only 404 and 500 are supported")
	default:
		v.fail(field, "must set exactly one of forward and fixedResponse")
	}
}

// match checks a RuleMatch union.
func (v *validator) match(field string, m *store.RuleMatch) {
	if m == nil || m.HTTPMatch == nil {
		v.fail(field, "httpMatch is required")
		return
	}
	h := m.HTTPMatch
	v.check(len(h.Method) <= 16, field+".httpMatch.method", "at most 16 characters")
	if p := h.PathMatch; p != nil {
		f := field + ".httpMatch.pathMatch.match"
		val, ok := onlyOne(p.Match.Exact, p.Match.Prefix)
		if !ok {
			v.fail(f, "must set exactly one of exact and prefix")
		} else {
			v.check(len(val) >= 1 && len(val) <= 200 && pathPattern.MatchString(val), f, "must start with / and use only [a-zA-Z0-9@:%%_+.~#?&/=-], up to 200 characters")
		}
	}
	v.check(len(h.HeaderMatches) <= 5, field+".httpMatch.headerMatches", "at most 5 header matches")
	for i, hm := range h.HeaderMatches {
		f := fmt.Sprintf("%s.httpMatch.headerMatches[%d]", field, i)
		v.length(f+".name", hm.Name, 1, 100)
		val, ok := onlyOne(hm.Match.Exact, hm.Match.Prefix, hm.Match.Contains)
		if !ok {
			v.fail(f+".match", "must set exactly one of exact, prefix and contains")
		} else {
			v.length(f+".match", val, 1, 200)
		}
	}
}

func onlyOne(vals ...*string) (string, bool) {
	var got *string
	for _, p := range vals {
		if p != nil {
			if got != nil {
				return "", false
			}
			got = p
		}
	}
	if got == nil {
		return "", false
	}
	return *got, true
}

// healthCheck checks ranges; 0 means "default" and is always accepted.
func (v *validator) healthCheck(field string, hc *store.HealthCheckConfig) {
	if hc == nil {
		return
	}
	v.optEnum(field+".protocol", hc.Protocol, "HTTP", "HTTPS", "TCP")
	v.optEnum(field+".protocolVersion", hc.ProtocolVersion, "HTTP1", "HTTP2")
	v.int32Range(field+".port", hc.Port, 0, 65535)
	v.check(len(hc.Path) <= 2048 && (hc.Path == "" || strings.HasPrefix(hc.Path, "/")), field+".path", "must start with / and have at most 2048 characters")
	v.check(rangeOrZero(hc.HealthCheckIntervalSeconds, 5, 300), field+".healthCheckIntervalSeconds", "must be 0 or from 5 to 300")
	v.check(rangeOrZero(hc.HealthCheckTimeoutSeconds, 1, 120), field+".healthCheckTimeoutSeconds", "must be 0 or from 1 to 120")
	v.check(rangeOrZero(hc.HealthyThresholdCount, 2, 10), field+".healthyThresholdCount", "must be 0 or from 2 to 10")
	v.check(rangeOrZero(hc.UnhealthyThresholdCount, 2, 10), field+".unhealthyThresholdCount", "must be 0 or from 2 to 10")
	if m := hc.Matcher; m != nil {
		v.check(m.HTTPCode != nil && len(*m.HTTPCode) <= 2000 && matcherRegexp.MatchString(*m.HTTPCode), field+".matcher.httpCode", "must be codes and ranges such as 200-299,302")
	}
}

func rangeOrZero(p *int32, lo, hi int32) bool {
	return p == nil || *p == 0 || *p >= lo && *p <= hi
}
