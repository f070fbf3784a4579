package workloads

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"
)

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  Kind
	}{
		{"registry.k8s.io/gateway-api/echo-basic:v1.5.1", EchoBasic},
		{"gcr.io/k8s-staging-gateway-api/echo-basic:v20240412-v1.0.0-394-g40c666fd", EchoBasic},
		{"echo-basic", EchoBasic},
		{"public.ecr.aws/x2j8p8w7/http-server:latest", DemoApp},
		{"localhost:5000/http-server@sha256:abc", DemoApp},
		{DemoAppImage, DemoApp},
		{"ghcr.io/me/lattice-gateway-demo-app:v2", DemoApp},
		{"nginx:1.27", PlainEcho},
		{"registry:5000/http-server-ng:1", PlainEcho},
		{"", PlainEcho},
	} {
		if got := KindOf(tc.image); got != tc.want {
			t.Errorf("KindOf(%q) = %s, want %s", tc.image, got, tc.want)
		}
	}
}

// testAddr gives each case its own loopback address, away from the test cluster's 127.244/16.
func testAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 250, 0, byte(10 + i)}) }

func start(t *testing.T, c Container) *Running {
	t.Helper()
	r, err := Start(c, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func get(t *testing.T, client *http.Client, url, host string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("X-Echo-Set-Header", "X-Foo: bar")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func TestHTTPWorkloads(t *testing.T) {
	cert, key := selfSigned(t)
	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	for i, tc := range []struct {
		name      string
		container Container
		client    *http.Client
		url       string // %s is the address
		status    int
		check     func(t *testing.T, h http.Header, body []byte)
	}{{
		name: "echo-basic http",
		container: Container{Image: "registry.k8s.io/gateway-api/echo-basic:v1.5.1",
			Env: map[string]string{"POD_NAME": "infra-backend-v1-x", "NAMESPACE": "gateway-conformance-infra"}},
		url:    "http://%s:3000/a//b?q=1",
		status: 200,
		check: func(t *testing.T, h http.Header, body []byte) {
			var got EchoResponse
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Pod != "infra-backend-v1-x" || got.Namespace != "gateway-conformance-infra" || got.Path != "/a//b?q=1" ||
				got.Host != "example.com" || got.Method != "GET" || got.Proto != "HTTP/1.1" || got.HTTPPort != "3000" || got.TLS != nil {
				t.Errorf("echo = %+v", got)
			}
			if h.Get("X-Foo") != "bar" {
				t.Errorf("X-Echo-Set-Header not honoured: %v", h)
			}
		},
	}, {
		name:      "echo-basic status",
		container: Container{Image: "echo-basic", Env: map[string]string{"HTTP_PORT": "8081"}},
		url:       "http://%s:8081/status/503",
		status:    503,
	}, {
		name:      "echo-basic h2c",
		container: Container{Image: "echo-basic", Env: map[string]string{"POD_NAME": "p"}},
		client:    &http.Client{Transport: &http.Transport{Protocols: h2c}},
		url:       "http://%s:3001/",
		status:    200,
		check: func(t *testing.T, _ http.Header, body []byte) {
			var got EchoResponse
			if err := json.Unmarshal(body, &got); err != nil || got.Proto != "HTTP/2.0" || got.Pod != "p" {
				t.Errorf("h2c echo = %+v, %v", got, err)
			}
		},
	}, {
		name: "echo-basic https",
		container: Container{Image: "echo-basic",
			Env:   map[string]string{"POD_NAME": "tls-backend-1", "TLS_SERVER_CERT": "/etc/secret-volume/crt", "TLS_SERVER_PRIVKEY": "/etc/secret-volume/key"},
			Files: map[string][]byte{"/etc/secret-volume/crt": cert, "/etc/secret-volume/key": key}},
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "abc.example.com"}}},
		url:    "https://%s:8443/",
		status: 200,
		check: func(t *testing.T, _ http.Header, body []byte) {
			var got EchoResponse
			if err := json.Unmarshal(body, &got); err != nil || got.TLS == nil || got.TLS.ServerName != "abc.example.com" || got.TLS.Version != "TLSv1.3" {
				t.Errorf("https echo = %+v, %v", got, err)
			}
		},
	}, {
		name:      "demo app on the upstream port",
		container: Container{Name: "parking", Image: "public.ecr.aws/x2j8p8w7/http-server:latest", Env: map[string]string{"PodName": "parking handler pod"}},
		url:       "http://%s:8090/parking",
		status:    200,
		check: func(t *testing.T, _ http.Header, body []byte) {
			if want := "Requesting to Pod(pod-0): parking handler pod"; string(body) != want {
				t.Errorf("body = %q, want %q", body, want)
			}
		},
	}, {
		name:      "demo app on a declared port without PodName",
		container: Container{Name: "review", Image: DemoAppImage, Ports: []int32{9090}},
		url:       "http://%s:9090/",
		status:    200,
		check: func(t *testing.T, _ http.Header, body []byte) {
			if want := "Requesting to Pod(pod-0): review handler pod"; string(body) != want {
				t.Errorf("body = %q, want %q", body, want)
			}
		},
	}, {
		name:      "plain echo",
		container: Container{Name: "web", Image: "nginx", Ports: []int32{80, 8080}},
		url:       "http://%s:8080/x",
		status:    200,
		check: func(t *testing.T, _ http.Header, body []byte) {
			var got PlainEchoResponse
			if err := json.Unmarshal(body, &got); err != nil || got != (PlainEchoResponse{Pod: "pod-0", Namespace: "ns", Container: "web", Method: "GET", Path: "/x", Host: "example.com"}) {
				t.Errorf("plain echo = %+v, %v", got, err)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.container
			c.Pod, c.Namespace, c.Addr = "pod-0", "ns", testAddr(i)
			start(t, c)
			client := tc.client
			if client == nil {
				client = http.DefaultClient
			}
			status, h, body := get(t, client, strings.ReplaceAll(tc.url, "%s", c.Addr.String()), "example.com")
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.check != nil {
				tc.check(t, h, body)
			}
		})
	}
}

func TestRetrySimulation(t *testing.T) {
	c := Container{Pod: "p", Image: "echo-basic", Addr: testAddr(20)}
	start(t, c)
	url := "http://" + c.Addr.String() + ":3000/retry/?uuid=u1&succeedAfter=2&responseCode=503"
	var got []int
	for range 3 {
		status, _, _ := get(t, http.DefaultClient, url, "h")
		got = append(got, status)
	}
	if want := []int{503, 503, 200}; !equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	// A fresh connection: the transport would silently retry a reset on a reused one.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := fresh.Get("http://" + c.Addr.String() + ":3000/retry/?uuid=u2&succeedAfter=1")
	if err == nil {
		resp.Body.Close()
		t.Errorf("first attempt without responseCode answered %d; want a connection reset", resp.StatusCode)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGRPCEcho(t *testing.T) {
	c := Container{Pod: "grpc-infra-backend-v1-x", Namespace: "ns", Image: "echo-basic", Addr: testAddr(21),
		Env: map[string]string{"GRPC_ECHO_SERVER": "1", "POD_NAME": "grpc-infra-backend-v1-x", "NAMESPACE": "ns"}}
	start(t, c)
	conn, err := grpc.NewClient(c.Addr.String()+":3000", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := pb.NewGrpcEchoClient(conn).EchoTwo(ctx, &pb.EchoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	a := resp.GetAssertions()
	if a.GetContext().GetPod() != "grpc-infra-backend-v1-x" || a.GetFullyQualifiedMethod() != "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/EchoTwo" ||
		a.GetAuthority() != c.Addr.String()+":3000" {
		t.Errorf("assertions = %v", a)
	}
	if _, err := pb.NewGrpcEchoClient(conn).EchoThree(ctx, &pb.EchoRequest{}); err == nil {
		t.Error("EchoThree answered; upstream leaves it unimplemented")
	}
}

func TestStartErrors(t *testing.T) {
	busy := testAddr(30)
	l, err := net.Listen("tcp", busy.String()+":3001")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		name string
		c    Container
		want string
	}{
		{"not loopback", Container{Image: "nginx", Addr: netip.MustParseAddr("10.244.0.5")}, "not loopback"},
		{"bad port env", Container{Image: "echo-basic", Addr: testAddr(31), Env: map[string]string{"HTTP_PORT": "http"}}, "not a port"},
		{"port out of range", Container{Image: "nginx", Addr: testAddr(32), Ports: []int32{70000}}, "invalid port"},
		{"port taken", Container{Image: "echo-basic", Addr: busy}, "address already in use"},
		{"cert not mounted", Container{Image: "echo-basic", Addr: testAddr(33),
			Env: map[string]string{"TLS_SERVER_CERT": "/c", "TLS_SERVER_PRIVKEY": "/k"}}, "not mounted"},
		{"bad cert", Container{Image: "echo-basic", Addr: testAddr(34),
			Env:   map[string]string{"TLS_SERVER_CERT": "/c", "TLS_SERVER_PRIVKEY": "/k"},
			Files: map[string][]byte{"/c": []byte("x"), "/k": []byte("y")}}, "load key pair"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Start(tc.c, testr.New(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start error = %v, want it to mention %q", err, tc.want)
			}
			// A failed start must release the sockets it had already bound.
			if tc.c.Addr.IsLoopback() && tc.c.Addr != busy {
				if l, err := net.Listen("tcp", tc.c.Addr.String()+":3000"); err != nil {
					t.Errorf("port 3000 still bound after failed start: %v", err)
				} else {
					l.Close()
				}
			}
		})
	}
}

func TestCloseStopsServing(t *testing.T) {
	c := Container{Pod: "p", Image: "nginx", Addr: testAddr(40), Ports: []int32{8080}}
	r, err := Start(c, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", c.Addr.String()+":8080", time.Second); err == nil {
		t.Error("still accepting connections after Close")
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "abc.example.com"},
		DNSNames:     []string{"abc.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestStartupDelay: with STARTUP_DELAY the app refuses connections until the delay passed, and
// a container stopped before that never listens.
func TestStartupDelay(t *testing.T) {
	addr := netip.AddrFrom4([4]byte{127, 250, 1, 10})
	c := Container{Pod: "slow-1", Namespace: "ns", Name: "app", Image: DemoAppImage, Addr: addr,
		Env: map[string]string{StartupDelayEnv: "300ms"}, Ports: []int32{8090}}
	ap := netip.AddrPortFrom(addr, 8090).String()
	r := start(t, c)
	if conn, err := net.Dial("tcp", ap); err == nil {
		conn.Close()
		t.Fatal("a slow app listens right after its container started")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", ap)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the app never listened: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.Dial("tcp", ap); err == nil {
		conn.Close()
		t.Error("the app still listens after Close")
	}

	c.Addr, c.Env[StartupDelayEnv] = netip.AddrFrom4([4]byte{127, 250, 1, 11}), "200ms"
	early := start(t, c)
	if err := early.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if conn, err := net.Dial("tcp", netip.AddrPortFrom(c.Addr, 8090).String()); err == nil {
		conn.Close()
		t.Error("an app stopped before its delay listens anyway")
	}

	c.Env[StartupDelayEnv] = "soon"
	if _, err := Start(c, testr.New(t)); err == nil {
		t.Error("a bad STARTUP_DELAY was accepted")
	}
}
