package latticeclient

import (
	"context"
	"sync"

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

// perOperation is an aws.RetryerV2 whose attempt tokens come from the adaptive mode of the
// operation being called; everything that does not depend on the operation is the standard
// retryer's.
type perOperation struct {
	aws.RetryerV2
	newMode func() *retry.AdaptiveMode

	mu    sync.Mutex
	modes map[string]*retry.AdaptiveMode
}

func newPerOperation(standard aws.RetryerV2, newMode func() *retry.AdaptiveMode) *perOperation {
	return &perOperation{RetryerV2: standard, newMode: newMode, modes: map[string]*retry.AdaptiveMode{}}
}

// GetAttemptToken waits for the operation's adaptive rate before each attempt, retries included.
func (p *perOperation) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	return p.mode(awsmiddleware.GetOperationName(ctx)).GetAttemptToken(ctx)
}

func (p *perOperation) mode(op string) *retry.AdaptiveMode {
	p.mu.Lock()
	defer p.mu.Unlock()
	m, ok := p.modes[op]
	if !ok {
		m = p.newMode()
		p.modes[op] = m
	}
	return m
}
