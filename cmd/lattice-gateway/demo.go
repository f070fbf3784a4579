package main

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/lattice-gateway/lattice-gateway/examples/multicluster"
	"github.com/lattice-gateway/lattice-gateway/internal/connect"
	"github.com/lattice-gateway/lattice-gateway/internal/demo"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

func init() { register(newDemoCmd) }

// demoImportTTL lets cluster-a's route pick up cluster-b's export within seconds: the two clusters
// start together, so the import's first resolution may come before the export exists.
const demoImportTTL = 2 * time.Second

func newDemoCmd() *cobra.Command {
	var s standalone
	var o demo.Options
	var multiCluster bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Play the hotel walkthrough on this machine: Local Lattice, demo apps, routes, a 50/50 split",
		Long: `demo starts Local Lattice in-process (API, DNS, data plane), runs the hotel's demo apps (parking,
review, inventory-ver1 and inventory-ver2, two pods each for inventory) as servers on loopback
addresses, applies examples/hotel (GatewayClass, Gateway my-hotel, the apps' Services and
standalone EndpointSlices, HTTPRoutes rates and inventory) through the controller's translate and
deploy code, waits until everything is Programmed, resolves the inventory service's Lattice DNS
name through Local Lattice DNS and sends requests from parking to it through the data plane,
printing the answers and the ver1/ver2 split. --keep-running stays up for you to curl.

--multi-cluster plays the cross-cluster blue/green instead (examples/multicluster): two clusters
sharing the Local Lattice, as "run -f cluster-a=A -f cluster-b=B" runs them, each with its own
name and VPC. cluster-b runs inventory-ver2 and exports it (ServiceExport); cluster-a runs the
rest, imports inventory-ver2 (ServiceImport) and its route inventory splits 50/50 between its
inventory-ver1 and the import. Imports are refreshed every 2s (the controller: 30s), so the
route follows the export as soon as it exists.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.complete(); err != nil {
				return err
			}
			ctx, stop := untilSignal(cmd)
			defer stop()
			out := cmd.OutOrStdout()
			log := s.logger(cmd.ErrOrStderr())
			if !cmd.Flags().Changed("listener-port-offset") {
				if err := s.freeListenerPort(out); err != nil {
					return err
				}
			}
			ll, err := s.startLocal(ctx, true, log)
			if err != nil {
				return err
			}
			defer ll.Close()
			fmt.Fprintf(out, "Local Lattice: API %s, DNS %s, data plane %s (Lattice port P on P+%d)\n\n",
				s.lattice.LatticeEndpoint, ll.DataPlane.DNSAddr(), s.data.DataPlaneAddr, s.data.ListenerPortOffset)
			env := demo.Env{DNSAddr: ll.DataPlane.DNSAddr(), ListenerAddr: s.listenerAddr, ConsoleURL: ll.ConsoleURL(),
				Serving: func(port int32) bool { _, ok := ll.DataPlane.ListenerAddr(port); return ok }}
			owners := []model.Owner{s.lattice.Owner}
			if multiCluster {
				owners = nil
				for _, c := range multicluster.Clusters {
					owners = append(owners, clusterOwner(c.Name, s.lattice.Owner))
				}
			}
			for _, owner := range owners {
				client, deployer, err := s.connectAs(ctx, owner, connect.Options{Deploy: deploy.Config{ImportTTL: demoImportTTL}}, log.WithValues("cluster", owner.ClusterName))
				if err != nil {
					return err
				}
				tc := s.translateConfig()
				tc.Owner = owner
				env.Clusters = append(env.Clusters, demo.Cluster{Deployer: deployer, Translate: tc})
				env.Lattice = client
			}
			o.Out, o.Log = out, log.WithName("demo")
			return demo.Run(ctx, env, o)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.Requests, "requests", 30, "requests sent from parking to inventory")
	fs.BoolVar(&o.KeepRunning, "keep-running", false, "stay up after the walkthrough (Ctrl-C stops) and print the curl command")
	fs.DurationVar(&o.Timeout, "timeout", time.Minute, "how long to wait for everything to be Programmed")
	fs.BoolVar(&multiCluster, "multi-cluster", false, "play the cross-cluster blue/green: inventory-ver2 exported from cluster-b, imported by cluster-a's route")
	s.bind(fs, localLatticeAll)
	// The demo must not collide with a running "lattice-gateway local": free ports by default,
	// the admin endpoint (and console) on a free port, nothing persisted, and only errors logged.
	for name, def := range map[string]string{"api-addr": "127.0.0.1:0", "admin-addr": "127.0.0.1:0", "dns-addr": "127.0.0.1:0", "log-level": "error"} {
		_ = fs.Set(name, def)
		fs.Lookup(name).DefValue = def
		fs.Lookup(name).Changed = false
	}
	return cmd
}

// freeListenerPort moves the data plane's port 80 to a free port when the default one is taken
// (8080 often is, by a development server), so that the demo runs anywhere without flags.
func (s *standalone) freeListenerPort(out io.Writer) error {
	addr := s.listenerAddr(80)
	l, err := net.Listen("tcp", addr)
	if err == nil {
		return l.Close()
	}
	l, err = net.Listen("tcp", net.JoinHostPort(s.data.DataPlaneAddr, "0"))
	if err != nil {
		return fmt.Errorf("find a free port for the data plane: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return err
	}
	s.data.ListenerPortOffset = port - 80
	fmt.Fprintf(out, "%s is in use; serving Lattice port 80 on %s instead (--listener-port-offset %d)\n", addr, s.listenerAddr(80), s.data.ListenerPortOffset)
	return nil
}
