package latticeclient

// Metrics count and time every AWS API attempt with Prometheus, from a smithy middleware attached
// through the SDK client's APIOptions.
//
// Attempts, not operations, are counted: a throttled call retried three times shows up as three
// calls, which is what the provider's rate limits see.

import (
	"context"
	"errors"
	"strconv"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lattice-gateway/lattice-gateway/internal/promreg"
)

// Metrics holds the collectors; one value serves any number of clients.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics creates the collectors and registers them with reg (nil means not registered). Registering
// twice on the same registry reuses the collectors already there, so several clients can share
// one registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aws_api_calls_total",
		Help: "AWS API call attempts by service, operation, HTTP status code and error code.",
	}, []string{"service", "operation", "status_code", "error_code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aws_api_call_duration_seconds",
		Help:    "Duration of AWS API call attempts.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"service", "operation"})
	if reg != nil {
		var err error
		if calls, err = promreg.Register(reg, calls); err != nil {
			return nil, err
		}
		if duration, err = promreg.Register(reg, duration); err != nil {
			return nil, err
		}
	}
	return &Metrics{calls: calls, duration: duration}, nil
}

// APIOption adds the middleware to a client's stack: vpclattice.Options.APIOptions = append(…,
// m.APIOption).
func (m *Metrics) APIOption(stack *middleware.Stack) error {
	// At the front of the deserialize step the middleware runs once per attempt (the retry loop
	// is in the finalize step) and sees the error already decoded into its modeled type.
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("LatticeGatewayAPIMetrics",
		func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
			middleware.DeserializeOutput, middleware.Metadata, error,
		) {
			start := time.Now()
			out, md, err := next.HandleDeserialize(ctx, in)
			service, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
			m.duration.WithLabelValues(service, op).Observe(time.Since(start).Seconds())
			m.calls.WithLabelValues(service, op, statusCode(out.RawResponse), errorCode(err)).Inc()
			return out, md, err
		}), middleware.Before)
}

func statusCode(raw any) string {
	if resp, ok := raw.(*smithyhttp.Response); ok && resp != nil && resp.Response != nil {
		return strconv.Itoa(resp.StatusCode)
	}
	return "0"
}

func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return "ClientError"
}
