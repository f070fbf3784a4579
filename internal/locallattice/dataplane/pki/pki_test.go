package pki

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	first, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(first.CertPEM()) != string(again.CertPEM()) {
		t.Error("a restart created a new CA; clients would have to trust it again")
	}
	if info, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", info, err)
	}
	for _, name := range []string{"svc-0123.7d67968.vpc-lattice-svcs.us-west-2.on.aws", "Shop.Example.COM."} {
		leaf, err := again.Leaf(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: strings.TrimSuffix(name, "."), Roots: first.Pool()}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		cached, _ := again.Leaf(name)
		if cached != leaf {
			t.Errorf("%s: leaf issued twice", name)
		}
	}
}

func TestLoadOrCreateErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		files map[string]string
	}{
		{"certificate without key", map[string]string{CertFile: "x"}},
		{"key without certificate", map[string]string{KeyFile: "x"}},
		{"garbage", map[string]string{CertFile: "not pem", KeyFile: "not pem"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for f, content := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := LoadOrCreate(dir); err == nil {
				t.Error("accepted a broken CA directory")
			}
		})
	}
}
