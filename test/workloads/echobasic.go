package workloads

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/demo/workload"
	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/reflection"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"
)

// EchoContext is where echo-basic says it runs; it comes from the env vars NAMESPACE,
// INGRESS_NAME, SERVICE_NAME and POD_NAME (the conformance manifests set them with the downward API).
type EchoContext struct {
	Namespace string `json:"namespace"`
	Ingress   string `json:"ingress"`
	Service   string `json:"service"`
	Pod       string `json:"pod"`
}

// EchoResponse is echo-basic's JSON answer; the conformance suite decodes exactly these fields.
type EchoResponse struct {
	Path     string              `json:"path"`
	Host     string              `json:"host"`
	Method   string              `json:"method"`
	Proto    string              `json:"proto"`
	Headers  map[string][]string `json:"headers"`
	HTTPPort string              `json:"httpPort"`
	EchoContext
	TLS *TLSAssertions `json:"tls,omitempty"`
}

// TLSAssertions describes the TLS connection a request arrived on.
type TLSAssertions struct {
	Version            string   `json:"version"`
	PeerCertificates   []string `json:"peerCertificates,omitempty"`
	ServerName         string   `json:"serverName"`
	NegotiatedProtocol string   `json:"negotiatedProtocol,omitempty"`
	CipherSuite        string   `json:"cipherSuite"`
}

func startEchoBasic(r *Running, c Container, log logr.Logger) error {
	ctx := EchoContext{
		Namespace: c.Env["NAMESPACE"],
		Ingress:   c.Env["INGRESS_NAME"],
		Service:   c.Env["SERVICE_NAME"],
		Pod:       c.Env["POD_NAME"],
	}
	switch {
	case c.Env["GRPC_ECHO_SERVER"] != "":
		return startGRPCEcho(r, c, ctx)
	case c.Env["TCP_ECHO_SERVER"] != "":
		return startTCPEcho(r, c, ctx)
	case c.Env["UDP_ECHO_SERVER"] != "":
		// VPC Lattice has no UDP routes, so nothing here ever receives that traffic.
		log.Info("echo-basic's UDP echo mode is not simulated; the container serves nothing")
		return nil
	}
	httpPort, err := c.Port("HTTP_PORT", "3000")
	if err != nil {
		return err
	}
	h2cPort, err := c.Port("H2C_PORT", "3001")
	if err != nil {
		return err
	}
	e := &echoServer{ctx: ctx, httpPort: strconv.Itoa(httpPort), attempts: map[string]int{}}
	h := e.handler()

	l, ap, err := workload.Listen(c.Addr, httpPort)
	if err != nil {
		return err
	}
	r.Add(ap, workload.ServeHTTP(l, h, nil, nil, log))

	l, ap, err = workload.Listen(c.Addr, h2cPort)
	if err != nil {
		return err
	}
	h2c := new(http.Protocols)
	h2c.SetHTTP1(true)
	h2c.SetUnencryptedHTTP2(true)
	r.Add(ap, workload.ServeHTTP(l, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.ProtoMajor != 2 && req.Header.Get("Upgrade") != "h2c" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, "Expected h2c request")
			return
		}
		e.echo(w, req)
	}), h2c, nil, log))

	certPath, keyPath := c.Env["TLS_SERVER_CERT"], c.Env["TLS_SERVER_PRIVKEY"]
	if certPath == "" || keyPath == "" {
		return nil
	}
	httpsPort, err := c.Port("HTTPS_PORT", "8443")
	if err != nil {
		return err
	}
	cfg, err := serverTLS(c, certPath, keyPath)
	if err != nil {
		return err
	}
	if caPath := c.Env["TLS_CLIENT_CACERTS"]; caPath != "" {
		ca, err := c.File(caPath)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return fmt.Errorf("no certificate in %s", caPath)
		}
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		cfg.ClientCAs = pool
	}
	l, ap, err = workload.Listen(c.Addr, httpsPort)
	if err != nil {
		return err
	}
	r.Add(ap, workload.ServeHTTP(l, h, nil, cfg, log))
	return nil
}

