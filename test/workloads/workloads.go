// Package workloads runs the containers of simulated Pods inside the test process: the demo's
// workloads (internal/demo/workload: the demo app and a plain echo) plus the Gateway API
// conformance image echo-basic (HTTP, h2c, gRPC, HTTPS, TCP echo), which the shipped binary does
// not link.
package workloads

import (
	"strings"

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

// Start runs the container's workload. It returns once every socket is bound, so the Pod can be
// reported Ready immediately.
func Start(c Container, log logr.Logger) (*Running, error) {
	if KindOf(c.Image) == EchoBasic {
		return workload.Run(c, EchoBasic, startEchoBasic, log)
	}
	return workload.Start(c, log)
}

// PodOf tells which Pod produced an answer body of any workload.
func PodOf(body []byte) (string, bool) { return workload.PodOf(body) }

// stopFunc adapts servers that stop with a method other than Close (gRPC).
type stopFunc func()

func (f stopFunc) Close() error {
	f()
	return nil
}
