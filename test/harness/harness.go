// Package harness is what the integration tests (test/e2e, test/standalone, test/conformance and
// the command's own tests) share: one Eventually, Gateway API condition assertions, the
// controller started in-process, a process runner, and the manifests under testdata.
package harness

import (
	"errors"
	"testing"
	"time"
)

// Eventually polls cond every 50 ms until it returns nil, and fails t with cond's last error
// when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// That turns a yes/no condition into one for Eventually; what describes the state when it does
// not hold.
func That(cond func() bool, what func() string) func() error {
	return func() error {
		if cond() {
			return nil
		}
		return errors.New(what())
	}
}
