// Package conformance runs the unmodified upstream Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, the version matching our Gateway API module) against
// lattice-gateway's controller in-process, a one-machine cluster (test/cluster) and Local Lattice
// (API and data plane) in-process. Every request the suite sends goes to a Gateway address,
// which the data plane serves on loopback; nothing leaves 127.0.0.0/8.
//
// It runs only with CONFORMANCE=1 (a full run takes minutes); docs/conformance.md has the
// commands, the address mapping and the results.
package conformance

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	conformanceconfig "sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/flags"
	"sigs.k8s.io/gateway-api/conformance/utils/roundtripper"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
	"github.com/lattice-gateway/lattice-gateway/internal/version"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
)

const (
	accountID   = "123456789012"
	clusterName = "conformance"
	vpcID       = "vpc-0c0f0000000000001"
	region      = "us-west-2"

	gatewayClassName = "amazon-vpc-lattice"
	// rulesPerListener raises the adjustable "Rules per listener" quota (default 10) in Local
	// Lattice and tells the controller, as an account owner would after asking AWS: a Gateway
	// API PathPrefix takes two Lattice rules, and HTTPRouteMethodMatching needs 15.
	rulesPerListener = 20
	// gatewayAddresses is the range Gateway status addresses come from; the data plane serves
	// each service network's address there.
	gatewayAddresses = "127.77.0.0/16"
	// dataPlaneAddr serves the generated service DNS names (not used by the suite).
	dataPlaneAddr = "127.0.77.1"
	// unprivilegedOffset lets the data plane serve Lattice ports 80, 443 and 8080 without
	// privileges, when ports below 1024 cannot be bound (see listenerPortOffset).
	unprivilegedOffset = 30000
)

// supportedFeatures is exactly what the GatewayClass status advertises (checked below): the
// suite runs the tests whose features are all in this set.
var supportedFeatures = []features.FeatureName{
	features.SupportGateway,
	features.SupportGatewayPort8080,
	features.SupportGRPCRoute,
	features.SupportHTTPRoute,
	features.SupportHTTPRouteDestinationPortMatching,
	features.SupportHTTPRouteMethodMatching,
	features.SupportHTTPRouteNamedRouteRule,
	features.SupportHTTPRouteParentRefPort,
	features.SupportListenerSet,
	features.SupportReferenceGrant,
	features.SupportTLSRoute,
}

// skipTests are tests within the supported features that VPC Lattice cannot pass; each reason
// names the Lattice limitation (docs/conformance.md repeats them in the results table).
var skipTests = map[string]string{
	"GRPCExactMethodMatching":           grpcNeedsHTTPS,
	"GRPCRouteHeaderMatching":           grpcNeedsHTTPS,
	"GRPCRouteListenerHostnameMatching": grpcNeedsHTTPS,
	"GRPCRouteWeight":                   grpcNeedsHTTPS,

	"HTTPRouteRedirectHostAndStatus": "VPC Lattice rule actions are forward and fixed response only: no redirects",
	"HTTPRouteRequestHeaderModifier": "VPC Lattice cannot modify request headers",

	"TLSRouteHostnameIntersection": "VPC Lattice TLS passthrough matches the SNI against one exact custom domain per service: wildcard and several hostnames per route cannot be expressed",
}

const (
	grpcNeedsHTTPS = "VPC Lattice serves gRPC only on HTTPS listeners (HTTP/2 by ALPN); the test attaches its GRPCRoute to an HTTP listener"
)

