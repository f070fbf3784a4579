// Command lattice-gateway implements the Kubernetes Gateway API on Amazon VPC Lattice, and runs
// Local Lattice, the VPC Lattice API and data plane on one machine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// subcommands is filled by each subcommand's file, so that adding one touches only its file.
var subcommands []func() *cobra.Command

func register(f func() *cobra.Command) { subcommands = append(subcommands, f) }

// untilSignal is cmd's context, cancelled by Ctrl-C or SIGTERM (a pod being stopped).
func untilSignal(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lattice-gateway",
		Short: "Kubernetes Gateway API for Amazon VPC Lattice, with Local Lattice for laptops and CI",
		Long: `lattice-gateway turns Gateway API objects (GatewayClass, Gateway, HTTPRoute, GRPCRoute,
TLSRoute, ...) into Amazon VPC Lattice service networks, services, listeners, rules and target
groups. It talks to real VPC Lattice, or to Local Lattice: the same API and a real data plane on
one machine, so everything runs without an AWS account.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, f := range subcommands {
		root.AddCommand(f())
	}
	return root
}

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
