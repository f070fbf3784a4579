package dataplane

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"sync/atomic"
	"time"
)

// Plain-text HTTP/1.x connections are served by this loop rather than http.Server: reading,
// routing, forwarding and answering in one goroutine with one buffered reader and writer per
// connection. http.Server starts a background read per request to notice disconnects, which on
// loopback costs as much as the forwarding itself. TLS and HTTP/2 connections still go to
// http.Server. (Trailers are not relayed to HTTP/1.1 clients; gRPC needs HTTP/2 anyway.)

const (
	// h1HeaderTimeout bounds how long a new connection may take to send its first request.
	h1HeaderTimeout  = 30 * time.Second
	h1ConnTimeout    = 5 * time.Minute
	h1MaxHeaderBytes = 1 << 20
)

var errCloseConn = errors.New("connection must close")

var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// serveH1 serves one plain connection; it hands prior-knowledge h2c connections to http.Server.
func (pl *portListener) serveH1(c net.Conn) {
	lr := &io.LimitedReader{R: c, N: h1MaxHeaderBytes}
	br := bufio.NewReaderSize(lr, 16<<10)
	deadline := time.Now().Add(h1HeaderTimeout)
	_ = c.SetReadDeadline(deadline)
	// Every HTTP/1 request line is longer than 4 bytes, so these peeks cannot wait for bytes
	// that never come; only "PRI " can start the 24-byte HTTP/2 preface.
	if head, _ := br.Peek(4); bytes.Equal(head, h2Preface[:4]) {
		if peek, _ := br.Peek(len(h2Preface)); bytes.Equal(peek, h2Preface) {
			pl.handOff(c, br)
			return
		}
	}
	defer c.Close()
	untrack := pl.dp.track(c)
	defer untrack()
	bw := bufio.NewWriterSize(c, 16<<10)
	remote := c.RemoteAddr().String()
	handler := pl.handler
	for {
		lr.N = h1MaxHeaderBytes
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !isTimeout(err) {
				_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			}
			return
		}
		lr.N = 1<<63 - 1
		req.RemoteAddr = remote
		if req.Header.Get("Expect") == "100-continue" && req.ContentLength != 0 {
			_, _ = bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		}
		w := &h1Writer{bw: bw, req: req, header: http.Header{}}
		handler.ServeHTTP(w, req)
		if err := w.finish(); err != nil {
			return
		}
		// Drain what the handler left of the body so the next request starts at its line.
		if req.Body != nil {
			if n, _ := io.CopyN(io.Discard, req.Body, 256<<10); n == 256<<10 {
				return
			}
		}
		if w.close || req.Close || pl.closed.Load() {
			return
		}
		deadline = extendDeadline(c, deadline)
	}
}

// handOff passes a connection, with what was read of it, to http.Server.
func (pl *portListener) handOff(c net.Conn, br *bufio.Reader) {
	buffered, _ := br.Peek(br.Buffered())
	_ = c.SetReadDeadline(time.Time{})
	pl.conns.push(&prefixConn{Conn: c, prefix: bytes.Clone(buffered)})
}

// extendDeadline keeps a connection's read deadline h1ConnTimeout ahead, moving it only when half
// of it has passed: resetting a timer per request costs more than the rest of the bookkeeping.
// The deadline bounds idle time and each request's header and body alike.
func extendDeadline(c net.Conn, deadline time.Time) time.Time {
	now := time.Now()
	if deadline.Sub(now) > h1ConnTimeout/2 {
		return deadline
	}
	deadline = now.Add(h1ConnTimeout)
	_ = c.SetReadDeadline(deadline)
	return deadline
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// h1Writer is an http.ResponseWriter writing HTTP/1.1 to the connection: Content-Length when
// the handler set it, chunked otherwise.
type h1Writer struct {
	bw      *bufio.Writer
	req     *http.Request
	header  http.Header
	status  int
	chunked bool
	noBody  bool
	close   bool
	cw      io.WriteCloser
	failed  error
	// length is the declared Content-Length (-1 when none); written counts body bytes, so a
	// short body closes the connection instead of corrupting the next response.
	length, written int64
}

func (w *h1Writer) Header() http.Header { return w.header }

func (w *h1Writer) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		// Informational answers are not passed on; the client's Expect was answered already.
		return
	}
	w.status = code
	bw := w.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\n")
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	w.length = -1
	if v := w.header.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			w.length = n
		} else {
			delete(w.header, "Content-Length")
		}
	}
	http10 := !w.req.ProtoAtLeast(1, 1)
	if w.req.Close || http10 && !hasKeepAlive(w.req) {
		w.close = true
	}
	switch {
	case w.length >= 0 || w.noBody:
	case http10:
		// HTTP/1.0 has no chunked encoding: the end of the connection ends the body.
		w.close = true
	default:
		w.chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.close {
		bw.WriteString("Connection: close\r\n")
	}
	if _, ok := w.header["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	for k, vs := range w.header {
		if k == "Transfer-Encoding" || k == "Connection" || len(k) > len(http.TrailerPrefix) && k[:len(http.TrailerPrefix)] == http.TrailerPrefix {
			continue
		}
		for _, v := range vs {
			writeHeader(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	if w.chunked {
		w.cw = httputil.NewChunkedWriter(bw)
	}
}

// dateCache holds the Date header value of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	unix int64
	text string
}

func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.unix == now.Unix() {
		return d.text
	}
	d := &cachedDate{unix: now.Unix(), text: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

func hasKeepAlive(r *http.Request) bool {
	for _, v := range r.Header["Connection"] {
		if http.CanonicalHeaderKey(v) == "Keep-Alive" {
			return true
		}
	}
	return false
}

func (w *h1Writer) Write(p []byte) (int, error) {
	if w.status == 0 {
		if _, ok := w.header["Content-Type"]; !ok {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.failed != nil {
		return 0, w.failed
	}
	if w.noBody {
		return len(p), nil
	}
	var n int
	var err error
	if w.chunked {
		n, err = w.cw.Write(p)
	} else {
		n, err = w.bw.Write(p)
	}
	w.written += int64(n)
	if err != nil {
		w.failed = err
	}
	return n, err
}

// Flush sends what is buffered (streaming responses).
func (w *h1Writer) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.bw.Flush(); err != nil && w.failed == nil {
		w.failed = err
	}
}

func (w *h1Writer) finish() error {
	if w.status == 0 {
		if _, ok := w.header["Content-Length"]; !ok {
			w.header["Content-Length"] = []string{"0"}
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.failed != nil {
		return w.failed
	}
	if w.chunked {
		if err := w.cw.Close(); err != nil {
			return err
		}
		w.bw.WriteString("\r\n")
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if w.close || w.length >= 0 && !w.noBody && w.written != w.length {
		return errCloseConn
	}
	return nil
}
