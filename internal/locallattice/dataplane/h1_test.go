package dataplane

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHTTP1Wire drives the plain HTTP/1 path with raw bytes: framing in both directions,
// keep-alive, HTTP/1.0, HEAD, Expect, streaming and hop-by-hop headers.
func TestHTTP1Wire(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo-body", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got-Length", strconv.Itoa(len(b)))
		w.Header().Set("X-Got-Hop", r.Header.Get("X-Hop")+"|"+r.Header.Get("Keep-Alive"))
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			_, _ = io.WriteString(w, "tick"+strconv.Itoa(i)+"\n")
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Secret")
		w.Header().Set("X-Secret", "hidden")
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "ok")
	})
	ln, err := net.Listen("tcp", "127.0.51.100:8090")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	f := newFixture()
	svc := f.service("wire", "")
	f.listener(svc, "HTTP", 80, forward(f.targetGroup("HTTP", "HTTP1", noHealthCheck, "UNAVAILABLE", "127.0.51.100:8090"), 1))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.13")
	addr, _ := dp.ListenerAddr(80)
	host := f.svc(svc).DNSEntry.DomainName

	cases := []struct {
		name    string
		request string
		want    []string // substrings of the raw answer (header order is not fixed)
		absent  []string
		closed  bool // the data plane closes the connection afterwards
	}{
		{"content-length body", "POST /echo-body HTTP/1.1\r\nHost: H\r\nContent-Length: 5\r\n\r\nhello",
			[]string{"HTTP/1.1 200 OK", "Content-Length: 5", "X-Got-Length: 5", "\r\n\r\nhello"}, nil, false},
		{"chunked body", "POST /echo-body HTTP/1.1\r\nHost: H\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "X-Got-Length: 7", "abcdefg"}, nil, false},
		{"expect continue", "POST /echo-body HTTP/1.1\r\nHost: H\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
			[]string{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", "\r\n\r\nhi"}, nil, false},
		{"hop-by-hop request headers stripped", "POST /echo-body HTTP/1.1\r\nHost: H\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
			[]string{"X-Got-Hop: |"}, nil, false},
		{"hop-by-hop response headers stripped", "GET /hop HTTP/1.1\r\nHost: H\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "ok"}, []string{"X-Secret", "Connection:"}, false},
		{"streaming response is chunked", "GET /stream HTTP/1.1\r\nHost: H\r\n\r\n",
			[]string{"Transfer-Encoding: chunked", "tick0", "tick1", "tick2", "\r\n0\r\n\r\n"}, nil, false},
		{"HEAD has no body", "HEAD /hop HTTP/1.1\r\nHost: H\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "Content-Length: 2"}, []string{"\r\n\r\nok"}, false},
		{"HTTP/1.0 streams until close", "GET /stream HTTP/1.0\r\nHost: H\r\n\r\n",
			[]string{"HTTP/1.1 200 OK", "Connection: close", "tick0\ntick1\ntick2\n"}, []string{"chunked"}, true},
		{"Connection: close", "GET /hop HTTP/1.1\r\nHost: H\r\nConnection: close\r\n\r\n",
			[]string{"Connection: close", "ok"}, nil, true},
		{"garbage", "NOT HTTP\r\n\r\n", []string{"400 Bad Request"}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			req := strings.ReplaceAll(tc.request, "Host: H", "Host: "+host)
			// Twice on one connection: the second answer proves the first was framed right.
			if _, err := io.WriteString(c, req+req); err != nil {
				t.Fatal(err)
			}
			if tc.closed {
				all, _ := io.ReadAll(c)
				checkAnswer(t, string(all), tc.want, tc.absent)
				if strings.Count(string(all), "HTTP/1.1 ") > 2 && tc.name != "expect continue" {
					t.Errorf("answered after promising to close: %q", all)
				}
				return
			}
			r := bufio.NewReader(c)
			for range 2 {
				raw := readAnswer(t, r, strings.HasPrefix(tc.request, "HEAD"))
				checkAnswer(t, raw, tc.want, tc.absent)
			}
		})
	}
}

// readAnswer reads one HTTP/1.1 response (after any 100 Continue) and returns its raw bytes.
func readAnswer(t *testing.T, r *bufio.Reader, head bool) string {
	t.Helper()
	var sb strings.Builder
	for {
		var hdr strings.Builder
		length, chunked := -1, false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read header: %v after %q", err, sb.String()+hdr.String())
			}
			hdr.WriteString(line)
			if line == "\r\n" {
				break
			}
			k, v, _ := strings.Cut(strings.TrimSpace(line), ": ")
			switch strings.ToLower(k) {
			case "content-length":
				length, _ = strconv.Atoi(v)
			case "transfer-encoding":
				chunked = v == "chunked"
			}
		}
		sb.WriteString(hdr.String())
		if strings.HasPrefix(hdr.String(), "HTTP/1.1 100") {
			continue
		}
		switch {
		case head:
		case chunked:
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				sb.WriteString(line)
				n, _ := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
				chunk := make([]byte, n+2)
				if _, err := io.ReadFull(r, chunk); err != nil {
					t.Fatal(err)
				}
				sb.Write(chunk)
				if n == 0 {
					return sb.String()
				}
			}
		case length >= 0:
			body := make([]byte, length)
			if _, err := io.ReadFull(r, body); err != nil {
				t.Fatal(err)
			}
			sb.Write(body)
		}
		return sb.String()
	}
}

func checkAnswer(t *testing.T, raw string, want, absent []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(raw, w) {
			t.Errorf("answer lacks %q: %q", w, raw)
		}
	}
	for _, a := range absent {
		if strings.Contains(raw, a) {
			t.Errorf("answer has %q: %q", a, raw)
		}
	}
}

// TestStalePooledConnection: a target that closed an idle keep-alive connection costs the
// client nothing; the request is retried once on a fresh connection.
func TestStalePooledConnection(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.51.101:8090")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{IdleTimeout: 20 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"backend":"short-idle"}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f := newFixture()
	svc := f.service("stale", "")
	f.listener(svc, "HTTP", 80, forward(f.targetGroup("HTTP", "HTTP1", noHealthCheck, "UNAVAILABLE", "127.0.51.101:8090"), 1))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.14")
	c := clientFor(dp, nil)
	for i := range 3 {
		if code, e := get(t, c, mustRequest(t, "GET", "http://"+f.svc(svc).DNSEntry.DomainName+"/")); code != 200 || e == nil {
			t.Fatalf("request %d: status %d", i, code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestH1PoolPrune(t *testing.T) {
	t.Parallel()
	p := newH1Pool(nil)
	mk := func(age time.Duration) *h1Conn {
		a, b := net.Pipe()
		t.Cleanup(func() { b.Close() })
		return &h1Conn{Conn: a, idleAt: time.Now().Add(-age)}
	}
	p.idle["keep:1"] = []*h1Conn{mk(0), mk(2 * h1IdleTimeout)}
	p.idle["gone:1"] = []*h1Conn{mk(0)}
	p.prune(map[string]bool{"keep:1": true})
	if len(p.idle["keep:1"]) != 1 || len(p.idle["gone:1"]) != 0 {
		t.Errorf("after prune: %d kept, %d of a removed target", len(p.idle["keep:1"]), len(p.idle["gone:1"]))
	}
}
