package dataplane

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

func TestParseCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in        string
		ok, notOK []int
	}{
		{"200", []int{200}, []int{201, 199}},
		{"200-299,301", []int{200, 250, 299, 301}, []int{300, 302, 404}},
		{" 404 , 500-501", []int{404, 500, 501}, []int{200}},
		{"garbage", []int{200}, []int{201}},
	}
	for _, tc := range cases {
		m := parseCodes(tc.in)
		for _, c := range tc.ok {
			if !m.match(c) {
				t.Errorf("%q does not match %d", tc.in, c)
			}
		}
		for _, c := range tc.notOK {
			if m.match(c) {
				t.Errorf("%q matches %d", tc.in, c)
			}
		}
	}
}

// TestHealthFailoverAndFailOpen: a failing target leaves rotation once the unhealthy threshold
// is reached, comes back after the healthy threshold, and when every target fails traffic goes
// to all of them (fail open, reference §3.4).
func TestHealthFailoverAndFailOpen(t *testing.T) {
	t.Parallel()
	a := startBackend(t, "a", "127.0.51.50:8090")
	b := startBackend(t, "b", "127.0.51.51:8090")
	f := newFixture()
	svc := f.service("checked", "")
	hc := &store.HealthCheckConfig{Path: "/health", HealthyThresholdCount: ptr(int32(2)), UnhealthyThresholdCount: ptr(int32(2)),
		Matcher: &store.Matcher{HTTPCode: ptr("200-299")}}
	tg := f.targetGroup("HTTP", "HTTP1", hc, "INITIAL", a.addr, b.addr)
	f.listener(svc, "HTTP", 80, forward(tg, 1))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.5")
	c := clientFor(dp, nil)
	url := "http://" + f.svc(svc).DNSEntry.DomainName + "/"
	status := func(be *backend) func() string {
		return func() string { return src.targetStatus(tg, be.addr[:len(be.addr)-5]) }
	}
	waitStatus := func(be *backend, want string) {
		eventually(t, be.name+" "+want, func() bool { return status(be)() == want })
	}
	spread := func() map[string]int {
		got := map[string]int{}
		for range 20 {
			code, e := get(t, c, mustRequest(t, "GET", url))
			if code != 200 || e == nil {
				t.Fatalf("status %d", code)
			}
			got[e.Backend]++
		}
		return got
	}

	waitStatus(a, "HEALTHY")
	waitStatus(b, "HEALTHY")
	if got := spread(); got["a"] != 10 || got["b"] != 10 {
		t.Errorf("both healthy: split %v, want 10/10", got)
	}

	b.sick.Store(true)
	waitStatus(b, "UNHEALTHY")
	if got := spread(); got["a"] != 20 {
		t.Errorf("b unhealthy: split %v, want all on a", got)
	}

	a.sick.Store(true)
	waitStatus(a, "UNHEALTHY")
	if got := spread(); got["a"] != 10 || got["b"] != 10 {
		t.Errorf("all unhealthy (fail open): split %v, want 10/10", got)
	}

	a.sick.Store(false)
	b.sick.Store(false)
	waitStatus(a, "HEALTHY")
	waitStatus(b, "HEALTHY")
}

