// Command render writes config/manifests: the chart rendered with its default values, preceded by
// the Namespace, for users who install with kubectl apply instead of Helm. hack/generate.sh runs it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/lattice-gateway/lattice-gateway/test/packaging/render"
)

func main() {
	chart := flag.String("chart", "../../charts/lattice-gateway", "chart directory")
	out := flag.String("out", "", "output file (default stdout)")
	flag.Parse()
	b, err := render.Manifests(*chart)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
