package dataplane

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

func itoa(i int) string { return strconv.Itoa(i) }

// httpMatch is a compact way to write a store.HTTPMatch in tables; cs applies to the path and
// the first header. A path without exact is a prefix.
type httpMatch struct {
	method, path                       string
	exact, cs                          bool
	header, exactV, prefixV, containsV string
	header2, containsV2                string
}

func (m *httpMatch) store() *store.HTTPMatch {
	out := &store.HTTPMatch{Method: m.method, HeaderMatches: []store.HeaderMatch{}}
	if m.path != "" {
		pm := &store.PathMatch{CaseSensitive: ptr(m.cs)}
		if m.exact {
			pm.Match.Exact = ptr(m.path)
		} else {
			pm.Match.Prefix = ptr(m.path)
		}
		out.PathMatch = pm
	}
	if m.header != "" {
		hm := store.HeaderMatch{Name: m.header, CaseSensitive: ptr(m.cs)}
		switch {
		case m.exactV != "":
			hm.Match.Exact = ptr(m.exactV)
		case m.prefixV != "":
			hm.Match.Prefix = ptr(m.prefixV)
		default:
			hm.Match.Contains = ptr(m.containsV)
		}
		out.HeaderMatches = append(out.HeaderMatches, hm)
	}
	if m.header2 != "" {
		out.HeaderMatches = append(out.HeaderMatches, store.HeaderMatch{Name: m.header2, Match: store.HeaderMatchType{Contains: ptr(m.containsV2)}})
	}
	return out
}

// TestWeightedSplit sends 1,000 requests per case through one rule and requires each target
// group's share to be within 3 percentage points of its weight share. (The schedule is
// deterministic, so the real deviation is at most one request per period.)
func TestWeightedSplit(t *testing.T) {
	t.Parallel()
	b1 := startBackend(t, "ver1", "127.0.51.1:8090")
	b2 := startBackend(t, "ver2", "127.0.51.2:8090")
	b3 := startBackend(t, "ver3", "127.0.51.3:8090")
	cases := []struct {
		name    string
		weights [3]int
	}{
		{"50/50", [3]int{50, 50, 0}},
		{"10/20 is 1:2", [3]int{10, 20, 0}},
		{"three ways with a zero", [3]int{1, 0, 3}},
		{"uneven 33/67", [3]int{33, 67, 0}},
	}
	src := newFakeSource()
	dp := startDataPlane(t, src, "127.0.52.1")
	c := clientFor(dp, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			svc := f.service("inventory", "")
			tg1 := f.targetGroup("HTTP", "HTTP1", nil, "", b1.addr)
			tg2 := f.targetGroup("HTTP", "HTTP1", nil, "", b2.addr)
			tg3 := f.targetGroup("HTTP", "HTTP1", nil, "", b3.addr)
			f.listener(svc, "HTTP", 80, forward(tg1, tc.weights[0], tg2, tc.weights[1], tg3, tc.weights[2]))
			src.publish(f.build())
			counts := map[string]int{}
			const n = 1000
			url := "http://" + f.svc(svc).DNSEntry.DomainName + "/"
			for range n {
				code, e := get(t, c, mustRequest(t, "GET", url))
				if code != 200 || e == nil {
					t.Fatalf("status %d", code)
				}
				counts[e.Backend]++
			}
			total := tc.weights[0] + tc.weights[1] + tc.weights[2]
			for i, name := range []string{"ver1", "ver2", "ver3"} {
				want := float64(tc.weights[i]) / float64(total)
				got := float64(counts[name]) / n
				if math.Abs(got-want) > 0.03 {
					t.Errorf("%s got %.3f of requests, want %.3f±0.03 (counts %v)", name, got, want, counts)
				}
				if tc.weights[i] == 0 && counts[name] != 0 {
					t.Errorf("%s has weight 0 but got %d requests", name, counts[name])
				}
			}
		})
	}
}

// TestEmptyTargetGroupHandsOverItsShare: a target group without targets (a backend scaled to
// zero) gives its share to the groups that have targets; when every group is empty, 503.
func TestEmptyTargetGroupHandsOverItsShare(t *testing.T) {
	t.Parallel()
	b1 := startBackend(t, "ver2", "127.0.51.21:8090")
	src := newFakeSource()
	dp := startDataPlane(t, src, "127.0.52.2")
	c := clientFor(dp, nil)
	cases := []struct {
		name    string
		targets []string
		want    int
		backend string
	}{
		{"one group empty", []string{b1.addr}, 200, "ver2"},
		{"every group empty", nil, 503, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture()
			svc := f.service("inventory", "")
			empty := f.targetGroup("HTTP", "HTTP1", nil, "")
			other := f.targetGroup("HTTP", "HTTP1", nil, "", tc.targets...)
			f.listener(svc, "HTTP", 80, forward(empty, 90, other, 10))
			src.publish(f.build())
			url := "http://" + f.svc(svc).DNSEntry.DomainName + "/"
			for range 50 {
				code, e := get(t, c, mustRequest(t, "GET", url))
				if code != tc.want {
					t.Fatalf("status %d, want %d", code, tc.want)
				}
				if tc.backend != "" && (e == nil || e.Backend != tc.backend) {
					t.Fatalf("answered by %+v, want %s", e, tc.backend)
				}
			}
		})
	}
}

