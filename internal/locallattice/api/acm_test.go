package api_test

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/smithy-go"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/certtest"
)

func acmClient(srv *api.Server) *acm.Client {
	return acm.New(acm.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")})
}

// wantAPIError checks the error code of a failed call and that its message contains msg.
func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want %s, got %v", code, err)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("want %s containing %q, got %s: %s", code, msg, ae.ErrorCode(), ae.ErrorMessage())
	}
}

// TestACMCertificateLifecycle imports, describes, reads, lists, tags, re-imports and deletes a
// certificate through the real ACM client.
func TestACMCertificateLifecycle(t *testing.T) {
	srv, lc := start(t, nil)
	c := acmClient(srv)
	cx := ctx(t)
	ca := certtest.NewCA(t, "Test CA")
	leaf := ca.Issue(t, "api.example.com", certtest.Options{RSABits: 2048, DNSNames: []string{"www.example.com"}})

	imp := must(c.ImportCertificate(cx, &acm.ImportCertificateInput{Certificate: leaf.CertPEM, PrivateKey: leaf.KeyPEM,
		CertificateChain: ca.PEM, Tags: []acmtypes.Tag{{Key: aws.String("team"), Value: aws.String("payments")}}}))
	arn := aws.ToString(imp.CertificateArn)
	if !strings.HasPrefix(arn, "arn:aws:acm:us-west-2:123456789012:certificate/") || len(arn) != len("arn:aws:acm:us-west-2:123456789012:certificate/")+36 {
		t.Fatalf("ARN %s", arn)
	}

	d := must(c.DescribeCertificate(cx, &acm.DescribeCertificateInput{CertificateArn: imp.CertificateArn})).Certificate
	if aws.ToString(d.DomainName) != "api.example.com" || d.Status != acmtypes.CertificateStatusIssued ||
		d.Type != acmtypes.CertificateTypeImported || d.KeyAlgorithm != acmtypes.KeyAlgorithmRsa2048 ||
		strings.Join(d.SubjectAlternativeNames, ",") != "api.example.com,www.example.com" || len(d.InUseBy) != 0 ||
		aws.ToString(d.Issuer) != "Test CA" || d.ImportedAt == nil ||
		!d.NotAfter.Equal(leaf.Cert.NotAfter.Truncate(time.Millisecond)) || !d.NotBefore.Equal(leaf.Cert.NotBefore.Truncate(time.Millisecond)) {
		t.Fatalf("described %+v", d)
	}
	got := must(c.GetCertificate(cx, &acm.GetCertificateInput{CertificateArn: imp.CertificateArn}))
	if aws.ToString(got.Certificate) != string(leaf.CertPEM) || aws.ToString(got.CertificateChain) != string(ca.PEM) {
		t.Fatalf("GetCertificate returned other PEM")
	}

	// Lattice accepts it, and ACM then reports the service as its user and refuses to delete it.
	svc := must(lc.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("tls-svc"),
		CustomDomainName: aws.String("api.example.com"), CertificateArn: imp.CertificateArn}))
	d = must(c.DescribeCertificate(cx, &acm.DescribeCertificateInput{CertificateArn: imp.CertificateArn})).Certificate
	if len(d.InUseBy) != 1 || d.InUseBy[0] != aws.ToString(svc.Arn) {
		t.Fatalf("InUseBy %v, want %s", d.InUseBy, aws.ToString(svc.Arn))
	}
	_, err := c.DeleteCertificate(cx, &acm.DeleteCertificateInput{CertificateArn: imp.CertificateArn})
	wantAPIError(t, err, "ResourceInUseException", aws.ToString(svc.Arn))

	must(c.AddTagsToCertificate(cx, &acm.AddTagsToCertificateInput{CertificateArn: imp.CertificateArn,
		Tags: []acmtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("flag")}}}))
	must(c.RemoveTagsFromCertificate(cx, &acm.RemoveTagsFromCertificateInput{CertificateArn: imp.CertificateArn,
		Tags: []acmtypes.Tag{{Key: aws.String("env"), Value: aws.String("staging")}, {Key: aws.String("team")}}}))
	tags := must(c.ListTagsForCertificate(cx, &acm.ListTagsForCertificateInput{CertificateArn: imp.CertificateArn})).Tags
	if len(tags) != 2 || aws.ToString(tags[0].Key) != "env" || aws.ToString(tags[0].Value) != "prod" || aws.ToString(tags[1].Key) != "flag" {
		t.Fatalf("tags %+v: a removal with another value must keep the tag, one by key alone must drop it", tags)
	}

	// Re-import keeps the ARN, the tags and the users, and replaces the material.
	rotated := ca.Issue(t, "api.example.com", certtest.Options{RSABits: 2048})
	again := must(c.ImportCertificate(cx, &acm.ImportCertificateInput{CertificateArn: imp.CertificateArn,
		Certificate: rotated.CertPEM, PrivateKey: rotated.KeyPEM}))
	if aws.ToString(again.CertificateArn) != arn {
		t.Fatalf("re-import answered %s, want %s", aws.ToString(again.CertificateArn), arn)
	}
	got = must(c.GetCertificate(cx, &acm.GetCertificateInput{CertificateArn: imp.CertificateArn}))
	if aws.ToString(got.Certificate) != string(rotated.CertPEM) || got.CertificateChain != nil {
		t.Fatalf("re-import did not replace the certificate and chain")
	}
	if n := len(must(c.ListTagsForCertificate(cx, &acm.ListTagsForCertificateInput{CertificateArn: imp.CertificateArn})).Tags); n != 2 {
		t.Fatalf("re-import changed the tags: %d", n)
	}
	_, err = c.ImportCertificate(cx, &acm.ImportCertificateInput{CertificateArn: imp.CertificateArn,
		Certificate: rotated.CertPEM, PrivateKey: rotated.KeyPEM, Tags: []acmtypes.Tag{{Key: aws.String("x")}}})
	wantAPIError(t, err, "InvalidParameterException", "reimporting")
	ec := ca.Issue(t, "api.example.com", certtest.Options{})
	_, err = c.ImportCertificate(cx, &acm.ImportCertificateInput{CertificateArn: imp.CertificateArn, Certificate: ec.CertPEM, PrivateKey: ec.KeyPEM})
	wantAPIError(t, err, "ValidationException", "RSA_2048")

	must(lc.DeleteService(cx, &vpclattice.DeleteServiceInput{ServiceIdentifier: svc.Id}))
	must(c.DeleteCertificate(cx, &acm.DeleteCertificateInput{CertificateArn: imp.CertificateArn}))
	_, err = c.DescribeCertificate(cx, &acm.DescribeCertificateInput{CertificateArn: imp.CertificateArn})
	wantAPIError(t, err, "ResourceNotFoundException", arn)

	if n := srv.Counts().Op("ImportCertificate"); n != 4 {
		t.Errorf("ImportCertificate counted %d times, want 4", n)
	}
}

