package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/certtest"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

// TestHTTPSListenerServesSecretCertificate: an HTTPS listener's certificateRefs Secret is
// imported into (Local) ACM, and a real TLS client that trusts only the Secret's CA gets the
// route's backend through it; a rotated Secret is re-imported into the same ARN and served while
// requests keep running, none failing; without users the certificate is deleted.
func TestHTTPSListenerServesSecretCertificate(t *testing.T) {
	e := startEnv(t, "127.0.68.1")
	e.startController(t, harness.ControllerOptions{})
	ctx := context.Background()
	k := e.cluster.Client
	ca := certtest.NewCA(t, "Parking CA")
	first := ca.Issue(t, "parking.example.com", certtest.Options{})
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "parking-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: first.CertPEM, corev1.TLSPrivateKeyKey: first.KeyPEM}}
	if err := k.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	parking, err := os.ReadFile(filepath.Join(hotelDir(t), "parking.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cluster.Apply(ctx, harness.Manifest(t, "https-secret-gateway.yaml", nil)+"---\n"+string(parking)); err != nil {
		t.Fatal(err)
	}
	route := harness.RouteProgrammed(t, k, "default", "parking", "secure", 2*time.Minute)
	certs := func() []string {
		var arns []string
		for _, c := range e.lattice.Store().Snapshot().Certificates {
			if c.Tags[model.TagSecretName] == "parking-tls" {
				arns = append(arns, c.ARN)
			}
		}
		return arns
	}
	imported := certs()
	if len(imported) != 1 {
		t.Fatalf("ACM certificates of the Secret: %v, want one", imported)
	}

	ips, err := cluster.ResolveDNS(route.Annotations[status.AnnotationDomainName], e.dp.DNSAddr())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: cluster.PodDialer(t), DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{ServerName: "parking.example.com", RootCAs: roots}}}
	url := "https://" + ips[0].String() + ":" + strconv.Itoa(443+listenerPortOffset) + "/"
	// get sends one request and returns the serial of the certificate that was served.
	get := func() (string, error) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return "", err
		}
		// The data plane finds the service by Host, as Lattice does.
		req.Host = "parking.example.com"
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("status %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.String(), nil
	}
	harness.Eventually(t, time.Minute, func() error {
		serial, err := get()
		if err == nil && serial != first.Cert.SerialNumber.String() {
			err = fmt.Errorf("served certificate serial %s, want %s", serial, first.Cert.SerialNumber)
		}
		return err
	})

	// Rotation under load: every request must succeed, first with the old certificate, then with
	// the new one.
	second := ca.Issue(t, "parking.example.com", certtest.Options{})
	var rotated atomic.Bool
	load := locallatticetest.StartLoad(func() error {
		serial, err := get()
		if serial == second.Cert.SerialNumber.String() {
			rotated.Store(true)
		}
		return err
	})
	secret.Data = map[string][]byte{corev1.TLSCertKey: second.CertPEM, corev1.TLSPrivateKeyKey: second.KeyPEM}
	if err := k.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, harness.That(rotated.Load, func() string { return "the rotated certificate is not served" }))
	time.Sleep(200 * time.Millisecond)
	sent, failed, firstErr := load.Stop()
	t.Logf("rotation: %d requests, %d failed", sent, failed)
	if failed > 0 {
		t.Errorf("%d of %d requests failed during the rotation, first: %v", failed, sent, firstErr)
	}
	if after := certs(); len(after) != 1 || after[0] != imported[0] {
		t.Errorf("after rotation the Secret's certificates are %v, want the same ARN %s", after, imported[0])
	}

	// The last user gone, the certificate goes too.
	if err := k.Delete(ctx, &gwv1.HTTPRoute{ObjectMeta: objMeta("default", "parking")}); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, time.Minute, harness.That(func() bool { return len(certs()) == 0 }, func() string { return fmt.Sprintf("certificates left: %v", certs()) }))
	if err := k.Get(ctx, client.ObjectKeyFromObject(secret), secret); err != nil {
		t.Errorf("the Secret itself must stay: %v", err)
	}
}
