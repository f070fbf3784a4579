package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Identity headers Lattice sets itself; incoming copies are removed so they cannot be spoofed.
var identityHeaders = []string{"X-Amzn-Lattice-Identity", "X-Amzn-Lattice-Network", "X-Amzn-Lattice-Target"}

// transports holds one client per target protocol combination; connections are pooled per
// target address inside each.
type transports struct {
	http1, h2c, https1, https2 *http.Transport
}

func newTransports(dial DialFunc) *transports {
	mk := func(p func(*http.Protocols)) *http.Transport {
		var protos http.Protocols
		p(&protos)
		return &http.Transport{
			DialContext:         dial,
			Protocols:           &protos,
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, // §3.4: Lattice does not verify target certificates
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     60 * time.Second, // Lattice's default target idle timeout (§3.1)
			TLSHandshakeTimeout: 10 * time.Second,
			DisableCompression:  true, // a proxy passes encodings through untouched
		}
	}
	return &transports{
		http1:  mk(func(p *http.Protocols) { p.SetHTTP1(true) }),
		h2c:    mk(func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }),
		https1: mk(func(p *http.Protocols) { p.SetHTTP1(true) }),
		https2: mk(func(p *http.Protocols) { p.SetHTTP2(true) }),
	}
}

func (t *transports) forGroup(g *targetGroup) (scheme string, rt *http.Transport) {
	h2 := g.version == "HTTP2" || g.version == "GRPC"
	switch {
	case g.protocol == "HTTPS" && h2:
		return "https", t.https2
	case g.protocol == "HTTPS":
		return "https", t.https1
	case h2:
		return "http", t.h2c
	default:
		return "http", t.http1
	}
}

func (t *transports) closeIdle() {
	for _, tr := range []*http.Transport{t.http1, t.h2c, t.https1, t.https2} {
		tr.CloseIdleConnections()
	}
}

// bufferPool shares copy buffers between requests (httputil.BufferPool).
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32*1024)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// httpHandler serves requests arriving on Lattice listener port.
// On a gateway address (gw valid) requests are routed among one service network's services.
func (dp *DataPlane) httpHandler(port int32, gw netip.Addr) http.Handler {
	portStr := strconv.Itoa(int(port))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dp.serveHTTP(port, portStr, gw, w, r)
	})
}

func (dp *DataPlane) serveHTTP(port int32, portStr string, gw netip.Addr, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var rt *route
	var ru *rule
	if gw.IsValid() {
		rt, ru = dp.gateways.Load().route(gw, port, r)
	} else {
		rt = dp.table.Load().route(port, requestHost(r.Host))
	}
	if rt == nil {
		// No service with this name has a listener on this port: Lattice has nothing to route
		// to, so answer like a fixed-response 404 (the choice is documented in docs/dataplane.md).
		w.WriteHeader(http.StatusNotFound)
		return
	}
	obs := dp.metrics.begin(rt, w, r, start)
	w = &obs.w
	defer obs.end()
	if want := requestListenerProtocol(r); rt.listener.Protocol != want {
		http.Error(w, "this is a "+rt.listener.Protocol+" listener, not "+want, http.StatusBadRequest)
		return
	}
	for i := 0; ru == nil && i < len(rt.rules); i++ {
		if rt.rules[i].match.matches(r) {
			ru = rt.rules[i]
		}
	}
	obs.ru = ru
	var entry *accessLogEntry
	if len(rt.logs) > 0 {
		var done func()
		entry, w, done = rt.openLog(start, ru, w, r)
		defer done()
	}
	var identity string
	if rt.auth != nil {
		res := dp.authorize(rt.auth, portStr, r)
		if entry != nil {
			entry.ResolvedUser, entry.AuthDeniedReason = res.user, res.denied
		}
		if res.denied != "" {
			accessDenied(w, res.message)
			return
		}
		identity = res.identity
	}
	act := &ru.action
	if act.fixed != 0 {
		w.WriteHeader(act.fixed)
		return
	}
	ft := act.pick()
	if ft == nil {
		dp.unavailable(w, entry, "no target group with a positive weight")
		return
	}
	t := ft.tg.pick()
	if entry != nil {
		entry.TargetGroupARN = ft.tg.arn
	}
	if t == nil {
		dp.unavailable(w, entry, "target group has no targets")
		return
	}
	if entry != nil {
		entry.TargetIPPort = t.hostPort
	}
	obs.forward(ft.tg, t)
	fh := &forwardHeaders{port: portStr, proto: "http", target: ft.header, network: rt.networkHeader, identity: identity}
	if r.TLS != nil {
		fh.proto = "https"
	}
	fh.clientIP, _, _ = net.SplitHostPort(r.RemoteAddr)
	fail := func(w http.ResponseWriter, r *http.Request, err error) {
		obs.failed()
		if entry != nil {
			entry.FailureReason = err.Error()
		}
		dp.log.V(1).Info("forward failed", "service", rt.service.Name, "target", t.hostPort, "error", err.Error())
		w.WriteHeader(failureStatus(r.Context(), err))
	}
	dp.proxy(w, r, ft.tg, t, fh, fail)
}

