package iamauth

import (
	"strings"
	"testing"
)

const (
	alice   = "arn:aws:iam::123456789012:role/alice"
	bob     = "arn:aws:iam::210987654321:user/bob"
	svcARN  = "arn:aws:vpc-lattice:us-west-2:123456789012:service/svc-0123456789abcdef0"
	snARN   = "arn:aws:vpc-lattice:us-west-2:123456789012:servicenetwork/sn-0123456789abcdef0"
	session = "arn:aws:sts::123456789012:assumed-role/alice/laptop"
)

func request(p *Principal, path string, keys map[string]string) *Request {
	k := map[string]string{
		"vpc-lattice-svcs:requestmethod":     "GET",
		"vpc-lattice-svcs:requestpath":       path,
		"vpc-lattice-svcs:servicearn":        svcARN,
		"vpc-lattice-svcs:servicenetworkarn": snARN,
		"vpc-lattice-svcs:port":              "80",
		"vpc-lattice-svcs:sourcevpc":         "vpc-0123456789abcdef0",
		"aws:sourceip":                       "127.0.0.1",
		"aws:securetransport":                "false",
	}
	for key, v := range keys {
		k[key] = v
	}
	return &Request{Principal: p, Action: ActionInvoke, Resource: svcARN + path, Keys: k}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	a := &Principal{ARN: alice, Tags: map[string]string{"team": "payments"}}
	b := &Principal{ARN: bob}
	s := &Principal{ARN: session}
	allow := func(extra string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["` + alice + `"]},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"` + extra + `}]}`
	}
	cases := []struct {
		name   string
		policy string
		req    *Request
		want   Decision
	}{
		{"listed principal", allow(""), request(a, "/", nil), Allowed},
		{"other principal", allow(""), request(b, "/", nil), NotAllowed},
		{"anonymous", allow(""), request(nil, "/", nil), NotAllowed},
		{"role session", allow(""), request(s, "/", nil), Allowed},
		{"star allows anonymous", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, request(nil, "/", nil), Allowed},
		{"AWS star", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"vpc-lattice-svcs:*","Resource":"*"}}`, request(b, "/", nil), Allowed},
		{"account principal", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}}`, request(a, "/", nil), Allowed},
		{"account root", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}}`, request(b, "/", nil), NotAllowed},
		{"authenticated only", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEqualsIgnoreCase":{"aws:PrincipalType":"anonymous"}}}}`, request(nil, "/", nil), NotAllowed},
		{"authenticated only, signed", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringNotEqualsIgnoreCase":{"aws:PrincipalType":"anonymous"}}}}`, request(b, "/", nil), Allowed},
		{"authenticated via Null", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"Null":{"aws:PrincipalArn":"false"}}}}`, request(nil, "/", nil), NotAllowed},
		{"authenticated via Null signed", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"Null":{"aws:PrincipalArn":"false"}}}}`, request(b, "/", nil), Allowed},
		{"action case-insensitive wildcard", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"VPC-LATTICE-SVCS:Inv*","Resource":"*"}}`, request(nil, "/", nil), Allowed},
		{"other action", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Connect","Resource":"*"}}`, request(nil, "/", nil), NotAllowed},
		{"NotAction", `{"Statement":{"Effect":"Allow","Principal":"*","NotAction":"vpc-lattice-svcs:Connect","Resource":"*"}}`, request(nil, "/", nil), Allowed},
		{"resource path wildcard", allow("") + "", request(a, "/api/x", nil), Allowed},
		{"resource prefix match", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"` + svcARN + `/api/*"}}`, request(nil, "/api/v1", nil), Allowed},
		{"resource prefix miss", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"` + svcARN + `/api/*"}}`, request(nil, "/admin", nil), NotAllowed},
		{"resource ? wildcard", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"` + svcARN + `/v?"}}`, request(nil, "/v2", nil), Allowed},
		{"NotResource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","NotResource":"` + svcARN + `/admin*"}}`, request(nil, "/admin", nil), NotAllowed},
		{"explicit deny wins", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Effect":"Deny","Principal":{"AWS":"` + alice + `"},"Action":"*","Resource":"*"}]}`, request(a, "/", nil), Denied},
		{"deny elsewhere", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Effect":"Deny","Principal":{"AWS":"` + alice + `"},"Action":"*","Resource":"*"}]}`, request(b, "/", nil), Allowed},
		{"NotPrincipal deny", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},{"Effect":"Deny","NotPrincipal":{"AWS":"` + alice + `"},"Action":"*","Resource":"*"}]}`, request(b, "/", nil), Denied},
		{"StringEquals method", allow(`,"Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":["GET","HEAD"]}}`), request(a, "/", nil), Allowed},
		{"StringEquals method miss", allow(`,"Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"POST"}}`), request(a, "/", nil), NotAllowed},
		{"StringNotEquals", allow(`,"Condition":{"StringNotEquals":{"vpc-lattice-svcs:RequestMethod":"DELETE"}}`), request(a, "/", nil), Allowed},
		{"StringLike path", allow(`,"Condition":{"StringLike":{"vpc-lattice-svcs:RequestPath":"/api/*"}}`), request(a, "/api/v1/x", nil), Allowed},
		{"StringLike path miss", allow(`,"Condition":{"StringLike":{"vpc-lattice-svcs:RequestPath":"/api/*"}}`), request(a, "/web", nil), NotAllowed},
		{"header", allow(`,"Condition":{"StringEquals":{"vpc-lattice-svcs:RequestHeader/x-env":"prod"}}`), request(a, "/", map[string]string{"vpc-lattice-svcs:requestheader/x-env": "prod"}), Allowed},
		{"header absent", allow(`,"Condition":{"StringEquals":{"vpc-lattice-svcs:RequestHeader/x-env":"prod"}}`), request(a, "/", nil), NotAllowed},
		{"header IfExists absent", allow(`,"Condition":{"StringEqualsIfExists":{"vpc-lattice-svcs:RequestHeader/x-env":"prod"}}`), request(a, "/", nil), Allowed},
		{"header IfExists wrong", allow(`,"Condition":{"StringEqualsIfExists":{"vpc-lattice-svcs:RequestHeader/x-env":"prod"}}`), request(a, "/", map[string]string{"vpc-lattice-svcs:requestheader/x-env": "dev"}), NotAllowed},
		{"query string", allow(`,"Condition":{"StringEquals":{"vpc-lattice-svcs:RequestQueryString/debug":"1"}}`), request(a, "/", map[string]string{"vpc-lattice-svcs:requestquerystring/debug": "1"}), Allowed},
		{"ArnLike service network", allow(`,"Condition":{"ArnLike":{"vpc-lattice-svcs:ServiceNetworkArn":"arn:aws:vpc-lattice:*:123456789012:servicenetwork/*"}}`), request(a, "/", nil), Allowed},
		{"ArnLike other account", allow(`,"Condition":{"ArnLike":{"vpc-lattice-svcs:ServiceArn":"arn:aws:vpc-lattice:*:999999999999:service/*"}}`), request(a, "/", nil), NotAllowed},
		{"IpAddress", allow(`,"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","127.0.0.0/8"]}}`), request(a, "/", nil), Allowed},
		{"NotIpAddress", allow(`,"Condition":{"NotIpAddress":{"aws:SourceIp":"127.0.0.1"}}`), request(a, "/", nil), NotAllowed},
		{"Bool", allow(`,"Condition":{"Bool":{"aws:SecureTransport":false}}`), request(a, "/", nil), Allowed},
		{"Bool miss", allow(`,"Condition":{"Bool":{"aws:SecureTransport":"true"}}`), request(a, "/", nil), NotAllowed},
		{"principal tag", allow(`,"Condition":{"StringEquals":{"aws:PrincipalTag/Team":"payments"}}`), request(a, "/", nil), Allowed},
		{"principal tag miss", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"payments"}}}}`, request(b, "/", nil), NotAllowed},
		{"principal arn", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/*"}}}}`, request(b, "/", nil), Allowed},
		{"SourceVpc and Port", allow(`,"Condition":{"StringEquals":{"vpc-lattice-svcs:SourceVpc":"vpc-0123456789abcdef0"},"NumericEquals":{"vpc-lattice-svcs:Port":80}}`), request(a, "/", nil), Allowed},
		{"case-insensitive key", allow(`,"Condition":{"StringEquals":{"VPC-LATTICE-SVCS:REQUESTMETHOD":"GET"}}`), request(a, "/", nil), Allowed},
		{"ForAnyValue prefix", allow(`,"Condition":{"ForAnyValue:StringEquals":{"vpc-lattice-svcs:RequestMethod":"GET"}}`), request(a, "/", nil), Allowed},
		{"no principal applies to nobody", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, request(a, "/", nil), NotAllowed},
	}
	for _, tc := range cases {
		p, err := Parse(tc.policy)
		if err != nil {
			t.Errorf("%s: parse: %v", tc.name, err)
			continue
		}
		if got := p.Evaluate(tc.req); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		``, `{`, `[]`, `{"Statement":[]}`, `{"Statement":{}}`,
		`{"Statement":{"Effect":"Maybe","Principal":"*","Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"me","Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"Robot":"x"},"Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","NotAction":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":5}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Sometimes":{"a":"b"}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"aws:SecureTransport":"maybe"}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Surprise":1}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}} {}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}` + strings.Repeat(" ", MaxPolicyBytes),
	} {
		if _, err := Parse(doc); err == nil {
			t.Errorf("Parse(%.80q) accepted an invalid policy", doc)
		}
	}
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	mustParse := func(doc string) *Policy {
		p, err := Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	anyone := mustParse(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`)
	onlyAlice := mustParse(`{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + alice + `"},"Action":"*","Resource":"*"}}`)
	denyAlice := mustParse(`{"Statement":{"Effect":"Deny","Principal":{"AWS":"` + alice + `"},"Action":"*","Resource":"*"}}`)
	a := &Principal{ARN: alice}
	cases := []struct {
		name   string
		levels []Level
		req    *Request
		ok     bool
		reason string
	}{
		{"no levels", nil, request(nil, "/", nil), true, ""},
		{"both allow", []Level{{"network", anyone}, {"service", onlyAlice}}, request(a, "/", nil), true, ""},
		{"service refuses", []Level{{"network", anyone}, {"service", onlyAlice}}, request(nil, "/", nil), false, "no service-based policy allows the vpc-lattice-svcs:Invoke action"},
		{"network refuses", []Level{{"network", onlyAlice}, {"service", anyone}}, request(nil, "/", nil), false, "no network-based policy allows the vpc-lattice-svcs:Invoke action"},
		{"no policy", []Level{{"service", nil}}, request(a, "/", nil), false, "no service-based policy allows the vpc-lattice-svcs:Invoke action"},
		{"deny wins over a later allow", []Level{{"network", denyAlice}, {"service", onlyAlice}}, request(a, "/", nil), false, "with an explicit deny in a network-based policy"},
		{"deny wins over an earlier refusal", []Level{{"network", onlyAlice}, {"service", denyAlice}}, request(a, "/", nil), false, "with an explicit deny in a service-based policy"},
	}
	for _, tc := range cases {
		ok, reason := Authorize(tc.levels, tc.req)
		if ok != tc.ok || reason != tc.reason {
			t.Errorf("%s: got %v %q, want %v %q", tc.name, ok, reason, tc.ok, tc.reason)
		}
	}
	msg := DeniedMessage(request(nil, "/x", nil), "no service-based policy allows the vpc-lattice-svcs:Invoke action")
	if want := "User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: " + svcARN + "/x because no service-based policy allows the vpc-lattice-svcs:Invoke action"; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abbbc", true},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"a*b*c", "a-b-x", false}, {"[a]", "[a]", true},
		{"**", "x/y", true}, {"a/*", "a/b/c", true}, {"abc", "abd", false},
	}
	for _, tc := range cases {
		if got := glob(tc.p, tc.s, false); got != tc.want {
			t.Errorf("glob(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
}

func TestSessionName(t *testing.T) {
	t.Parallel()
	if got := SessionName(session); got != "laptop" {
		t.Errorf("SessionName = %q", got)
	}
	if got := SessionName(alice); got != "" {
		t.Errorf("SessionName(role) = %q", got)
	}
}
