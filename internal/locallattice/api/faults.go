package api

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Faults are the fault-injection and timing settings, all off by default. JSON durations are Go
// duration strings ("250ms").
type Faults struct {
	// AsyncDelay is how long creates stay CREATE_IN_PROGRESS and deletes DELETE_IN_PROGRESS.
	AsyncDelay time.Duration
	// APILatency is added to every call.
	APILatency time.Duration
	// TPSLimit is a token bucket per operation (burst: one second's worth); 0 disables it.
	TPSLimit float64
	// ThrottleRate and ErrorRate are the fractions of calls answered with ThrottlingException and
	// InternalServerException.
	ThrottleRate float64
	ErrorRate    float64
}

type faultsJSON struct {
	AsyncDelay   string  `json:"asyncDelay"`
	APILatency   string  `json:"apiLatency"`
	TPSLimit     float64 `json:"tpsLimit"`
	ThrottleRate float64 `json:"throttleRate"`
	ErrorRate    float64 `json:"errorRate"`
}

// MarshalJSON writes durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{AsyncDelay: f.AsyncDelay.String(), APILatency: f.APILatency.String(),
		TPSLimit: f.TPSLimit, ThrottleRate: f.ThrottleRate, ErrorRate: f.ErrorRate})
}

// UnmarshalJSON reads a partial update: absent members keep their value.
func (f *Faults) UnmarshalJSON(b []byte) error {
	cur := faultsJSON{AsyncDelay: f.AsyncDelay.String(), APILatency: f.APILatency.String(),
		TPSLimit: f.TPSLimit, ThrottleRate: f.ThrottleRate, ErrorRate: f.ErrorRate}
	if err := json.Unmarshal(b, &cur); err != nil {
		return err
	}
	async, err := time.ParseDuration(cur.AsyncDelay)
	if err != nil {
		return fmt.Errorf("asyncDelay: %w", err)
	}
	lat, err := time.ParseDuration(cur.APILatency)
	if err != nil {
		return fmt.Errorf("apiLatency: %w", err)
	}
	*f = Faults{AsyncDelay: async, APILatency: lat, TPSLimit: cur.TPSLimit, ThrottleRate: cur.ThrottleRate, ErrorRate: cur.ErrorRate}
	return f.validate()
}

func (f Faults) validate() error {
	switch {
	case f.AsyncDelay < 0 || f.APILatency < 0:
		return fmt.Errorf("durations must not be negative")
	case f.TPSLimit < 0 || math.IsNaN(f.TPSLimit) || math.IsInf(f.TPSLimit, 0):
		return fmt.Errorf("tpsLimit must be a non-negative number")
	case !(f.ThrottleRate >= 0 && f.ThrottleRate <= 1) || !(f.ErrorRate >= 0 && f.ErrorRate <= 1):
		return fmt.Errorf("throttleRate and errorRate must be between 0 and 1")
	}
	return nil
}

// faultInjector applies Faults to each call.
type faultInjector struct {
	mu       sync.Mutex
	f        Faults
	limiters map[string]*rate.Limiter
}

func (fi *faultInjector) get() Faults {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	return fi.f
}

func (fi *faultInjector) set(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if f.TPSLimit != fi.f.TPSLimit {
		fi.limiters = nil
	}
	fi.f = f
	return nil
}

// admit sleeps the configured latency and decides whether the call fails.
func (fi *faultInjector) admit(op string) *apiError {
	fi.mu.Lock()
	f := fi.f
	var lim *rate.Limiter
	if f.TPSLimit > 0 {
		if fi.limiters == nil {
			fi.limiters = map[string]*rate.Limiter{}
		}
		lim = fi.limiters[op]
		if lim == nil {
			lim = rate.NewLimiter(rate.Limit(f.TPSLimit), max(1, int(math.Ceil(f.TPSLimit))))
			fi.limiters[op] = lim
		}
	}
	fi.mu.Unlock()
	if f.APILatency > 0 {
		time.Sleep(f.APILatency)
	}
	if lim != nil {
		now := time.Now()
		if r := lim.ReserveN(now, 1); r.DelayFrom(now) > 0 {
			wait := r.DelayFrom(now)
			r.CancelAt(now)
			return throttled(max(1, int(math.Ceil(wait.Seconds()))))
		}
	}
	if f.ThrottleRate > 0 && rand.Float64() < f.ThrottleRate {
		return throttled(1)
	}
	if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
		return internalError("injected internal error")
	}
	return nil
}
