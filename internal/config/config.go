// Package config is lattice-gateway's shared configuration: who the controller is in AWS (account,
// region, cluster, VPC), where Lattice is, and how the process runs. Every setting keeps the
// upstream AWS Gateway API Controller's environment variable, so existing Helm values and
// manifests work unchanged, and has an equivalent flag; a flag given on the command line wins.
// Unset account, region and VPC are discovered from EC2 instance metadata (IMDS).
package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/go-logr/logr"
	"github.com/spf13/pflag"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Environment variables, as the upstream controller reads them.
const (
	EnvClusterVPCID                 = "CLUSTER_VPC_ID"
	EnvRegion                       = "REGION"
	EnvAccountID                    = "AWS_ACCOUNT_ID"
	EnvClusterName                  = "CLUSTER_NAME"
	EnvDefaultServiceNetwork        = "DEFAULT_SERVICE_NETWORK"
	EnvEnableServiceNetworkOverride = "ENABLE_SERVICE_NETWORK_OVERRIDE"
	EnvLatticeEndpoint              = "LATTICE_ENDPOINT"
	EnvLogLevel                     = "LOG_LEVEL"
	EnvResyncSeconds                = "RECONCILE_DEFAULT_RESYNC_SECONDS"
	EnvWebhookEnabled               = "WEBHOOK_ENABLED"
	EnvMaxRulesPerListener          = "MAX_RULES_PER_LISTENER"
	EnvDisableTaggingServiceAPI     = "DISABLE_TAGGING_SERVICE_API"
	// EnvIgnoreMissingCertificateRefs is ours: upstream has no such setting, it always ignores
	// certificateRefs.
	EnvIgnoreMissingCertificateRefs = "IGNORE_MISSING_CERTIFICATE_REFS"
)

// DefaultLatticeAPIConcurrency is the default of --lattice-api-concurrency.
const DefaultLatticeAPIConcurrency = 8

// Lattice identifies this controller instance in AWS and says where the Lattice API is. Both the
// in-cluster controller and `run` use it.
type Lattice struct {
	// Owner is the account, cluster and cluster VPC (CLUSTER_VPC_ID) of the ManagedBy tag.
	model.Owner
	Region                string
	DefaultServiceNetwork string
	// EnableServiceNetworkOverride associates every route with DefaultServiceNetwork, whatever
	// its parent Gateway (upstream's conformance mode).
	EnableServiceNetworkOverride bool
	// LatticeEndpoint overrides the regional endpoint, e.g. Local Lattice's http://127.0.0.1:8686.
	LatticeEndpoint string
	LogLevel        string
	// GatewayAddressCIDR, for Local Lattice only, gives each accepted Gateway a status address
	// in this IPv4 range that the data plane (started with the same range) serves; empty: none.
	GatewayAddressCIDR string
	// LatticeAPIMaxTPS is a fixed ceiling of calls per second per Lattice API operation; 0 means
	// none (the client adapts to throttling on its own).
	LatticeAPIMaxTPS float64
	// LatticeAPIConcurrency bounds the Lattice API calls in flight (services deployed in parallel,
	// discovery reads).
	LatticeAPIConcurrency int
	// DisableTaggingServiceAPI makes discovery read each resource's tags from Lattice instead of
	// asking the Resource Groups Tagging API for a page of them, for endpoints without it.
	DisableTaggingServiceAPI bool
	// MaxRulesPerListener is the account's "Rules per listener" VPC Lattice quota (adjustable;
	// 0 means the default, 10): routes needing more rules are PartiallyInvalid.
	MaxRulesPerListener int
	// IgnoreMissingCertificateRefs serves HTTPS listeners whose certificateRefs name a Secret
	// that does not exist with Lattice's managed certificate, as upstream does with the
	// placeholder Secrets of its examples, instead of rejecting them as the spec asks.
	IgnoreMissingCertificateRefs bool
}

// Defaults of --kube-api-qps and --kube-api-burst. A route costs three writes (finalizer,
// annotation, status): at 50 per second 1,000 routes took 65 s to be Programmed, at 200 41 s
// (bench/scale -cluster).
const (
	DefaultKubeAPIQPS   = 200
	DefaultKubeAPIBurst = 400
)

