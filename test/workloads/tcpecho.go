package workloads

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"

	"sigs.k8s.io/gateway-api/conformance/echo-basic/tcpserver"

	"github.com/lattice-gateway/lattice-gateway/internal/demo/workload"
)

// startTCPEcho is echo-basic's TCP_ECHO_SERVER mode: a welcome line, then answers to TEST (the
// pod context as JSON), IS_TLS and PING, on TCP_PORT and, with a certificate, over TLS on
// TLS_PORT. The conformance suite's TLSRoute tests reach it through TLS passthrough.
func startTCPEcho(r *Running, c Container, ctx EchoContext) error {
	tcpPort, err := c.Port("TCP_PORT", "3000")
	if err != nil {
		return err
	}
	tlsPort, err := c.Port("TLS_PORT", "8443")
	if err != nil {
		return err
	}
	pctx := tcpserver.Context{Namespace: ctx.Namespace, Ingress: ctx.Ingress, Service: ctx.Service, Pod: ctx.Pod, TCPPort: strconv.Itoa(tcpPort)}
	var cfg *tls.Config
	// Like the gRPC mode, this mode names its key variable TLS_SERVER_PRIV_KEY.
	if certPath, keyPath := c.Env["TLS_SERVER_CERT"], c.Env["TLS_SERVER_PRIV_KEY"]; certPath != "" && keyPath != "" {
		if cfg, err = serverTLS(c, certPath, keyPath); err != nil {
			return err
		}
		pctx.TLSPort = strconv.Itoa(tlsPort)
	}
	if err := serveTCPEcho(r, c, tcpPort, nil, pctx); err != nil {
		return err
	}
	if cfg == nil {
		return nil
	}
	return serveTCPEcho(r, c, tlsPort, cfg, pctx)
}

func serveTCPEcho(r *Running, c Container, port int, cfg *tls.Config, pctx tcpserver.Context) error {
	l, ap, err := workload.Listen(c.Addr, port)
	if err != nil {
		return err
	}
	if cfg != nil {
		l = tls.NewListener(l, cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go tcpEcho(ctx, conn, pctx)
		}
	}()
	r.Add(ap, stopFunc(func() {
		cancel()
		_ = l.Close()
		wg.Wait()
	}))
	return nil
}

func tcpEcho(ctx context.Context, conn net.Conn, pctx tcpserver.Context) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	answer := tcpserver.TCPAssertions{Context: pctx}
	if tc, ok := conn.(*tls.Conn); ok {
		if err := tc.HandshakeContext(ctx); err != nil {
			return
		}
		s := tc.ConnectionState()
		answer.IsTLS = true
		answer.TLSAssertion = &tcpserver.TLSAssertions{
			NegotiatedProtocol: s.NegotiatedProtocol, ServerName: s.ServerName, Version: tls.VersionName(s.Version),
			CipherSuite: tls.CipherSuiteName(s.CipherSuite), Curves: s.CurveID.String(),
		}
	}
	payload, err := json.Marshal(answer)
	if err != nil {
		return
	}
	fmt.Fprint(conn, tcpserver.WelcomeMessage)
	lines := bufio.NewScanner(conn)
	for lines.Scan() {
		switch lines.Text() {
		case "TEST":
			fmt.Fprintf(conn, "%s\n", payload)
		case "IS_TLS":
			fmt.Fprintf(conn, "%t\n", answer.IsTLS)
		case "PING":
			fmt.Fprint(conn, "PONG\n")
		}
	}
}