// TestDrainingAndLiveChanges: a DRAINING target gets no new requests while its request in
// flight completes, and a routing change applies to the next request.
func TestDrainingAndLiveChanges(t *testing.T) {
	t.Parallel()
	a := startBackend(t, "a", "127.0.51.60:8090")
	b := startBackend(t, "b", "127.0.51.61:8090")
	n := startBackend(t, "new", "127.0.51.62:8090")
	f := newFixture()
	svc := f.service("drain", "")
	tg := f.targetGroup("HTTP", "HTTP1", &store.HealthCheckConfig{Enabled: ptr(false)}, "UNAVAILABLE", a.addr, b.addr)
	l := f.listener(svc, "HTTP", 80, forward(tg, 1))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.6")
	c := clientFor(dp, nil)
	host := "http://" + f.svc(svc).DNSEntry.DomainName

	// Park one slow request on each target.
	done := make(chan string, 2)
	for range 2 {
		go func() {
			resp, err := c.Do(mustRequest(t, "GET", host+"/slow"))
			if err != nil {
				done <- err.Error()
				return
			}
			resp.Body.Close()
			done <- resp.Status
		}()
	}
	eventually(t, "both slow requests to arrive", func() bool { return a.hits.Load() == 1 && b.hits.Load() == 1 })

	f.tg(tg).Targets[1].Status = "DRAINING"
	src.publish(f.build())
	for range 10 {
		if code, e := get(t, c, mustRequest(t, "GET", host+"/")); code != 200 || e.Backend != "a" {
			t.Fatalf("draining: got %d from %v, want a", code, e)
		}
	}

	// Move the listener to a new target group while requests are in flight.
	nt := f.targetGroup("HTTP", "HTTP1", &store.HealthCheckConfig{Enabled: ptr(false)}, "UNAVAILABLE", n.addr)
	for i := range f.snap.Listeners {
		if f.snap.Listeners[i].ID == l {
			f.snap.Listeners[i].DefaultAction = forward(nt, 1)
		}
	}
	src.publish(f.build())
	if code, e := get(t, c, mustRequest(t, "GET", host+"/")); code != 200 || e.Backend != "new" {
		t.Fatalf("after change: got %d from %v, want new", code, e)
	}

	close(a.release)
	close(b.release)
	for range 2 {
		select {
		case s := <-done:
			if s != "200 OK" {
				t.Errorf("request in flight ended with %s", s)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("request in flight did not finish")
		}
	}
}

// TestListenerPortRemovedKeepsInFlight: deleting the last listener on a port stops new
// connections but lets a request in flight finish.
func TestListenerPortRemovedKeepsInFlight(t *testing.T) {
	t.Parallel()
	a := startBackend(t, "a", "127.0.51.63:8090")
	f := newFixture()
	svc := f.service("gone", "")
	f.listener(svc, "HTTP", 8081, forward(f.targetGroup("HTTP", "HTTP1", &store.HealthCheckConfig{Enabled: ptr(false)}, "UNAVAILABLE", a.addr), 1))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.7")
	c := clientFor(dp, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+f.svc(svc).DNSEntry.DomainName+":8081/slow", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = &statusError{resp.StatusCode}
			}
		}
		done <- err
	}()
	eventually(t, "slow request to arrive", func() bool { return a.hits.Load() == 1 })
	f.snap.Listeners = nil
	src.publish(f.build())
	if _, ok := dp.ListenerAddr(8081); ok {
		t.Error("port 8081 still served after its last listener was deleted")
	}
	close(a.release)
	if err := <-done; err != nil {
		t.Errorf("request in flight: %v", err)
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// TestHealthCheckProtocolPortPath: a check configured for HTTPS over HTTP/2 on its own port and
// path reaches that endpoint with that protocol, and its matcher decides the target's state,
// which ListTargets would show with a reason code.
func TestHealthCheckProtocolPortPath(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "tls-checked", "127.0.54.50:8090")
	var code atomic.Int32
	code.Store(http.StatusNoContent)
	var seen atomic.Value
	ln, err := net.Listen("tcp", "127.0.54.50:8443")
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Proto + " " + r.URL.RequestURI())
		w.WriteHeader(int(code.Load()))
	}))
	hs.Listener.Close()
	hs.Listener = ln
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)

	f := newFixture()
	svc := f.service("tls-checked", "")
	hc := &store.HealthCheckConfig{Protocol: "HTTPS", ProtocolVersion: "HTTP2", Port: ptr(int32(8443)), Path: "/ready?deep=1",
		HealthyThresholdCount: ptr(int32(2)), UnhealthyThresholdCount: ptr(int32(2)), Matcher: &store.Matcher{HTTPCode: ptr("200-204")}}
	tg := f.targetGroup("HTTP", "HTTP1", hc, "INITIAL", b.addr)
	f.listener(svc, "HTTP", 80, forward(tg, 1))
	src := newFakeSource()
	src.publish(f.build())
	startDataPlane(t, src, "127.0.54.5")
	status := func() (string, string) {
		for _, g := range src.snap.Load().TargetGroups {
			for _, tt := range g.Targets {
				if g.ID == tg {
					return tt.Status, tt.ReasonCode
				}
			}
		}
		return "", ""
	}
	eventually(t, "HEALTHY", func() bool { s, _ := status(); return s == "HEALTHY" })
	if got, _ := seen.Load().(string); got != "HTTP/2.0 /ready?deep=1" {
		t.Errorf("health check arrived as %q, want HTTP/2.0 /ready?deep=1", got)
	}
	code.Store(http.StatusInternalServerError)
	eventually(t, "UNHEALTHY", func() bool { s, _ := status(); return s == "UNHEALTHY" })
	if _, reason := status(); reason != "HealthCheckResponseMismatch" {
		t.Errorf("reason %q", reason)
	}
	code.Store(http.StatusOK)
	eventually(t, "HEALTHY again", func() bool { s, reason := status(); return s == "HEALTHY" && reason == "" })
	if b.hits.Load() != 0 {
		t.Errorf("health checks went to the traffic port: %d hits", b.hits.Load())
	}
}

// TestEffectiveHealth: the defaults of reference §3.5, and 0 meaning "the default".
func TestEffectiveHealth(t *testing.T) {
	t.Parallel()
	tg := func(version string, hc *store.HealthCheckConfig) *store.TargetGroup {
		return &store.TargetGroup{Type: "IP", Config: &store.TargetGroupConfig{Protocol: "HTTP", ProtocolVersion: version, HealthCheck: hc}}
	}
	def := effectiveHealth(tg("HTTP1", nil), 0)
	if !def.enabled || def.scheme != "http" || def.http2 || def.port != 0 || def.path != "/" || def.interval != 30*time.Second ||
		def.timeout != 5*time.Second || def.healthy != 5 || def.unhealthy != 2 || !def.codes.match(200) || def.codes.match(204) {
		t.Errorf("HTTP1 defaults: %+v", def)
	}
	if effectiveHealth(tg("HTTP2", nil), 0).enabled || effectiveHealth(tg("GRPC", nil), 0).enabled {
		t.Error("health checks on by default for an HTTP2 or GRPC target group")
	}
	zero := effectiveHealth(tg("HTTP1", &store.HealthCheckConfig{HealthCheckIntervalSeconds: ptr(int32(0)), HealthyThresholdCount: ptr(int32(0))}), 0)
	if zero.interval != 30*time.Second || zero.healthy != 5 {
		t.Errorf("0 does not reset to the default: %+v", zero)
	}
	set := effectiveHealth(tg("HTTP1", &store.HealthCheckConfig{HealthCheckIntervalSeconds: ptr(int32(7)), HealthCheckTimeoutSeconds: ptr(int32(2)),
		UnhealthyThresholdCount: ptr(int32(4))}), 0)
	if set.interval != 7*time.Second || set.timeout != 2*time.Second || set.unhealthy != 4 {
		t.Errorf("configured values not used: %+v", set)
	}
	if o := effectiveHealth(tg("HTTP1", &store.HealthCheckConfig{HealthCheckIntervalSeconds: ptr(int32(7))}), time.Second); o.interval != time.Second {
		t.Errorf("--health-check-interval not applied: %v", o.interval)
	}
}
