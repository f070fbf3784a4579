package main

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/console"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
)

// localLattice is an in-process Local Lattice: the API and, when started, the data plane.
type localLattice struct {
	api *api.Server
	dp  *dataplane.DataPlane
}

// startLocalLattice starts Local Lattice's API on o.APIAddr (and its admin endpoint on
// o.AdminAddr when set) and, when data is not nil, its data plane.
func startLocalLattice(ctx context.Context, o api.Options, data *dataplane.Options, log logr.Logger) (*localLattice, error) {
	o.Logger = log.WithName("api")
	srv, err := api.Open(o)
	if err != nil {
		return nil, fmt.Errorf("start Local Lattice: %w", err)
	}
	ll := &localLattice{api: srv}
	if err := srv.Start(o.APIAddr); err != nil {
		ll.Close()
		return nil, fmt.Errorf("start Local Lattice API: %w", err)
	}
	if o.AdminAddr != "" {
		if err := srv.StartAdmin(o.AdminAddr); err != nil {
			ll.Close()
			return nil, fmt.Errorf("start Local Lattice admin endpoint: %w", err)
		}
	}
	if data != nil {
		dp, err := startDataPlane(ctx, srv, *data, log.WithName("dataplane"))
		if err != nil {
			ll.Close()
			return nil, fmt.Errorf("start Local Lattice data plane: %w", err)
		}
		ll.dp = dp
		srv.MetricsRegistry().MustRegister(dp.Metrics())
	}
	srv.HandleAdmin(console.Path, console.Handler(srv.Store(), ll.traffic()))
	return ll, nil
}

// startDataPlane starts the data plane, closing it again when it cannot start.
func startDataPlane(ctx context.Context, srv *api.Server, o dataplane.Options, log logr.Logger) (*dataplane.DataPlane, error) {
	dp, err := dataplane.New(srv.Store(), o, log)
	if err != nil {
		return nil, err
	}
	if err := dp.Start(ctx); err != nil {
		dp.Close()
		return nil, err
	}
	return dp, nil
}

// traffic is the data plane's traffic record for the console, nil without a data plane.
func (ll *localLattice) traffic() console.Traffic {
	if ll.dp == nil {
		return nil
	}
	return ll.dp
}

// consoleURL is the web console's address, "" without an admin endpoint.
func (ll *localLattice) consoleURL() string {
	if addr := ll.api.AdminAddr(); addr != "" {
		return "http://" + addr + console.Path
	}
	return ""
}

// Close stops the data plane, then the API (which persists the state file).
func (ll *localLattice) Close() {
	if ll.dp != nil {
		ll.dp.Close()
	}
	_ = ll.api.Close()
}