// TestRules covers priority order, first match, the default rule, every match type with its
// case rules, and fixed responses (reference §3.2, §3.3).
func TestRules(t *testing.T) {
	t.Parallel()
	bd := startBackend(t, "default", "127.0.51.10:8090")
	names := []string{"method", "exact", "exact-cs", "prefix", "prefix-cs", "hdr-exact", "hdr-prefix", "hdr-contains", "hdr-cs", "first", "second", "multi"}
	f := newFixture()
	svc := f.service("rates", "rates.example.com")
	tgs := map[string]string{}
	for i, n := range names {
		b := startBackend(t, n, "127.0.51."+itoa(11+i)+":8090")
		tgs[n] = f.targetGroup("HTTP", "HTTP1", nil, "", b.addr)
	}
	l := f.listener(svc, "HTTP", 80, forward(f.targetGroup("HTTP", "HTTP1", nil, "", bd.addr), 1))
	rules := []struct {
		prio  int32
		match *httpMatch
		tg    string
	}{
		// Rule priorities are deliberately not in creation order.
		{50, &httpMatch{method: "PUT"}, "method"},
		{10, &httpMatch{path: "/exact", exact: true}, "exact"},
		{11, &httpMatch{path: "/Exact-CS", exact: true, cs: true}, "exact-cs"},
		{12, &httpMatch{path: "/pre", cs: false}, "prefix"},
		{13, &httpMatch{path: "/CS/", cs: true}, "prefix-cs"},
		{20, &httpMatch{header: "X-Env", exactV: "Prod"}, "hdr-exact"},
		{21, &httpMatch{header: "x-tenant", prefixV: "acme"}, "hdr-prefix"},
		{22, &httpMatch{header: "User-Agent", containsV: "bot"}, "hdr-contains"},
		{23, &httpMatch{header: "X-Key", exactV: "Secret", cs: true}, "hdr-cs"},
		{30, &httpMatch{path: "/order", method: "GET"}, "first"},
		{31, &httpMatch{path: "/order"}, "second"},
		{40, &httpMatch{method: "POST", path: "/multi", header: "X-A", exactV: "1", header2: "X-B", containsV2: "z"}, "multi"},
		{5, &httpMatch{path: "/gone", exact: true}, "fixed404"},
		{6, &httpMatch{path: "/broken", exact: true}, "fixed500"},
	}
	for _, r := range rules {
		a := fixed(404)
		switch r.tg {
		case "fixed500":
			a = fixed(500)
		case "fixed404":
		default:
			a = forward(tgs[r.tg], 1)
		}
		f.rule(l, r.prio, r.match.store(), a)
	}
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.2")
	c := clientFor(dp, nil)
	host := f.svc(svc).DNSEntry.DomainName
	cases := []struct {
		name    string
		method  string
		path    string
		host    string
		headers map[string]string
		want    string // backend name, or "404"/"500"
	}{
		{"no rule matches", "GET", "/", "", nil, "default"},
		{"custom domain routes like the DNS name", "GET", "/", "RATES.example.com:80", nil, "default"},
		{"method is case-sensitive", "put", "/x", "", nil, "default"},
		{"method", "PUT", "/x", "", nil, "method"},
		{"exact path", "GET", "/exact", "", nil, "exact"},
		{"exact path ignores the query", "GET", "/exact?a=1", "", nil, "exact"},
		{"exact path is case-insensitive by default", "GET", "/EXACT", "", nil, "exact"},
		{"exact path is not a prefix", "GET", "/exact/more", "", nil, "default"},
		{"case-sensitive exact path", "GET", "/Exact-CS", "", nil, "exact-cs"},
		{"case-sensitive exact path mismatch", "GET", "/exact-cs", "", nil, "default"},
		{"prefix is a plain string prefix", "GET", "/prefix/x", "", nil, "prefix"},
		{"prefix case-insensitive", "GET", "/PRE", "", nil, "prefix"},
		{"case-sensitive prefix", "GET", "/CS/a", "", nil, "prefix-cs"},
		{"case-sensitive prefix mismatch", "GET", "/cs/a", "", nil, "default"},
		{"header exact, name and value case-insensitive", "GET", "/", "", map[string]string{"x-env": "PROD"}, "hdr-exact"},
		{"header exact is not a prefix", "GET", "/", "", map[string]string{"X-Env": "Prod2"}, "default"},
		{"header prefix", "GET", "/", "", map[string]string{"X-Tenant": "ACME-eu"}, "hdr-prefix"},
		{"header contains", "GET", "/", "", map[string]string{"User-Agent": "GoogleBot/2"}, "hdr-contains"},
		{"case-sensitive header value", "GET", "/", "", map[string]string{"x-key": "Secret"}, "hdr-cs"},
		{"case-sensitive header value mismatch", "GET", "/", "", map[string]string{"X-Key": "secret"}, "default"},
		{"lower priority number wins", "GET", "/order", "", nil, "first"},
		{"next rule when the first does not match", "POST", "/order", "", nil, "second"},
		{"all conditions must hold", "POST", "/multi", "", map[string]string{"X-A": "1", "X-B": "xyz"}, "multi"},
		{"one failing condition fails the rule", "POST", "/multi", "", map[string]string{"X-A": "1", "X-B": "y"}, "default"},
		{"fixed 404", "GET", "/gone", "", nil, "404"},
		{"fixed 500", "GET", "/broken", "", nil, "500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := mustRequest(t, tc.method, "http://"+host+tc.path)
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			code, e := get(t, c, req)
			got := itoa(code)
			if e != nil {
				got = e.Backend
			}
			if got != tc.want {
				t.Errorf("routed to %s, want %s", got, tc.want)
			}
		})
	}
}

