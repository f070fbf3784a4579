package harness

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
	"github.com/lattice-gateway/lattice-gateway/internal/testenv"
)

// ControllerOptions configure an in-process controller.
type ControllerOptions struct {
	// Lattice is the identity and endpoint; LogLevel defaults to info.
	Lattice config.Lattice
	// Kubeconfig is the file the controller authenticates with.
	Kubeconfig string
	// Name defaults to one derived from the test's name; a name already used in the process
	// gets a suffix (testenv.UniqueControllerName).
	Name        string
	LeaderElect bool
	// LeaderElectionNamespace is where the lease lives when LeaderElect is set.
	LeaderElectionNamespace string
	// Deploy's WaitInitial defaults to 20 ms.
	Deploy deploy.Config
	Resync time.Duration
	// Log defaults to t's log at verbosity 0.
	Log logr.Logger
	// WebhookCertDir, when set, enables the pod readiness gate: the webhook is served on
	// WebhookPort with the certificate there (see InstallReadinessWebhook).
	WebhookCertDir string
	WebhookPort    int
}

// Controller is one in-process controller replica.
type Controller struct {
	Name     string
	Registry *prometheus.Registry
	cancel   context.CancelFunc
	done     chan error
}

// StartController runs the controller as `lattice-gateway controller` would, with its own
// metrics registry, no client-side rate limit and quick retries; it stops when t ends.
func StartController(t *testing.T, o ControllerOptions) *Controller {
	t.Helper()
	if o.Name == "" {
		o.Name = "lattice-gateway-" + strings.ToLower(t.Name())
	}
	o.Name = testenv.UniqueControllerName(o.Name)
	if o.Lattice.LogLevel == "" {
		o.Lattice.LogLevel = "info"
	}
	if o.Deploy.WaitInitial == 0 {
		o.Deploy.WaitInitial = 20 * time.Millisecond
	}
	if o.Log.GetSink() == nil {
		o.Log = testr.NewWithOptions(t, testr.Options{Verbosity: 0}).WithName(o.Name)
	}
	c := &Controller{Name: o.Name, Registry: prometheus.NewRegistry(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	ro := kubernetes.RunOptions{
		Config: config.Controller{
			Lattice:            o.Lattice,
			Kubeconfig:         o.Kubeconfig,
			MetricsBindAddress: "0", HealthProbeBindAddress: "0",
			LeaderElect: o.LeaderElect, LeaderElectionNamespace: o.LeaderElectionNamespace, LeaderElectionID: config.LeaderElectionID,
			ResyncPeriod:   o.Resync,
			WebhookEnabled: o.WebhookCertDir != "", WebhookPort: o.WebhookPort, WebhookCertDir: o.WebhookCertDir,
		},
		Log: o.Log, Registry: c.Registry,
		Client: latticeclient.Options{RateLimits: &latticeclient.Limits{}, Retry: latticeclient.Retry{MaxAttempts: 5, Base: 5 * time.Millisecond, Max: 100 * time.Millisecond}},
		Deploy: o.Deploy, Name: o.Name,
	}
	if o.LeaderElect {
		ro.LeaseDuration, ro.RenewDeadline, ro.RetryPeriod = 3*time.Second, 2*time.Second, 250*time.Millisecond
	}
	go func() { c.done <- kubernetes.Run(ctx, ro) }()
	t.Cleanup(func() { c.Stop(t) })
	return c
}

// Stop stops the controller and waits until it has; a second Stop does nothing.
func (c *Controller) Stop(t testing.TB) {
	if c.cancel == nil {
		return
	}
	c.cancel()
	c.cancel = nil
	select {
	case err := <-c.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("controller %s: %v", c.Name, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("controller %s did not stop", c.Name)
	}
}

// Counter sums a counter family of the replica's registry, optionally for one label value.
func (c *Controller) Counter(t testing.TB, name, label, value string) float64 {
	t.Helper()
	var sum float64
	for _, m := range c.metrics(t, name) {
		if label == "" || hasLabel(m, label, value) {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// Histogram sums the samples of a histogram family of the replica's registry.
func (c *Controller) Histogram(t testing.TB, name string) (count uint64, sum float64) {
	t.Helper()
	for _, m := range c.metrics(t, name) {
		count += m.GetHistogram().GetSampleCount()
		sum += m.GetHistogram().GetSampleSum()
	}
	return count, sum
}

func (c *Controller) metrics(t testing.TB, name string) []*dto.Metric {
	t.Helper()
	families, err := c.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
