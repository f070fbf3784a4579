package dataplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/certtest"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/contract"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// TestFallbackCertificate: a TLS client naming a host that no service answers gets, from a
// real handshake, the imported certificate of an HTTPS service on that socket whose names
// cover the host, and then a 404; with no covering certificate the handshake fails. On a
// gateway address only the certificates of that service network's services count.
func TestFallbackCertificate(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "org", "127.0.55.1:8090")
	ca := certtest.NewCA(t, "Gateway CA")
	orgLeaf := ca.Issue(t, "example.org", certtest.Options{DNSNames: []string{"*.org"}})
	netLeaf := ca.Issue(t, "example.net", certtest.Options{DNSNames: []string{"*.net"}})

	f := newFixture()
	imported := func(leaf certtest.Leaf) string {
		arn := "arn:aws:acm:us-west-2:123456789012:certificate/" + f.id("cert")
		f.snap.Certificates = append(f.snap.Certificates, store.Certificate{ARN: arn,
			CertificatePEM: string(leaf.CertPEM), ChainPEM: string(ca.PEM), PrivateKeyPEM: string(leaf.KeyPEM)})
		return arn
	}
	org := f.service("org", "example.org")
	f.svc(org).CertificateARN = imported(orgLeaf)
	f.rule(f.listener(org, "HTTPS", 443, fixed(404)), 1, (&httpMatch{path: "/"}).store(),
		forward(f.targetGroup("HTTP", "HTTP1", nil, "", b.addr), 1))
	orgNet := f.snap.ServiceNetworks[0]
	other := f.service("other", "example.net")
	f.svc(other).CertificateARN = imported(netLeaf)
	f.listener(other, "HTTPS", 443, fixed(404))
	otherNet := f.snap.ServiceNetworks[1]

	prefix := netip.MustParsePrefix("127.79.0.0/16")
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.55.100", func(o *Options) { o.GatewayAddresses = prefix })
	if contract.GatewayAddress(prefix, orgNet.Name) == contract.GatewayAddress(prefix, otherNet.Name) {
		t.Fatal("test service networks hash to one address")
	}
	socket := func(network string) string {
		var addr string
		var ok bool
		eventually(t, "the HTTPS socket", func() bool {
			if network == "" {
				addr, ok = dp.ListenerAddr(443)
			} else {
				addr, ok = dp.GatewayAddr(network, 443)
			}
			return ok
		})
		return addr
	}
	shared, orgGateway, otherGateway := socket(""), socket(orgNet.Name), socket(otherNet.Name)

	cases := []struct {
		name, addr, sni string
		want            *x509.Certificate // nil: the handshake fails
		code            int
	}{
		{"a custom domain presents its certificate", orgGateway, "example.org", orgLeaf.Cert, http.StatusOK},
		{"an unknown name covered by a wildcard gets that certificate and a 404", orgGateway, "unknown-example.org", orgLeaf.Cert, http.StatusNotFound},
		{"another service network's certificate is not presented", otherGateway, "unknown-example.org", nil, 0},
		{"that network's own certificate is", otherGateway, "unknown.net", netLeaf.Cert, http.StatusNotFound},
		{"a name no certificate covers fails", orgGateway, "unknown.example.com", nil, 0},
		{"a wildcard covers one label only", orgGateway, "a.b.org", nil, 0},
		{"on the shared address every HTTPS service's certificate counts", shared, "unknown.net", netLeaf.Cert, http.StatusNotFound},
		{"the shared address fails uncovered names", shared, "unknown.example.com", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &net.Dialer{}
			var presented *x509.Certificate
			c := &http.Client{Transport: &http.Transport{
				DisableKeepAlives: true,
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return d.DialContext(ctx, network, tc.addr)
				},
				TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: tc.sni, VerifyConnection: func(cs tls.ConnectionState) error {
					presented = cs.PeerCertificates[0]
					return nil
				}},
			}}
			req := mustRequest(t, "GET", "https://"+tc.sni+"/")
			resp, err := c.Do(req)
			if tc.want == nil {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("handshake for %s succeeded with %s, want it to fail", tc.sni, presented.Subject)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET https://%s/: %v", tc.sni, err)
			}
			resp.Body.Close()
			if !presented.Equal(tc.want) || resp.StatusCode != tc.code {
				t.Fatalf("presented %v, status %d; want %v, %d", presented.DNSNames, resp.StatusCode, tc.want.DNSNames, tc.code)
			}
		})
	}
	if b.hits.Load() != 1 {
		t.Fatalf("backend saw %d requests, want 1", b.hits.Load())
	}
}