// TestACMImportRejects: what ACM refuses to import is refused with ACM's error types.
func TestACMImportRejects(t *testing.T) {
	srv, _ := start(t, func(o *api.Options) { o.Quotas.Certificates = 1 })
	c := acmClient(srv)
	cx := ctx(t)
	ca := certtest.NewCA(t, "Test CA")
	good := ca.Issue(t, "ok.example.com", certtest.Options{})
	other := ca.Issue(t, "other.example.com", certtest.Options{})
	expired := ca.Issue(t, "old.example.com", certtest.Options{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	future := ca.Issue(t, "new.example.com", certtest.Options{NotBefore: time.Now().Add(time.Hour)})
	foreign := certtest.NewCA(t, "Other CA")
	cases := []struct {
		name           string
		in             acm.ImportCertificateInput
		code, contains string
	}{
		{"not PEM", acm.ImportCertificateInput{Certificate: []byte("hello"), PrivateKey: good.KeyPEM}, "ValidationException", "PEM"},
		{"two certificates", acm.ImportCertificateInput{Certificate: append(append([]byte{}, good.CertPEM...), other.CertPEM...), PrivateKey: good.KeyPEM}, "ValidationException", "more than one certificate"},
		{"key of another certificate", acm.ImportCertificateInput{Certificate: good.CertPEM, PrivateKey: other.KeyPEM}, "ValidationException", "does not match"},
		{"key not PEM", acm.ImportCertificateInput{Certificate: good.CertPEM, PrivateKey: []byte("key")}, "ValidationException", "private key"},
		{"expired", acm.ImportCertificateInput{Certificate: expired.CertPEM, PrivateKey: expired.KeyPEM}, "ValidationException", "expired"},
		{"not yet valid", acm.ImportCertificateInput{Certificate: future.CertPEM, PrivateKey: future.KeyPEM}, "ValidationException", "not valid before"},
		{"chain that did not sign it", acm.ImportCertificateInput{Certificate: good.CertPEM, PrivateKey: good.KeyPEM, CertificateChain: foreign.PEM}, "ValidationException", "certificate chain"},
		{"reserved tag", acm.ImportCertificateInput{Certificate: good.CertPEM, PrivateKey: good.KeyPEM, Tags: []acmtypes.Tag{{Key: aws.String("aws:x")}}}, "InvalidTagException", "aws:x"},
		{"malformed ARN", acm.ImportCertificateInput{CertificateArn: aws.String("arn:aws:acm:us-west-2:123456789012:nope nope"), Certificate: good.CertPEM, PrivateKey: good.KeyPEM}, "InvalidArnException", "not a valid ARN"},
		{"unknown ARN", acm.ImportCertificateInput{CertificateArn: aws.String("arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-0000-0000-000000000000"), Certificate: good.CertPEM, PrivateKey: good.KeyPEM}, "ResourceNotFoundException", "Could not find"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ImportCertificate(cx, &tc.in)
			wantAPIError(t, err, tc.code, tc.contains)
		})
	}
	imp := must(c.ImportCertificate(cx, &acm.ImportCertificateInput{Certificate: good.CertPEM, PrivateKey: good.KeyPEM}))
	_, err := c.ImportCertificate(cx, &acm.ImportCertificateInput{Certificate: other.CertPEM, PrivateKey: other.KeyPEM})
	wantAPIError(t, err, "LimitExceededException", "quota of 1")

	many := make([]acmtypes.Tag, 50)
	for i := range many {
		many[i] = acmtypes.Tag{Key: aws.String(strings.Repeat("k", i+1))}
	}
	must(c.AddTagsToCertificate(cx, &acm.AddTagsToCertificateInput{CertificateArn: imp.CertificateArn, Tags: many}))
	_, err = c.AddTagsToCertificate(cx, &acm.AddTagsToCertificateInput{CertificateArn: imp.CertificateArn, Tags: []acmtypes.Tag{{Key: aws.String("one-more")}}})
	wantAPIError(t, err, "TooManyTagsException", "limit is 50")
	_, err = c.ListTagsForCertificate(cx, &acm.ListTagsForCertificateInput{CertificateArn: aws.String("not-an-arn-at-all-really")})
	wantAPIError(t, err, "InvalidArnException", "not a valid ARN")
}

// TestACMListCertificates pages through certificates and applies ACM's default key-type filter
// (RSA_1024 and RSA_2048 only) and the status filter.
func TestACMListCertificates(t *testing.T) {
	srv, _ := start(t, nil)
	c := acmClient(srv)
	cx := ctx(t)
	ca := certtest.NewCA(t, "Test CA")
	var rsaARNs []string
	for _, name := range []string{"a.example.com", "b.example.com", "c.example.com"} {
		l := ca.Issue(t, name, certtest.Options{RSABits: 2048})
		rsaARNs = append(rsaARNs, aws.ToString(must(c.ImportCertificate(cx, &acm.ImportCertificateInput{Certificate: l.CertPEM, PrivateKey: l.KeyPEM})).CertificateArn))
	}
	ec := ca.Issue(t, "ec.example.com", certtest.Options{})
	must(c.ImportCertificate(cx, &acm.ImportCertificateInput{Certificate: ec.CertPEM, PrivateKey: ec.KeyPEM}))

	var seen []string
	pages := 0
	p := acm.NewListCertificatesPaginator(c, &acm.ListCertificatesInput{MaxItems: aws.Int32(2)})
	for p.HasMorePages() {
		out := must(p.NextPage(cx))
		pages++
		for _, s := range out.CertificateSummaryList {
			seen = append(seen, aws.ToString(s.CertificateArn))
			if s.Status != acmtypes.CertificateStatusIssued || s.Type != acmtypes.CertificateTypeImported || aws.ToBool(s.InUse) {
				t.Errorf("summary %+v", s)
			}
		}
	}
	if pages != 2 || strings.Join(seen, " ") != strings.Join(rsaARNs, " ") {
		t.Fatalf("listed %v in %d pages, want the RSA certificates %v in import order in 2 pages", seen, pages, rsaARNs)
	}
	all := must(c.ListCertificates(cx, &acm.ListCertificatesInput{Includes: &acmtypes.Filters{KeyTypes: []acmtypes.KeyAlgorithm{acmtypes.KeyAlgorithmRsa2048, acmtypes.KeyAlgorithmEcPrime256v1}}}))
	if len(all.CertificateSummaryList) != 4 {
		t.Fatalf("with keyTypes: %d certificates, want 4", len(all.CertificateSummaryList))
	}
	expired := must(c.ListCertificates(cx, &acm.ListCertificatesInput{CertificateStatuses: []acmtypes.CertificateStatus{acmtypes.CertificateStatusExpired}}))
	if len(expired.CertificateSummaryList) != 0 {
		t.Fatalf("EXPIRED filter listed %d", len(expired.CertificateSummaryList))
	}
	_, err := c.ListCertificates(cx, &acm.ListCertificatesInput{CertificateStatuses: []acmtypes.CertificateStatus{"BOGUS"}})
	wantAPIError(t, err, "ValidationException", "certificateStatuses")
}

// TestJSONProtocolFaults: the admin endpoint's faults and counters apply to ACM and Tagging
// operations by their names, with each service's own throttling error.
func TestJSONProtocolFaults(t *testing.T) {
	srv, _ := start(t, nil)
	c := acmClient(srv)
	tc := taggingClient(srv)
	if err := srv.SetFaults(api.Faults{ThrottleRate: 1}); err != nil {
		t.Fatal(err)
	}
	cx := ctx(t)
	_, err := c.ListCertificates(cx, &acm.ListCertificatesInput{}, func(o *acm.Options) { o.RetryMaxAttempts = 1 })
	wantAPIError(t, err, "ThrottlingException", "Rate exceeded")
	_, err = tc.GetResources(cx, getResourcesInput(), func(o *taggingOptions) { o.RetryMaxAttempts = 1 })
	wantAPIError(t, err, "ThrottledException", "Rate exceeded")
	counts := srv.Counts()
	if counts["ListCertificates"][http.StatusBadRequest] != 1 || counts["GetResources"][http.StatusBadRequest] != 1 {
		t.Fatalf("counts %v", counts)
	}
	if counts.Mutating() != 0 {
		t.Fatalf("reads counted as mutating: %v", counts)
	}
}

// TestACMStateFile: imported certificates and their tags survive a restart on the state file.
func TestACMStateFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state")
	srv, _ := start(t, func(o *api.Options) { o.StateFile = file })
	leaf := certtest.NewCA(t, "Test CA").Issue(t, "kept.example.com", certtest.Options{})
	imp := must(acmClient(srv).ImportCertificate(ctx(t), &acm.ImportCertificateInput{Certificate: leaf.CertPEM, PrivateKey: leaf.KeyPEM,
		Tags: []acmtypes.Tag{{Key: aws.String("team"), Value: aws.String("web")}}}))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	again, _ := start(t, func(o *api.Options) { o.StateFile = file })
	c := acmClient(again)
	got := must(c.GetCertificate(ctx(t), &acm.GetCertificateInput{CertificateArn: imp.CertificateArn}))
	tags := must(c.ListTagsForCertificate(ctx(t), &acm.ListTagsForCertificateInput{CertificateArn: imp.CertificateArn})).Tags
	if aws.ToString(got.Certificate) != string(leaf.CertPEM) || len(tags) != 1 || aws.ToString(tags[0].Value) != "web" {
		t.Fatalf("after restart: certificate kept %v, tags %+v", aws.ToString(got.Certificate) == string(leaf.CertPEM), tags)
	}
}
