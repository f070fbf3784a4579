// Package latticeclient builds the aws-sdk-go-v2 VPC Lattice client the controller uses, for real
// AWS and for Local Lattice alike: every attempt counted and timed (aws_api_calls_total,
// aws_api_call_duration_seconds), paced by a token bucket per operation, and retried with
// backoff that honours Retry-After.
package latticeclient

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// Options tune the client New builds.
type Options struct {
	// RateLimits is the client-side token bucket per operation. The zero value means 10 requests
	// per second with bursts of 10 for every operation, a rate that Lattice accepts.
	RateLimits *Limits
	// Retry configures retries with jittered backoff that honours Retry-After.
	Retry Retry
	// Modify is applied last, e.g. to set an HTTP client in tests.
	Modify func(*vpclattice.Options)
	// ModifyACM is Modify for the ACM client (NewACM).
	ModifyACM func(*acm.Options)
}

// DefaultRateLimits is used when Options.RateLimits is nil.
var DefaultRateLimits = Limits{Default: Limit{PerSecond: 10, Burst: 10}}

// New returns the vpclattice client the deployer should use: endpoint overrides the AWS endpoint
// (Local Lattice, LATTICE_ENDPOINT) when not empty; every attempt is counted in reg (nil reg
// skips metrics) and paced by the token buckets; throttling and 5xx are retried with backoff that
// honours Retry-After.
func New(cfg aws.Config, endpoint string, reg prometheus.Registerer, opts Options) (*vpclattice.Client, error) {
	limits := DefaultRateLimits
	if opts.RateLimits != nil {
		limits = *opts.RateLimits
	}
	var apiOptions []func(*middleware.Stack) error
	if reg != nil {
		m, err := NewMetrics(reg)
		if err != nil {
			return nil, fmt.Errorf("new lattice client: %w", err)
		}
		apiOptions = append(apiOptions, m.APIOption)
	}
	apiOptions = append(apiOptions, NewLimiter(limits).APIOption)
	return vpclattice.NewFromConfig(cfg, func(o *vpclattice.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = NewRetryer(opts.Retry)
		o.APIOptions = append(o.APIOptions, apiOptions...)
		if opts.Modify != nil {
			opts.Modify(o)
		}
	}), nil
}
