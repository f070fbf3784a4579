package dataplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr/testr"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// fakeSource is a minimal in-memory DataPlaneSource: tests build snapshots with fixture and
// publish them; SetTargetHealth rewrites the published snapshot like the store does.
type fakeSource struct {
	snap atomic.Pointer[store.Snapshot]

	mu   sync.Mutex
	subs map[int]func()
	next int
}

func newFakeSource() *fakeSource {
	f := &fakeSource{subs: map[int]func(){}}
	f.snap.Store(&store.Snapshot{Region: "us-west-2", AccountID: "123456789012"})
	return f
}

func (f *fakeSource) Snapshot() *store.Snapshot { return f.snap.Load() }

func (f *fakeSource) Subscribe(fn func()) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.next
	f.next++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

func (f *fakeSource) publish(s *store.Snapshot) {
	f.mu.Lock()
	s.Version = f.snap.Load().Version + 1
	f.snap.Store(s)
	fns := make([]func(), 0, len(f.subs))
	for _, fn := range f.subs {
		fns = append(fns, fn)
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

func (f *fakeSource) SetTargetHealth(tgID, targetID string, port int32, status, reason string) {
	old := f.snap.Load()
	s := *old
	s.TargetGroups = make([]store.TargetGroup, len(old.TargetGroups))
	changed := false
	for i, tg := range old.TargetGroups {
		tg.Targets = append([]store.Target(nil), tg.Targets...)
		for j := range tg.Targets {
			t := &tg.Targets[j]
			if tg.ID == tgID && t.ID == targetID && t.Port == port && t.Status != "DRAINING" && t.Status != status {
				t.Status, t.ReasonCode, changed = status, reason, true
			}
		}
		s.TargetGroups[i] = tg
	}
	if changed {
		f.publish(&s)
	}
}

func (f *fakeSource) targetStatus(tgID, targetID string) string {
	for _, tg := range f.snap.Load().TargetGroups {
		for _, t := range tg.Targets {
			if tg.ID == tgID && t.ID == targetID {
				return t.Status
			}
		}
	}
	return ""
}

// fixture builds a snapshot with Lattice-shaped IDs, ARNs and DNS names.
type fixture struct {
	snap store.Snapshot
	n    int
}

func newFixture() *fixture {
	return &fixture{snap: store.Snapshot{Region: "us-west-2", AccountID: "123456789012"}}
}

func (f *fixture) id(prefix string) string {
	f.n++
	return fmt.Sprintf("%s-%017x", prefix, f.n)
}

func (f *fixture) arn(kind, id string) string {
	return "arn:aws:vpc-lattice:us-west-2:123456789012:" + kind + "/" + id
}

// service creates a service in a service network with a VPC; it returns the service ID.
func (f *fixture) service(name, customDomain string) string {
	id := f.id("svc")
	f.snap.Services = append(f.snap.Services, store.Service{
		ID: id, ARN: f.arn("service", id), Name: name, CustomDomainName: customDomain, Status: "ACTIVE",
		DNSEntry: store.DNSEntry{DomainName: dnsName(name, id)},
	})
	snID := f.id("sn")
	f.snap.ServiceNetworks = append(f.snap.ServiceNetworks, store.ServiceNetwork{ID: snID, ARN: f.arn("servicenetwork", snID), Name: "net-" + name})
	f.snap.ServiceAssociations = append(f.snap.ServiceAssociations, store.ServiceNetworkServiceAssociation{ID: f.id("snsa"), ServiceID: id, ServiceNetworkID: snID, Status: "ACTIVE"})
	f.snap.VPCAssociations = append(f.snap.VPCAssociations, store.ServiceNetworkVpcAssociation{ID: f.id("snva"), ServiceNetworkID: snID, VPCID: "vpc-0123456789abcdef0", Status: "ACTIVE"})
	return id
}

func dnsName(name, id string) string {
	return name + "-" + id[4:] + ".7d67968.vpc-lattice-svcs.us-west-2.on.aws"
}

func (f *fixture) svc(id string) *store.Service {
	for i := range f.snap.Services {
		if f.snap.Services[i].ID == id {
			return &f.snap.Services[i]
		}
	}
	panic("no service " + id)
}

func (f *fixture) listener(svcID, protocol string, port int32, def store.RuleAction) string {
	id := f.id("listener")
	f.snap.Listeners = append(f.snap.Listeners, store.Listener{ID: id, ARN: f.arn("service", svcID) + "/listener/" + id, ServiceID: svcID, Protocol: protocol, Port: port, DefaultAction: def})
	return id
}

func (f *fixture) rule(listenerID string, priority int32, m *store.HTTPMatch, a store.RuleAction) {
	id := f.id("rule")
	f.snap.Rules = append(f.snap.Rules, store.Rule{ID: id, ARN: "arn:rule/" + id, ListenerID: listenerID, Priority: priority, Match: store.RuleMatch{HTTPMatch: m}, Action: a})
}

// targetGroup registers each "ip:port" target with the given status (HEALTHY if empty).
func (f *fixture) targetGroup(protocol, version string, hc *store.HealthCheckConfig, status string, targets ...string) string {
	id := f.id("tg")
	tg := store.TargetGroup{ID: id, ARN: f.arn("targetgroup", id), Name: id, Type: "IP", Status: "ACTIVE",
		Config: &store.TargetGroupConfig{Protocol: protocol, ProtocolVersion: version, Port: ptr(int32(80)), HealthCheck: hc}}
	if status == "" {
		status = "HEALTHY"
	}
	for _, t := range targets {
		host, port, _ := net.SplitHostPort(t)
		p, _ := strconv.Atoi(port)
		tg.Targets = append(tg.Targets, store.Target{ID: host, Port: int32(p), Status: status})
	}
	f.snap.TargetGroups = append(f.snap.TargetGroups, tg)
	return id
}

func (f *fixture) tg(id string) *store.TargetGroup {
	for i := range f.snap.TargetGroups {
		if f.snap.TargetGroups[i].ID == id {
			return &f.snap.TargetGroups[i]
		}
	}
	panic("no target group " + id)
}

// build returns a deep enough copy to publish while the fixture keeps changing.
func (f *fixture) build() *store.Snapshot {
	s := f.snap
	s.Services = append([]store.Service(nil), s.Services...)
	s.Listeners = append([]store.Listener(nil), s.Listeners...)
	s.Rules = append([]store.Rule(nil), s.Rules...)
	s.TargetGroups = append([]store.TargetGroup(nil), s.TargetGroups...)
	for i := range s.TargetGroups {
		s.TargetGroups[i].Targets = append([]store.Target(nil), s.TargetGroups[i].Targets...)
	}
	s.AccessLogSubscriptions = append([]store.AccessLogSubscription(nil), s.AccessLogSubscriptions...)
	return &s
}

func ptr[T any](v T) *T { return &v }

func forward(tgs ...any) store.RuleAction {
	fa := &store.ForwardAction{}
	for i := 0; i+1 < len(tgs); i += 2 {
		fa.TargetGroups = append(fa.TargetGroups, store.WeightedTargetGroup{TargetGroupIdentifier: tgs[i].(string), Weight: ptr(int32(tgs[i+1].(int)))})
	}
	return store.RuleAction{Forward: fa}
}

func fixed(code int32) store.RuleAction {
	return store.RuleAction{FixedResponse: &store.FixedResponseAction{StatusCode: code}}
}

// testPortOffset keeps test listeners off privileged ports.
const testPortOffset = 20000

// startDataPlane runs a data plane on its own loopback address ip, so tests run in parallel.
// Edits adjust the options before start.
func startDataPlane(t *testing.T, src store.DataPlaneSource, ip string, edits ...func(*Options)) *DataPlane {
	t.Helper()
	opts := Options{
		DNSAddr:             ip + ":0",
		DataPlaneAddr:       ip,
		ListenerPortOffset:  testPortOffset,
		DataDir:             t.TempDir(),
		Dialer:              LoopbackOnlyDialer(t),
		HealthCheckInterval: 50 * time.Millisecond,
	}
	for _, edit := range edits {
		edit(&opts)
	}
	dp, err := New(src, opts, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := dp.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dp.Close)
	return dp
}

// clientFor returns an HTTP client that resolves every name to the data plane (as the DNS
// server would) and dials listener port P at its bound address.
func clientFor(dp *DataPlane, protos func(*http.Protocols)) *http.Client {
	var p http.Protocols
	if protos == nil {
		p.SetHTTP1(true)
	} else {
		protos(&p)
	}
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		Protocols:       &p,
		TLSClientConfig: &tls.Config{RootCAs: dp.CA().Pool()},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			p, _ := strconv.Atoi(port)
			return d.DialContext(ctx, network, net.JoinHostPort(dp.opts.DataPlaneAddr, strconv.Itoa(p+testPortOffset)))
		},
		MaxIdleConnsPerHost: 16,
	}}
}

