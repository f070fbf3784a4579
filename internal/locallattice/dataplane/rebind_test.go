package dataplane

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/contract"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// gatewayFixture is one service network whose only service, with one HTTP listener on port 80
// forwarding to a backend, can be deleted and created again (as a conformance test's route is).
type gatewayFixture struct {
	f       *fixture
	sn      store.ServiceNetwork
	backend string
}

func newGatewayFixture(b *backend) *gatewayFixture {
	g := &gatewayFixture{f: newFixture(), backend: b.addr}
	g.f.service("seed", "")
	g.sn = g.f.snap.ServiceNetworks[0]
	return g
}

// withService is the service network with a fresh service (new IDs, as a re-created route's).
func (g *gatewayFixture) withService() *store.Snapshot {
	f := g.f
	g.clear()
	id := f.service("route", "")
	// f.service put the service in a network of its own: move it into the fixture's network.
	f.snap.ServiceNetworks, f.snap.VPCAssociations = []store.ServiceNetwork{g.sn}, nil
	f.snap.ServiceAssociations[0].ServiceNetworkID = g.sn.ID
	f.rule(f.listener(id, "HTTP", 80, fixed(404)), 1, (&httpMatch{path: "/"}).store(), forward(f.targetGroup("HTTP", "HTTP1", nil, "", g.backend), 1))
	return f.build()
}

// without is the service network with no service.
func (g *gatewayFixture) without() *store.Snapshot {
	g.clear()
	return g.f.build()
}

func (g *gatewayFixture) clear() {
	f := g.f
	f.snap.Services, f.snap.Listeners, f.snap.Rules, f.snap.TargetGroups, f.snap.ServiceAssociations = nil, nil, nil, nil, nil
	f.snap.ServiceNetworks = []store.ServiceNetwork{g.sn}
}

// TestGatewayRebindLoop deletes and re-creates the only service of a gateway address many times
// in a row, with keep-alive connections to the old socket open and closed ones in TIME_WAIT on
// the address, and requires the address to answer right after each re-creation.
func TestGatewayRebindLoop(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "rebind", "127.0.54.1:8090")
	g := newGatewayFixture(b)
	prefix := netip.MustParsePrefix("127.79.0.0/16")
	src := newFakeSource()
	src.publish(g.withService())
	dp := startDataPlane(t, src, "127.0.54.100", func(o *Options) { o.GatewayAddresses = prefix })
	gw := net.JoinHostPort(contract.GatewayAddress(prefix, g.sn.Name).String(), strconv.Itoa(80+testPortOffset))
	keepAlive := &http.Client{}
	// The server closes these first, which leaves the address's side in TIME_WAIT.
	closing := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 200 {
		for _, c := range []*http.Client{keepAlive, closing} {
			if code, e := get(t, c, mustRequest(t, "GET", "http://"+gw+"/")); code != http.StatusOK || e == nil {
				t.Fatalf("round %d: status %d from %s", i, code, gw)
			}
		}
		src.publish(g.without())
		src.publish(g.withService())
		if _, ok := dp.GatewayAddr(g.sn.Name, 80); !ok {
			t.Fatalf("round %d: gateway address not served after re-creation", i)
		}
	}
}

// TestBindRetried holds a gateway address and a listener port while the data plane needs them,
// then releases them: both are served without any further store change.
func TestBindRetried(t *testing.T) {
	t.Parallel()
	b := startBackend(t, "retried", "127.0.54.2:8090")
	g := newGatewayFixture(b)
	prefix := netip.MustParsePrefix("127.80.0.0/16")
	gw := net.JoinHostPort(contract.GatewayAddress(prefix, g.sn.Name).String(), strconv.Itoa(80+testPortOffset))
	shared := net.JoinHostPort("127.0.54.101", strconv.Itoa(80+testPortOffset))
	var holders []net.Listener
	for _, addr := range []string{gw, shared} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		holders = append(holders, ln)
	}
	src := newFakeSource()
	src.publish(g.withService())
	dp := startDataPlane(t, src, "127.0.54.101", func(o *Options) { o.GatewayAddresses = prefix })
	if _, ok := dp.GatewayAddr(g.sn.Name, 80); ok {
		t.Fatal("gateway address served while another socket holds it")
	}
	if _, ok := dp.ListenerAddr(80); ok {
		t.Fatal("listener port served while another socket holds it")
	}
	for _, ln := range holders {
		ln.Close()
	}
	eventually(t, "gateway address and listener port bound", func() bool {
		_, gwOK := dp.GatewayAddr(g.sn.Name, 80)
		_, portOK := dp.ListenerAddr(80)
		return gwOK && portOK
	})
	c := &http.Client{}
	if code, e := get(t, c, mustRequest(t, "GET", "http://"+gw+"/")); code != http.StatusOK || e == nil || e.Backend != "retried" {
		t.Fatalf("gateway address: status %d, answer %+v", code, e)
	}
}
