package dataplane

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

const otherPrincipal = "arn:aws:iam::210987654321:role/intruder"

// signingClient signs every request with the SDK's SigV4 signer (UNSIGNED-PAYLOAD), as a Lattice
// client does, at now() (a clock in the past replays an old signature).
type signingClient struct {
	base        http.RoundTripper
	key, secret string
	now         func() time.Time
}

func (s *signingClient) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	creds := aws.Credentials{AccessKeyID: s.key, SecretAccessKey: s.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", "us-west-2", s.now()); err != nil {
		return nil, err
	}
	return s.base.RoundTrip(r)
}

func allowPolicy(principals ...string) string {
	p, _ := json.Marshal(principals)
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":` + string(p) + `},"Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
}

const (
	allowAnyone = `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	denyDelete  = `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"DELETE"}}}]}`
)

// TestIAMAuth sends real traffic, signed with aws-sdk-go-v2's signer, through services with
// authType AWS_IAM on the service and on its service network (reference §3.6, §3.7).
func TestIAMAuth(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "secured", "127.0.54.10:8090")
	f := newFixture()
	svc := f.service("secured", "")
	tg := f.targetGroup("HTTP", "HTTP1", noHealthCheck, "UNAVAILABLE", b.addr)
	f.listener(svc, "HTTP", 80, forward(tg, 1))
	snID := f.snap.ServiceNetworks[0].ID
	logARN := "arn:aws:logs:us-west-2:123456789012:log-group:auth"
	f.snap.AccessLogSubscriptions = []store.AccessLogSubscription{{ID: "als-1", ResourceID: svc, DestinationARN: logARN}}

	principalsFile := filepath.Join(t.TempDir(), "principals.yaml")
	if err := os.WriteFile(principalsFile, []byte("principals:\n- accessKeyId: AKIAOTHER00000000001\n  secretAccessKey: other-secret\n  arn: "+otherPrincipal+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.54.1", func(o *Options) { o.PrincipalsFile = principalsFile })
	me := dp.Principal()
	if !strings.HasPrefix(me.AccessKeyID, "AKIA") || len(me.AccessKeyID) != 20 || me.ARN != "arn:aws:iam::123456789012:user/local-lattice" {
		t.Fatalf("initial principal %+v", me)
	}

	base := clientFor(dp, nil)
	clock := time.Now
	sign := func(key, secret string) *http.Client {
		return &http.Client{Transport: &signingClient{base: base.Transport, key: key, secret: secret, now: func() time.Time { return clock() }}}
	}
	signedMe, signedOther := sign(me.AccessKeyID, me.SecretAccessKey), sign("AKIAOTHER00000000001", "other-secret")
	forged := sign(me.AccessKeyID, "not-my-secret")
	replayed := &http.Client{Transport: &signingClient{base: base.Transport, key: me.AccessKeyID, secret: me.SecretAccessKey,
		now: func() time.Time { return time.Now().Add(-6 * time.Minute) }}}
	url := "http://" + f.svc(svc).DNSEntry.DomainName + "/orders/a%20b%2Fc?id=7&tag=x&tag=a%2Bb"

	set := func(svcAuth, snAuth string, policies map[string]string) {
		t.Helper()
		f.svc(svc).AuthType = svcAuth
		f.snap.ServiceNetworks[0].AuthType = snAuth
		f.snap.AuthPolicies = nil
		for id, doc := range policies {
			f.snap.AuthPolicies = append(f.snap.AuthPolicies, store.AuthPolicy{ResourceID: id, Policy: doc})
		}
		src.publish(f.build())
	}
	type answer struct {
		code     int
		identity string
		body     string
	}
	call := func(c *http.Client, method string, spoof bool) answer {
		t.Helper()
		req := mustRequest(t, method, url)
		if spoof {
			req.Header.Set("X-Amzn-Lattice-Identity", "Principal=arn:aws:iam::123456789012:root")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var e echo
		if json.Unmarshal(body, &e) == nil && e.Backend != "" {
			return answer{code: resp.StatusCode, identity: e.Header.Get("X-Amzn-Lattice-Identity")}
		}
		if resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-Amzn-Errortype") != "AccessDeniedException" {
			t.Errorf("403 without the AccessDeniedException error type: %v", resp.Header)
		}
		return answer{code: resp.StatusCode, body: string(body)}
	}
	expect := func(step string, c *http.Client, method string, code int, identity string) answer {
		t.Helper()
		got := call(c, method, true)
		if got.code != code || got.identity != identity {
			t.Errorf("%s: got %d identity %q (%s), want %d identity %q", step, got.code, got.identity, got.body, code, identity)
		}
		return got
	}
	meIdentity := "Principal=" + me.ARN

	set("AWS_IAM", "NONE", map[string]string{svc: allowPolicy(me.ARN)})
	expect("allowed principal", signedMe, "GET", 200, meIdentity)
	denied := expect("unsigned", base, "GET", 403, "")
	if want := `{"__type":"AccessDeniedException","message":"User: anonymous is not authorized to perform: vpc-lattice-svcs:Invoke on resource: ` +
		f.svc(svc).ARN + `/orders/a%20b%2Fc because no service-based policy allows the vpc-lattice-svcs:Invoke action"}`; denied.body != want {
		t.Errorf("403 body\n%s\nwant\n%s", denied.body, want)
	}
	expect("other principal", signedOther, "GET", 403, "")
	expect("wrong secret", forged, "GET", 403, "")
	expect("replayed signature", replayed, "GET", 403, "")
	malformed := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=/,,SignedHeaders=;Signature=zz")
		return base.Transport.RoundTrip(r)
	})}
	expect("malformed signature", malformed, "GET", 403, "")

	set("AWS_IAM", "NONE", map[string]string{svc: allowAnyone})
	expect("policy allows *: unsigned", base, "GET", 200, "")
	expect("policy allows *: signed", signedMe, "GET", 200, meIdentity)
	expect("policy allows *: a bad signature still fails", forged, "GET", 403, "")

	set("AWS_IAM", "NONE", nil)
	expect("AWS_IAM without a policy", signedMe, "GET", 403, "")

	set("AWS_IAM", "NONE", map[string]string{svc: denyDelete})
	expect("explicit deny wins", signedMe, "DELETE", 403, "")
	expect("allowed beside a deny", signedMe, "GET", 200, meIdentity)

	set("AWS_IAM", "AWS_IAM", map[string]string{svc: allowPolicy(me.ARN), snID: allowPolicy(otherPrincipal)})
	expect("service allows, network does not", signedMe, "GET", 403, "")
	expect("network allows, service does not", signedOther, "GET", 403, "")
	set("AWS_IAM", "AWS_IAM", map[string]string{svc: allowPolicy(me.ARN), snID: allowPolicy(me.ARN, otherPrincipal)})
	expect("both levels allow", signedMe, "GET", 200, meIdentity)
	set("NONE", "AWS_IAM", map[string]string{snID: allowPolicy(me.ARN)})
	expect("network level alone", signedMe, "GET", 200, meIdentity)
	expect("network level alone, unsigned", base, "GET", 403, "")

	set("AWS_IAM", "NONE", map[string]string{svc: `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"DateSoon":{"a":"b"}}}}`})
	expect("a policy that does not parse denies", base, "GET", 403, "")

	set("NONE", "NONE", map[string]string{svc: allowPolicy(me.ARN)})
	expect("NONE restores open access", base, "GET", 200, "")
	expect("NONE: a signed request passes without identity", signedMe, "GET", 200, "")

	// The access log records who called and why a request was denied.
	entries := readAccessLog(t, AccessLogPath(dp.opts.DataDir, logARN))
	if len(entries) < 6 {
		t.Fatalf("%d access log entries", len(entries))
	}
	checks := []struct{ user, reason string }{
		{me.ARN, ""},
		{"Anonymous", "no service-based policy allows the vpc-lattice-svcs:Invoke action"},
		{otherPrincipal, "no service-based policy allows the vpc-lattice-svcs:Invoke action"},
		{"Anonymous", "authentication failed: signature does not match"},
		{"Anonymous", "authentication failed: signature date"},
		{"Anonymous", "authentication failed: malformed"},
	}
	for i, c := range checks {
		e := entries[i]
		if e.ResolvedUser != c.user || !strings.HasPrefix(e.AuthDeniedReason, c.reason) || (c.reason == "") != (e.AuthDeniedReason == "") {
			t.Errorf("log entry %d: resolvedUser %q authDeniedReason %q, want %q %q…", i, e.ResolvedUser, e.AuthDeniedReason, c.user, c.reason)
		}
	}
	if e := entries[len(entries)-3]; !strings.Contains(e.AuthDeniedReason, `the service auth policy is invalid: policy Statement[0]: in Condition: unknown operator "DateSoon"`) {
		t.Errorf("invalid policy: authDeniedReason %q", e.AuthDeniedReason)
	}
	if last := entries[len(entries)-1]; last.ResolvedUser != "" || last.AuthDeniedReason != "" {
		t.Errorf("authType NONE logged auth fields: %+v", last)
	}
}

