package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

var noHealthCheck = &store.HealthCheckConfig{Enabled: ptr(false)}

// TestHTTPVersions: every client protocol reaches HTTP/1.1 and h2c targets through HTTP and
// HTTPS listeners, with certificates from the Local Lattice CA for the DNS name and the custom
// domain.
func TestHTTPVersions(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "v", "127.0.51.70:8090")
	f := newFixture()
	plain := f.service("plain", "")
	secure := f.service("secure", "secure.example.com")
	h1 := f.targetGroup("HTTP", "HTTP1", noHealthCheck, "UNAVAILABLE", b.addr)
	h2 := f.targetGroup("HTTP", "HTTP2", noHealthCheck, "UNAVAILABLE", b.addr)
	l := f.listener(plain, "HTTP", 80, forward(h1, 1))
	f.rule(l, 1, &store.HTTPMatch{PathMatch: &store.PathMatch{Match: store.PathMatchType{Prefix: ptr("/h2")}}}, forward(h2, 1))
	ls := f.listener(secure, "HTTPS", 443, forward(h1, 1))
	f.rule(ls, 1, &store.HTTPMatch{PathMatch: &store.PathMatch{Match: store.PathMatchType{Prefix: ptr("/h2")}}}, forward(h2, 1))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.8")

	h1c := clientFor(dp, nil)
	h2cc := clientFor(dp, func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) })
	h2tls := clientFor(dp, func(p *http.Protocols) { p.SetHTTP2(true) })
	cases := []struct {
		name       string
		client     *http.Client
		url        string
		clientSide string // protocol the data plane saw
		targetSide string // protocol the backend saw
	}{
		{"http1 to http1", h1c, "http://" + f.svc(plain).DNSEntry.DomainName + "/", "HTTP/1.1", "HTTP/1.1"},
		{"http1 to h2c target", h1c, "http://" + f.svc(plain).DNSEntry.DomainName + "/h2", "HTTP/1.1", "HTTP/2.0"},
		{"h2c to http1", h2cc, "http://" + f.svc(plain).DNSEntry.DomainName + "/", "HTTP/2.0", "HTTP/1.1"},
		{"h2c to h2c", h2cc, "http://" + f.svc(plain).DNSEntry.DomainName + "/h2", "HTTP/2.0", "HTTP/2.0"},
		{"https http1 to http1", h1c, "https://" + f.svc(secure).DNSEntry.DomainName + "/", "HTTP/1.1", "HTTP/1.1"},
		{"https h2 to http1", h2tls, "https://" + f.svc(secure).DNSEntry.DomainName + "/", "HTTP/2.0", "HTTP/1.1"},
		{"https h2 to h2c on the custom domain", h2tls, "https://secure.example.com/h2", "HTTP/2.0", "HTTP/2.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e echo
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("status %d: %v", resp.StatusCode, err)
			}
			if resp.Proto != tc.clientSide || e.Proto != tc.targetSide {
				t.Errorf("client saw %s, target saw %s; want %s and %s", resp.Proto, e.Proto, tc.clientSide, tc.targetSide)
			}
			wantProto := "http"
			if resp.TLS != nil {
				wantProto = "https"
			}
			if got := e.Header.Get("X-Forwarded-For-Proto"); got != wantProto {
				t.Errorf("x-forwarded-for-proto %q, want %q", got, wantProto)
			}
		})
	}

	t.Run("unknown SNI fails the handshake", func(t *testing.T) {
		_, err := h1c.Get("https://unknown.example.com/")
		if err == nil {
			t.Fatal("handshake with an unknown name succeeded")
		}
	})
	t.Run("plain HTTP to an HTTPS listener is refused", func(t *testing.T) {
		code, _ := get(t, h1c, mustRequest(t, "GET", "http://secure.example.com:443/"))
		if code != http.StatusBadRequest {
			t.Errorf("status %d, want 400", code)
		}
	})
	t.Run("CA file is the pool that verified", func(t *testing.T) {
		pemBytes, err := os.ReadFile(dp.CAPath())
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			t.Fatal("CA file holds no certificate")
		}
		conn, err := tls.Dial("tcp", net.JoinHostPort("127.0.52.8", strconv.Itoa(443+testPortOffset)), &tls.Config{ServerName: "secure.example.com", RootCAs: pool})
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	})
}

