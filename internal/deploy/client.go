package deploy

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy/awsmetrics"
	"github.com/lattice-gateway/lattice-gateway/internal/deploy/ratelimit"
)

// ClientOptions tune the client NewClient builds.
type ClientOptions struct {
	// RateLimits is the client-side token bucket per operation. The zero value means 10 requests
	// per second with bursts of 10 for every operation, a rate that Lattice accepts.
	RateLimits *ratelimit.Limits
	// Retry configures retries with jittered backoff that honours Retry-After.
	Retry ratelimit.Retry
	// Modify is applied last, e.g. to set an HTTP client in tests.
	Modify func(*vpclattice.Options)
}

// DefaultRateLimits is used when ClientOptions.RateLimits is nil.
var DefaultRateLimits = ratelimit.Limits{Default: ratelimit.Limit{PerSecond: 10, Burst: 10}}

// NewClient returns the vpclattice client the deployer should use: endpoint overrides the AWS
// endpoint (Local Lattice, LATTICE_ENDPOINT) when not empty; every attempt is counted in reg
// (aws_api_calls_total, aws_api_call_duration_seconds; nil reg skips metrics) and paced by the
// token buckets; throttling and 5xx are retried with backoff that honours Retry-After.
func NewClient(cfg aws.Config, endpoint string, reg prometheus.Registerer, opts ClientOptions) (*vpclattice.Client, error) {
	limits := DefaultRateLimits
	if opts.RateLimits != nil {
		limits = *opts.RateLimits
	}
	var apiOptions []func(*middleware.Stack) error
	if reg != nil {
		m, err := awsmetrics.New(reg)
		if err != nil {
			return nil, fmt.Errorf("new lattice client: %w", err)
		}
		apiOptions = append(apiOptions, m.APIOption)
	}
	apiOptions = append(apiOptions, ratelimit.NewLimiter(limits).APIOption)
	return vpclattice.NewFromConfig(cfg, func(o *vpclattice.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = ratelimit.NewRetryer(opts.Retry)
		o.APIOptions = append(o.APIOptions, apiOptions...)
		if opts.Modify != nil {
			opts.Modify(o)
		}
	}), nil
}
