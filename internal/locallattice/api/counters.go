package api

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Counts are API calls by operation name and HTTP status code.
type Counts map[string]map[int]int64

// Total is the number of calls of all operations.
func (c Counts) Total() int64 {
	var n int64
	for _, codes := range c {
		for _, v := range codes {
			n += v
		}
	}
	return n
}

// Op is the number of calls of one operation, whatever their outcome.
func (c Counts) Op(op string) int64 {
	var n int64
	for _, v := range c[op] {
		n += v
	}
	return n
}

// Mutating is the number of calls of operations that change state (everything but Get*, List*
// and ACM's Describe*), the figure a steady-state controller must keep at zero.
func (c Counts) Mutating() int64 {
	var n int64
	for op := range c {
		if !isReadOnly(op) {
			n += c.Op(op)
		}
	}
	return n
}

func isReadOnly(op string) bool {
	return strings.HasPrefix(op, "Get") || strings.HasPrefix(op, "List") || strings.HasPrefix(op, "Describe")
}

// counters keeps resettable counts next to the Prometheus metrics, which can't be reset.
type counters struct {
	mu       sync.Mutex
	counts   Counts
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	registry *prometheus.Registry
}

func newCounters() *counters {
	c := &counters{
		counts: Counts{},
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "locallattice_api_calls_total",
			Help: "VPC Lattice API calls served by Local Lattice, by operation and HTTP status code.",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "locallattice_api_call_duration_seconds",
			Help:    "Latency of VPC Lattice API calls served by Local Lattice, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"operation"}),
		registry: prometheus.NewRegistry(),
	}
	c.registry.MustRegister(c.calls, c.duration, collectors.NewGoCollector())
	return c
}

func (c *counters) record(op string, code int, d time.Duration) {
	c.calls.WithLabelValues(op, strconv.Itoa(code)).Inc()
	c.duration.WithLabelValues(op).Observe(d.Seconds())
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts[op] == nil {
		c.counts[op] = map[int]int64{}
	}
	c.counts[op][code]++
}

func (c *counters) snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(Counts, len(c.counts))
	for op, codes := range c.counts {
		out[op] = make(map[int]int64, len(codes))
		for k, v := range codes {
			out[op][k] = v
		}
	}
	return out
}

func (c *counters) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = Counts{}
}