func TestConformance(t *testing.T) {
	if os.Getenv("CONFORMANCE") == "" {
		t.Skip("set CONFORMANCE=1 to run the Gateway API conformance suite (make conformance)")
	}
	ctrllog.SetLogger(logr.Discard())
	begin := time.Now()
	c := cluster.Start(t, cluster.Options{Log: testr.NewWithOptions(t, testr.Options{Verbosity: clusterLogVerbosity()}).WithName("cluster")})

	prefix := netip.MustParsePrefix(gatewayAddresses)
	portOffset := listenerPortOffset(t, prefix)
	ll := locallatticetest.Start(t, locallattice.Options{
		API: api.Options{Region: region, AccountID: accountID, DrainingDelay: 200 * time.Millisecond,
			Quotas: api.Quotas{RulesPerListener: rulesPerListener}},
		DataPlane: &dataplane.Options{DataPlaneAddr: dataPlaneAddr, ListenerPortOffset: portOffset,
			DialMap: cluster.PodDialMap(), HealthCheckInterval: 200 * time.Millisecond, GatewayAddresses: prefix},
		Logger: locallatticetest.Silent,
	})
	controllerLog := locallatticetest.Silent
	if os.Getenv("CONFORMANCE_CONTROLLER_LOG") != "" {
		controllerLog = testr.New(t).WithName("controller")
	}
	// Announce Gateway addresses from the range the data plane serves.
	harness.StartController(t, harness.ControllerOptions{
		Lattice: config.Lattice{Owner: model.Owner{AccountID: accountID, ClusterName: clusterName, VPCID: vpcID}, Region: region,
			LatticeEndpoint: ll.URL(), GatewayAddressCIDR: gatewayAddresses, MaxRulesPerListener: rulesPerListener},
		Kubeconfig: c.Kubeconfig, Log: controllerLog,
	})
	createGatewayClass(t, c.Client)
	t.Logf("environment ready in %s", time.Since(begin).Round(time.Millisecond))

	opts := suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     gatewayClassName,
			CleanupBaseResources: true,
			CleanupTestResources: true,
			SupportedFeatures:    supportedFeatures,
			SkipTests:            skipList(portOffset),
			TimeoutConfig:        timeouts(),
			Mode:                 flags.DefaultMode,
			ConformanceProfiles:  []suite.ConformanceProfileName{suite.GatewayHTTPConformanceProfileName},
			Implementation: confv1.Implementation{
				Organization: "lattice-gateway",
				Project:      "lattice-gateway",
				URL:          "https://github.com/lattice-gateway/lattice-gateway",
				Version:      version.Version,
				Contact:      []string{"https://github.com/lattice-gateway/lattice-gateway/issues"},
			},
		},
		Client:        c.Client,
		ClientOptions: client.Options{Scheme: c.Scheme},
		Clientset:     c.Clientset,
		RestConfig:    c.Config,
		RoundTripper: &roundtripper.DefaultRoundTripper{
			TimeoutConfig:     timeouts(),
			CustomDialContext: gatewayDialer(t, prefix, portOffset),
		},
		Hook: func(t *testing.T, _ suite.ConformanceTest, _ *suite.ConformanceTestSuite) { waitDeleted(t, c.Client) },
	}
	// The suite's own flags (-run-test, -report-output, -conformance-profiles, -skip-tests,
	// -debug, ...) override these defaults when given after -args.
	flags.ApplyAll(&opts.ConfigurableOptions)
	if opts.ReportOutputPath != "" && !filepath.IsAbs(opts.ReportOutputPath) {
		opts.ReportOutputPath = filepath.Join(testenv.RepoRoot(), opts.ReportOutputPath)
	}
	conformance.RunConformanceWithOptions(t, opts)
	t.Logf("conformance run took %s", time.Since(begin).Round(time.Second))
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// timeouts shortens the suite's upper bounds where our controller converges in seconds, so a
// failing test fails quickly; bounds that passing tests actually wait out are kept.
func timeouts() conformanceconfig.TimeoutConfig {
	tc := conformanceconfig.DefaultTimeoutConfig()
	tc.NamespacesMustBeReady = 2 * time.Minute
	tc.GatewayMustHaveAddress = time.Minute
	tc.GatewayStatusMustHaveListeners = time.Minute
	tc.GatewayListenersMustHaveConditions = time.Minute
	tc.RouteMustHaveParents = time.Minute
	tc.MaxTimeToConsistency = 30 * time.Second
	return tc
}

