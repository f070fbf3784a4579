package dataplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// h1Pool forwards requests to plain HTTP/1.1 targets on pooled keep-alive connections, writing
// the request and reading the response in the handler's goroutine. That avoids
// http.Transport's per-connection reader and writer goroutines and httputil.ReverseProxy's
// request clone, which together cost the data plane more than half its throughput; the other
// target kinds (HTTPS, HTTP/2, gRPC) go through ReverseProxy.
type h1Pool struct {
	dial DialFunc

	mu    sync.Mutex
	idle  map[string][]*h1Conn
	close bool
}

type h1Conn struct {
	net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

const (
	h1MaxIdlePerTarget = 1024
	// h1IdleTimeout is Lattice's default target idle timeout (§3.1).
	h1IdleTimeout = 60 * time.Second
)

func newH1Pool(dial DialFunc) *h1Pool {
	return &h1Pool{dial: dial, idle: map[string][]*h1Conn{}}
}

// get returns an idle connection (reused=true) or dials a new one.
func (p *h1Pool) get(ctx context.Context, addr string) (c *h1Conn, reused bool, err error) {
	now := time.Now()
	p.mu.Lock()
	for list := p.idle[addr]; len(list) > 0; list = p.idle[addr] {
		c = list[len(list)-1]
		p.idle[addr] = list[:len(list)-1]
		if now.Sub(c.idleAt) < h1IdleTimeout {
			p.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	p.mu.Unlock()
	conn, err := p.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &h1Conn{Conn: conn, br: bufio.NewReaderSize(conn, 16<<10), bw: bufio.NewWriterSize(conn, 8<<10)}, false, nil
}

func (p *h1Pool) put(addr string, c *h1Conn) {
	c.idleAt = time.Now()
	p.mu.Lock()
	if p.close || len(p.idle[addr]) >= h1MaxIdlePerTarget {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.idle[addr] = append(p.idle[addr], c)
	p.mu.Unlock()
}

// prune closes idle connections to targets no longer in the configuration, and expired ones.
func (p *h1Pool) prune(keep map[string]bool) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, list := range p.idle {
		live := list[:0]
		for _, c := range list {
			if keep[addr] && now.Sub(c.idleAt) < h1IdleTimeout {
				live = append(live, c)
			} else {
				c.Close()
			}
		}
		if len(live) == 0 {
			delete(p.idle, addr)
		} else {
			p.idle[addr] = live
		}
	}
}

func (p *h1Pool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.close = true
	for addr, list := range p.idle {
		for _, c := range list {
			c.Close()
		}
		delete(p.idle, addr)
	}
}

// forwardHeaders are what the data plane sets on every forwarded request (reference §3.7).
type forwardHeaders struct {
	clientIP, port, proto, target, network, identity string
}

// errUpstream marks failures talking to the target, as opposed to the client going away.
var errUpstream = errors.New("target")

// forward sends r to addr and streams the answer to w. It returns an error, without having
// written anything to w, only when no response was received.
func (p *h1Pool) forward(w http.ResponseWriter, r *http.Request, addr string, h *forwardHeaders, buf []byte) error {
	// A body that was never read can be replayed, so a stale pooled connection is retried once.
	replayable := r.Body == nil || r.Body == http.NoBody
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(r.Context(), addr)
		if err != nil {
			return fmt.Errorf("%w: dial %s: %w", errUpstream, addr, err)
		}
		// A client that goes away unblocks whatever the target connection is waiting for. (The
		// plain HTTP/1 loop uses a context that never ends: it learns of a departed client when
		// writing, and Close ends its connections.)
		stop := noStop
		if ctx.Done() != nil {
			stop = context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
		}
		resp, err := c.roundTrip(r, h, buf)
		if err != nil {
			stop()
			c.Close()
			if reused && replayable && attempt == 0 && ctx.Err() == nil {
				continue
			}
			return err
		}
		keep := p.relay(w, resp, buf)
		if stop() && keep {
			p.put(addr, c)
		} else {
			c.Close()
		}
		return nil
	}
}

func noStop() bool { return true }

func (c *h1Conn) roundTrip(r *http.Request, h *forwardHeaders, buf []byte) (*http.Response, error) {
	if err := c.writeRequest(r, h, buf); err != nil {
		return nil, fmt.Errorf("%w: write request: %w", errUpstream, err)
	}
	for {
		resp, err := http.ReadResponse(c.br, r)
		if err != nil {
			return nil, fmt.Errorf("%w: read response: %w", errUpstream, err)
		}
		// Informational answers (100 Continue, 103 Early Hints) are not relayed; the client's
		// own Expect was already answered by the server when the body was read.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

func (c *h1Conn) writeRequest(r *http.Request, h *forwardHeaders, buf []byte) error {
	bw := c.bw
	uri := r.URL.RequestURI()
	if r.Method == http.MethodConnect || r.Method == http.MethodOptions && r.RequestURI == "*" {
		uri = r.RequestURI
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	dropped := connectionTokens(r.Header)
	for k, vs := range r.Header {
		if skipRequestHeader(k) || dropped != nil && dropped[k] {
			continue
		}
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	writeHeader(bw, "X-Forwarded-For", h.clientIP)
	writeHeader(bw, "X-Forwarded-For-Port", h.port)
	writeHeader(bw, "X-Forwarded-For-Proto", h.proto)
	writeHeader(bw, "X-Amzn-Lattice-Target", h.target)
	if h.network != "" {
		writeHeader(bw, "X-Amzn-Lattice-Network", h.network)
	}
	if h.identity != "" {
		writeHeader(bw, "X-Amzn-Lattice-Identity", h.identity)
	}
	switch {
	case r.Body == nil || r.Body == http.NoBody:
		if r.ContentLength == 0 && methodWantsBody(r.Method) {
			bw.WriteString("Content-Length: 0\r\n")
		}
		bw.WriteString("\r\n")
		return bw.Flush()
	case r.ContentLength > 0:
		fmt.Fprintf(bw, "Content-Length: %d\r\n\r\n", r.ContentLength)
		if _, err := io.CopyBuffer(bw, io.LimitReader(r.Body, r.ContentLength), buf); err != nil {
			return err
		}
		return bw.Flush()
	default:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		cw := httputil.NewChunkedWriter(bw)
		if _, err := io.CopyBuffer(cw, r.Body, buf); err != nil {
			return err
		}
		if err := cw.Close(); err != nil {
			return err
		}
		bw.WriteString("\r\n")
		return bw.Flush()
	}
}

func methodWantsBody(m string) bool {
	return m == http.MethodPost || m == http.MethodPut || m == http.MethodPatch
}

func writeHeader(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// skipRequestHeader lists hop-by-hop headers, framing the proxy sets itself, and headers the
// data plane replaces (identity headers cannot be spoofed, §3.7).
func skipRequestHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Expect", "Host",
		"X-Forwarded-For", "X-Forwarded-For-Port", "X-Forwarded-For-Proto",
		"X-Amzn-Lattice-Identity", "X-Amzn-Lattice-Network", "X-Amzn-Lattice-Target":
		return true
	}
	return false
}

func skipResponseHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// connectionTokens returns the extra hop-by-hop headers named in Connection (nil when none).
func connectionTokens(h http.Header) map[string]bool {
	var out map[string]bool
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.TrimSpace(tok)
			if tok == "" || strings.EqualFold(tok, "close") || strings.EqualFold(tok, "keep-alive") {
				continue
			}
			if out == nil {
				out = map[string]bool{}
			}
			out[http.CanonicalHeaderKey(tok)] = true
		}
	}
	return out
}

// relay copies resp to w and reports whether the connection can carry another request.
func (p *h1Pool) relay(w http.ResponseWriter, resp *http.Response, buf []byte) bool {
	dropped := connectionTokens(resp.Header)
	dst := w.Header()
	for k, vs := range resp.Header {
		if skipResponseHeader(k) || dropped != nil && dropped[k] {
			continue
		}
		dst[k] = vs
	}
	for k := range resp.Trailer {
		dst.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	var dstW io.Writer = w
	if resp.ContentLength == -1 {
		// Unknown length means streaming (server-sent events, long polls): pass every chunk on.
		dstW = flushWriter{w: w, rc: http.NewResponseController(w)}
	}
	_, err := io.CopyBuffer(dstW, resp.Body, buf)
	resp.Body.Close()
	for k, vs := range resp.Trailer {
		dst[http.TrailerPrefix+k] = vs
	}
	return err == nil && !resp.Close
}

type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}
