package latticeclient

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/prometheus/client_golang/prometheus"
)

// NewACM returns the ACM client that imports the certificates of Kubernetes Secrets, built like
// New's Lattice client: counted in the same metrics (service label "ACM"), paced by the same
// per-operation limits (a bucket of its own), retried the same way. Local Lattice serves ACM on
// its Lattice API address, so endpoint is the Lattice endpoint; empty means AWS (or
// AWS_ENDPOINT_URL_ACM).
func NewACM(cfg aws.Config, endpoint string, reg prometheus.Registerer, opts Options) (*acm.Client, error) {
	limits := DefaultRateLimits
	if opts.RateLimits != nil {
		limits = *opts.RateLimits
	}
	var m *Metrics
	if reg != nil {
		var err error
		if m, err = NewMetrics(reg); err != nil {
			return nil, fmt.Errorf("new ACM client: %w", err)
		}
	}
	return acm.NewFromConfig(cfg, func(o *acm.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = NewRetryer(opts.Retry)
		if m != nil {
			o.APIOptions = append(o.APIOptions, m.APIOption)
		}
		o.APIOptions = append(o.APIOptions, NewLimiter(limits).APIOption)
		if opts.ModifyACM != nil {
			opts.ModifyACM(o)
		}
	}), nil
}
