// Package latticeclient builds the aws-sdk-go-v2 clients the controller uses, for real AWS and
// for Local Lattice alike: VPC Lattice and the Resource Groups Tagging API, every attempt counted
// and timed (aws_api_calls_total, aws_api_call_duration_seconds), paced by an adaptive rate per
// operation under an optional fixed ceiling, and retried with backoff that honours Retry-After.
package latticeclient

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// Options tune the clients New and NewTagging build.
type Options struct {
	// RateLimits is a fixed ceiling per operation (a token bucket each), for accounts that want
	// one. Nil means none: the adaptive rate alone paces the client, starting unrestricted and
	// backing off on throttling.
	RateLimits *Limits
	// Retry configures retries with jittered backoff that honours Retry-After.
	Retry Retry
	// Modify is applied last, e.g. to set an HTTP client in tests.
	Modify func(*vpclattice.Options)
	// ModifyACM is Modify for the ACM client (NewACM).
	ModifyACM func(*acm.Options)
}

// middlewares are the stack additions every client gets: metrics (when reg is set), then the
// ceiling.
func (o Options) middlewares(reg prometheus.Registerer) ([]func(*middleware.Stack) error, error) {
	var out []func(*middleware.Stack) error
	if reg != nil {
		m, err := NewMetrics(reg)
		if err != nil {
			return nil, err
		}
		out = append(out, m.APIOption)
	}
	if o.RateLimits != nil {
		out = append(out, NewLimiter(*o.RateLimits).APIOption)
	}
	return out, nil
}

// New returns the vpclattice client the deployer should use: endpoint overrides the AWS endpoint
// (Local Lattice, LATTICE_ENDPOINT) when not empty; every attempt is counted in reg (nil reg
// skips metrics), paced per operation by the adaptive rate and the optional ceiling; throttling
// and 5xx are retried with backoff that honours Retry-After.
func New(cfg aws.Config, endpoint string, reg prometheus.Registerer, opts Options) (*vpclattice.Client, error) {
	mw, err := opts.middlewares(reg)
	if err != nil {
		return nil, fmt.Errorf("new lattice client: %w", err)
	}
	return vpclattice.NewFromConfig(cfg, func(o *vpclattice.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = NewRetryer(opts.Retry)
		o.APIOptions = append(o.APIOptions, mw...)
		if opts.Modify != nil {
			opts.Modify(o)
		}
	}), nil
}

// NewTagging returns a Resource Groups Tagging API client with the same metrics, pacing and
// retries as New. endpoint, when not empty, is the Lattice endpoint: Local Lattice serves the
// Tagging API on the same URL. opts.Modify does not apply (it is typed for vpclattice).
func NewTagging(cfg aws.Config, endpoint string, reg prometheus.Registerer, opts Options) (*resourcegroupstaggingapi.Client, error) {
	mw, err := opts.middlewares(reg)
	if err != nil {
		return nil, fmt.Errorf("new tagging client: %w", err)
	}
	return resourcegroupstaggingapi.NewFromConfig(cfg, func(o *resourcegroupstaggingapi.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = NewRetryer(opts.Retry)
		o.APIOptions = append(o.APIOptions, mw...)
	}), nil
}