// TestNoRoute checks the answers when nothing can serve a request (docs/dataplane.md).
func TestNoRoute(t *testing.T) {
	t.Parallel()
	f := newFixture()
	svc := f.service("empty", "")
	empty := f.targetGroup("HTTP", "HTTP1", nil, "")
	f.listener(svc, "HTTP", 80, forward(empty, 1))
	zero := f.service("zero", "")
	b := startBackend(t, "unused", "127.0.51.30:8090")
	f.listener(zero, "HTTP", 80, forward(f.targetGroup("HTTP", "HTTP1", nil, "", b.addr), 0))
	down := f.service("down", "")
	f.listener(down, "HTTP", 80, forward(f.targetGroup("HTTP", "HTTP1", nil, "", "127.0.51.31:8090"), 1))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.3")
	c := clientFor(dp, nil)
	cases := []struct {
		name, host string
		want       int
	}{
		{"unknown host", "nobody.example.com", http.StatusNotFound},
		{"target group without targets", f.svc(svc).DNSEntry.DomainName, http.StatusServiceUnavailable},
		{"only weight 0", f.svc(zero).DNSEntry.DomainName, http.StatusServiceUnavailable},
		{"target refuses connections", f.svc(down).DNSEntry.DomainName, http.StatusBadGateway},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := get(t, c, mustRequest(t, "GET", "http://"+tc.host+"/"))
			if code != tc.want {
				t.Errorf("status %d, want %d", code, tc.want)
			}
		})
	}
	if b.hits.Load() != 0 {
		t.Errorf("weight-0 target group got %d requests", b.hits.Load())
	}
}

// TestForwardedHeaders checks what Lattice adds and strips (reference §3.7).
func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "hdr", "127.0.51.40:8090")
	f := newFixture()
	svc := f.service("headers", "")
	tg := f.targetGroup("HTTP", "HTTP1", nil, "", b.addr)
	f.listener(svc, "HTTP", 80, forward(tg, 1))
	src := newFakeSource()
	snap := f.build()
	src.publish(snap)
	dp := startDataPlane(t, src, "127.0.52.4")
	req := mustRequest(t, "GET", "http://"+f.svc(svc).DNSEntry.DomainName+"/h")
	req.Header.Set("X-Amzn-Lattice-Identity", "Principal=arn:aws:iam::1:root")
	req.Header.Set("X-Amzn-Lattice-Target", "spoofed")
	req.Header.Set("X-Amzn-Lattice-Network", "spoofed")
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	code, e := get(t, clientFor(dp, nil), req)
	if code != 200 || e == nil {
		t.Fatalf("status %d", code)
	}
	s := f.svc(svc)
	want := map[string]string{
		"X-Forwarded-For-Port":    "80",
		"X-Forwarded-For-Proto":   "http",
		"X-Amzn-Lattice-Target":   "ServiceArn=" + s.ARN + ";ServiceNetworkArn=" + snap.ServiceNetworks[0].ARN + ";TargetGroupArn=" + f.tg(tg).ARN,
		"X-Amzn-Lattice-Network":  "SourceVpcArn=arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0123456789abcdef0",
		"X-Amzn-Lattice-Identity": "",
	}
	if xff := e.Header.Get("X-Forwarded-For"); !strings.HasPrefix(xff, "127.") || strings.Contains(xff, ",") {
		t.Errorf("X-Forwarded-For = %q, want only the client's loopback address", xff)
	}
	for k, v := range want {
		if got := strings.Join(e.Header[k], ","); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if e.Host != s.DNSEntry.DomainName {
		t.Errorf("Host %q, want the service name %q", e.Host, s.DNSEntry.DomainName)
	}
}
