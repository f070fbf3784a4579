package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgta "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
)

// BenchmarkAPIThroughput measures calls per second from a parallel SDK client over loopback HTTP.
// The "baseline" case answers GetService from a static handler, so the ratio to it isolates Local
// Lattice's own cost from the SDK's and net/http's.
func BenchmarkAPIThroughput(b *testing.B) {
	srv, c := start(b, nil)
	fx := newFixture(b, c, "bench")
	for i := range 50 {
		must(c.RegisterTargets(context.Background(), &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: fx.tg.Id,
			Targets: []types.Target{{Id: aws.String(fmt.Sprintf("10.244.0.%d", i+1))}}}))
	}
	static := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"svc-00000000000000000","name":"bench-svc","status":"ACTIVE"}`))
	}))
	b.Cleanup(static.Close)
	baseline := vpclattice.New(c.Options(), func(o *vpclattice.Options) { o.BaseEndpoint = aws.String(static.URL) })
	var n atomic.Int64

	cases := []struct {
		name string
		call func(cx context.Context) error
	}{
		{"baseline-static-GetService", func(cx context.Context) error {
			_, err := baseline.GetService(cx, &vpclattice.GetServiceInput{ServiceIdentifier: fx.svc.Id})
			return err
		}},
		{"GetService", func(cx context.Context) error {
			_, err := c.GetService(cx, &vpclattice.GetServiceInput{ServiceIdentifier: fx.svc.Id})
			return err
		}},
		{"ListTargets-50", func(cx context.Context) error {
			_, err := c.ListTargets(cx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: fx.tg.Id})
			return err
		}},
		{"TagResource", func(cx context.Context) error {
			_, err := c.TagResource(cx, &vpclattice.TagResourceInput{ResourceArn: fx.svc.Arn, Tags: map[string]string{"k": "v"}})
			return err
		}},
		{"CreateDeleteTargetGroup", func(cx context.Context) error {
			tg, err := c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{
				Name: aws.String(fmt.Sprintf("bench-%d", n.Add(1))), Type: types.TargetGroupTypeLambda})
			if err != nil {
				return err
			}
			_, err = c.DeleteTargetGroup(cx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: tg.Id})
			return err
		}},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			cx := context.Background()
			srv.ResetCounts()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := tc.call(cx); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}

// BenchmarkGetResourcesPage measures one GetResources page of 100 (over the SDK's RPC v2 CBOR)
// in the middle of accounts of growing size: the cost must follow the page, not the account.
func BenchmarkGetResourcesPage(b *testing.B) {
	for _, n := range []int{200, 2000, 8000} {
		b.Run(fmt.Sprintf("tagged=%d", n), func(b *testing.B) {
			srv, c := start(b, func(o *api.Options) { o.Quotas.Services = n })
			cx := context.Background()
			tags := map[string]string{"ManagedBy": "123456789012/bench/vpc-1"}
			for i := range n {
				must(c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("bench-%d", i)), Tags: tags}))
			}
			tc := taggingClient(srv)
			in := &rgta.GetResourcesInput{TagFilters: ownedBy(tags["ManagedBy"]), ResourcesPerPage: aws.Int32(100)}
			// A token from the middle of the account.
			for range n / 200 {
				in.PaginationToken = must(tc.GetResources(cx, in)).PaginationToken
			}
			b.ResetTimer()
			for b.Loop() {
				if out := must(tc.GetResources(cx, in)); len(out.ResourceTagMappingList) != 100 {
					b.Fatalf("page of %d", len(out.ResourceTagMappingList))
				}
			}
		})
	}
}
