package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/connect"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
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
		EnableServiceNetworkOverride: s.lattice.EnableServiceNetworkOverride,
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
// --lattice-api-max-tps, retries).
func (s *standalone) client(ctx context.Context) (*vpclattice.Client, error) {
	awsCfg, err := s.lattice.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return latticeclient.New(awsCfg, s.lattice.LatticeEndpoint, nil, latticeclient.Options{RateLimits: latticeclient.Ceiling(s.lattice.LatticeAPIMaxTPS)})
}

// connect returns the client and a deployer using it as s.lattice's identity (see connectAs).
func (s *standalone) connect(ctx context.Context, log logr.Logger) (*vpclattice.Client, *deploy.Deployer, error) {
	return s.connectAs(ctx, s.lattice.Owner, connect.Options{}, log)
}

// connectAs returns the client and a deployer using it as owner (see connect.Deployer).
func (s *standalone) connectAs(ctx context.Context, owner model.Owner, o connect.Options, log logr.Logger) (*vpclattice.Client, *deploy.Deployer, error) {
	l := s.lattice
	l.Owner = owner
	return connect.Deployer(ctx, l, o, log)
}

func newRunCmd() *cobra.Command {
	var s standalone
	var dirs []string
	var statusDir string
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
resumes where it stopped.

Several -f folders are several clusters sharing one Lattice (multi-cluster: a ServiceExport in one
folder is a ServiceImport backend in another): -f [CLUSTER=]DIR, each cluster named CLUSTER or
after its folder, in a VPC of its own, statuses under --status-dir/CLUSTER.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.complete(); err != nil {
				return err
			}
			ctx, stop := untilSignal(cmd)
			defer stop()
			folders, err := parseFolders(dirs, s.lattice.Owner)
			if err != nil {
				return err
			}
			return runStandalone(ctx, &s, folders, file.Config{StatusDir: statusDir, ResyncPeriod: resync}, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringArrayVarP(&dirs, "filename", "f", nil, "folder of manifests (read recursively, watched); repeat as -f [CLUSTER=]DIR for several clusters")
	cmd.Flags().StringVar(&statusDir, "status-dir", "", "folder to write every Gateway API object to, with its status")
	cmd.Flags().DurationVar(&resync, "resync-period", 0, "re-read owned Lattice state this often and repair drift; 0 disables")
	_ = cmd.MarkFlagRequired("filename")
	s.bind(cmd.Flags(), localLatticeAll)
	return cmd
}

// runStandalone runs the file provider on every folder, each the cluster it stands for, with cfg's
// options, until ctx ends.
func runStandalone(ctx context.Context, s *standalone, folders []folderCluster, cfg file.Config, out, errOut io.Writer) error {
	for _, f := range folders {
		if st, err := os.Stat(f.dir); err != nil || !st.IsDir() {
			return fmt.Errorf("-f %s: not a folder", f.dir)
		}
	}
	log := s.logger(errOut)
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
	var mu sync.Mutex // one cluster's report at a time on out
	g, gctx := errgroup.WithContext(ctx)
	for _, f := range folders {
		c := cfg
		prefix := ""
		if len(folders) > 1 {
			prefix = "[" + f.owner.ClusterName + "] "
			if c.StatusDir != "" {
				c.StatusDir = filepath.Join(c.StatusDir, f.owner.ClusterName)
			}
			fmt.Fprintf(out, "cluster %s: folder %s, ManagedBy %s\n", f.owner.ClusterName, f.dir, f.owner.ManagedBy())
		}
		c.Dir, c.Translate, c.ListenerAddr = f.dir, s.translateConfig(), listenerAddr
		c.Translate.Owner = f.owner
		var err error
		if _, c.Deployer, err = s.connectAs(ctx, f.owner, connect.Options{}, log.WithValues("cluster", f.owner.ClusterName)); err != nil {
			return err
		}
		c.Log = log.WithName("run").WithValues("cluster", f.owner.ClusterName)
		last := ""
		c.OnPlan = func(p *deploy.Plan) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(out, "--- %sapplying %d change(s)\n", prefix, p.Len())
			for _, op := range p.Ops() {
				fmt.Fprintf(out, "  %s\n", op)
			}
		}
		c.OnReport = func(rep *file.Report) {
			var b strings.Builder
			file.WriteTable(&b, rep)
			mu.Lock()
			defer mu.Unlock()
			if b.String() != last {
				last = b.String()
				fmt.Fprintf(out, "--- %s%s\n%s\n", prefix, rep.At.Format("15:04:05"), last)
			}
		}
		g.Go(func() error { return file.New(c).Run(gctx) })
	}
	if err := g.Wait(); err != nil {
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
