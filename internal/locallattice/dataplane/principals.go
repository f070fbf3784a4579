package dataplane

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/iamauth"
)

// initialPrincipalFile, under the data directory, holds the principal created at first start so
// that it survives restarts (in the principals file format).
const initialPrincipalFile = "iam-principals.yaml"

// PrincipalsFile is the format of --iam-principals-file (YAML or JSON):
//
//	principals:
//	  - accessKeyId: AKIAEXAMPLE000000001
//	    secretAccessKey: s3cr3t
//	    arn: arn:aws:iam::123456789012:role/payments
//	    orgId: o-example            # optional: aws:PrincipalOrgID
//	    tags: {team: payments}      # optional: aws:PrincipalTag/<key>
type PrincipalsFile struct {
	Principals []PrincipalEntry `json:"principals"`
}

// PrincipalEntry is one access key and the IAM principal it signs as.
type PrincipalEntry struct {
	AccessKeyID     string            `json:"accessKeyId"`
	SecretAccessKey string            `json:"secretAccessKey"`
	ARN             string            `json:"arn"`
	OrgID           string            `json:"orgId,omitempty"`
	Tags            map[string]string `json:"tags,omitempty"`
}

// principals is the data plane's credential store, read once at start.
type principals struct {
	byKey   map[string]iamauth.Secret
	initial PrincipalEntry
}

func (p *principals) lookup(accessKeyID string) (iamauth.Secret, bool) {
	if p == nil {
		return iamauth.Secret{}, false
	}
	s, ok := p.byKey[accessKeyID]
	return s, ok
}

// loadPrincipals reads (or creates) the initial principal under dataDir and then file, whose
// entries replace the initial principal's on a shared access key.
func loadPrincipals(dataDir, file, account string) (*principals, error) {
	initial, err := loadOrCreateInitial(filepath.Join(dataDir, initialPrincipalFile), account)
	if err != nil {
		return nil, err
	}
	out := &principals{byKey: map[string]iamauth.Secret{}, initial: initial}
	entries := []PrincipalEntry{initial}
	if file != "" {
		f, err := readPrincipals(file)
		if err != nil {
			return nil, err
		}
		entries = append(entries, f.Principals...)
	}
	for i, e := range entries {
		if e.AccessKeyID == "" || e.SecretAccessKey == "" || !strings.HasPrefix(e.ARN, "arn:") {
			return nil, fmt.Errorf("principal %d (%q): accessKeyId, secretAccessKey and an arn are required", i, e.AccessKeyID)
		}
		out.byKey[e.AccessKeyID] = iamauth.Secret{SecretAccessKey: e.SecretAccessKey,
			Principal: &iamauth.Principal{ARN: e.ARN, OrgID: e.OrgID, Tags: e.Tags}}
	}
	return out, nil
}

func readPrincipals(path string) (*PrincipalsFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read IAM principals: %w", err)
	}
	var f PrincipalsFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		return nil, fmt.Errorf("parse IAM principals %s: %w", path, err)
	}
	return &f, nil
}

func loadOrCreateInitial(path, account string) (PrincipalEntry, error) {
	f, err := readPrincipals(path)
	switch {
	case err == nil && len(f.Principals) == 1:
		return f.Principals[0], nil
	case err == nil:
		return PrincipalEntry{}, fmt.Errorf("%s must hold exactly one principal", path)
	case !errors.Is(err, fs.ErrNotExist):
		return PrincipalEntry{}, err
	}
	if account == "" {
		account = "123456789012"
	}
	e := PrincipalEntry{
		AccessKeyID:     "AKIA" + randomString(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
		SecretAccessKey: randomString(30, ""),
		ARN:             "arn:aws:iam::" + account + ":user/local-lattice",
	}
	b, err := yaml.Marshal(PrincipalsFile{Principals: []PrincipalEntry{e}})
	if err != nil {
		return PrincipalEntry{}, fmt.Errorf("encode IAM principal: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return PrincipalEntry{}, fmt.Errorf("create data directory: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return PrincipalEntry{}, fmt.Errorf("write IAM principal: %w", err)
	}
	return e, nil
}

// randomString is n random bytes as base32 letters (alphabet given) or base64 (alphabet "").
func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if alphabet == "" {
		return base64.RawStdEncoding.EncodeToString(b)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
