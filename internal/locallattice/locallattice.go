// Package locallattice starts Local Lattice: the VPC Lattice API (package api) over a store, its
// admin endpoint, and optionally the data plane (package dataplane) following the same store.
// Start is the one way to run it; `lattice-gateway local`, `run` and `demo`, the tests (through
// locallatticetest) and the benchmarks all call it.
package locallattice

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/console"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// Options say what to start.
type Options struct {
	// API configures the control plane. It serves on API.APIAddr ("" picks a free loopback port)
	// and, when API.AdminAddr is set, the admin endpoint there. API.Logger is replaced by
	// Logger's child.
	API api.Options
	// DataPlane, when set, starts the data plane too.
	DataPlane *dataplane.Options
	// Logger names its children "api" and "dataplane"; the zero Logger discards.
	Logger logr.Logger
}

// Instance is a running Local Lattice.
type Instance struct {
	API *api.Server
	// DataPlane is nil when Options.DataPlane was.
	DataPlane *dataplane.DataPlane
}

// Start starts Local Lattice as o describes. The data plane stops when ctx ends; Close stops
// everything.
func Start(ctx context.Context, o Options) (*Instance, error) {
	log := o.Logger
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	o.API.Logger = log.WithName("api")
	srv, err := api.Open(o.API)
	if err != nil {
		return nil, fmt.Errorf("start Local Lattice: %w", err)
	}
	in := &Instance{API: srv}
	if err := srv.Start(o.API.APIAddr); err != nil {
		in.Close()
		return nil, fmt.Errorf("start Local Lattice API: %w", err)
	}
	if o.API.AdminAddr != "" {
		if err := srv.StartAdmin(o.API.AdminAddr); err != nil {
			in.Close()
			return nil, fmt.Errorf("start Local Lattice admin endpoint: %w", err)
		}
	}
	if o.DataPlane != nil {
		if in.DataPlane, err = startDataPlane(ctx, srv.Store(), *o.DataPlane, log.WithName("dataplane")); err != nil {
			in.Close()
			return nil, fmt.Errorf("start Local Lattice data plane: %w", err)
		}
		srv.MetricsRegistry().MustRegister(in.DataPlane.Metrics())
	}
	srv.HandleAdmin(console.Path, console.Handler(srv.Store(), in.traffic()))
	return in, nil
}

// traffic is the data plane's traffic record for the console, nil without a data plane.
func (in *Instance) traffic() console.Traffic {
	if in.DataPlane == nil {
		return nil
	}
	return in.DataPlane
}

// ConsoleURL is the web console's address, "" without an admin endpoint.
func (in *Instance) ConsoleURL() string {
	if addr := in.API.AdminAddr(); addr != "" {
		return "http://" + addr + console.Path
	}
	return ""
}

// startDataPlane starts the data plane, closing it again when it cannot start.
func startDataPlane(ctx context.Context, st *store.Store, o dataplane.Options, log logr.Logger) (*dataplane.DataPlane, error) {
	dp, err := dataplane.New(st, o, log)
	if err != nil {
		return nil, err
	}
	if err := dp.Start(ctx); err != nil {
		dp.Close()
		return nil, err
	}
	return dp, nil
}

// URL is the API endpoint (the SDK's BaseEndpoint, the CLI's --endpoint-url).
func (in *Instance) URL() string { return in.API.URL() }

// Store is the state behind the API and the data plane.
func (in *Instance) Store() *store.Store { return in.API.Store() }

// NewClient returns an SDK client of the API. Local Lattice checks only the credential scope's
// region, so any static key does.
func (in *Instance) NewClient(optFns ...func(*vpclattice.Options)) *vpclattice.Client {
	o := vpclattice.Options{Region: in.Store().Region(), BaseEndpoint: aws.String(in.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")}
	return vpclattice.New(o, optFns...)
}

// Close stops the data plane, then the API (which persists the state file).
func (in *Instance) Close() {
	if in.DataPlane != nil {
		in.DataPlane.Close()
	}
	_ = in.API.Close()
}
