package latticeclient

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

func TestBackoffHonoursRetryAfter(t *testing.T) {
	b := Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	cases := []struct {
		name     string
		err      error
		min, max time.Duration
	}{
		{"plain error: jittered exponential up to the cap", errors.New("boom"), 0, 100 * time.Millisecond},
		{"throttled with Retry-After 2", &types.ThrottlingException{RetryAfterSeconds: aws.Int32(2)}, 2 * time.Second, 2*time.Second + 10*time.Millisecond},
		{"internal error with Retry-After 1", &types.InternalServerException{RetryAfterSeconds: aws.Int32(1)}, time.Second, time.Second + 10*time.Millisecond},
		{"throttled without Retry-After", &types.ThrottlingException{}, 0, 100 * time.Millisecond},
		{"wrapped", errors.Join(errors.New("ctx"), &types.ThrottlingException{RetryAfterSeconds: aws.Int32(1)}), time.Second, time.Second + 10*time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for attempt := 1; attempt <= 40; attempt++ {
				d, err := b.BackoffDelay(attempt, c.err)
				if err != nil {
					t.Fatal(err)
				}
				if d < c.min || d > c.max {
					t.Fatalf("attempt %d: delay %v not in [%v, %v]", attempt, d, c.min, c.max)
				}
			}
		})
	}
}

func TestLimiterPerOperation(t *testing.T) {
	l := NewLimiter(Limits{Default: Limit{PerSecond: 1, Burst: 1}, Operations: map[string]Limit{"ListTargets": {}}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	cases := []struct {
		op      string
		wantErr bool
	}{
		{"CreateRule", false}, // the burst token
		{"CreateRule", true},  // the next one is a second away, past the deadline
		{"DeleteRule", false}, // its own bucket
		{"ListTargets", false},
		{"ListTargets", false}, // unlimited
	}
	for _, c := range cases {
		if err := l.Wait(ctx, c.op); (err != nil) != c.wantErr {
			t.Fatalf("%s: err=%v, want error %v", c.op, err, c.wantErr)
		}
	}
}
