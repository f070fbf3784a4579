package dataplane

import (
	"net/netip"
	"time"
)

// A socket can fail to bind for reasons that pass (the address briefly held by another process,
// file descriptors exhausted under load). Waiting for the next store change to try again could
// leave a listener port or gateway address refusing connections indefinitely when nothing else
// changes, so failed binds are retried with backoff until they succeed or the socket is no
// longer needed.
const (
	rebindMinBackoff = 50 * time.Millisecond
	rebindMaxBackoff = 2 * time.Second
)

// bindMissing binds every socket the current tables need and does not have yet, and schedules
// a retry when one fails. The caller holds dp.mu.
func (dp *DataPlane) bindMissing() {
	failed := false
	for port := range dp.table.Load().ports {
		if _, ok := dp.listeners[port]; ok {
			continue
		}
		pl, err := dp.listen(dp.opts.DataPlaneAddr, port, netip.Addr{})
		if err != nil {
			dp.logBindFailure(err)
			failed = true
			continue
		}
		dp.listeners[port] = pl
		dp.log.V(1).Info("serving listener port", "port", port, "address", pl.ln.Addr().String())
	}
	for gp := range dp.gateways.Load().ports() {
		if _, ok := dp.gatewayListeners[gp]; ok {
			continue
		}
		pl, err := dp.listen(gp.addr.String(), gp.port, gp.addr)
		if err != nil {
			dp.logBindFailure(err)
			failed = true
			continue
		}
		dp.gatewayListeners[gp] = pl
		dp.log.V(1).Info("serving gateway address", "port", gp.port, "address", pl.ln.Addr().String())
	}
	if !failed {
		dp.rebindBackoff = 0
		return
	}
	if dp.rebind != nil {
		// A retry is already pending; this call keeps its backoff.
		return
	}
	dp.rebindBackoff = dp.nextRebindBackoff()
	dp.rebind = time.AfterFunc(dp.rebindBackoff, func() {
		dp.mu.Lock()
		defer dp.mu.Unlock()
		dp.rebind = nil
		if !dp.closed {
			dp.bindMissing()
		}
	})
}

// nextRebindBackoff doubles the backoff of the previous failed attempt, within bounds.
func (dp *DataPlane) nextRebindBackoff() time.Duration {
	return min(max(2*dp.rebindBackoff, rebindMinBackoff), rebindMaxBackoff)
}

// logBindFailure reports the first failure of a streak as an error and the retries at V(1), so
// that a socket that can never bind (a privileged port) does not flood the log.
func (dp *DataPlane) logBindFailure(err error) {
	if dp.rebindBackoff == 0 {
		dp.log.Error(err, "cannot bind socket, retrying with backoff")
		return
	}
	dp.log.V(1).Info("cannot bind socket, retrying", "error", err.Error(), "backoff", dp.rebindBackoff)
}