// openLog starts the access-log entry of a request and counts the bytes each way; done
// completes and writes it once the response is over.
func (rt *route) openLog(start time.Time, ru *rule, w http.ResponseWriter, r *http.Request) (*accessLogEntry, http.ResponseWriter, func()) {
	e := rt.baseEntry(start, r.RemoteAddr)
	e.RequestMethod, e.RequestPath, e.Protocol = r.Method, r.URL.RequestURI(), r.Proto
	e.UserAgent, e.HostHeader = r.UserAgent(), r.Host
	if r.TLS != nil {
		e.ServerNameIndication = r.TLS.ServerName
	}
	e.RuleARN, e.DefaultRule = ru.arn, ru.arn == ""
	cw := &countingWriter{ResponseWriter: w}
	cb := &countingBody{ReadCloser: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = cb
	}
	return &e, cw, func() {
		e.ResponseCode, e.BytesSent, e.BytesReceived = cw.status, cw.n, cb.n
		e.finish(start)
		rt.writeLog(&e)
	}
}

// proxy forwards r to target t of group tg: HTTP/1.1 through the data plane's own pooled
// forwarder, everything else through a ReverseProxy with the group's transport.
func (dp *DataPlane) proxy(w http.ResponseWriter, r *http.Request, tg *targetGroup, t *target, fh *forwardHeaders, fail func(http.ResponseWriter, *http.Request, error)) {
	if tg.protocol == "HTTP" && tg.version == "HTTP1" {
		buf := dp.buffers.Get()
		defer dp.buffers.Put(buf)
		if err := dp.h1.forward(w, r, t.hostPort, fh, buf); err != nil {
			fail(w, r, err)
		}
		return
	}
	scheme, transport := dp.transports.forGroup(tg)
	rp := &httputil.ReverseProxy{
		Transport:    transport,
		BufferPool:   &dp.buffers,
		ErrorHandler: fail,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = scheme, t.hostPort
			h := pr.Out.Header
			for _, k := range identityHeaders {
				delete(h, k)
			}
			h["X-Forwarded-For"] = []string{fh.clientIP}
			h["X-Forwarded-For-Port"] = []string{fh.port}
			h["X-Forwarded-For-Proto"] = []string{fh.proto}
			h["X-Amzn-Lattice-Target"] = []string{fh.target}
			if fh.network != "" {
				h["X-Amzn-Lattice-Network"] = []string{fh.network}
			}
			if fh.identity != "" {
				h["X-Amzn-Lattice-Identity"] = []string{fh.identity}
			}
		},
	}
	rp.ServeHTTP(w, r)
}

// failureStatus is the answer when a target could not be reached or did not answer.
func failureStatus(ctx context.Context, err error) int {
	var ne net.Error
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
		return 499
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func (dp *DataPlane) unavailable(w http.ResponseWriter, entry *accessLogEntry, reason string) {
	if entry != nil {
		entry.FailureReason = reason
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

// requestListenerProtocol is the listener protocol that can carry r.
func requestListenerProtocol(r *http.Request) string {
	if r.TLS != nil {
		return "HTTPS"
	}
	return "HTTP"
}

// requestHost strips the port (services are told apart by name only) and normalises case.
func requestHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return normalizeHost(host)
}

// countingWriter records status and body size for access logs.
type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *countingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush on the real writer (gRPC streaming).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
