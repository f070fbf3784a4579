package latticeclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
)

// A real SDK client against an HTTP server that answers one success and one modeled error.
func TestCountsAttemptsByStatusAndErrorCode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/services/svc-missing") {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"no such service","resourceId":"svc-missing","resourceType":"SERVICE"}`))
			return
		}
		_, _ = w.Write([]byte(`{"items":[]}`))
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	m, err := latticeclient.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := latticeclient.NewMetrics(reg); err != nil {
		t.Fatalf("second registration on the same registry: %v", err)
	}
	client := vpclattice.New(vpclattice.Options{Region: "us-west-2", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}, APIOptions: []func(*middleware.Stack) error{m.APIOption}})
	ctx := context.Background()
	if _, err := client.ListServices(ctx, &vpclattice.ListServicesInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: aws.String("svc-missing")}); err == nil {
		t.Fatal("want an error")
	}
	want := `
# HELP aws_api_calls_total AWS API call attempts by service, operation, HTTP status code and error code.
# TYPE aws_api_calls_total counter
aws_api_calls_total{error_code="",operation="ListServices",service="VPC Lattice",status_code="200"} 1
aws_api_calls_total{error_code="ResourceNotFoundException",operation="GetService",service="VPC Lattice",status_code="404"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "aws_api_calls_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(reg, "aws_api_call_duration_seconds"); n != 2 {
		t.Fatalf("%d duration series, want 2", n)
	}
}
