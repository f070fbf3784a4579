package api_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/certtest"
)

// TestACMAndTaggingCLI drives `aws acm` and `aws resourcegroupstaggingapi` against the Lattice
// API URL: import, list, describe, tag through the Tagging API, find by tag, delete.
func TestACMAndTaggingCLI(t *testing.T) {
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed; skipping the ACM and Tagging API CLI cycle")
	}
	if testing.Short() {
		t.Skip("the CLI takes about a second per call")
	}
	srv, lc := start(t, nil)
	dir := t.TempDir()
	leaf := certtest.NewCA(t, "CLI CA").Issue(t, "cli.example.com", certtest.Options{})
	for name, data := range map[string][]byte{"cert.pem": leaf.CertPEM, "key.pem": leaf.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	svc := must(lc.CreateService(ctx(t), &vpclattice.CreateServiceInput{Name: aws.String("cli-svc"), Tags: map[string]string{"ManagedBy": "cli"}}))

	run := func(args ...string) string {
		t.Helper()
		args = append(args, "--endpoint-url", srv.URL(), "--region", "us-west-2", "--output", "json")
		cmd := exec.CommandContext(ctx(t), awsCLI, args...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
			"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	expect := func(out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("answer lacks %q:\n%s", w, out)
			}
		}
	}

	var imported struct{ CertificateArn string }
	if err := json.Unmarshal([]byte(run("acm", "import-certificate", "--certificate", "fileb://"+filepath.Join(dir, "cert.pem"),
		"--private-key", "fileb://"+filepath.Join(dir, "key.pem"), "--tags", "Key=ManagedBy,Value=cli")), &imported); err != nil {
		t.Fatal(err)
	}
	arn := imported.CertificateArn
	ec := []string{"--includes", "keyTypes=EC_prime256v1"}
	expect(run(append([]string{"acm", "list-certificates", "--certificate-statuses", "ISSUED"}, ec...)...), arn, `"KeyAlgorithm": "EC_prime256v1"`)
	expect(run("acm", "describe-certificate", "--certificate-arn", arn), `"Status": "ISSUED"`, `"DomainName": "cli.example.com"`, `"Type": "IMPORTED"`)
	expect(run("acm", "get-certificate", "--certificate-arn", arn), "BEGIN CERTIFICATE")
	expect(run("resourcegroupstaggingapi", "get-resources", "--tag-filters", "Key=ManagedBy,Values=cli"), arn, aws.ToString(svc.Arn))
	expect(run("resourcegroupstaggingapi", "get-resources", "--resource-type-filters", "acm:certificate"), arn)
	expect(run("resourcegroupstaggingapi", "tag-resources", "--resource-arn-list", arn, aws.ToString(svc.Arn), "--tags", "team=web"), `"FailedResourcesMap": {}`)
	expect(run("acm", "list-tags-for-certificate", "--certificate-arn", arn), `"Value": "web"`)
	expect(run("resourcegroupstaggingapi", "untag-resources", "--resource-arn-list", arn, "--tag-keys", "team"), `"FailedResourcesMap": {}`)
	run("acm", "delete-certificate", "--certificate-arn", arn)
	expect(run(append([]string{"acm", "list-certificates"}, ec...)...), `"CertificateSummaryList": []`)
	lt := must(lc.ListTagsForResource(ctx(t), &vpclattice.ListTagsForResourceInput{ResourceArn: svc.Arn}))
	if lt.Tags["team"] != "web" {
		t.Errorf("the service's tags after tag-resources: %v", lt.Tags)
	}
}
