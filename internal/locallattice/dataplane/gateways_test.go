package dataplane

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/contract"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// TestGatewayAddresses routes requests that arrive on service networks' gateway addresses with
// any Host, as the Gateway API conformance suite sends them.
func TestGatewayAddresses(t *testing.T) {
	t.Parallel()
	backends := map[string]*backend{}
	for i, n := range []string{"root", "v2", "custom", "other", "method", "tagged"} {
		backends[n] = startBackend(t, n, "127.0.53."+itoa(i+1)+":8090")
	}
	f := newFixture()
	tg := func(n string) store.RuleAction {
		return forward(f.targetGroup("HTTP", "HTTP1", nil, "", backends[n].addr), 1)
	}
	// Service "root" is the oldest; "v2" is newer but more specific; "custom" has a custom
	// domain and joins root's service network; "other" is in a service network of its own.
	root := f.service("root", "")
	net1 := f.snap.ServiceNetworks[0]
	v2 := f.service("v2", "")
	custom := f.service("custom", "custom.example.com")
	other := f.service("other", "")
	moveToNetwork(f, net1.ID, v2, custom)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range []string{root, v2, custom, other} {
		f.svc(id).CreatedAt = base.Add(time.Duration(i) * time.Minute)
	}
	f.rule(f.listener(root, "HTTP", 80, fixed(404)), 1, (&httpMatch{path: "/"}).store(), tg("root"))
	lv2 := f.listener(v2, "HTTP", 80, fixed(404))
	f.rule(lv2, 1, (&httpMatch{path: "/v2"}).store(), tg("v2"))
	f.rule(lv2, 2, (&httpMatch{path: "/", method: "DELETE"}).store(), tg("method"))
	f.rule(f.listener(custom, "HTTP", 80, fixed(404)), 1, (&httpMatch{path: "/"}).store(), tg("custom"))
	f.rule(f.listener(other, "HTTP", 80, fixed(404)), 1, (&httpMatch{path: "/other", exact: true}).store(), tg("other"))

	// A route with several hostnames: its service has one custom domain and the hostnames tag.
	tagged := f.service("tagged", "first.example.org")
	f.svc(tagged).Tags = map[string]string{contract.TagHostnames: ".wild.example.org first.example.org second.example.org"}
	f.svc(tagged).CreatedAt = base.Add(time.Hour)
	f.rule(f.listener(tagged, "HTTP", 80, fixed(404)), 1, (&httpMatch{path: "/"}).store(), tg("tagged"))
	moveToNetwork(f, net1.ID, tagged)

	// A TLS passthrough service gets a socket on the gateway address too (routed by SNI).
	tls := f.service("tls", "tls.example.com")
	moveToNetwork(f, net1.ID, tls)
	f.listener(tls, "TLS_PASSTHROUGH", 443, forward(f.targetGroup("TCP", "", nil, "", "127.0.53.9:8443"), 1))

	prefix := netip.MustParsePrefix("127.78.0.0/16")
	addr1 := contract.GatewayAddress(prefix, net1.Name)
	addr2 := contract.GatewayAddress(prefix, "net-other")
	if addr1 == addr2 {
		t.Fatalf("test service networks hash to one address %s", addr1)
	}
	src := newFakeSource()
	src.publish(f.build())
	dp, err := New(src, Options{
		DNSAddr: "127.0.53.100:0", DataPlaneAddr: "127.0.53.100", ListenerPortOffset: testPortOffset,
		DataDir: t.TempDir(), Dialer: LoopbackOnlyDialer(t), GatewayAddresses: prefix,
	}, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := dp.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dp.Close)
	if got, ok := dp.GatewayAddr(net1.Name, 80); !ok || got != net.JoinHostPort(addr1.String(), strconv.Itoa(80+testPortOffset)) {
		t.Fatalf("GatewayAddr(%s, 80) = %q, %v; want %s:%d", net1.Name, got, ok, addr1, 80+testPortOffset)
	}
	if _, ok := dp.GatewayAddr(net1.Name, 443); !ok {
		t.Errorf("no gateway socket for the TLS passthrough listener on port 443")
	}
	d := &net.Dialer{}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		ap := netip.MustParseAddrPort(a)
		return d.DialContext(ctx, network, net.JoinHostPort(ap.Addr().String(), strconv.Itoa(int(ap.Port())+testPortOffset)))
	}}}

	cases := []struct {
		name, method string
		gw           netip.Addr
		host, path   string
		want         string // backend name, or "" for 404
	}{
		{"host-less request reaches the only matching rule", "GET", addr1, "", "/", "root"},
		{"a longer prefix of a newer service beats the older service", "GET", addr1, "", "/v2/x", "v2"},
		{"a rule with a method beats an equal path without one", "DELETE", addr1, "", "/", "method"},
		{"unknown Host is served by services without a custom domain", "GET", addr1, "www.example.org", "/", "root"},
		{"a custom domain serves its own Host only", "GET", addr1, "custom.example.com", "/v2/x", "custom"},
		{"Host is matched without case and port", "GET", addr1, "CUSTOM.example.com:80", "/", "custom"},
		{"a hostname of the tag beyond the custom domain", "GET", addr1, "second.example.org", "/v2/x", "tagged"},
		{"a wildcard hostname of the tag beats services serving any Host", "GET", addr1, "a.b.wild.example.org", "/v2/x", "tagged"},
		{"a wildcard does not match its bare domain", "GET", addr1, "wild.example.org", "/v2/x", "v2"},
		{"the other service network is separate", "GET", addr2, "", "/other", "other"},
		{"no matching rule answers 404", "GET", addr2, "", "/", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+net.JoinHostPort(tc.gw.String(), "80")+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			code, e := get(t, c, req)
			switch {
			case tc.want == "" && code != http.StatusNotFound:
				t.Errorf("status %d, want 404", code)
			case tc.want != "" && (code != http.StatusOK || e == nil || e.Backend != tc.want):
				t.Errorf("status %d, answer %+v; want 200 from %s", code, e, tc.want)
			}
		})
	}

	// Deleting the service network's last listener closes its gateway sockets.
	f.snap.Listeners = f.snap.Listeners[:0]
	src.publish(f.build())
	eventually(t, "gateway sockets closed", func() bool {
		_, ok := dp.GatewayAddr(net1.Name, 80)
		return !ok
	})
}

