package latticeclient

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// VPC Lattice publishes no control-plane rate, so any fixed number is a guess: too low wastes
// minutes, too high gets throttled. The SDK's adaptive retry mode finds the rate instead: it
// sends unrestricted until the first ThrottlingException, then paces attempts with a CUBIC rate
// (multiplied by 0.7 on each throttle, growing again while calls succeed). One SDK adaptive mode
// limits the whole client, but AWS throttles per API action: a throttled CreateTargetGroup must
// not slow down RegisterTargets. perOperation keeps one adaptive mode per operation.
//
// Not every throttle answers to our rate: an account-wide limit shared with other clients, or a
// burst of throttles at random, arrives as readily at one call per second as at fifty. Fed to the
// CUBIC rate, each one cuts it by 0.7 until the SDK's floor of 0.5 per second, where a restarted
// controller spends minutes re-reading what it owns. So a throttle counts against the adaptive
// rate only while the operation sent more than floorRate attempts in the last second; below that
// the throttled call still waits its backoff (at least the server's Retry-After) before retrying.

// floorRate is the attempts per second per operation below which a throttle does not slow the
// operation down further: half the fixed 10 per second the controller used before it adapted, and
// far under what an endpoint limited to 10 per second takes.
const floorRate = 5

// perOperation is an aws.RetryerV2 whose attempt tokens come from the adaptive mode of the
// operation being called; everything that does not depend on the operation is the standard
// retryer's.
type perOperation struct {
	aws.RetryerV2
	newMode func(retry.IsErrorThrottle) *retry.AdaptiveMode

	mu  sync.Mutex
	ops map[string]*operation
}

// operation is one operation's adaptive mode and the times of its last attempts.
type operation struct {
	mode *retry.AdaptiveMode

	mu    sync.Mutex
	sent  [floorRate + 1]time.Time // ring of the latest attempts
	next  int
	clock func() time.Time
}

func newPerOperation(standard aws.RetryerV2, newMode func(retry.IsErrorThrottle) *retry.AdaptiveMode) *perOperation {
	return &perOperation{RetryerV2: standard, newMode: newMode, ops: map[string]*operation{}}
}

// GetAttemptToken waits for the operation's adaptive rate before each attempt, retries included.
func (p *perOperation) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	op := p.operation(awsmiddleware.GetOperationName(ctx))
	release, err := op.mode.GetAttemptToken(ctx)
	if err == nil {
		op.attempted()
	}
	return release, err
}

func (p *perOperation) operation(name string) *operation {
	p.mu.Lock()
	defer p.mu.Unlock()
	op, ok := p.ops[name]
	if !ok {
		op = &operation{clock: time.Now}
		op.mode = p.newMode(retry.IsErrorThrottleFunc(op.isThrottle))
		p.ops[name] = op
	}
	return op
}

func (o *operation) attempted() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent[o.next] = o.clock()
	o.next = (o.next + 1) % len(o.sent)
}

// aboveFloor reports whether more than floorRate attempts went out in the last second: the
// oldest of the last floorRate+1 is less than a second old.
func (o *operation) aboveFloor() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	oldest := o.sent[o.next]
	return !oldest.IsZero() && o.clock().Sub(oldest) < time.Second
}

// isThrottle is the SDK's throttle test, answering no below the floor rate.
func (o *operation) isThrottle(err error) aws.Ternary {
	t := retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err)
	if t == aws.TrueTernary && !o.aboveFloor() {
		return aws.FalseTernary
	}
	return t
}
