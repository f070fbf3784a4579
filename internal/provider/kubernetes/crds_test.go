package kubernetes

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// TestRunRefusesToStartWithoutGatewayAPICRDs runs the controller against a real API server that
// has no Gateway API CRDs, then one that has them but not this project's (it runs, without the
// policy kinds), then one with both.
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
		// ListenerSet is in the standard channel; this project's kinds are not.
		if want := k.groupVersion == gwv1.GroupVersion.String(); crds[k.resource] != want {
			t.Errorf("%s reported served %v with only the standard channel installed, want %v", k.resource, crds[k.resource], want)
		}
	}
	runWithoutOptionalCRDs(t, cfg, conf)

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

// runWithoutOptionalCRDs runs the controller until it has accepted a GatewayClass: it would
// never reconcile if it watched a kind whose CRD is missing (its caches would not sync).
func runWithoutOptionalCRDs(t *testing.T, cfg *rest.Config, conf config.Controller) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, RunOptions{Config: conf, Log: testr.New(t), RestConfig: cfg, Registry: prometheus.NewRegistry(),
			Client: latticeclient.Options{Retry: latticeclient.Retry{MaxAttempts: 1}}, Name: testenv.UniqueControllerName("lattice-gateway")})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run without the policy CRDs: %v", err)
		}
	}()
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	k, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	class := &gwv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "amazon-vpc-lattice"}, Spec: gwv1.GatewayClassSpec{ControllerName: translate.DefaultControllerName}}
	if err := k.Create(ctx, class); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !meta.IsStatusConditionTrue(class.Status.Conditions, "Accepted") {
		if time.Now().After(deadline) {
			t.Fatalf("GatewayClass not accepted without the policy CRDs: %+v", class.Status.Conditions)
		}
		time.Sleep(100 * time.Millisecond)
		if err := k.Get(ctx, client.ObjectKeyFromObject(class), class); err != nil {
			t.Fatal(err)
		}
	}
}
