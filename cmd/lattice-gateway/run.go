package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/file"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

func init() { register(newRunCmd) }

// Standalone identity when none is configured: Local Lattice's default account, and a cluster
// and VPC that name this mode in the ManagedBy tag.
const (
	standaloneCluster = "standalone"
	standaloneVPC     = "vpc-0123456789abcdef0"
)

// unprivilegedPortOffset lets the data plane serve Lattice port 80 on 8080 without root.
const unprivilegedPortOffset = 8000

// standalone holds what run, plan and demo share: the Lattice identity and endpoint, and the
// options of an in-process Local Lattice used when no endpoint is given.
type standalone struct {
	lattice config.Lattice
	local   api.Options
	data    dataplane.Options
	flags   *pflag.FlagSet
	// localFlags is set when the flags of `local` are bound (run, demo): their --region and
	// --account-id then describe the in-process Local Lattice.
	localFlags bool
}

// The flag sets bind can register.
const (
	identityFlags   = iota // the Lattice identity and endpoint (plan)
	localLatticeAll        // plus the flags of `local` and of the data plane (run, demo)
)

// bind registers the flags of `local` and of the data plane when asked, then the Lattice
// identity flags; --region is shared by both.
func (s *standalone) bind(fs *pflag.FlagSet, which int) {
	s.flags = fs
	s.local = api.DefaultOptions()
	if which == localLatticeAll {
		s.localFlags = true
		s.local.BindFlags(fs)
		s.data.BindFlags(fs)
		s.data.ListenerPortOffset = defaultPortOffset()
		fs.Lookup("listener-port-offset").DefValue = strconv.Itoa(s.data.ListenerPortOffset)
	}
	identity := pflag.NewFlagSet("identity", pflag.ContinueOnError)
	s.lattice.BindFlags(identity, os.Getenv)
	fs.AddFlagSet(identity) // keeps a --region bound above
}

// defaultPortOffset is 0 for root (Lattice ports as they are) and 8000 otherwise.
func defaultPortOffset() int {
	if os.Geteuid() == 0 {
		return 0
	}
	return unprivilegedPortOffset
}

// complete fills the standalone defaults and reconciles the flags both sides know.
func (s *standalone) complete() error {
	l := &s.lattice
	if (s.localFlags && s.flags.Changed("region")) || l.Region == "" {
		l.Region = s.local.Region
	} else {
		s.local.Region = l.Region
	}
	if l.AccountID == "" {
		l.AccountID = s.local.AccountID
	}
	if l.MaxRulesPerListener == 0 && s.flags.Changed("quota-rules-per-listener") {
		l.MaxRulesPerListener = s.local.Quotas.RulesPerListener
	} else if !s.localFlags {
		s.local.AccountID = l.AccountID
	}
	if !s.localFlags { // else the data plane's --gateway-address-cidr flag set it
		p, err := l.GatewayAddresses()
		if err != nil {
			return err
		}
		s.data.GatewayAddresses = p
	}
	if l.ClusterName == "" {
		l.ClusterName = standaloneCluster
	}
	if l.VPCID == "" {
		l.VPCID = standaloneVPC
	}
	return l.Validate()
}

func (s *standalone) translateConfig() translate.Config {
	return translate.Config{Owner: s.lattice.Owner, DefaultServiceNetwork: s.lattice.DefaultServiceNetwork,
		GatewayAddresses:             s.data.GatewayAddresses,
		Quotas:                       translate.Quotas{RulesPerListener: s.lattice.MaxRulesPerListener},
		IgnoreMissingCertificateRefs: s.lattice.IgnoreMissingCertificateRefs}
}

func (s *standalone) logger(w io.Writer) logr.Logger {
	return zap.New(zap.WriteTo(w), zap.ConsoleEncoder(), zap.Level(zapLevel(s.lattice.LogLevel)))
}

// startLocal starts an in-process Local Lattice from s's flags (the data plane only when
// dataPlane is set) and points s.lattice at it.
func (s *standalone) startLocal(ctx context.Context, dataPlane bool, log logr.Logger) (*locallattice.Instance, error) {
	o := locallattice.Options{API: s.local, Logger: log}
	if dataPlane {
		o.DataPlane = &s.data
	}
	ll, err := locallattice.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	s.lattice.LatticeEndpoint = ll.URL()
	return ll, nil
}

// listenerAddr is where the in-process data plane serves a Lattice listener port.
func (s *standalone) listenerAddr(port int32) string {
	return net.JoinHostPort(s.data.DataPlaneAddr, strconv.Itoa(int(port)+s.data.ListenerPortOffset))
}

// client returns a VPC Lattice client for s.lattice's endpoint (metrics off, the rate ceiling of
// --lattice-api-max-tps, retries), with the AWS config and options it was built from.
func (s *standalone) client(ctx context.Context) (*vpclattice.Client, aws.Config, latticeclient.Options, error) {
	opts := latticeclient.Options{RateLimits: latticeclient.Ceiling(s.lattice.LatticeAPIMaxTPS)}
	awsCfg, err := s.lattice.AWSConfig(ctx)
	if err != nil {
		return nil, awsCfg, opts, err
	}
	client, err := latticeclient.New(awsCfg, s.lattice.LatticeEndpoint, nil, opts)
	return client, awsCfg, opts, err
}

