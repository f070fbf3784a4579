// Package locallatticetest gives a test a running Local Lattice and a real SDK client of it in
// one line:
//
//	ll := locallatticetest.Start(t, locallattice.Options{})
//	ll.Client.CreateService(ctx, ...)
package locallatticetest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/go-logr/logr/funcr"
	"github.com/go-logr/logr/testr"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
)

// Test defaults for what Options leave empty.
const (
	Region    = "us-west-2"
	AccountID = "123456789012"
)

// Silent drops every log line, for suites whose output would drown in Local Lattice's.
var Silent = funcr.New(func(string, string) {}, funcr.Options{})

// Instance is a running Local Lattice with an SDK client of its API.
type Instance struct {
	*locallattice.Instance
	Client *vpclattice.Client
}

// Start starts Local Lattice for t and closes it when t ends. Zero options get test defaults:
// region Region, account AccountID, the API on a free loopback port without admin endpoint, and
// logs to t. A data plane, when asked for, gets its DNS server on a free port of its address, a
// temporary data directory, and a dialer that fails t on any dial outside 127.0.0.0/8.
func Start(t testing.TB, o locallattice.Options) *Instance {
	t.Helper()
	if o.API.Region == "" {
		o.API.Region = Region
	}
	if o.API.AccountID == "" {
		o.API.AccountID = AccountID
	}
	if tt, ok := t.(*testing.T); ok && o.Logger.GetSink() == nil {
		o.Logger = testr.New(tt)
	}
	if o.DataPlane != nil {
		dp := *o.DataPlane
		if dp.DataPlaneAddr == "" {
			dp.DataPlaneAddr = dataplane.DefaultDataPlaneAddr
		}
		if dp.DNSAddr == "" {
			dp.DNSAddr = dp.DataPlaneAddr + ":0"
		}
		if dp.DataDir == "" {
			dp.DataDir = t.TempDir()
		}
		if dp.Dialer == nil {
			dp.Dialer = dataplane.LoopbackOnlyDialer(t)
		}
		o.DataPlane = &dp
	}
	in, err := locallattice.Start(t.Context(), o)
	// A port picked free for the DNS server's UDP socket may be taken for TCP: try again.
	for attempt := 1; err != nil && o.DataPlane != nil && attempt < 3; attempt++ {
		in, err = locallattice.Start(t.Context(), o)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close)
	return &Instance{Instance: in, Client: in.NewClient()}
}
