package translate

import (
	"bytes"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/golden"
)

// TestCertificateKeysNotRendered: the model carries a Secret's key for deploy, but the YAML of
// plans and golden files must show only its hash.
func TestCertificateKeysNotRendered(t *testing.T) {
	in, err := ParseInput(golden.Input(t, testdata, "gateway-https-listener-certificaterefs-secret-imported"))
	if err != nil {
		t.Fatal(err)
	}
	out := Translate(in, testConfig)
	if len(out.Model.Certificates) != 1 || len(out.Model.Certificates[0].PrivateKey) == 0 {
		t.Fatalf("model certificates = %d, want one with its key", len(out.Model.Certificates))
	}
	y, err := out.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(y, []byte("-----BEGIN")) {
		t.Error("the rendered output contains PEM")
	}
}
