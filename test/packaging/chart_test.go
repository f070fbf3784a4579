package packaging_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/internal/golden"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/test/packaging/render"
)

var chartDir = filepath.Join(testenv.RepoRoot(), "charts", "lattice-gateway")

const testNamespace = "aws-application-networking-system"

// readValues reads a values file as Helm does.
func readValues(t *testing.T, b []byte) map[string]any {
	t.Helper()
	vals := map[string]any{}
	if err := yaml.Unmarshal(b, &vals); err != nil {
		t.Fatalf("parse values: %v", err)
	}
	return vals
}

// Each testdata/<case>.in.yaml is a values file; <case>.out.yaml is the rendered chart. The same
// values must also pass `helm lint --strict`.
func TestChartRendersGolden(t *testing.T) {
	const dir = "testdata"
	for _, name := range golden.Cases(t, dir) {
		t.Run(name, func(t *testing.T) {
			vals := readValues(t, golden.Input(t, dir, name))
			got, err := render.Chart(chartDir, render.Options{ReleaseName: "lattice-gateway", Namespace: testNamespace, Values: vals})
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, dir, name, got)
			for _, m := range render.Lint(chartDir, testNamespace, vals) {
				t.Errorf("helm lint: %s", m)
			}
		})
	}
}

// Bad values fail at render time with a message naming the problem, through values.schema.json or
// the templates, instead of producing a broken install.
func TestChartRejectsBadValues(t *testing.T) {
	tests := []struct {
		name   string
		values string
		want   string
	}{
		{"unknown top-level value", "awsregion: us-west-2", "awsregion"},
		{"replicas not a number", "deployment: {replicas: two}", "replicas"},
		{"namespace scope", "installScope: namespace", "installScope"},
		{"log level", "log: {level: verbose}", "level"},
		{"account id", "awsAccountId: '1234'", "awsAccountId"},
		{"vpc id", "clusterVpcId: subnet-123", "clusterVpcId"},
		{"role arn", "serviceAccount: {roleArn: my-role}", "roleArn"},
		{"endpoint without scheme", "latticeEndpoint: localhost:8080", "latticeEndpoint"},
		{"pull policy", "image: {repository: x, pullPolicy: Sometimes}", "pullPolicy"},
		{"service monitor without service", "metrics: {service: {create: false}, serviceMonitor: {enabled: true}}", "metrics.service.create"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := render.Chart(chartDir, render.Options{ReleaseName: "lattice-gateway", Namespace: testNamespace, Values: readValues(t, []byte(tt.values))})
			if err == nil {
				t.Fatalf("values %q rendered; want an error mentioning %q", tt.values, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

// config/manifests is the chart rendered with default values; it must not drift from the chart.
func TestPlainManifestsMatchChart(t *testing.T) {
	want, err := render.Manifests(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(testenv.RepoRoot(), "config", "manifests", "lattice-gateway.yaml")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is stale: run hack/generate.sh", path)
	}
}
