package latticeclient

// Keeping the client under the provider's request rates: an adaptive rate per operation (see
// adaptive.go), an optional fixed token bucket per operation as a ceiling, and a retry backoff
// with jitter that honours the Retry-After value Lattice puts on ThrottlingException and
// InternalServerException (the SDK's own backoff ignores it).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awsratelimit "github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// Limit is one token bucket: PerSecond requests per second on average, bursts of Burst.
// PerSecond <= 0 means unlimited.
type Limit struct {
	PerSecond float64
	Burst     int
}

// Limits gives each operation its own bucket, because AWS throttles per API action: Default
// applies to every operation not named in Operations (keyed by SDK operation name, e.g.
// "RegisterTargets").
type Limits struct {
	Default    Limit
	Operations map[string]Limit
}

// Ceiling is the same limit of perSecond calls per second (bursts of one second's worth) for every
// operation, or nil for perSecond <= 0: Options.RateLimits for a --lattice-api-max-tps value.
func Ceiling(perSecond float64) *Limits {
	if perSecond <= 0 {
		return nil
	}
	return &Limits{Default: Limit{PerSecond: perSecond, Burst: max(1, int(perSecond))}}
}

// Limiter hands out tokens per operation. The zero value is unusable; use NewLimiter.
type Limiter struct {
	limits  Limits
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// NewLimiter returns a limiter for l.
func NewLimiter(l Limits) *Limiter {
	return &Limiter{limits: l, buckets: map[string]*rate.Limiter{}}
}

// Wait blocks until operation op may send a request, or ctx ends.
func (l *Limiter) Wait(ctx context.Context, op string) error {
	b := l.bucket(op)
	if b == nil {
		return nil
	}
	if err := b.Wait(ctx); err != nil {
		return fmt.Errorf("rate limit %s: %w", op, err)
	}
	return nil
}

func (l *Limiter) bucket(op string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[op]; ok {
		return b
	}
	lim, ok := l.limits.Operations[op]
	if !ok {
		lim = l.limits.Default
	}
	var b *rate.Limiter
	if lim.PerSecond > 0 {
		burst := max(lim.Burst, 1)
		b = rate.NewLimiter(rate.Limit(lim.PerSecond), burst)
	}
	l.buckets[op] = b
	return b
}

// APIOption adds the limiter to a client's stack. It sits after the retry middleware, so every
// attempt, retries included, takes a token.
func (l *Limiter) APIOption(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("LatticeGatewayRateLimit",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
			middleware.FinalizeOutput, middleware.Metadata, error,
		) {
			if err := l.Wait(ctx, awsmiddleware.GetOperationName(ctx)); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}

// Retry configures retries of throttled and failed calls.
type Retry struct {
	// MaxAttempts per call, first attempt included (default 10).
	MaxAttempts int
	// Base is the first backoff (default 100ms); it doubles per attempt up to Max (default 20s).
	Base, Max time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 10
	}
	if r.Base <= 0 {
		r.Base = 100 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 20 * time.Second
	}
	return r
}

// NewRetryer returns an SDK retryer for r with an adaptive rate per operation. The SDK's retry
// quota is switched off: under sustained throttling it would turn retryable errors into
// failures, and the adaptive rate already slows the client down.
func NewRetryer(r Retry) aws.RetryerV2 {
	r = r.withDefaults()
	standard := func(o *retry.StandardOptions) {
		o.MaxAttempts = r.MaxAttempts
		o.MaxBackoff = r.Max
		o.RateLimiter = awsratelimit.None
		o.Backoff = Backoff{Base: r.Base, Max: r.Max}
	}
	return newPerOperation(retry.NewStandard(standard), func(throttle retry.IsErrorThrottle) *retry.AdaptiveMode {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			o.Throttles = []retry.IsErrorThrottle{throttle}
			o.StandardOptions = append(o.StandardOptions, standard)
		})
	})
}

// Backoff is full-jitter exponential backoff that never waits less than the server's
// Retry-After.
type Backoff struct {
	Base, Max time.Duration
}

// BackoffDelay implements retry.BackoffDelayer.
func (b Backoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	ceiling := b.Max
	if attempt < 30 {
		ceiling = min(b.Max, b.Base<<attempt)
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	if after := RetryAfter(err); after > d {
		// A little jitter above the server's hint keeps a crowd of clients from returning at the
		// same instant.
		d = after + time.Duration(rand.Int64N(int64(b.Base)+1))
	}
	return d, nil
}

// RetryAfter is the server's Retry-After hint carried by err, or 0.
func RetryAfter(err error) time.Duration {
	var secs *int32
	var te *types.ThrottlingException
	var ie *types.InternalServerException
	switch {
	case errors.As(err, &te):
		secs = te.RetryAfterSeconds
	case errors.As(err, &ie):
		secs = ie.RetryAfterSeconds
	}
	if secs == nil || *secs <= 0 {
		return 0
	}
	return time.Duration(*secs) * time.Second
}
