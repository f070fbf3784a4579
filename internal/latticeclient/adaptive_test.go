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

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// burst sends calls ListServices calls from 8 workers and returns how many attempts were
	// accepted and throttled.
	burst := func(calls int) (ok, throttled int64) {
		t.Helper()
		srv.ResetCounts()
		const workers = 8
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < calls; i += workers {
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
		return counts["ListServices"][http.StatusOK], counts["ListServices"][http.StatusTooManyRequests]
	}
	// Finding the rate from unrestricted costs a few throttles, not one per call.
	ok, throttled := burst(100)
	t.Logf("finding the rate: %d accepted, %d throttled", ok, throttled)
	if ok != 100 || throttled > 50 {
		t.Fatalf("finding the rate: %d accepted (want 100), %d throttled (want at most 50)", ok, throttled)
	}
	// Once found, the client keeps to it.
	ok, throttled = burst(200)
	t.Logf("at the rate: %d accepted, %d throttled", ok, throttled)
	if ok != 200 || throttled > 10 {
		t.Fatalf("at the rate: %d accepted (want 200), %d throttled (want at most 5%%)", ok, throttled)
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