// TestInitialPrincipalSurvivesRestart: the principal printed at first start is the one the next
// start uses.
func TestInitialPrincipalSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := loadPrincipals(dir, "", "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadPrincipals(dir, "", "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	if first.initial.AccessKeyID != again.initial.AccessKeyID || first.initial.SecretAccessKey != again.initial.SecretAccessKey {
		t.Errorf("principal changed across restarts: %+v then %+v", first.initial, again.initial)
	}
	if fi, err := os.Stat(filepath.Join(dir, initialPrincipalFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("principal file: %v %v", fi, err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	for _, content := range []string{"principals: [{accessKeyId: A}]", "nonsense: 1", "principals: {"} {
		if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadPrincipals(dir, bad, ""); err == nil {
			t.Errorf("accepted principals file %q", content)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCurlSigV4: a request signed by curl --aws-sigv4, as docs/iam-auth.md shows, is accepted.
func TestCurlSigV4(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	b := startBackend(t, "curled", "127.0.54.30:8090")
	f := newFixture()
	svc := f.service("curled", "")
	tg := f.targetGroup("HTTP", "HTTP1", noHealthCheck, "UNAVAILABLE", b.addr)
	f.listener(svc, "HTTP", 80, forward(tg, 1))
	f.svc(svc).AuthType = "AWS_IAM"
	src := newFakeSource()
	dp := startDataPlane(t, src, "127.0.54.3")
	me := dp.Principal()
	f.snap.AuthPolicies = []store.AuthPolicy{{ResourceID: svc, Policy: allowPolicy(me.ARN)}}
	src.publish(f.build())
	host := f.svc(svc).DNSEntry.DomainName
	run := func(extra ...string) string {
		args := append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}", "--resolve", host + ":20080:127.0.54.3"}, extra...)
		out, err := exec.Command(curl, append(args, "http://"+host+":20080/orders?id=7")...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v %s", err, out)
		}
		return string(out)
	}
	sign := []string{"--aws-sigv4", "aws:amz:us-west-2:vpc-lattice-svcs", "--user", me.AccessKeyID + ":" + me.SecretAccessKey}
	if got := run(sign...); got != "200" {
		t.Errorf("curl GET: %s", got)
	}
	if got := run(append(sign, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--data", `{"amount":1}`)...); got != "200" {
		t.Errorf("curl POST with UNSIGNED-PAYLOAD: %s", got)
	}
	if got := run(); got != "403" {
		t.Errorf("curl unsigned: %s", got)
	}
}