func serverTLS(c Container, certPath, keyPath string) (*tls.Config, error) {
	certPEM, err := c.File(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := c.File(keyPath)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load key pair %s, %s: %w", certPath, keyPath, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

type echoServer struct {
	ctx      EchoContext
	httpPort string

	mu       sync.Mutex
	attempts map[string]int // retry simulation: failed attempts per request uuid
}

func (e *echoServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("OK"))
	})
	mux.HandleFunc("/status/", statusHandler)
	mux.HandleFunc("/retry/", e.retry)
	mux.HandleFunc("/", e.echo)
	mux.Handle("/ws", websocket.Handler(func(ws *websocket.Conn) {
		buf := make([]byte, 32*1024)
		for {
			n, err := ws.Read(buf)
			if err != nil {
				return
			}
			if _, err := ws.Write(buf[:n]); err != nil {
				return
			}
		}
	}))
	// echo-basic collapses doubled slashes instead of letting ServeMux redirect to the clean path.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = strings.ReplaceAll(r.URL.Path, "//", "/")
		mux.ServeHTTP(w, r)
	})
}

var statusPath = regexp.MustCompile(`^/status/(\d\d\d)$`)

func statusHandler(w http.ResponseWriter, r *http.Request) {
	code := http.StatusBadRequest
	if m := statusPath.FindStringSubmatch(r.RequestURI); m != nil {
		code, _ = strconv.Atoi(m[1])
	}
	w.WriteHeader(code)
}

// retry fails the first succeedAfter attempts of a request uuid (connection reset, or
// responseCode when given), then echoes; the retry conformance tests rely on it.
func (e *echoServer) retry(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	uuid := q.Get("uuid")
	if uuid == "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "uuid is required")
		return
	}
	succeedAfter, err := strconv.Atoi(q.Get("succeedAfter"))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "succeedAfter is required")
		return
	}
	e.mu.Lock()
	fail := e.attempts[uuid] < succeedAfter
	if fail {
		e.attempts[uuid]++
	}
	e.mu.Unlock()
	if !fail {
		e.echo(w, r)
		return
	}
	if err := delay(r, "delayRetry"); err != nil {
		workload.WriteError(w, err)
		return
	}
	if code, err := strconv.Atoi(q.Get("responseCode")); err == nil {
		w.WriteHeader(code)
		return
	}
	if err := reset(w); err != nil {
		workload.WriteError(w, err)
	}
}

