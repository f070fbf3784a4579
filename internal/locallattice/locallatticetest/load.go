package locallatticetest

import (
	"sync"
	"sync/atomic"
)

// Load keeps requests flowing while a test changes something (a target-group switch, a
// certificate rotation, a controller migration), counting them and their failures.
type Load struct {
	sent, failed atomic.Int64
	first        atomic.Value
	stop         chan struct{}
	wg           sync.WaitGroup
}

// StartLoad runs each send in its own goroutine, again and again, until Stop.
func StartLoad(sends ...func() error) *Load {
	l := &Load{stop: make(chan struct{})}
	for _, send := range sends {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.sent.Add(1)
				if err := send(); err != nil {
					l.failed.Add(1)
					l.first.CompareAndSwap(nil, err.Error())
				}
			}
		}()
	}
	return l
}

// Sent is the number of requests started so far.
func (l *Load) Sent() int64 { return l.sent.Load() }

// Stop ends the load and waits for the requests in flight; firstErr is the first failure's error.
func (l *Load) Stop() (sent, failed int64, firstErr string) {
	close(l.stop)
	l.wg.Wait()
	first, _ := l.first.Load().(string)
	return l.sent.Load(), l.failed.Load(), first
}
