package main

import (
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/kubernetes"
)

func init() { register(newControllerCmd) }

func newControllerCmd() *cobra.Command {
	var c config.Controller
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the Kubernetes controller: Gateway API objects to VPC Lattice",
		Long: `controller watches GatewayClasses, Gateways, HTTPRoutes, GRPCRoutes, TLSRoutes, ReferenceGrants,
Services and EndpointSlices and keeps VPC Lattice (or Local Lattice, with --lattice-endpoint) in
line with them, writing statuses back. Settings come from flags or the upstream controller's
environment variables (CLUSTER_VPC_ID, REGION, AWS_ACCOUNT_ID, CLUSTER_NAME, ...); unset account,
region and VPC are read from EC2 instance metadata.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := zap.New(zap.UseDevMode(false), zap.Level(zapLevel(c.LogLevel)))
			ctrl.SetLogger(log)
			ctx, stop := untilSignal(cmd)
			defer stop()
			return kubernetes.Run(ctx, kubernetes.RunOptions{Config: c, Log: log})
		},
	}
	c.BindFlags(cmd.Flags(), os.Getenv)
	return cmd
}

func zapLevel(level string) zapcore.Level {
	switch level {
	case "debug":
		return zapcore.DebugLevel
	case "error":
		return zapcore.ErrorLevel
	}
	return zapcore.InfoLevel
}
