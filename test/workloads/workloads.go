// Package workloads runs the containers of simulated Pods inside the test process: the demo's
// workloads (internal/demo/workload: the demo app and a plain echo) plus the Gateway API
// conformance image echo-basic (HTTP, h2c, gRPC, HTTPS, TCP echo), which the shipped binary does
// not link.
//
// Any container may set STARTUP_DELAY (a Go duration): its app then binds its sockets only that
// long after the container started, as a slow-starting app that Kubernetes, without a readiness
// probe, already counts ready.
package workloads

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/demo/workload"
)

// The demo's workload types, extended here with EchoBasic.
type (
	Kind      = workload.Kind
	Container = workload.Container
	Running   = workload.Running
)

const (
	// EchoBasic answers like the Gateway API conformance image echo-basic (JSON echo, h2c, gRPC, HTTPS).
	EchoBasic    Kind = "echo-basic"
	DemoApp           = workload.DemoApp
	PlainEcho         = workload.PlainEcho
	DemoAppImage      = workload.DemoAppImage
)

// PlainEchoResponse is the plain echo's JSON answer.
type PlainEchoResponse = workload.PlainEchoResponse

// KindOf chooses the workload for an image reference.
func KindOf(image string) Kind {
	if strings.Contains(workload.ImageName(image), "echo-basic") {
		return EchoBasic
	}
	return workload.KindOf(image)
}

// StartupDelayEnv is the environment variable that delays a container's app.
const StartupDelayEnv = "STARTUP_DELAY"

// Start runs the container's workload. It returns once every socket is bound, so the Pod can be
// reported Ready immediately; with STARTUP_DELAY it returns at once and binds them later.
func Start(c Container, log logr.Logger) (*Running, error) {
	v, ok := c.Env[StartupDelayEnv]
	if !ok {
		return startNow(c, log)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return nil, fmt.Errorf("container %s: %s=%q: %w", c.Name, StartupDelayEnv, v, err)
	}
	s := &slowStart{}
	s.timer = time.AfterFunc(d, func() { s.start(c, log) })
	r := &Running{Kind: KindOf(c.Image)}
	r.Add(netip.AddrPortFrom(c.Addr, 0), s)
	return r, nil
}

func startNow(c Container, log logr.Logger) (*Running, error) {
	if KindOf(c.Image) == EchoBasic {
		return workload.Run(c, EchoBasic, startEchoBasic, log)
	}
	return workload.Start(c, log)
}

// slowStart is an app that has not bound its sockets yet, or the app once it has.
type slowStart struct {
	timer   *time.Timer
	mu      sync.Mutex
	stopped bool
	app     *Running
}

func (s *slowStart) start(c Container, log logr.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	app, err := startNow(c, log)
	if err != nil {
		// A real app failing to start would crash-loop; here it just never listens.
		log.Error(err, "delayed start", "pod", c.Namespace+"/"+c.Pod, "container", c.Name)
		return
	}
	s.app = app
}

func (s *slowStart) Close() error {
	s.timer.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.app == nil {
		return nil
	}
	return s.app.Close()
}

// PodOf tells which Pod produced an answer body of any workload.
func PodOf(body []byte) (string, bool) { return workload.PodOf(body) }

// stopFunc adapts servers that stop with a method other than Close (gRPC).
type stopFunc func()

func (f stopFunc) Close() error {
	f()
	return nil
}