// reset aborts the connection with a TCP RST, as a crashing backend would.
func reset(w http.ResponseWriter) error {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return fmt.Errorf("response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return fmt.Errorf("hijack: %w", err)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	return conn.Close()
}

func delay(r *http.Request, key string) error {
	v := r.FormValue(key)
	if v == "" {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("parse %s: %w", key, err)
	}
	select {
	case <-time.After(d):
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	}
}

func (e *echoServer) echo(w http.ResponseWriter, r *http.Request) {
	if err := delay(r, "delay"); err != nil {
		workload.WriteError(w, err)
		return
	}
	body, err := json.MarshalIndent(EchoResponse{
		Path:        r.RequestURI,
		Host:        r.Host,
		Method:      r.Method,
		Proto:       r.Proto,
		Headers:     r.Header,
		HTTPPort:    e.httpPort,
		EchoContext: e.ctx,
		TLS:         tlsAssertions(r.TLS),
	}, "", " ")
	if err != nil {
		workload.WriteError(w, err)
		return
	}
	for _, kvs := range r.Header["X-Echo-Set-Header"] {
		for kv := range strings.SplitSeq(kvs, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(kv), ":")
			// Direct map access keeps the header name's casing, which the tests compare.
			if len(w.Header()[name]) == 0 {
				w.Header()[name] = []string{value}
			} else {
				w.Header()[name][0] += "," + strings.TrimSpace(value)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

var tlsVersions = map[uint16]string{
	tls.VersionTLS13: "TLSv1.3",
	tls.VersionTLS12: "TLSv1.2",
	tls.VersionTLS11: "TLSv1.1",
	tls.VersionTLS10: "TLSv1.0",
}

func tlsAssertions(cs *tls.ConnectionState) *TLSAssertions {
	if cs == nil {
		return nil
	}
	return &TLSAssertions{
		Version:            tlsVersions[cs.Version],
		PeerCertificates:   peerPEMs(cs),
		ServerName:         cs.ServerName,
		NegotiatedProtocol: cs.NegotiatedProtocol,
		CipherSuite:        tls.CipherSuiteName(cs.CipherSuite),
	}
}

func peerPEMs(cs *tls.ConnectionState) []string {
	var out []string
	for _, c := range cs.PeerCertificates {
		out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	return out
}

// grpcEcho implements the conformance GrpcEcho service (Echo and EchoTwo; EchoThree stays
// unimplemented on purpose, as upstream).
type grpcEcho struct {
	pb.UnimplementedGrpcEchoServer
	service string
	tls     bool
	ctx     *pb.Context
}

func startGRPCEcho(r *Running, c Container, ctx EchoContext) error {
	svc := pb.File_grpcecho_proto.Services().ByName("GrpcEcho")
	if svc == nil {
		return fmt.Errorf("GrpcEcho service missing from the conformance proto")
	}
	pctx := &pb.Context{Namespace: ctx.Namespace, Ingress: ctx.Ingress, ServiceName: ctx.Service, Pod: ctx.Pod}
	port, err := c.Port("HTTP_PORT", "3000")
	if err != nil {
		return err
	}
	if err := serveGRPC(r, c, port, nil, &grpcEcho{service: string(svc.FullName()), ctx: pctx}); err != nil {
		return err
	}
	// The gRPC mode names its key variable TLS_SERVER_PRIV_KEY, unlike the HTTP mode's TLS_SERVER_PRIVKEY.
	certPath, keyPath := c.Env["TLS_SERVER_CERT"], c.Env["TLS_SERVER_PRIV_KEY"]
	if certPath == "" || keyPath == "" {
		return nil
	}
	port, err = c.Port("HTTPS_PORT", "8443")
	if err != nil {
		return err
	}
	cfg, err := serverTLS(c, certPath, keyPath)
	if err != nil {
		return err
	}
	return serveGRPC(r, c, port, cfg, &grpcEcho{service: string(svc.FullName()), tls: true, ctx: pctx})
}

func serveGRPC(r *Running, c Container, port int, cfg *tls.Config, echo *grpcEcho) error {
	l, ap, err := workload.Listen(c.Addr, port)
	if err != nil {
		return err
	}
	var opts []grpc.ServerOption
	if cfg != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	s := grpc.NewServer(opts...)
	pb.RegisterGrpcEchoServer(s, echo)
	reflection.Register(s)
	go func() { _ = s.Serve(l) }()
	r.Add(ap, stopFunc(func() {
		s.Stop()
		_ = l.Close() // Serve may not have started yet; the port must be free on return
	}))
	return nil
}

func (g *grpcEcho) Echo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return g.answer(ctx, "Echo")
}

func (g *grpcEcho) EchoTwo(ctx context.Context, in *pb.EchoRequest) (*pb.EchoResponse, error) {
	return g.answer(ctx, "EchoTwo")
}

func (g *grpcEcho) answer(ctx context.Context, method string) (*pb.EchoResponse, error) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, fmt.Errorf("no metadata in the incoming request")
	}
	a := &pb.Assertions{FullyQualifiedMethod: "/" + g.service + "/" + method, Context: g.ctx}
	for k, vs := range md {
		for _, v := range vs {
			if k == ":authority" {
				a.Authority = v
			}
			a.Headers = append(a.Headers, &pb.Header{Key: k, Value: v})
		}
	}
	if g.tls {
		p, ok := peer.FromContext(ctx)
		if !ok {
			return nil, fmt.Errorf("no peer in the incoming request")
		}
		info, ok := p.AuthInfo.(credentials.TLSInfo)
		if !ok {
			return nil, fmt.Errorf("no TLS info in the incoming request")
		}
		a.TlsAssertions = &pb.TLSAssertions{
			Version:            tlsVersions[info.State.Version],
			NegotiatedProtocol: info.State.NegotiatedProtocol,
			ServerName:         info.State.ServerName,
			CipherSuite:        tls.CipherSuiteName(info.State.CipherSuite),
			PeerCertificates:   peerPEMs(&info.State),
		}
	}
	return &pb.EchoResponse{Assertions: a}, nil
}
