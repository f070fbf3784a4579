package api

import (
	"fmt"
	"regexp"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/pflag"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// Options configure Local Lattice's control plane.
type Options struct {
	// APIAddr and AdminAddr are where `lattice-gateway local` listens.
	APIAddr   string
	AdminAddr string
	Region    string
	AccountID string
	StateFile string
	// DrainingDelay is how long deregistered targets stay DRAINING.
	DrainingDelay time.Duration
	// Faults are the initial fault-injection settings; the admin endpoint changes them at run time.
	Faults Faults
	// Quotas default to the documented VPC Lattice quotas (DefaultQuotas) when zero.
	Quotas Quotas
	Logger logr.Logger
}

// DefaultOptions are the defaults of `lattice-gateway local`.
func DefaultOptions() Options {
	return Options{
		APIAddr:       "127.0.0.1:8686",
		AdminAddr:     "127.0.0.1:8687",
		Region:        "us-west-2",
		AccountID:     "123456789012",
		DrainingDelay: 10 * time.Second,
		Quotas:        DefaultQuotas(),
		Logger:        logr.Discard(),
	}
}

// BindFlags registers the Local Lattice flags on fs, with the current values as defaults.
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.APIAddr, "api-addr", o.APIAddr, "address of the VPC Lattice API")
	fs.StringVar(&o.AdminAddr, "admin-addr", o.AdminAddr, "address of the admin endpoint (/metrics, /healthz, /counters, /faults)")
	fs.StringVar(&o.Region, "region", o.Region, "region in ARNs and DNS names")
	fs.StringVar(&o.AccountID, "account-id", o.AccountID, "12-digit account that owns every resource")
	fs.StringVar(&o.StateFile, "state-file", o.StateFile, "file that keeps the state across restarts (empty: memory only)")
	fs.DurationVar(&o.Faults.AsyncDelay, "async-delay", o.Faults.AsyncDelay, "time creates stay CREATE_IN_PROGRESS and deletes DELETE_IN_PROGRESS (0: immediate)")
	fs.DurationVar(&o.DrainingDelay, "draining-delay", o.DrainingDelay, "time deregistered targets stay DRAINING")
	fs.DurationVar(&o.Faults.APILatency, "api-latency", o.Faults.APILatency, "added latency of every API call")
	fs.Float64Var(&o.Faults.TPSLimit, "tps-limit", o.Faults.TPSLimit, "calls per second per operation before ThrottlingException (0: unlimited)")
	fs.Float64Var(&o.Faults.ThrottleRate, "throttle-rate", o.Faults.ThrottleRate, "fraction of calls answered with ThrottlingException (0-1)")
	fs.IntVar(&o.Quotas.RulesPerListener, "quota-rules-per-listener", o.Quotas.RulesPerListener, "the 'Rules per listener' quota (an adjustable quota on AWS)")
	fs.Float64Var(&o.Faults.ErrorRate, "error-rate", o.Faults.ErrorRate, "fraction of calls answered with InternalServerException (0-1)")
}

func (o Options) validate() error {
	if !accountPattern.MatchString(o.AccountID) {
		return fmt.Errorf("account ID %q: want 12 digits", o.AccountID)
	}
	if !regionPattern.MatchString(o.Region) {
		return fmt.Errorf("region %q: want a region name such as us-west-2", o.Region)
	}
	if o.DrainingDelay < 0 {
		return fmt.Errorf("draining delay %s is negative", o.DrainingDelay)
	}
	if err := o.Faults.validate(); err != nil {
		return fmt.Errorf("fault settings: %w", err)
	}
	return nil
}

var (
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// StoreOptions are the options of the store these Options describe.
func (o Options) StoreOptions() store.Options {
	return store.Options{Region: o.Region, AccountID: o.AccountID, StateFile: o.StateFile,
		DrainingDelay: o.DrainingDelay, Logger: o.Logger}
}

// Quotas are per-account and per-resource limits; exceeding one answers
// ServiceQuotaExceededException (HTTP 402).
type Quotas struct {
	ServiceNetworks           int
	Services                  int
	TargetGroups              int
	ListenersPerService       int
	RulesPerListener          int
	TargetGroupsPerService    int
	TargetsPerTargetGroup     int
	ServicesPerServiceNetwork int
	VPCsPerServiceNetwork     int
	// Certificates is Local ACM's quota of imported certificates (LimitExceededException).
	Certificates int
}

// DefaultQuotas are the documented defaults of VPC Lattice.
func DefaultQuotas() Quotas {
	return Quotas{ServiceNetworks: 50, Services: 2000, TargetGroups: 500, ListenersPerService: 2,
		RulesPerListener: 10, TargetGroupsPerService: 10, TargetsPerTargetGroup: 1000,
		ServicesPerServiceNetwork: 500, VPCsPerServiceNetwork: 500, Certificates: 2500}
}

func (q Quotas) withDefaults() Quotas {
	d := DefaultQuotas()
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&q.ServiceNetworks, d.ServiceNetworks)
	pick(&q.Services, d.Services)
	pick(&q.TargetGroups, d.TargetGroups)
	pick(&q.ListenersPerService, d.ListenersPerService)
	pick(&q.RulesPerListener, d.RulesPerListener)
	pick(&q.TargetGroupsPerService, d.TargetGroupsPerService)
	pick(&q.TargetsPerTargetGroup, d.TargetsPerTargetGroup)
	pick(&q.ServicesPerServiceNetwork, d.ServicesPerServiceNetwork)
	pick(&q.VPCsPerServiceNetwork, d.VPCsPerServiceNetwork)
	pick(&q.Certificates, d.Certificates)
	return q
}
