// Package dataplane is Local Lattice's data plane: it resolves service names, accepts traffic on
// every listener port and routes it the way VPC Lattice does (reference §3), reading
// configuration from the store and reporting target health back to it.
//
// Every store change is compiled into an immutable routing table that requests read through an
// atomic pointer: a change applies to the next request and never blocks or drops one in flight.
package dataplane

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane/dns"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane/pki"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// drainTimeout bounds how long a removed listener port keeps serving requests in flight.
const drainTimeout = time.Minute

// DataPlane serves DNS and listener traffic for the services in a store.
type DataPlane struct {
	src  store.DataPlaneSource
	opts Options
	log  logr.Logger

	dial       DialFunc
	table      atomic.Pointer[table]
	transports *transports
	h1         *h1Pool
	buffers    bufferPool
	sinks      *sinks
	health     *healthChecks
	metrics    *metrics
	ca         *pki.CA
	principals *principals
	dns        *dns.Server

	ctx    context.Context
	cancel context.CancelFunc
	unsub  func()

	// gateways routes requests that arrive on gateway addresses (gateways.go).
	gateways atomic.Pointer[gatewayTable]

	mu               sync.Mutex // serialises reconcile and guards listeners and conns
	listeners        map[int32]*portListener
	gatewayListeners map[gatewayPort]*portListener
	conns            map[net.Conn]struct{}
	closed           bool
	// rebind retries sockets that failed to bind (binds.go); nil when none is pending.
	rebind        *time.Timer
	rebindBackoff time.Duration
}

// New prepares a data plane; Start binds its sockets.
func New(src store.DataPlaneSource, opts Options, log logr.Logger) (*DataPlane, error) {
	if err := opts.complete(); err != nil {
		return nil, err
	}
	dp := &DataPlane{
		src:              src,
		opts:             opts,
		log:              log,
		dial:             targetDialer(opts),
		sinks:            &sinks{dataDir: opts.DataDir, log: log, all: map[string]*logSink{}},
		listeners:        map[int32]*portListener{},
		gatewayListeners: map[gatewayPort]*portListener{},
		conns:            map[net.Conn]struct{}{},
		metrics:          newMetrics(src),
	}
	dp.transports = newTransports(dp.dial)
	dp.h1 = newH1Pool(dp.dial)
	dp.health = &healthChecks{dp: dp, probers: map[proberKey]*prober{}}
	dp.table.Store(compile(&store.Snapshot{}, nil, nil))
	dp.gateways.Store(&gatewayTable{})
	return dp, nil
}

// Start creates (or loads) the CA, starts DNS, and begins following the store. Listener ports
// are bound as services appear; a port that cannot be bound is logged and retried with backoff
// until it binds or is no longer needed. Start returns once the current configuration is being
// served.
func (dp *DataPlane) Start(ctx context.Context) error {
	ca, err := pki.LoadOrCreate(dp.opts.DataDir)
	if err != nil {
		return fmt.Errorf("start data plane: %w", err)
	}
	dp.ca = ca
	if dp.principals, err = loadPrincipals(dp.opts.DataDir, dp.opts.PrincipalsFile, dp.src.Snapshot().AccountID); err != nil {
		return fmt.Errorf("start data plane: %w", err)
	}
	p := dp.principals.initial
	dp.log.Info("IAM auth: sign requests to AWS_IAM services with this principal (SigV4, service vpc-lattice-svcs)",
		"arn", p.ARN, "accessKeyId", p.AccessKeyID, "secretAccessKey", p.SecretAccessKey,
		"file", filepath.Join(dp.opts.DataDir, initialPrincipalFile))
	answer, _ := netip.ParseAddr(dp.opts.DataPlaneAddr)
	dp.dns = dns.New(dp.resolves, answer.AsSlice(), dp.log.WithName("dns"))
	if err := dp.dns.Start(dp.opts.DNSAddr); err != nil {
		return fmt.Errorf("start data plane: %w", err)
	}
	dp.ctx, dp.cancel = context.WithCancel(ctx)
	dp.unsub = dp.src.Subscribe(dp.reconcile)
	dp.reconcile()
	dp.log.Info("data plane started", "dns", dp.dns.Addr(), "address", dp.opts.DataPlaneAddr,
		"portOffset", dp.opts.ListenerPortOffset, "ca", ca.CertPath())
	go func() {
		<-dp.ctx.Done()
		dp.Close()
	}()
	return nil
}

