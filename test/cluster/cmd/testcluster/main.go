// Command testcluster runs the test cluster of package test/cluster until interrupted, for
// trying things by hand with kubectl (see hack/cluster.sh and docs/testing.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/lattice-gateway/lattice-gateway/test/cluster"
)

func main() {
	var (
		apply     = flag.String("f", "", "directory of manifests to server-side apply once the cluster runs")
		node      = flag.String("node-name", "", "name of the simulated Node (default lattice-node)")
		verbosity = flag.Int("v", 0, "log verbosity of the kubelet simulator")
	)
	flag.Parse()
	if err := run(*apply, *node, *verbosity); err != nil {
		fmt.Fprintln(os.Stderr, "testcluster:", err)
		os.Exit(1)
	}
}

func run(apply, node string, verbosity int) error {
	log := funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{Verbosity: verbosity})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	begin := time.Now()
	c, err := cluster.New(ctx, cluster.Options{NodeName: node, Log: log})
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testcluster: stop:", err)
		}
	}()
	if apply != "" {
		if err := c.ApplyDir(ctx, apply); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "cluster running after %s; logs in %s; Ctrl-C stops it and removes everything\n",
		time.Since(begin).Round(time.Millisecond), c.Dir)
	fmt.Fprintln(os.Stderr, "Pod IP 10.244.a.b is served on 127.244.a.b (same ports)")
	fmt.Printf("export KUBECONFIG=%s\n", c.Kubeconfig)
	<-ctx.Done()
	return nil
}
