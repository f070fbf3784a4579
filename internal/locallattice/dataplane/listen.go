package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// handshakeTimeout bounds how long a new connection may take to say what it is.
	handshakeTimeout = 10 * time.Second
	// passthroughMaxLifetime is Lattice's limit on TLS passthrough connections (§3.1).
	passthroughMaxLifetime = 10 * time.Minute
	// tlsRecordHandshake is the first byte of every TLS connection.
	tlsRecordHandshake = 0x16
)

// portListener serves one Lattice listener port for every service that has a listener on it.
// Plain connections go straight to the HTTP server; TLS connections are routed by SNI to either
// TLS termination (then the same HTTP server) or raw TCP passthrough.
type portListener struct {
	dp   *DataPlane
	port int32
	// gw is the gateway address this socket serves (see gateways.go); zero for the shared
	// data-plane address.
	gw    netip.Addr
	ln    net.Listener
	conns *connQueue
	srv   *http.Server
	tls   *tls.Config
	// handler serves requests of both http.Server and the plain HTTP/1 loop.
	handler http.Handler
	closed  atomic.Bool
}

func (dp *DataPlane) listen(host string, port int32, gw netip.Addr) (*portListener, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)+dp.opts.ListenerPortOffset))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for Lattice port %d on %s: %w", port, addr, err)
	}
	pl := &portListener{dp: dp, port: port, gw: gw, ln: ln, conns: newConnQueue(ln.Addr())}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	pl.handler = dp.httpHandler(port, gw)
	pl.srv = &http.Server{
		Handler:           pl.handler,
		Protocols:         &protos,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          newStdLogger(dp.log.WithValues("port", port)),
	}
	pl.tls = &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: pl.certificate,
	}
	go func() {
		if err := pl.srv.Serve(pl.conns); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			dp.log.Error(err, "HTTP server stopped", "port", port)
		}
	}()
	go pl.acceptLoop()
	return pl, nil
}

func (pl *portListener) acceptLoop() {
	for {
		c, err := pl.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				pl.dp.log.Error(err, "accept", "port", pl.port)
			}
			pl.conns.Close()
			return
		}
		go pl.handle(c)
	}
}

// certificate presents the imported certificate of an HTTPS service's custom domain, else the
// CA's leaf for the name; a name no service answers gets the fallback certificate covering it,
// if there is one; other names fail the handshake.
func (pl *portListener) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := normalizeHost(hello.ServerName)
	rt := pl.dp.table.Load().route(pl.port, name)
	if rt == nil {
		if cert := pl.fallback(name); cert != nil {
			return cert, nil
		}
	}
	if rt == nil || rt.listener.Protocol != "HTTPS" {
		return nil, fmt.Errorf("no HTTPS service %q on port %d", name, pl.port)
	}
	if cert := rt.servedCertificate(name); cert != nil {
		return cert, nil
	}
	return pl.dp.ca.Leaf(name)
}

// fallback is the certificate for an SNI that no service answers on this socket: among the
// HTTPS services of the socket's service network on a gateway address, else of the port.
func (pl *portListener) fallback(name string) *tls.Certificate {
	if pl.gw.IsValid() {
		return fallbackCertificate(pl.dp.gateways.Load().certs[gatewayPort{pl.gw, pl.port}], name)
	}
	if pr := pl.dp.table.Load().ports[pl.port]; pr != nil {
		return fallbackCertificate(pr.certs, name)
	}
	return nil
}

func (pl *portListener) handle(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	first := make([]byte, 1)
	if _, err := io.ReadFull(c, first); err != nil {
		c.Close()
		return
	}
	if first[0] != tlsRecordHandshake {
		pl.serveH1(&prefixConn{Conn: c, prefix: first})
		return
	}
	hello, replay := readClientHello(&prefixConn{Conn: c, prefix: first})
	if hello == nil {
		c.Close()
		return
	}
	sni := normalizeHost(hello.ServerName)
	rt := pl.dp.table.Load().route(pl.port, sni)
	var protocol string
	switch {
	case rt != nil:
		protocol = rt.listener.Protocol
	case pl.fallback(sni) != nil:
		// No service has this name, but a certificate of the socket covers it: terminate, and
		// the request finds no service (404).
		protocol = "HTTPS"
	}
	switch protocol {
	case "TLS_PASSTHROUGH":
		_ = c.SetReadDeadline(time.Time{})
		pl.dp.passthrough(rt, &prefixConn{Conn: c, prefix: replay}, sni)
	case "HTTPS":
		tc := tls.Server(&prefixConn{Conn: c, prefix: replay}, pl.tls)
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			pl.dp.log.V(1).Info("TLS handshake failed", "port", pl.port, "sni", sni, "error", err.Error())
			c.Close()
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		pl.conns.push(tc)
	default:
		c.Close()
	}
}

// close stops accepting; connections in flight finish (Shutdown waits for them in the
// background, bounded by ctx).
func (pl *portListener) close(ctx context.Context) {
	pl.closed.Store(true)
	pl.ln.Close()
	pl.conns.Close()
	go func() {
		if err := pl.srv.Shutdown(ctx); err != nil {
			pl.srv.Close()
		}
	}()
}

var errHelloRead = errors.New("client hello read")

// readClientHello parses the ClientHello without answering it and returns every byte read, so
// that the connection can be replayed to a TLS server or passed through untouched.
func readClientHello(c net.Conn) (*tls.ClientHelloInfo, []byte) {
	rec := &recordingConn{Conn: c}
	var hello *tls.ClientHelloInfo
	_ = tls.Server(rec, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		hello = &tls.ClientHelloInfo{ServerName: h.ServerName, SupportedProtos: h.SupportedProtos}
		return nil, errHelloRead
	}}).Handshake()
	return hello, rec.buf
}

// recordingConn keeps what is read and swallows writes (the alert the aborted handshake sends).
type recordingConn struct {
	net.Conn
	buf []byte
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

func (c *recordingConn) Write(p []byte) (int, error) { return len(p), nil }

// prefixConn replays bytes already read before reading from the connection.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes when the underlying connection supports it (TCP does).
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// connQueue is a net.Listener fed by the accept loop once a connection's protocol is known.
type connQueue struct {
	addr   net.Addr
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newConnQueue(addr net.Addr) *connQueue {
	return &connQueue{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (q *connQueue) push(c net.Conn) {
	select {
	case q.ch <- c:
	case <-q.closed:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.ch:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.once.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return q.addr }
