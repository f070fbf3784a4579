package latticeclient_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
)

// The default client against Local Lattice limited to 20 calls per second per operation: it
// starts unrestricted, finds the rate and keeps to it, so every call succeeds and only a few
// attempts are throttled, not a storm; an operation throttled this way does not slow another.
func TestAdaptiveRateConvergesUnderTPSLimit(t *testing.T) {
	srv := locallatticetest.Start(t, locallattice.Options{API: api.Options{Faults: api.Faults{TPSLimit: 20}},
		Logger: locallatticetest.Silent}).API
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := aws.Config{Region: "us-west-2", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
	})}
	client, err := latticeclient.New(cfg, srv.URL(), prometheus.NewRegistry(), latticeclient.Options{
		Retry:  latticeclient.Retry{MaxAttempts: 20},
		Modify: func(o *vpclattice.Options) { o.HTTPClient = &http.Client{Transport: tr} },
	})
	if err != nil {
		t.Fatal(err)
	}

	const workers, perWorker = 8, 25
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perWorker {
				if _, err := client.ListServices(ctx, &vpclattice.ListServicesInput{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("call failed: %v", err)
	}
	counts := srv.Counts()
	ok, throttled := counts["ListServices"][http.StatusOK], counts["ListServices"][http.StatusTooManyRequests]
	t.Logf("ListServices: %d accepted, %d throttled", ok, throttled)
	if ok != workers*perWorker {
		t.Fatalf("accepted %d calls, want %d", ok, workers*perWorker)
	}
	if limit := int64(workers * perWorker / 10); throttled > limit {
		t.Fatalf("%d attempts throttled for %d calls: more than %d, a throttle storm", throttled, ok, limit)
	}

	// Another operation has its own rate: its first calls go out unrestricted.
	srv.ResetCounts()
	for range 5 {
		if _, err := client.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.Counts().Op("ListServiceNetworks"); got != 5 {
		t.Fatalf("ListServiceNetworks attempts = %d, want 5 (none throttled)", got)
	}
}