// echo is what backends answer.
type echo struct {
	Backend string      `json:"backend"`
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	Host    string      `json:"host"`
	Proto   string      `json:"proto"`
	Header  http.Header `json:"header"`
}

// backend is a simulated pod: an HTTP/1.1 + h2c server on its own loopback address whose
// /health answer can be switched off.
type backend struct {
	name    string
	addr    string
	hits    atomic.Int64
	sick    atomic.Bool
	release chan struct{} // closed to let /slow answer
}

func startBackend(t testing.TB, name, addr string) *backend {
	t.Helper()
	b := &backend{name: name, addr: addr, release: make(chan struct{})}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("backend %s: %v", name, err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: b, Protocols: &p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/health" || strings.HasPrefix(r.UserAgent(), "Amazon-VPC-Lattice-HealthChecker") {
		if b.sick.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		return
	}
	b.hits.Add(1)
	if r.URL.Path == "/slow" {
		<-b.release
	}
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(echo{Backend: b.name, Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Proto: r.Proto, Header: r.Header})
}

// get sends one request and decodes the backend's echo (nil when the answer is not from a backend).
func get(t *testing.T, c *http.Client, req *http.Request) (int, *echo) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	var e echo
	if json.Unmarshal(body, &e) != nil || e.Backend == "" {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, &e
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readAccessLog decodes an access-log file, one entry per line.
func readAccessLog(t *testing.T, path string) []accessLogEntry {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []accessLogEntry
	for _, line := range splitLines(data) {
		var e accessLogEntry
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("%s: %v in %q", path, err, line)
		}
		out = append(out, e)
	}
	return out
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// startWithAPI runs the Local Lattice API and a data plane on ip reading its store, and returns
// an SDK client for the API.
func startWithAPI(t *testing.T, ip string, edits ...func(*Options)) (*vpclattice.Client, *DataPlane) {
	t.Helper()
	o := api.DefaultOptions()
	o.Logger = testr.New(t)
	o.DrainingDelay = time.Minute
	srv, err := api.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	lc := vpclattice.New(vpclattice.Options{Region: o.Region, BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")})
	return lc, startDataPlane(t, srv.Store(), ip, edits...)
}

// must unwraps an SDK call that has to succeed; a failure panics, failing the test with the
// error (Go cannot pass (v, err) along with a *testing.T).
func must[T any](v T, err error) T {
	if err != nil {
		panic("unexpected error: " + err.Error())
	}
	return v
}
