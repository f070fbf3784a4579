package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr/funcr"
	"github.com/spf13/cobra"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
)

func init() { register(newLocalCmd) }

func newLocalCmd() *cobra.Command {
	o := api.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run Local Lattice: the VPC Lattice API on this machine",
		Long: `local serves the VPC Lattice control-plane API (the wire protocol of the AWS SDK and
"aws vpc-lattice") on --api-addr, and metrics, call counters and fault injection on --admin-addr.
Point a client at it with AWS_ENDPOINT_URL_VPC_LATTICE or --endpoint-url.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Logger = funcr.NewJSON(func(obj string) { fmt.Fprintln(os.Stderr, obj) }, funcr.Options{})
			srv, err := api.Open(o)
			if err != nil {
				return err
			}
			defer func() { _ = srv.Close() }()
			if err := srv.Start(o.APIAddr); err != nil {
				return err
			}
			if err := srv.StartAdmin(o.AdminAddr); err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), srv.Instructions())
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	o.BindFlags(cmd.Flags())
	return cmd
}
