package dataplane_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/certtest"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
)

// TestImportedCertificateServedBySNI: a certificate imported into Local ACM and named by a
// service is what the HTTPS listener presents for the service's custom domain (verified
// against the certificate's own CA, not Local Lattice's), the generated name keeps the Local
// Lattice CA's certificate, and a re-import is served on the next connection.
func TestImportedCertificateServedBySNI(t *testing.T) {
	t.Parallel()
	b := dataplane.StartBackend(t, "shop", "127.0.51.173:8090")
	ll := locallatticetest.Start(t, locallattice.Options{DataPlane: &dataplane.Options{DataPlaneAddr: "127.0.52.73",
		ListenerPortOffset: dataplane.TestPortOffset, HealthCheckInterval: 50 * time.Millisecond}})
	lc, dp := ll.Client, ll.DataPlane
	ac := acm.New(acm.Options{Region: ll.Store().Region(), BaseEndpoint: aws.String(ll.URL()), Credentials: lc.Options().Credentials})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ca := certtest.NewCA(t, "Shop CA")
	leaf := ca.Issue(t, "shop.example.com", certtest.Options{})
	cert := must(ac.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: leaf.CertPEM, PrivateKey: leaf.KeyPEM, CertificateChain: ca.PEM}))
	svc := must(lc.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("shop"),
		CustomDomainName: aws.String("shop.example.com"), CertificateArn: cert.CertificateArn}))
	tg := must(lc.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("shop"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(8090), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0123456789abcdef0"),
			HealthCheck: &types.HealthCheckConfig{Enabled: aws.Bool(false)}}}))
	must(lc.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.51.173"), Port: aws.Int32(8090)}}}))
	must(lc.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("https"),
		Protocol: types.ListenerProtocolHttps, Port: aws.Int32(443),
		DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}}))
	var addr string
	dataplane.Eventually(t, "the HTTPS listener", func() bool { addr, _ = dp.ListenerAddr(443); return addr != "" })

	// presented dials the listener with sni and returns the verified leaf.
	presented := func(sni string, roots *x509.CertPool) *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, RootCAs: roots})
		if err != nil {
			t.Fatalf("TLS to %s: %v", sni, err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if got := presented("shop.example.com", ca.Pool()); !got.Equal(leaf.Cert) {
		t.Fatalf("custom domain presented %s (serial %s), want the imported certificate", got.Subject, got.SerialNumber)
	}
	if got := presented(aws.ToString(svc.DnsEntry.DomainName), dp.CA().Pool()); got.Issuer.CommonName != "Local Lattice CA" {
		t.Fatalf("generated name presented a certificate from %s", got.Issuer)
	}

	client := dataplane.ClientFor(dp, nil)
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs = ca.Pool()
	client.Transport.(*http.Transport).DisableKeepAlives = true
	if code, e := dataplane.Get(t, client, dataplane.MustRequest(t, "GET", "https://shop.example.com/cart")); code != http.StatusOK || e == nil || e.Backend != "shop" {
		t.Fatalf("request through the imported certificate: %d %+v", code, e)
	}

	rotated := ca.Issue(t, "shop.example.com", certtest.Options{NotAfter: time.Now().Add(48 * time.Hour)})
	must(ac.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: cert.CertificateArn,
		Certificate: rotated.CertPEM, PrivateKey: rotated.KeyPEM, CertificateChain: ca.PEM}))
	dataplane.Eventually(t, "the re-imported certificate", func() bool { return presented("shop.example.com", ca.Pool()).Equal(rotated.Cert) })
	if code, e := dataplane.Get(t, client, dataplane.MustRequest(t, "GET", "https://shop.example.com/cart")); code != http.StatusOK || e == nil {
		t.Fatalf("request after rotation: %d %+v", code, e)
	}
	if b.Hits() != 2 {
		t.Fatalf("backend saw %d requests, want 2", b.Hits())
	}
}
