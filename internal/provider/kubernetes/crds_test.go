package kubernetes

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
)

// TestRunRefusesToStartWithoutGatewayAPICRDs runs the controller against a real API server that
// has no Gateway API CRDs, then one that has them.
func TestRunRefusesToStartWithoutGatewayAPICRDs(t *testing.T) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Skip(err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	t.Cleanup(func() { _ = env.Stop() })
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	conf := config.Controller{Lattice: config.Lattice{Owner: model.Owner{AccountID: "123456789012", ClusterName: "c", VPCID: "vpc-01234567"}, Region: "us-west-2", LatticeEndpoint: "http://127.0.0.1:1"}, MetricsBindAddress: "0", HealthProbeBindAddress: "0"}
	err = Run(context.Background(), RunOptions{Config: conf, Log: testr.New(t), RestConfig: cfg, Registry: prometheus.NewRegistry()})
	if err == nil {
		t.Fatal("Run started without Gateway API CRDs")
	}
	for _, want := range []string{"missing Gateway API CRDs", "gatewayclasses.gateway.networking.k8s.io/v1", "httproutes.gateway.networking.k8s.io/v1",
		"referencegrants.gateway.networking.k8s.io/v1beta1", "standard-install.yaml"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	gwCRDs, err := testenv.GatewayAPICRDDir("standard")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{gwCRDs}}); err != nil {
		t.Fatal(err)
	}
	crds, err := CheckCRDs(cfg)
	if err != nil {
		t.Fatalf("with the standard channel installed: %v", err)
	}
	for _, k := range optionalKinds {
		if crds[k.resource] {
			t.Errorf("%s reported served before its CRD is installed", k.resource)
		}
	}

	// The policy and ServiceExport CRDs are optional: read once installed.
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{testenv.OwnCRDDir()}}); err != nil {
		t.Fatal(err)
	}
	if crds, err = CheckCRDs(cfg); err != nil {
		t.Fatal(err)
	}
	for _, k := range optionalKinds {
		if !crds[k.resource] {
			t.Errorf("%s not reported served with config/crd installed", k.resource)
		}
	}
}