func TestCompareSpecificity(t *testing.T) {
	exact := &matcher{path: &pathMatcher{value: "/a"}}
	long := &matcher{path: &pathMatcher{value: "/abc", prefix: true}}
	short := &matcher{path: &pathMatcher{value: "/a", prefix: true}}
	method := &matcher{method: "GET", path: &pathMatcher{value: "/a", prefix: true}}
	headers := &matcher{path: &pathMatcher{value: "/a", prefix: true}, headers: []headerMatcher{{name: "X"}}}
	cases := []struct {
		name string
		a, b *matcher
		want int
	}{
		{"exact beats a longer prefix", exact, long, 1},
		{"longer prefix beats shorter", long, short, 1},
		{"method beats none", method, short, 1},
		{"method beats headers", method, headers, 1},
		{"headers beat none", headers, short, 1},
		{"a longer prefix beats match-all", long, nil, 1},
		{"a method beats a path-less header match", &matcher{method: "PATCH"}, &matcher{headers: []headerMatcher{{name: "V"}}}, 1},
		{"no path is the prefix /", &matcher{}, &matcher{path: &pathMatcher{value: "/", prefix: true}}, 0},
		{"equal", short, &matcher{path: &pathMatcher{value: "/b", prefix: true}}, 0},
	}
	for _, tc := range cases {
		if got := compareSpecificity(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
		if got := compareSpecificity(tc.b, tc.a); got != -tc.want {
			t.Errorf("%s (reversed): got %d, want %d", tc.name, got, -tc.want)
		}
	}
}

// moveToNetwork associates the services with service network snID instead of their own.
func moveToNetwork(f *fixture, snID string, serviceIDs ...string) {
	for i := range f.snap.ServiceAssociations {
		if a := &f.snap.ServiceAssociations[i]; slices.Contains(serviceIDs, a.ServiceID) {
			a.ServiceNetworkID = snID
		}
	}
}
