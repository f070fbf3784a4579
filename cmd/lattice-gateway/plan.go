package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lattice-gateway/lattice-gateway/internal/provider/file"
)

func init() { register(newPlanCmd) }

func newPlanCmd() *cobra.Command {
	var s standalone
	var dir string
	cmd := &cobra.Command{
		Use:   "plan -f DIR",
		Short: "Print the VPC Lattice API calls that applying a folder of manifests would make",
		Long: `plan reads the manifests under DIR like "run -f DIR" and prints the VPC Lattice API calls that
applying them would make, in order, changing nothing. With --lattice-endpoint it compares with what
that Lattice (Local Lattice or real AWS) already has; without, with a fresh in-process Local Lattice,
so every call is a create. Exits 1 when a manifest was skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.complete(); err != nil {
				return err
			}
			ctx := cmd.Context()
			log := s.logger(cmd.ErrOrStderr())
			local := s.lattice.LatticeEndpoint == ""
			if local {
				s.local.APIAddr, s.local.AdminAddr = "127.0.0.1:0", ""
				ll, err := s.startLocal(ctx, false, log)
				if err != nil {
					return err
				}
				defer ll.Close()
			}
			_, d, err := s.connect(ctx, log)
			if err != nil {
				return err
			}
			p, rep, err := file.Plan(ctx, file.Config{Dir: dir, Translate: s.translateConfig(), Deployer: d, Log: log})
			if err != nil {
				return err
			}
			target := s.lattice.LatticeEndpoint
			if local {
				target = "a fresh Local Lattice"
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "# %d VPC Lattice API calls to apply %s (compared with %s, ManagedBy %s)\n%s",
				p.Len(), dir, target, s.lattice.ManagedBy(), p.String())
			return reportRejections(out, rep)
		},
	}
	cmd.Flags().StringVarP(&dir, "filename", "f", "", "folder of manifests (read recursively)")
	_ = cmd.MarkFlagRequired("filename")
	s.bind(cmd.Flags(), identityFlags)
	return cmd
}

// reportRejections prints what translate refused and the skipped manifests; the latter fail the
// command so that CI notices.
func reportRejections(w io.Writer, rep *file.Report) error {
	for _, r := range rep.Rows {
		if r.Status != "Pending" && !r.Ready {
			fmt.Fprintf(w, "# not applied: %s %s/%s: %s: %s\n", r.Kind, r.Namespace, r.Name, r.Status, r.Message)
		}
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "# skipped: %s\n", p.Error())
	}
	if n := len(rep.Problems); n > 0 {
		return fmt.Errorf("%d manifest problem(s)", n)
	}
	return nil
}
