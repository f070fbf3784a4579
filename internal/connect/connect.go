// Package connect turns the Lattice configuration into the clients and the deployer that both
// the controller and the standalone commands use: the VPC Lattice client, the ACM client for
// certificateRefs and, unless DISABLE_TAGGING_SERVICE_API, the Tagging API client for discovery,
// all with the same metrics, adaptive rate (or fixed ceiling) and retries.
package connect

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lattice-gateway/lattice-gateway/internal/config"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
)

// Options adjust what Deployer builds; the zero value takes everything from the configuration.
type Options struct {
	// Registry receives the API metrics; nil registers none.
	Registry prometheus.Registerer
	// Client overrides the client options; a nil RateLimits becomes --lattice-api-max-tps.
	Client latticeclient.Options
	// Deploy is the deployer's configuration; Owner, ACM and an unset Concurrency and Tagging
	// come from the configuration.
	Deploy deploy.Config
}

// Deployer returns the VPC Lattice client of l and a deployer that uses it.
func Deployer(ctx context.Context, l config.Lattice, o Options, log logr.Logger) (*vpclattice.Client, *deploy.Deployer, error) {
	awsCfg, err := l.AWSConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	copts := o.Client
	if copts.RateLimits == nil {
		copts.RateLimits = latticeclient.Ceiling(l.LatticeAPIMaxTPS)
	}
	client, err := latticeclient.New(awsCfg, l.LatticeEndpoint, o.Registry, copts)
	if err != nil {
		return nil, nil, err
	}
	dcfg := o.Deploy
	dcfg.Owner = l.Owner
	if dcfg.Concurrency == 0 {
		dcfg.Concurrency = l.LatticeAPIConcurrency
	}
	if dcfg.ACM, err = latticeclient.NewACM(awsCfg, l.LatticeEndpoint, o.Registry, copts); err != nil {
		return nil, nil, err
	}
	if !l.DisableTaggingServiceAPI && dcfg.Tagging == nil {
		tagging, err := latticeclient.NewTagging(awsCfg, l.LatticeEndpoint, o.Registry, copts)
		if err != nil {
			return nil, nil, err
		}
		dcfg.Tagging = tagging
	}
	return client, deploy.New(client, dcfg, log.WithName("deploy")), nil
}
