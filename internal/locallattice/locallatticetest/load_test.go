package locallatticetest

import (
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestLoadCountsFailures(t *testing.T) {
	var n atomic.Int64
	l := StartLoad(func() error {
		if n.Add(1) == 3 {
			return errors.New("third")
		}
		return nil
	})
	for l.Sent() < 10 {
		runtime.Gosched()
	}
	sent, failed, first := l.Stop()
	if sent < 10 || failed != 1 || first != "third" {
		t.Fatalf("sent %d, failed %d, first %q; want ≥10, 1, third", sent, failed, first)
	}
}
