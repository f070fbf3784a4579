package latticeclient

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/prometheus/client_golang/prometheus"
)

// NewACM returns the ACM client that imports the certificates of Kubernetes Secrets, built like
// New's Lattice client: counted in the same metrics (service label "ACM"), paced the same way
// (adaptive rates and ceiling of its own), retried the same way. Local Lattice serves ACM on its
// Lattice API address, so endpoint is the Lattice endpoint; empty means AWS (or
// AWS_ENDPOINT_URL_ACM).
func NewACM(cfg aws.Config, endpoint string, reg prometheus.Registerer, opts Options) (*acm.Client, error) {
	mw, err := opts.middlewares(reg)
	if err != nil {
		return nil, fmt.Errorf("new ACM client: %w", err)
	}
	return acm.NewFromConfig(cfg, func(o *acm.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = NewRetryer(opts.Retry)
		o.APIOptions = append(o.APIOptions, mw...)
		if opts.ModifyACM != nil {
			opts.ModifyACM(o)
		}
	}), nil
}
