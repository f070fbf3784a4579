package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// targetDialer returns the DialFunc used for every connection to a target: DialMap first, then
// the configured Dialer or a plain net.Dialer.
func targetDialer(o Options) DialFunc {
	dial := o.Dialer
	if dial == nil {
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
		dial = d.DialContext
	}
	m := o.DialMap
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dial(ctx, network, m.MapHostPort(addr))
	}
}

// TB is the part of testing.TB that LoopbackOnlyDialer needs (kept small so that this package
// does not import testing).
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// LoopbackOnlyDialer returns a Dialer for tests that fails the test, and the dial, when anything
// tries to connect outside 127.0.0.0/8.
func LoopbackOnlyDialer(t TB) DialFunc {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().Unmap().Is4() || !ap.Addr().Unmap().IsLoopback() {
			t.Helper()
			t.Errorf("dial %s %s: outside 127.0.0.0/8", network, addr)
			return nil, fmt.Errorf("dial %s %s: refused outside 127.0.0.0/8", network, addr)
		}
		return d.DialContext(ctx, network, addr)
	}
}
