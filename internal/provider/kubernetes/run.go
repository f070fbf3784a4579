package kubernetes

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/connect"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/readiness"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// RunOptions is everything `lattice-gateway controller` needs; tests fill the optional fields to
// run several controllers in one process.
type RunOptions struct {
	Config config.Controller
	Log    logr.Logger
	// RestConfig, when nil, comes from Config.Kubeconfig, then $KUBECONFIG, in-cluster config and
	// ~/.kube/config.
	RestConfig *rest.Config
	// Registry receives the controller's and the Lattice client's metrics; default
	// controller-runtime's registry, served on Config.MetricsBindAddress.
	Registry prometheus.Registerer
	// Client tunes the Lattice and Tagging clients (rate ceiling, retries); a nil RateLimits
	// takes Config.LatticeAPIMaxTPS.
	Client latticeclient.Options
	// Deploy overrides deployer settings other than the identity (account, cluster, VPC); a zero
	// Concurrency takes Config.LatticeAPIConcurrency, a nil Tagging a client built from Config
	// unless DisableTaggingServiceAPI.
	Deploy deploy.Config
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election (controller-runtime's
	// defaults when zero).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Name names the controller, its event source and its metrics (default "lattice-gateway").
	Name string
	// OnStarted, when set, receives the controller before the manager starts.
	OnStarted func(*Controller)
}

// Run checks the configuration and the cluster, then runs the controller until ctx ends.
func Run(ctx context.Context, o RunOptions) error {
	log := o.Log
	c := o.Config
	if err := c.Complete(ctx, nil, log); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	restCfg, err := restConfig(o.RestConfig, c.Kubeconfig, c.KubeAPIQPS, c.KubeAPIBurst)
	if err != nil {
		return err
	}
	crds, err := CheckCRDs(restCfg)
	if err != nil {
		return err
	}
	for _, k := range optionalKinds {
		if !crds[k.resource] {
			log.Info("CRD not installed: not reading this kind (install it and restart to use it)", "crd", k.resource, "groupVersion", k.groupVersion)
		}
	}
	reg := o.Registry
	if reg == nil {
		reg = ctrlmetrics.Registry
	}
	_, deployer, err := connect.Deployer(ctx, c.Lattice, connect.Options{Registry: reg, Client: o.Client, Deploy: o.Deploy}, log)
	if err != nil {
		return err
	}

	gatewayAddresses, err := c.GatewayAddresses()
	if err != nil {
		return err
	}
	scheme, err := NewScheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restCfg, managerOptions(c, o, scheme, log))
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if c.WebhookEnabled {
		if err := readiness.Setup(mgr, o.Name, deployer); err != nil {
			return err
		}
	}
	ctl, err := Setup(mgr, Options{
		Translate: translate.Config{
			Owner:                        c.Owner,
			DefaultServiceNetwork:        c.DefaultServiceNetwork,
			EnableServiceNetworkOverride: c.EnableServiceNetworkOverride,
			GatewayAddresses:             gatewayAddresses,
			Quotas:                       translate.Quotas{RulesPerListener: c.MaxRulesPerListener},
			IgnoreMissingCertificateRefs: c.IgnoreMissingCertificateRefs,
		},
		Deployer:      deployer,
		CRDs:          crds,
		Log:           log.WithName("controller"),
		Registry:      reg,
		ResyncPeriod:  c.ResyncPeriod,
		Name:          o.Name,
		ReadinessGate: c.WebhookEnabled,
	})
	if err != nil {
		return err
	}
	if err := addChecks(mgr); err != nil {
		return err
	}
	if o.OnStarted != nil {
		o.OnStarted(ctl)
	}
	log.Info("starting controller", "managedBy", c.ManagedBy(), "latticeEndpoint", c.LatticeEndpoint, "leaderElect", c.LeaderElect)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

// managerOptions are the controller-runtime manager's settings: the cache (TLS Secrets only),
// metrics, health probes, leader election and, with the readiness gate, the webhook server.
func managerOptions(c config.Controller, o RunOptions, scheme *k8sruntime.Scheme, log logr.Logger) ctrl.Options {
	mopts := ctrl.Options{
		Scheme: scheme,
		// Only TLS Secrets can be certificateRefs: the cache (and memory) holds no other Secret.
		Cache: cache.Options{
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Secret{}: {Field: fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS))},
			},
			// Nothing reads managedFields, and they are a large part of every cached Service,
			// EndpointSlice and route (bench/scale -cluster: peak RSS 152 MiB with them at 1,000 routes).
			DefaultTransform: cache.TransformStripManagedFields(),
		},
		Logger:                  log,
		Metrics:                 metricsserver.Options{BindAddress: c.MetricsBindAddress},
		HealthProbeBindAddress:  c.HealthProbeBindAddress,
		LeaderElection:          c.LeaderElect,
		LeaderElectionID:        c.LeaderElectionID,
		LeaderElectionNamespace: c.LeaderElectionNamespace,
		// Stepping down promptly on shutdown lets the other replica take over without waiting
		// for the lease to expire; safe because the process exits right after.
		LeaderElectionReleaseOnCancel: true,
	}
	if o.LeaseDuration > 0 {
		mopts.LeaseDuration, mopts.RenewDeadline, mopts.RetryPeriod = &o.LeaseDuration, &o.RenewDeadline, &o.RetryPeriod
	}
	if c.WebhookEnabled {
		mopts.WebhookServer = webhook.NewServer(webhook.Options{Port: c.WebhookPort, CertDir: c.WebhookCertDir})
	}
	return mopts
}

// addChecks adds /healthz and a /readyz that passes once the informer caches have synced:
// before that, a replica knows nothing.
func addChecks(mgr ctrl.Manager) error {
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("add health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("caches", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("informer caches not synced")
		}
		return nil
	}); err != nil {
		return fmt.Errorf("add readiness check: %w", err)
	}
	return nil
}

// restConfig loads the Kubernetes client config (cfg when given, else kubeconfig, then
// $KUBECONFIG, in-cluster and ~/.kube/config) and gives it the same rate limits whichever source
// it came from: clientcmd leaves them at client-go's 5 per second, controller-runtime's loader
// raises them, and a controller must not be five times slower because of a flag.
func restConfig(cfg *rest.Config, kubeconfig string, qps float32, burst int) (*rest.Config, error) {
	if cfg == nil {
		var err error
		if kubeconfig != "" {
			if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
				return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
			}
		} else if cfg, err = ctrlconfig.GetConfig(); err != nil {
			return nil, fmt.Errorf("find Kubernetes API server (use --kubeconfig or KUBECONFIG): %w", err)
		}
	} else {
		cfg = rest.CopyConfig(cfg)
	}
	if qps > 0 {
		cfg.QPS = qps
	}
	if burst > 0 {
		cfg.Burst = burst
	}
	return cfg, nil
}