func (dp *DataPlane) resolves(name string) bool {
	_, ok := dp.table.Load().names[name]
	return ok
}

// reconcile compiles the current snapshot and brings listeners and health checks in line.
func (dp *DataPlane) reconcile() {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	if dp.closed {
		return
	}
	snap := dp.src.Snapshot()
	if snap == nil {
		return
	}
	prev := dp.table.Load()
	t := compile(snap, prev, dp.sinks.get)
	dp.table.Store(t)
	for id, msg := range t.invalidPolicies {
		if prev.invalidPolicies[id] != msg {
			dp.log.Info("auth policy does not parse: requests it governs are denied", "resource", id, "error", msg)
		}
	}
	for port, pl := range dp.listeners {
		if _, ok := t.ports[port]; !ok {
			ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			pl.close(ctx)
			time.AfterFunc(drainTimeout, cancel)
			delete(dp.listeners, port)
		}
	}
	dp.reconcileGateways(snap, t)
	dp.bindMissing()
	dp.health.reconcile(dp.ctx, snap)
	dp.h1.prune(t.targetAddrs())
}

// track registers passthrough connections so that Close can end them; it returns the untrack.
func (dp *DataPlane) track(conns ...net.Conn) func() {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	for _, c := range conns {
		dp.conns[c] = struct{}{}
	}
	return func() {
		dp.mu.Lock()
		defer dp.mu.Unlock()
		for _, c := range conns {
			delete(dp.conns, c)
		}
	}
}

// Close stops everything and closes every connection. It is safe to call more than once.
func (dp *DataPlane) Close() {
	dp.mu.Lock()
	if dp.closed {
		dp.mu.Unlock()
		return
	}
	dp.closed = true
	if dp.rebind != nil {
		dp.rebind.Stop()
	}
	if dp.unsub != nil {
		dp.unsub()
	}
	if dp.cancel != nil {
		dp.cancel()
	}
	for port, pl := range dp.listeners {
		pl.ln.Close()
		pl.conns.Close()
		pl.srv.Close()
		delete(dp.listeners, port)
	}
	for gp, pl := range dp.gatewayListeners {
		pl.ln.Close()
		pl.conns.Close()
		pl.srv.Close()
		delete(dp.gatewayListeners, gp)
	}
	for c := range dp.conns {
		c.Close()
	}
	dp.mu.Unlock()
	dp.health.stop()
	if dp.dns != nil {
		dp.dns.Close()
	}
	dp.transports.closeIdle()
	dp.h1.closeIdle()
	dp.sinks.closeAll()
}

// DNSAddr is the bound DNS address (UDP and TCP), useful when Options.DNSAddr had port 0.
func (dp *DataPlane) DNSAddr() string { return dp.dns.Addr() }

// ListenerAddr is where Lattice listener port is served, if it is.
func (dp *DataPlane) ListenerAddr(port int32) (string, bool) {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	pl, ok := dp.listeners[port]
	if !ok {
		return "", false
	}
	return pl.ln.Addr().String(), true
}

// ListenerAddrs maps every served Lattice listener port to its bound address.
func (dp *DataPlane) ListenerAddrs() map[int32]string {
	dp.mu.Lock()
	defer dp.mu.Unlock()
	out := make(map[int32]string, len(dp.listeners))
	for port, pl := range dp.listeners {
		out[port] = pl.ln.Addr().String()
	}
	return out
}

// CAPath is the PEM file of the Local Lattice CA that signs HTTPS listener certificates.
func (dp *DataPlane) CAPath() string { return dp.ca.CertPath() }

// Principal is the IAM principal created at first start (kept under the data directory), whose
// keys sign requests to services with authType AWS_IAM.
func (dp *DataPlane) Principal() PrincipalEntry { return dp.principals.initial }

// CA gives tests and tools the CA (for a certificate pool).
func (dp *DataPlane) CA() *pki.CA { return dp.ca }

// AccessLogDir is the folder under which access-log destinations are written.
func (dp *DataPlane) AccessLogDir() string { return filepath.Join(dp.opts.DataDir, accessLogDir) }

// newStdLogger adapts net/http's error log (TLS handshake noise, client resets) to logr at V(1).
func newStdLogger(l logr.Logger) *log.Logger {
	return log.New(logWriter{l}, "", 0)
}

type logWriter struct{ l logr.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.V(1).Info(strings.TrimSpace(string(p)))
	return len(p), nil
}
