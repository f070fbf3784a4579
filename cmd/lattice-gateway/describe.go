package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/lattice-gateway/lattice-gateway/internal/describe"
)

func init() { register(newDescribeCmd) }

func newDescribeCmd() *cobra.Command {
	var s standalone
	var dir, kubeconfig, namespace, output string
	cmd := &cobra.Command{
		Use:   "describe (gateway|httproute|grpcroute|service) NAME",
		Short: "Show a Gateway, route or Service with its conditions, policies, Lattice resources and target health",
		Long: `describe answers "why is my route not getting traffic" in one screen: the object's conditions,
the policies attached to it, the VPC Lattice service network, services, listeners, rules and target
groups it became (IDs, ARNs, state), every target with its health, and a list of problems.

Objects come from the cluster (--kubeconfig, $KUBECONFIG, in-cluster or ~/.kube/config) or, with
-f DIR, from a folder of manifests (point it at run's --status-dir to see conditions). Lattice is
--lattice-endpoint (Local Lattice), or AWS. -o yaml or -o json prints the same for scripts.`,
		Example: `  lattice-gateway describe httproute inventory --lattice-endpoint http://127.0.0.1:8669
  lattice-gateway describe gateway my-hotel -f status/ --lattice-endpoint http://127.0.0.1:8669 -o yaml`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := describeRef(args[0], args[1], namespace)
			if err != nil {
				return err
			}
			if err := s.complete(); err != nil {
				return err
			}
			ctx := cmd.Context()
			var objs *describe.Objects
			if dir != "" {
				objs, err = describe.FromFolder(dir)
			} else {
				cfg, cerr := clientcmd.BuildConfigFromFlags("", kubeconfig)
				if kubeconfig == "" {
					cfg, cerr = ctrlconfig.GetConfig()
				}
				if cerr != nil {
					return fmt.Errorf("kubeconfig: %w", cerr)
				}
				objs, err = describe.FromCluster(ctx, cfg, namespace)
			}
			if err != nil {
				return err
			}
			client, err := s.client(ctx)
			if err != nil {
				return err
			}
			lat, err := describe.FetchLattice(ctx, client)
			if err != nil {
				return err
			}
			return describe.Write(cmd.OutOrStdout(), describe.Build(ref, objs, lat), output)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&dir, "filename", "f", "", "read objects from this folder of manifests instead of a cluster")
	fs.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	fs.StringVarP(&namespace, "namespace", "n", "default", "namespace of the object")
	fs.StringVarP(&output, "output", "o", describe.FormatText, "output format: text, yaml or json")
	s.bind(fs, identityFlags)
	return cmd
}

// describeRef accepts kinds as kubectl does: any case, singular, with the usual short names.
func describeRef(kind, name, namespace string) (describe.Ref, error) {
	kinds := map[string]string{"gateway": describe.KindGateway, "gtw": describe.KindGateway,
		"httproute": describe.KindHTTPRoute, "grpcroute": describe.KindGRPCRoute,
		"service": describe.KindService, "svc": describe.KindService}
	k, ok := kinds[strings.TrimSuffix(strings.ToLower(strings.SplitN(kind, ".", 2)[0]), "s")]
	if !ok {
		k, ok = kinds[strings.ToLower(strings.SplitN(kind, ".", 2)[0])]
	}
	if !ok {
		return describe.Ref{}, fmt.Errorf("cannot describe %q: use gateway, httproute, grpcroute or service", kind)
	}
	return describe.Ref{Kind: k, Namespace: namespace, Name: name}, nil
}
