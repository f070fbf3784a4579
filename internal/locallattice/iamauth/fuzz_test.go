package iamauth

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// FuzzParse: no document crashes the parser or the evaluator, and whatever parses evaluates.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`,
		`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["123456789012","arn:aws:iam::1:role/x"]},"NotAction":"*","NotResource":"arn:*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"*","Service":"x"},"Action":["a*","?"],"Resource":"*",
		  "Condition":{"StringLikeIfExists":{"vpc-lattice-svcs:RequestHeader/x":["*a?b*"]},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
		  "Bool":{"aws:SecureTransport":true},"NumericLessThan":{"vpc-lattice-svcs:Port":1024},"Null":{"aws:PrincipalArn":"false"},
		  "ForAllValues:ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}}}`,
		`{"Statement":[]}`, `{`, `null`, `{"Statement":[null]}`, `{"Statement":{"Condition":{"":{"":[[]]}}}}`,
	} {
		f.Add(seed, "/api/v1", "GET")
	}
	f.Fuzz(func(t *testing.T, doc, path, method string) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		for _, pr := range []*Principal{nil, {ARN: session, Tags: map[string]string{"team": "a"}}} {
			r := request(pr, path, map[string]string{"vpc-lattice-svcs:requestmethod": method})
			_ = p.Evaluate(r)
			_, _ = Authorize([]Level{{"network", p}, {"service", nil}}, r)
		}
	})
}

// FuzzVerify: no request, however malformed its signature, crashes the verifier or verifies
// without the secret.
func FuzzVerify(f *testing.F) {
	good := signed(f, "GET", "http://svc.example:8080/a?b=c", "", testNow, nil)
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), "/a", "b=c", UnsignedPayload)
	f.Add("AWS4-HMAC-SHA256 Credential=AKIA/20261204/us-west-2/vpc-lattice-svcs/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("0", 64),
		"20261204T190000Z", "/", "", "")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;, Signature=", "", "//", "%zz", "x")
	f.Add("AWS4-HMAC-SHA256 ,,,==", "20261204T190000Z", "/%2F", "a=%", UnsignedPayload)
	f.Fuzz(func(t *testing.T, authz, date, path, query, payload string) {
		raw := "GET " + "/" + strings.TrimLeft(path, "/") + "?" + query + " HTTP/1.1\r\nHost: svc.example:8080\r\n\r\n"
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return
		}
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("X-Amz-Content-Sha256", payload)
		p, err := Verify(r, region, testNow, lookup)
		if err == nil && authz != good.Header.Get("Authorization") {
			t.Fatalf("verified a forged signature %q as %v", authz, p)
		}
	})
}