// TestGRPC: a real gRPC health service behind an HTTPS listener and a GRPC target group.
func TestGRPC(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.51.80:50051")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("inventory.Inventory", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)

	f := newFixture()
	svc := f.service("grpc", "")
	tg := f.targetGroup("HTTP", "GRPC", nil, "UNAVAILABLE", "127.0.51.80:50051")
	l := f.listener(svc, "HTTPS", 443, fixed(404))
	f.rule(l, 1, &store.HTTPMatch{Method: "POST", PathMatch: &store.PathMatch{Match: store.PathMatchType{Prefix: ptr("/grpc.health.v1.Health/")}, CaseSensitive: ptr(true)}}, forward(tg, 1))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.9")

	name := f.svc(svc).DNSEntry.DomainName
	conn, err := grpc.NewClient("passthrough:///"+name+":443",
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: dp.CA().Pool(), ServerName: name})),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort("127.0.52.9", strconv.Itoa(443+testPortOffset)))
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "inventory.Inventory"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("status %v, want SERVING", resp.Status)
	}
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "missing"}); err == nil {
		t.Error("unknown service: want NotFound from the real health server")
	}
	// A server stream (Watch) proves flushing and trailers pass through.
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{Service: "inventory.Inventory"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch: %v %v", first, err)
	}
	hs.SetServingStatus("inventory.Inventory", healthpb.HealthCheckResponse_NOT_SERVING)
	next, err := stream.Recv()
	if err != nil || next.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch update: %v %v", next, err)
	}
}

// TestTLSPassthrough: the client's TLS session ends at the target (its own certificate), routed
// by SNI to the custom domain's TCP target group; other SNIs go nowhere.
func TestTLSPassthrough(t *testing.T) {
	t.Parallel()
	certA, poolA := selfSigned(t, "db.example.com")
	startTLSBackend(t, "127.0.51.90:5432", certA, "db")
	certB, _ := selfSigned(t, "cache.example.com")
	startTLSBackend(t, "127.0.51.91:5432", certB, "cache")
	f := newFixture()
	db := f.service("db", "db.example.com")
	f.listener(db, "TLS_PASSTHROUGH", 443, forward(f.targetGroup("TCP", "", nil, "UNAVAILABLE", "127.0.51.90:5432"), 1))
	cache := f.service("cache", "cache.example.com")
	f.listener(cache, "TLS_PASSTHROUGH", 443, forward(f.targetGroup("TCP", "", nil, "UNAVAILABLE", "127.0.51.91:5432"), 1))
	snap := f.build()
	snap.AccessLogSubscriptions = []store.AccessLogSubscription{{ID: "als-1", ResourceID: db, DestinationARN: "arn:aws:logs:us-west-2:123456789012:log-group:db"}}
	src := newFakeSource()
	src.publish(snap)
	dp := startDataPlane(t, src, "127.0.52.10")
	addr := net.JoinHostPort("127.0.52.10", strconv.Itoa(443+testPortOffset))

	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "db.example.com", RootCAs: poolA})
	if err != nil {
		t.Fatalf("passthrough handshake with the target's own certificate: %v", err)
	}
	if _, err := conn.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "db: hello\n" {
		t.Errorf("echo %q, %v", line, err)
	}
	conn.Close()

	cc, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "cache.example.com", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if cn := cc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "cache.example.com" {
		t.Errorf("SNI cache.example.com reached %s", cn)
	}
	cc.Close()

	if _, err := tls.Dial("tcp", addr, &tls.Config{ServerName: f.svc(db).DNSEntry.DomainName, InsecureSkipVerify: true}); err == nil {
		t.Error("passthrough matched the generated DNS name; only the custom domain should match")
	}

	code, _ := get(t, clientFor(dp, nil), mustRequest(t, "GET", "http://db.example.com:443/"))
	if code != http.StatusBadRequest {
		t.Errorf("plain HTTP to a passthrough listener: status %d, want 400", code)
	}

	// One access-log line per connection, written when it ends.
	path := AccessLogPath(dp.opts.DataDir, "arn:aws:logs:us-west-2:123456789012:log-group:db")
	var e accessLogEntry
	eventually(t, "the passthrough access-log line", func() bool {
		data, err := os.ReadFile(path)
		return err == nil && json.Unmarshal(bytes.TrimSpace(data), &e) == nil
	})
	if e.ListenerType != "TLS_PASSTHROUGH" || e.ServerNameIndication != "db.example.com" || e.TargetIPPort != "127.0.51.90:5432" ||
		e.BytesReceived == 0 || e.BytesSent == 0 || e.Protocol != "TCP" {
		t.Errorf("passthrough access log: %+v", e)
	}
}

