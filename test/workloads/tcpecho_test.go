package workloads

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"testing"

	"sigs.k8s.io/gateway-api/conformance/echo-basic/tcpserver"
)

// TestTCPEcho speaks echo-basic's TCP echo protocol as the conformance suite's TLSRoute tests do.
func TestTCPEcho(t *testing.T) {
	cert, key := selfSigned(t)
	r := start(t, Container{Pod: "tcp-backend-1", Namespace: "infra", Image: "registry.k8s.io/gateway-api/echo-basic:v1.5.1", Addr: testAddr(50),
		Env: map[string]string{"POD_NAME": "tcp-backend-1", "NAMESPACE": "infra", "TCP_ECHO_SERVER": "1",
			"TLS_SERVER_CERT": "/etc/secret-volume/crt", "TLS_SERVER_PRIV_KEY": "/etc/secret-volume/key"},
		Files: map[string][]byte{"/etc/secret-volume/crt": cert, "/etc/secret-volume/key": key}})
	if len(r.Addrs) != 2 {
		t.Fatalf("listening on %v, want TCP and TLS ports", r.Addrs)
	}
	for _, tc := range []struct {
		name string
		port int
		tls  bool
	}{{"plain", 3000, false}, {"tls", 8443, true}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := net.JoinHostPort(testAddr(50).String(), strconv.Itoa(tc.port))
			var conn net.Conn
			var err error
			if tc.tls {
				conn, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "abc.example.com"})
			} else {
				conn, err = net.Dial("tcp", addr)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			if welcome, err := br.ReadString('\n'); err != nil || welcome != tcpserver.WelcomeMessage {
				t.Fatalf("welcome %q, %v", welcome, err)
			}
			fmt.Fprint(conn, "PING\nIS_TLS\nTEST\n")
			for _, want := range []string{"PONG\n", fmt.Sprintf("%t\n", tc.tls)} {
				if got, err := br.ReadString('\n'); err != nil || got != want {
					t.Fatalf("got %q, %v; want %q", got, err, want)
				}
			}
			line, err := br.ReadBytes('\n')
			if err != nil {
				t.Fatal(err)
			}
			var got tcpserver.TCPAssertions
			if err := json.Unmarshal(line, &got); err != nil || got.Pod != "tcp-backend-1" || got.Namespace != "infra" || got.IsTLS != tc.tls {
				t.Fatalf("TEST answer %s (%v)", line, err)
			}
			if tc.tls && (got.TLSAssertion == nil || got.TLSAssertion.ServerName != "abc.example.com") {
				t.Errorf("TLS assertions %+v", got.TLSAssertion)
			}
		})
	}
}
