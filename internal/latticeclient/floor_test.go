package latticeclient

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// A throttle cuts an operation's adaptive rate only while the operation sends more than
// floorRate attempts per second; other errors never do.
func TestThrottleCountsOnlyAboveFloorRate(t *testing.T) {
	now := time.Unix(1000, 0)
	op := &operation{clock: func() time.Time { return now }}
	throttle := &types.ThrottlingException{Message: aws.String("Rate exceeded"), RetryAfterSeconds: aws.Int32(1)}

	if got := op.isThrottle(throttle); got != aws.FalseTernary {
		t.Fatalf("first attempt throttled: %v, want false (no attempts above the floor)", got)
	}
	// floorRate attempts in one second: at the floor, not above it.
	for range floorRate {
		op.attempted()
		now = now.Add(time.Second / (floorRate + 1))
	}
	if got := op.isThrottle(throttle); got != aws.FalseTernary {
		t.Fatalf("at %d attempts per second: %v, want false", floorRate, got)
	}
	op.attempted()
	if got := op.isThrottle(throttle); got != aws.TrueTernary {
		t.Fatalf("at %d attempts in a second: %v, want true", floorRate+1, got)
	}
	if got := op.isThrottle(errors.New("boom")); got == aws.TrueTernary {
		t.Fatal("a plain error counted as a throttle")
	}
	// A second later the rate is back under the floor.
	now = now.Add(time.Second)
	if got := op.isThrottle(throttle); got != aws.FalseTernary {
		t.Fatalf("a second after the burst: %v, want false", got)
	}
}
