package iamauth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testKey    = "AKIALOCALLATTICE0001"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	region     = "us-west-2"
)

var (
	testNow       = time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)
	testPrincipal = &Principal{ARN: alice}
)

func lookup(id string) (Secret, bool) {
	if id != testKey {
		return Secret{}, false
	}
	return Secret{SecretAccessKey: testSecret, Principal: testPrincipal}, true
}

// signed builds a request as a client would send it, signed by the SDK's signer; the server
// side sees the same URL, Host and headers.
func signed(t testing.TB, method, target, body string, at time.Time, edit func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		r.Body, r.ContentLength = http.NoBody, 0
	}
	r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload)
	r.Header.Set("X-Custom", "a  b")
	creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, UnsignedPayload, SigningName, region, at); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(r)
	}
	return r
}

func TestVerify(t *testing.T) {
	t.Parallel()
	url := "http://checkout-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-west-2.on.aws:8080/api/a%20b/c?z=1&a=2&a=1"
	ok := []struct {
		name string
		req  *http.Request
	}{
		{"GET", signed(t, "GET", url, "", testNow, nil)},
		{"POST with body", signed(t, "POST", url, `{"x":1}`, testNow, nil)},
		{"clock 4 minutes behind", signed(t, "GET", url, "", testNow.Add(-4*time.Minute), nil)},
		{"clock 4 minutes ahead", signed(t, "GET", url, "", testNow.Add(4*time.Minute), nil)},
		{"unsigned header added after signing", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.Header.Set("X-Later", "1") })},
	}
	for _, tc := range ok {
		p, err := Verify(tc.req, region, testNow, lookup)
		if err != nil || p != testPrincipal {
			t.Errorf("%s: got %v, %v; want the principal", tc.name, p, err)
		}
	}
	bad := []struct {
		name, reason string
		req          *http.Request
	}{
		{"replayed", "more than 5m0s", signed(t, "GET", url, "", testNow.Add(-6*time.Minute), nil)},
		{"from the future", "more than 5m0s", signed(t, "GET", url, "", testNow.Add(6*time.Minute), nil)},
		{"path changed", "does not match", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.URL.Path = "/admin" })},
		{"method changed", "does not match", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.Method = "DELETE" })},
		{"query changed", "does not match", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.URL.RawQuery = "z=2" })},
		{"signed header changed", "does not match", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.Header.Set("X-Custom", "c") })},
		{"signed header removed", "missing", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.Header.Del("X-Custom") })},
		{"host changed", "does not match", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.Host = "other.example" })},
		{"wrong secret", "does not match", signed(t, "GET", url, "", testNow, func(r *http.Request) {
			creds := aws.Credentials{AccessKeyID: testKey, SecretAccessKey: "not-the-secret"}
			r.Header.Del("Authorization")
			_ = v4.NewSigner().SignHTTP(context.Background(), creds, r, UnsignedPayload, SigningName, region, testNow)
		})},
		{"unknown key", "unknown access key", signed(t, "GET", url, "", testNow, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testKey, "AKIAUNKNOWN000000000", 1))
		})},
		{"wrong service", "not vpc-lattice-svcs", signed(t, "GET", url, "", testNow, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/vpc-lattice-svcs/", "/vpc-lattice/", 1))
		})},
		{"wrong region", "not us-west-2", signed(t, "GET", url, "", testNow, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-west-2/", "/eu-west-1/", 1))
		})},
		{"signed payload", "payload signing", signed(t, "POST", url, "data", testNow, func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("a", 64))
		})},
		{"sigv4a", "SigV4A", signed(t, "GET", url, "", testNow, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-ECDSA-P256-SHA256 Credential=x")
		})},
		{"garbage", "not AWS4-HMAC-SHA256", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.Header.Set("Authorization", "Bearer x") })},
		{"bad date", "x-amz-date", signed(t, "GET", url, "", testNow, func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") })},
		{"presigned", "presigned", signed(t, "GET", url+"&X-Amz-Signature=00", "", testNow, nil)},
	}
	for _, tc := range bad {
		p, err := Verify(tc.req, region, testNow, lookup)
		if err == nil || p != nil {
			t.Errorf("%s: verified (%v)", tc.name, p)
			continue
		}
		if !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: error %q does not say %q", tc.name, err, tc.reason)
		}
	}
}

func TestIsSigned(t *testing.T) {
	t.Parallel()
	if IsSigned(mustGet(t, "http://x/")) {
		t.Error("a plain request counts as signed")
	}
	if !IsSigned(signed(t, "GET", "http://x/", "", testNow, nil)) {
		t.Error("a signed request counts as unsigned")
	}
}

func mustGet(t *testing.T, url string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