// Controller is the configuration of `lattice-gateway controller`.
type Controller struct {
	Lattice
	Kubeconfig string
	// KubeAPIQPS and KubeAPIBurst bound the controller's Kubernetes client, whichever way its
	// config was loaded (--kubeconfig, $KUBECONFIG or in-cluster); client-go's own default of 5 per
	// second would make status writes the bottleneck of a large cluster.
	KubeAPIQPS              float32
	KubeAPIBurst            int
	MetricsBindAddress      string
	HealthProbeBindAddress  string
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaderElectionID        string
	// ResyncPeriod, when positive, re-reads all owned Lattice state that often and repairs what
	// changed behind the controller's back (drift detection).
	ResyncPeriod time.Duration
	// WebhookEnabled serves the pod readiness-gate webhook on WebhookPort with the certificate
	// tls.crt/tls.key in WebhookCertDir (upstream's port and mount path).
	WebhookEnabled bool
	WebhookPort    int
	WebhookCertDir string
}

// LeaderElectionID is upstream's lease name, so that during a migration the two controllers
// never both act.
const LeaderElectionID = "amazon-vpc-lattice.io"

// BindFlags registers the Lattice flags on fs. Defaults come from the environment (getenv, usually
// os.Getenv), so a flag overrides its variable and an unset flag keeps it.
func (l *Lattice) BindFlags(fs *pflag.FlagSet, getenv func(string) string) {
	fs.StringVar(&l.VPCID, "cluster-vpc-id", getenv(EnvClusterVPCID), "VPC of the cluster's pods, target groups and service-network association (env "+EnvClusterVPCID+"; default from IMDS)")
	fs.StringVar(&l.Region, "region", getenv(EnvRegion), "AWS region (env "+EnvRegion+"; default from IMDS)")
	fs.StringVar(&l.AccountID, "aws-account-id", getenv(EnvAccountID), "AWS account ID (env "+EnvAccountID+"; default from IMDS)")
	fs.StringVar(&l.ClusterName, "cluster-name", getenv(EnvClusterName), "cluster name, part of the ManagedBy tag (env "+EnvClusterName+")")
	fs.StringVar(&l.DefaultServiceNetwork, "default-service-network", getenv(EnvDefaultServiceNetwork), "service network the cluster VPC is associated with (env "+EnvDefaultServiceNetwork+")")
	override, _ := strconv.ParseBool(getenv(EnvEnableServiceNetworkOverride))
	fs.BoolVar(&l.EnableServiceNetworkOverride, "enable-service-network-override", override, "associate every route with the default service network (env "+EnvEnableServiceNetworkOverride+")")
	fs.StringVar(&l.LatticeEndpoint, "lattice-endpoint", getenv(EnvLatticeEndpoint), "VPC Lattice API endpoint, e.g. Local Lattice's http://127.0.0.1:8686 (env "+EnvLatticeEndpoint+")")
	fs.StringVar(&l.GatewayAddressCIDR, "gateway-address-cidr", "", "Local Lattice only: give each Gateway a status address in this IPv4 range, served by a data plane started with the same --gateway-address-cidr (e.g. 127.77.0.0/16)")
	maxRules, _ := strconv.Atoi(getenv(EnvMaxRulesPerListener))
	fs.IntVar(&l.MaxRulesPerListener, "max-rules-per-listener", maxRules, "the account's VPC Lattice 'Rules per listener' quota when AWS raised it (env "+EnvMaxRulesPerListener+"; 0: the default 10)")
	fs.Float64Var(&l.LatticeAPIMaxTPS, "lattice-api-max-tps", 0, "ceiling of VPC Lattice API calls per second per operation; 0: none, the rate adapts to throttling")
	fs.IntVar(&l.LatticeAPIConcurrency, "lattice-api-concurrency", DefaultLatticeAPIConcurrency, "VPC Lattice API calls in flight at most")
	noTagging, _ := strconv.ParseBool(getenv(EnvDisableTaggingServiceAPI))
	fs.BoolVar(&l.DisableTaggingServiceAPI, "disable-tagging-service-api", noTagging, "discover owned resources with one ListTagsForResource each instead of Resource Groups Tagging API pages (env "+EnvDisableTaggingServiceAPI+")")
	ignoreMissing, _ := strconv.ParseBool(getenv(EnvIgnoreMissingCertificateRefs))
	fs.BoolVar(&l.IgnoreMissingCertificateRefs, "ignore-missing-certificate-refs", ignoreMissing, "serve HTTPS listeners whose certificateRefs name a missing Secret with Lattice's managed certificate, as the upstream controller does (env "+EnvIgnoreMissingCertificateRefs+"; default: reject them, as the Gateway API spec asks)")
	fs.StringVar(&l.LogLevel, "log-level", nonEmpty(getenv(EnvLogLevel), "info"), "debug, info or error (env "+EnvLogLevel+")")
}