// connect returns the client and a deployer using it, with an ACM client for certificateRefs and
// Tagging API discovery unless --disable-tagging-service-api.
func (s *standalone) connect(ctx context.Context, log logr.Logger) (*vpclattice.Client, *deploy.Deployer, error) {
	client, awsCfg, opts, err := s.client(ctx)
	if err != nil {
		return nil, nil, err
	}
	dcfg := deploy.Config{Owner: s.lattice.Owner, Concurrency: s.lattice.LatticeAPIConcurrency}
	if dcfg.ACM, err = latticeclient.NewACM(awsCfg, s.lattice.LatticeEndpoint, nil, opts); err != nil {
		return nil, nil, err
	}
	if !s.lattice.DisableTaggingServiceAPI {
		if dcfg.Tagging, err = latticeclient.NewTagging(awsCfg, s.lattice.LatticeEndpoint, nil, opts); err != nil {
			return nil, nil, err
		}
	}
	return client, deploy.New(client, dcfg, log.WithName("deploy")), nil
}

func newRunCmd() *cobra.Command {
	var s standalone
	var dir, statusDir string
	var resync time.Duration
	cmd := &cobra.Command{
		Use:   "run -f DIR",
		Short: "Standalone mode: apply a folder of Gateway API manifests to Local Lattice or VPC Lattice",
		Long: `run reads every .yaml, .yml and .json manifest under DIR (the objects you would kubectl apply),
applies them to VPC Lattice through the same translate and deploy code as the controller, and
re-applies on every change. Services get their targets from EndpointSlices in DIR (loopback
addresses allowed); Deployments are accepted and ignored. Bad manifests are reported with file and
line and skipped.

Without --lattice-endpoint, Local Lattice runs in-process (API, DNS and data plane; the flags of
"lattice-gateway local"); the data plane serves Lattice port P on P+--listener-port-offset.
With --lattice-endpoint it talks to that endpoint: an external Local Lattice, or real AWS with the
SDK's default credentials. Ctrl-C stops; Lattice resources stay, and with --state-file a restart
resumes where it stopped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.complete(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runStandalone(ctx, &s, file.Config{Dir: dir, StatusDir: statusDir, ResyncPeriod: resync}, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVarP(&dir, "filename", "f", "", "folder of manifests (read recursively, watched)")
	cmd.Flags().StringVar(&statusDir, "status-dir", "", "folder to write every Gateway API object to, with its status")
	cmd.Flags().DurationVar(&resync, "resync-period", 0, "re-read owned Lattice state this often and repair drift; 0 disables")
	_ = cmd.MarkFlagRequired("filename")
	s.bind(cmd.Flags(), localLatticeAll)
	return cmd
}

// runStandalone runs the file provider with cfg's folder options until ctx ends.
func runStandalone(ctx context.Context, s *standalone, cfg file.Config, out, errOut io.Writer) error {
	if st, err := os.Stat(cfg.Dir); err != nil || !st.IsDir() {
		return fmt.Errorf("-f %s: not a folder", cfg.Dir)
	}
	log := s.logger(errOut)
	if s.lattice.EnableServiceNetworkOverride {
		log.Info("ENABLE_SERVICE_NETWORK_OVERRIDE is not implemented yet; routes are associated with their parent Gateways' service networks")
	}
	local := s.lattice.LatticeEndpoint == ""
	var listenerAddr func(int32) string
	if local {
		ll, err := s.startLocal(ctx, true, log)
		if err != nil {
			return err
		}
		defer ll.Close()
		fmt.Fprint(out, ll.API.Instructions())
		fmt.Fprintf(out, "DNS on %s (udp/tcp); data plane on %s, Lattice port P served on P+%d\n\n",
			ll.DataPlane.DNSAddr(), s.data.DataPlaneAddr, s.data.ListenerPortOffset)
		listenerAddr = s.listenerAddr
	} else {
		fmt.Fprintf(out, "VPC Lattice API %s (region %s), ManagedBy %s\n\n", s.lattice.LatticeEndpoint, s.lattice.Region, s.lattice.ManagedBy())
	}
	_, deployer, err := s.connect(ctx, log)
	if err != nil {
		return err
	}
	cfg.Translate, cfg.Deployer, cfg.ListenerAddr, cfg.Log = s.translateConfig(), deployer, listenerAddr, log.WithName("run")
	last := ""
	cfg.OnPlan = func(p *deploy.Plan) {
		fmt.Fprintf(out, "--- applying %d change(s)\n", p.Len())
		for _, op := range p.Ops() {
			fmt.Fprintf(out, "  %s\n", op)
		}
	}
	cfg.OnReport = func(rep *file.Report) {
		var b strings.Builder
		file.WriteTable(&b, rep)
		if b.String() != last {
			last = b.String()
			fmt.Fprintf(out, "--- %s\n%s\n", rep.At.Format("15:04:05"), last)
		}
	}
	r := file.New(cfg)
	if err := r.Run(ctx); err != nil {
		return err
	}
	switch {
	case !local:
		fmt.Fprintln(out, "stopped; the Lattice resources stay in place")
	case s.local.StateFile != "":
		fmt.Fprintf(out, "stopped; Local Lattice state saved in %s\n", s.local.StateFile)
	default:
		fmt.Fprintln(out, "stopped")
	}
	return nil
}