// createGatewayClass creates the class the suite uses and checks that its status advertises
// exactly supportedFeatures.
func createGatewayClass(t *testing.T, cl client.Client) {
	t.Helper()
	ctx := context.Background()
	gc := &gwv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: gatewayClassName},
		Spec:       gwv1.GatewayClassSpec{ControllerName: translate.DefaultControllerName},
	}
	if err := cl.Create(ctx, gc); err != nil {
		t.Fatalf("create GatewayClass: %v", err)
	}
	t.Cleanup(func() { _ = cl.Delete(context.Background(), gc) })
	harness.Eventually(t, time.Minute, harness.That(func() bool {
		return cl.Get(ctx, client.ObjectKeyFromObject(gc), gc) == nil && meta.IsStatusConditionTrue(gc.Status.Conditions, string(gwv1.GatewayClassConditionStatusAccepted))
	}, func() string {
		return fmt.Sprintf("GatewayClass %s not accepted: %+v", gatewayClassName, gc.Status.Conditions)
	}))
	var advertised []features.FeatureName
	for _, f := range gc.Status.SupportedFeatures {
		advertised = append(advertised, features.FeatureName(f.Name))
	}
	want := slices.Clone(supportedFeatures)
	slices.Sort(want)
	slices.Sort(advertised)
	if !slices.Equal(advertised, want) {
		t.Fatalf("GatewayClass advertises %v, the suite is told %v", advertised, want)
	}
}

// gatewayDialer sends the suite's connections to the data plane: a Gateway address IP:P is
// served on IP:P+portOffset. Anything outside the Gateway address range fails the test.
func gatewayDialer(t *testing.T, prefix netip.Prefix, portOffset int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !prefix.Contains(ap.Addr()) || !ap.Addr().IsLoopback() {
			t.Errorf("suite dialled %s %s, which is not a Gateway address in %s", network, addr, prefix)
			return nil, fmt.Errorf("dial %s: not a Gateway address", addr)
		}
		target := net.JoinHostPort(ap.Addr().String(), strconv.Itoa(int(ap.Port())+portOffset))
		return d.DialContext(ctx, network, target)
	}
}

// clusterLogVerbosity is CONFORMANCE_CLUSTER_V (default 0): 1 shows the kubelet's pod retries.
func clusterLogVerbosity() int {
	v, _ := strconv.Atoi(os.Getenv("CONFORMANCE_CLUSTER_V"))
	return v
}

// waitDeleted runs after each test's cleanup and waits until the Gateways and routes it deleted
// are gone. Our finalizers keep them until their Lattice resources are removed, and the suite
// applies the next test's manifests at once: a namesake still terminating would make that
// apply update an object that then disappears.
func waitDeleted(t *testing.T, cl client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lists := []client.ObjectList{&gwv1.GatewayList{}, &gwv1.HTTPRouteList{}, &gwv1.GRPCRouteList{}, &gwv1.TLSRouteList{}}
	for {
		terminating := ""
		for _, l := range lists {
			if err := cl.List(ctx, l); err != nil {
				continue
			}
			_ = meta.EachListItem(l, func(o runtime.Object) error {
				if m, ok := o.(metav1.Object); ok && m.GetDeletionTimestamp() != nil {
					terminating = m.GetNamespace() + "/" + m.GetName()
				}
				return nil
			})
		}
		if terminating == "" {
			return
		}
		select {
		case <-ctx.Done():
			t.Logf("%s is still terminating after a minute", terminating)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// directDialTests connect to the Gateway address with the suite's own TLS/TCP helpers instead of
// the RoundTripper, so they reach the data plane only on the real port 443.
var directDialTests = []string{"TLSRouteInvalidBackendRefNonexistent", "TLSRouteInvalidBackendRefUnknownKind", "TLSRouteSimpleSameNamespace"}

// skipList is skipTests, plus directDialTests when the data plane cannot serve the real ports
// (the run says so in its log; run as root or lower net.ipv4.ip_unprivileged_port_start to
// include them).
func skipList(portOffset int) []string {
	skips := slices.Sorted(mapKeys(skipTests))
	if portOffset != 0 {
		skips = append(skips, directDialTests...)
		slices.Sort(skips)
	}
	return skips
}

// listenerPortOffset is 0 when this process may bind ports below 1024 (root, or
// net.ipv4.ip_unprivileged_port_start=0): the suite's TLS helpers dial the Gateway address
// directly, not through the RoundTripper, so only then can they reach port 443. Otherwise every
// port is served unprivilegedOffset higher and those tests are skipped.
func listenerPortOffset(t *testing.T, prefix netip.Prefix) int {
	probe := net.JoinHostPort(prefix.Masked().Addr().Next().String(), "443")
	ln, err := net.Listen("tcp", probe)
	if err != nil {
		t.Logf("cannot bind %s (%v): serving Lattice port P on P+%d and skipping %v, which dial port 443 themselves", probe, err, unprivilegedOffset, directDialTests)
		return unprivilegedOffset
	}
	ln.Close()
	return 0
}
