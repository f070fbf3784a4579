package main

import (
	"fmt"
	"os"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/cobra"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
)

func init() { register(newLocalCmd) }

func newLocalCmd() *cobra.Command {
	o := api.DefaultOptions()
	var data dataplane.Options
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run Local Lattice: the VPC Lattice API and data plane on this machine",
		Long: `local serves the VPC Lattice control-plane API (the wire protocol of the AWS SDK and
"aws vpc-lattice") on --api-addr, and metrics, call counters and fault injection on --admin-addr.
Point a client at it with AWS_ENDPOINT_URL_VPC_LATTICE or --endpoint-url.

It also runs the data plane: a DNS server on --dns-addr answering every service's DNS name with
--dataplane-addr, and a proxy serving each Lattice listener port P on --dataplane-addr:P+offset
that routes HTTP, HTTPS, gRPC and TLS passthrough traffic to the registered targets.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{})
			ctx, stop := untilSignal(cmd)
			defer stop()
			ll, err := locallattice.Start(ctx, locallattice.Options{API: o, DataPlane: &data, Logger: log})
			if err != nil {
				return err
			}
			defer ll.Close()
			fmt.Fprint(cmd.OutOrStdout(), ll.API.Instructions())
			fmt.Fprintf(cmd.OutOrStdout(), "DNS on %s (udp/tcp); data plane on %s, Lattice port P served on P+%d; CA for HTTPS listeners: %s\n",
				ll.DataPlane.DNSAddr(), data.DataPlaneAddr, data.ListenerPortOffset, ll.DataPlane.CAPath())
			p := ll.DataPlane.Principal()
			fmt.Fprintf(cmd.OutOrStdout(), "IAM auth (AWS_IAM services, SigV4 service vpc-lattice-svcs): principal %s, access key %s, secret key %s\n", p.ARN, p.AccessKeyID, p.SecretAccessKey)
			if u := ll.ConsoleURL(); u != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "Web console: %s\n", u)
			}
			<-ctx.Done()
			return nil
		},
	}
	o.BindFlags(cmd.Flags())
	data.BindFlags(cmd.Flags())
	return cmd
}
