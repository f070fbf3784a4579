package deploy_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// TestProtocolVersionSwitchUnderTraffic: a TargetGroupPolicy switching a backend from HTTP1 to
// HTTP2 replaces its target group (create, register, switch the rule, drain and delete the old
// one) while clients keep sending requests through Local Lattice's data plane: none fails, and
// the backend ends up receiving HTTP/2.
func TestProtocolVersionSwitchUnderTraffic(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	offset := l.Addr().(*net.TCPAddr).Port - 80 // listener port 80 served on a port free just now
	_ = l.Close()
	ll := locallatticetest.Start(t, locallattice.Options{API: api.Options{AccountID: account}, Logger: locallatticetest.Silent,
		DataPlane: &dataplane.Options{ListenerPortOffset: offset}})
	srv, dp := ll.API, ll.DataPlane
	backend := startBackend(t)
	// Each Lattice call takes 20ms, as against AWS, so that many requests run during the switch.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	d := newDeployer(t, newClient(t, srv, 3, slowTransport{tr, 20 * time.Millisecond}))
	ctx := context.Background()

	m := seed()
	m.Services = m.Services[1:] // rates only
	s := svc(m, "rates")
	s.TargetGroups = s.TargetGroups[:1]
	s.Listeners[0].Rules = s.Listeners[0].Rules[:1]
	s.Listeners[0].Rules[0].Match = prefix("/")
	g := &s.TargetGroups[0]
	g.Port = int32(backend.port)
	g.Targets = []model.Target{{IP: "127.0.0.1", Port: int32(backend.port)}}
	res, err := d.Apply(ctx, m)
	if err != nil || !allProgrammed(res) {
		t.Fatalf("apply: %s", describeFailure(res, err))
	}
	host := res.Routes[s.Route].DNSName

	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, ok := dp.ListenerAddr(80)
		if ok && send(a, host) == nil {
			addr = a
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("data plane does not serve the route: %v", send(a, host))
		}
		time.Sleep(20 * time.Millisecond)
	}

	sendOnce := func() error { return send(addr, host) }
	load := locallatticetest.StartLoad(sendOnce, sendOnce, sendOnce, sendOnce)
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				load.Stop()
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("HTTP/1.1 traffic", func() bool { return backend.h1.Load() > 50 })

	switchVersion(m, model.ProtocolVersionHTTP2)
	g = &svc(m, "rates").TargetGroups[0]
	srv.ResetCounts()
	sentBefore := load.Sent()
	res, err = d.Apply(ctx, m)
	sentDuring := load.Sent() - sentBefore
	if err != nil || !allProgrammed(res) {
		load.Stop()
		t.Fatalf("apply: %s", describeFailure(res, err))
	}
	switchCalls := calls(srv)
	h2Before := backend.h2.Load()
	waitFor("HTTP/2 traffic", func() bool { return backend.h2.Load() > h2Before+50 })
	sent, failed, firstErr := load.Stop()

	checkState(t, srv, m)
	t.Logf("%d requests (%d started during the Apply), %d failed; backend saw %d HTTP/1.1 and %d HTTP/2; switch calls %v",
		sent, sentDuring, failed, backend.h1.Load(), backend.h2.Load(), switchCalls)
	if failed != 0 {
		t.Fatalf("%d of %d requests failed during the switch, first: %v", failed, sent, firstErr)
	}
	if g.Name != "parking-http2" {
		t.Fatalf("target group %s", g.Name)
	}
	if sentDuring < 10 {
		t.Fatalf("only %d requests started during the switch", sentDuring)
	}
}

// backend answers every request on loopback over HTTP/1.1 and prior-knowledge HTTP/2, counting
// which one each request came over.
type backend struct {
	port   int
	h1, h2 atomic.Int64
}

func startBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.port = l.Addr().(*net.TCPAddr).Port
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	hs := &http.Server{Protocols: &protos, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A little work, so that requests are in flight on the old target group while it
			// is drained and deleted.
			time.Sleep(2 * time.Millisecond)
			if r.ProtoMajor == 2 {
				b.h2.Add(1)
			} else {
				b.h1.Add(1)
			}
			_, _ = io.WriteString(w, "parking "+strconv.Itoa(r.ProtoMajor))
		})}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })
	return b
}

var trafficClient = &http.Client{Timeout: 5 * time.Second}

// send makes one request to the data plane at addr for the service named host.
func send(addr, host string) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/parking", nil)
	if err != nil {
		return err
	}
	req.Host = host
	resp, err := trafficClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &statusError{resp.StatusCode}
	}
	return nil
}

type slowTransport struct {
	next  http.RoundTripper
	delay time.Duration
}

func (s slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	time.Sleep(s.delay)
	return s.next.RoundTrip(r)
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "HTTP " + strconv.Itoa(e.code) }
