package latticeclient

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
)

// NewTagging returns the Resource Groups Tagging API client that finds exported target groups by
// tag. endpoint, when set, is the Lattice endpoint override: Local Lattice serves the Tagging API
// on the same URL. It retries like the Lattice client; its few calls (one per ServiceImport per
// refresh) need neither metrics nor a rate limit.
func NewTagging(cfg aws.Config, endpoint string, retry Retry) *rgta.Client {
	return rgta.NewFromConfig(cfg, func(o *rgta.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.Retryer = NewRetryer(retry)
	})
}