func selfSigned(t *testing.T, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// startTLSBackend echoes lines prefixed with name over TLS.
func startTLSBackend(t *testing.T, addr string, cert tls.Certificate, name string) {
	t.Helper()
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, name+": "+line); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// TestDNS asks the resolver with a real DNS client over UDP and TCP.
func TestDNS(t *testing.T) {
	t.Parallel()
	f := newFixture()
	svc := f.service("inventory", "inventory.example.com")
	f.listener(svc, "HTTP", 80, fixed(404))
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.52.11")
	name := f.svc(svc).DNSEntry.DomainName
	cases := []struct {
		name  string
		qtype uint16
		rcode int
		want  string
	}{
		{name, mdns.TypeA, mdns.RcodeSuccess, "127.0.52.11"},
		{"INVENTORY.example.com", mdns.TypeA, mdns.RcodeSuccess, "127.0.52.11"},
		{name, mdns.TypeAAAA, mdns.RcodeSuccess, ""},
		{"other.example.com", mdns.TypeA, mdns.RcodeNameError, ""},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(network+" "+tc.name+" "+mdns.TypeToString[tc.qtype], func(t *testing.T) {
				m := new(mdns.Msg)
				m.SetQuestion(mdns.Fqdn(tc.name), tc.qtype)
				c := &mdns.Client{Net: network, Timeout: 5 * time.Second}
				r, _, err := c.Exchange(m, dp.DNSAddr())
				if err != nil {
					t.Fatal(err)
				}
				if r.Rcode != tc.rcode {
					t.Fatalf("rcode %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
				}
				got := ""
				for _, rr := range r.Answer {
					if a, ok := rr.(*mdns.A); ok {
						got = a.A.String()
					}
				}
				if got != tc.want {
					t.Errorf("answer %q, want %q", got, tc.want)
				}
			})
		}
	}
}

// TestAccessLogs: subscriptions on the service and on its service network each get a JSON line
// per request in the file their destination ARN maps to.
func TestAccessLogs(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "logged", "127.0.51.95:8090")
	f := newFixture()
	svc := f.service("logged", "")
	tg := f.targetGroup("HTTP", "HTTP1", noHealthCheck, "UNAVAILABLE", b.addr)
	l := f.listener(svc, "HTTP", 80, forward(tg, 1))
	f.rule(l, 1, &store.HTTPMatch{PathMatch: &store.PathMatch{Match: store.PathMatchType{Exact: ptr("/nothing")}}}, fixed(404))
	snap := f.build()
	snap.AccessLogSubscriptions = []store.AccessLogSubscription{
		{ID: "als-1", ResourceID: svc, DestinationARN: "arn:aws:logs:us-west-2:123456789012:log-group:svc-logs"},
		{ID: "als-2", ResourceID: snap.ServiceNetworks[0].ID, DestinationARN: "arn:aws:s3:::net-bucket/prefix"},
	}
	src := newFakeSource()
	src.publish(snap)
	dp := startDataPlane(t, src, "127.0.52.12")
	c := clientFor(dp, nil)
	host := "http://" + f.svc(svc).DNSEntry.DomainName
	req := mustRequest(t, "POST", host+"/orders?id=7")
	req.Body = io.NopCloser(stringsReader("0123456789"))
	req.ContentLength = 10
	req.Header.Set("User-Agent", "curl/8")
	get(t, c, req)
	get(t, c, mustRequest(t, "GET", host+"/nothing"))

	for _, path := range []string{
		filepath.Join(dp.AccessLogDir(), "logs", "log-group_svc-logs.log"),
		filepath.Join(dp.AccessLogDir(), "s3", "net-bucket_prefix.log"),
	} {
		if got := AccessLogPath(dp.opts.DataDir, map[bool]string{true: "arn:aws:logs:us-west-2:123456789012:log-group:svc-logs", false: "arn:aws:s3:::net-bucket/prefix"}[filepath.Base(path) == "log-group_svc-logs.log"]); got != path {
			t.Errorf("AccessLogPath = %s, want %s", got, path)
		}
		lines := readAccessLog(t, path)
		if len(lines) != 2 {
			t.Fatalf("%s: %d lines, want 2", path, len(lines))
		}
		fwd, fix := lines[0], lines[1]
		if fwd.ServiceARN != f.svc(svc).ARN || fwd.TargetGroupARN != f.tg(tg).ARN || fwd.TargetIPPort != b.addr ||
			fwd.ResponseCode != 200 || fwd.RequestMethod != "POST" || fwd.RequestPath != "/orders?id=7" ||
			fwd.BytesReceived != 10 || fwd.BytesSent == 0 || fwd.UserAgent != "curl/8" || !fwd.DefaultRule || fwd.ListenerType != "HTTP" {
			t.Errorf("forwarded request entry: %+v", fwd)
		}
		if fix.ResponseCode != 404 || fix.RuleARN == "" || fix.TargetGroupARN != "" {
			t.Errorf("fixed response entry: %+v", fix)
		}
	}
}
