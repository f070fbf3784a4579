package dataplane

import (
	"context"
	"net/http"
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