// BindFlags registers every controller flag on fs, defaults from the environment as for Lattice.
func (c *Controller) BindFlags(fs *pflag.FlagSet, getenv func(string) string) {
	c.Lattice.BindFlags(fs, getenv)
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then in-cluster, then ~/.kube/config)")
	fs.Float32Var(&c.KubeAPIQPS, "kube-api-qps", DefaultKubeAPIQPS, "requests per second to the Kubernetes API server, on average")
	fs.IntVar(&c.KubeAPIBurst, "kube-api-burst", DefaultKubeAPIBurst, "requests in a burst to the Kubernetes API server")
	fs.StringVar(&c.MetricsBindAddress, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint (0 disables)")
	fs.StringVar(&c.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of /healthz and /readyz (0 disables)")
	fs.BoolVar(&c.LeaderElect, "leader-elect", false, "elect a leader among replicas; only the leader reconciles and writes")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election lease (default: the pod's namespace)")
	fs.StringVar(&c.LeaderElectionID, "leader-election-id", LeaderElectionID, "name of the leader-election lease")
	var resync time.Duration
	if secs, err := strconv.Atoi(getenv(EnvResyncSeconds)); err == nil {
		resync = time.Duration(secs) * time.Second
	}
	fs.DurationVar(&c.ResyncPeriod, "resync-period", resync, "re-read owned Lattice state this often and repair drift; 0 disables (env "+EnvResyncSeconds+", in seconds)")
	webhook, _ := strconv.ParseBool(getenv(EnvWebhookEnabled))
	fs.BoolVar(&c.WebhookEnabled, "webhook-enabled", webhook, "serve the pod readiness-gate webhook at /mutate-pod (env "+EnvWebhookEnabled+")")
	fs.IntVar(&c.WebhookPort, "webhook-port", 9443, "port of the webhook server")
	fs.StringVar(&c.WebhookCertDir, "webhook-cert-dir", "/etc/webhook-cert", "directory holding the webhook's tls.crt and tls.key")
}

// Validate checks the Lattice settings and the controller's own.
func (c Controller) Validate() error {
	err := c.Lattice.Validate()
	if c.ResyncPeriod < 0 {
		err = errors.Join(err, fmt.Errorf("invalid configuration: %s must not be negative", EnvResyncSeconds))
	}
	return err
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// GatewayAddresses parses GatewayAddressCIDR; the zero Prefix when it is empty.
func (l Lattice) GatewayAddresses() (netip.Prefix, error) {
	if l.GatewayAddressCIDR == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(l.GatewayAddressCIDR)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("--gateway-address-cidr %q is not an IPv4 CIDR with room for hosts", l.GatewayAddressCIDR)
	}
	return p, nil
}

// Complete fills unset account, region and VPC from IMDS and checks the result. IMDS is not
// contacted when nothing is missing, so Local Lattice on a laptop needs no metadata service.
// client may be nil (the default IMDS endpoint, or AWS_EC2_METADATA_SERVICE_ENDPOINT).
func (l *Lattice) Complete(ctx context.Context, client *imds.Client, log logr.Logger) error {
	// IMDS cannot tell the cluster name; without it there is no point in asking for the rest.
	if l.ClusterName == "" {
		return l.Validate()
	}
	if l.VPCID == "" || l.Region == "" || l.AccountID == "" {
		if client == nil {
			client = imds.New(imds.Options{})
		}
		if err := l.discover(ctx, client, log); err != nil {
			return err
		}
	}
	return l.Validate()
}

// imdsTimeout bounds discovery so that a workstation without IMDS fails fast with a clear message
// instead of hanging in retries.
const imdsTimeout = 5 * time.Second

func (l *Lattice) discover(ctx context.Context, client *imds.Client, log logr.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, imdsTimeout)
	defer cancel()
	var errs []error
	if l.Region == "" {
		out, err := client.GetRegion(ctx, &imds.GetRegionInput{})
		if err != nil {
			errs = append(errs, fmt.Errorf("region: %w", err))
		} else {
			l.Region = out.Region
			log.Info("discovered from IMDS", "region", l.Region)
		}
	}
	if l.AccountID == "" {
		out, err := client.GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
		if err != nil {
			errs = append(errs, fmt.Errorf("account ID: %w", err))
		} else {
			l.AccountID = out.AccountID
			log.Info("discovered from IMDS", "accountID", l.AccountID)
		}
	}
	if l.VPCID == "" {
		vpc, err := discoverVPC(ctx, client)
		if err != nil {
			errs = append(errs, fmt.Errorf("VPC ID: %w", err))
		} else {
			l.VPCID = vpc
			log.Info("discovered from IMDS", "clusterVPCID", l.VPCID)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("discover settings from EC2 instance metadata (set %s, %s and %s, or the equivalent flags, when not running on EC2): %w",
			EnvRegion, EnvAccountID, EnvClusterVPCID, errors.Join(errs...))
	}
	return nil
}

func discoverVPC(ctx context.Context, client *imds.Client) (string, error) {
	mac, err := metadata(ctx, client, "mac")
	if err != nil {
		return "", err
	}
	return metadata(ctx, client, "network/interfaces/macs/"+mac+"/vpc-id")
}

func metadata(ctx context.Context, client *imds.Client, path string) (string, error) {
	out, err := client.GetMetadata(ctx, &imds.GetMetadataInput{Path: path})
	if err != nil {
		return "", fmt.Errorf("get %s: %w", path, err)
	}
	defer out.Content.Close()
	b, err := io.ReadAll(out.Content)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("get %s: empty answer", path)
	}
	return v, nil
}

// Validate reports every missing or malformed setting at once.
func (l Lattice) Validate() error {
	var errs []error
	for _, s := range []struct{ v, env, flag string }{
		{l.VPCID, EnvClusterVPCID, "--cluster-vpc-id"},
		{l.Region, EnvRegion, "--region"},
		{l.AccountID, EnvAccountID, "--aws-account-id"},
		{l.ClusterName, EnvClusterName, "--cluster-name"},
	} {
		if s.v == "" {
			errs = append(errs, fmt.Errorf("%s is not set (or %s)", s.env, s.flag))
		}
	}
	if l.AccountID != "" && !isAccountID(l.AccountID) {
		errs = append(errs, fmt.Errorf("%s %q is not a 12-digit account ID", EnvAccountID, l.AccountID))
	}
	if l.VPCID != "" && !vpcIDPattern.MatchString(l.VPCID) {
		errs = append(errs, fmt.Errorf("%s %q is not a VPC ID (vpc- and 8 or 17 hex digits)", EnvClusterVPCID, l.VPCID))
	}
	if l.LatticeEndpoint != "" {
		u, err := url.Parse(l.LatticeEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s %q is not an http(s) URL", EnvLatticeEndpoint, l.LatticeEndpoint))
		}
	}
	if _, err := l.GatewayAddresses(); err != nil {
		errs = append(errs, err)
	}
	if !(l.LatticeAPIMaxTPS >= 0) {
		errs = append(errs, fmt.Errorf("--lattice-api-max-tps %v must not be negative", l.LatticeAPIMaxTPS))
	}
	if l.LatticeAPIConcurrency < 0 {
		errs = append(errs, fmt.Errorf("--lattice-api-concurrency %d must not be negative", l.LatticeAPIConcurrency))
	}
	switch l.LogLevel {
	case "", "debug", "info", "error":
	default:
		errs = append(errs, fmt.Errorf("%s %q is not one of debug, info, error", EnvLogLevel, l.LogLevel))
	}
	if l.MaxRulesPerListener < 0 {
		errs = append(errs, fmt.Errorf("%s %d must not be negative", EnvMaxRulesPerListener, l.MaxRulesPerListener))
	}
	if l.EnableServiceNetworkOverride && l.DefaultServiceNetwork == "" {
		errs = append(errs, fmt.Errorf("%s needs %s", EnvEnableServiceNetworkOverride, EnvDefaultServiceNetwork))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return nil
}

var vpcIDPattern = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// AWSConfig is the SDK configuration: the default credential chain (environment, profile, IRSA,
// Pod Identity, instance role) and the region. Local Lattice does not check signatures, so when
// the endpoint is on this machine and no credentials are configured in the environment, static
// dummy credentials are used instead of a chain that would probe IMDS.
func (l Lattice) AWSConfig(ctx context.Context) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(l.Region)}
	if l.localEndpoint() && !credentialsInEnv() {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS SDK configuration: %w", err)
	}
	return cfg, nil
}

func (l Lattice) localEndpoint() bool {
	u, err := url.Parse(l.LatticeEndpoint)
	if err != nil || l.LatticeEndpoint == "" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func credentialsInEnv() bool {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}
