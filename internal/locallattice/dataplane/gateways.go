package dataplane

import (
	"cmp"
	"context"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Gateway addresses (Options.GatewayAddresses): VPC Lattice service networks have no address,
// but a Gateway API Gateway needs one, and clients such as the Gateway API conformance suite send
// requests to it with any Host. Each service network is served on its own loopback address
// (model.GatewayAddress, the address translate writes into the Gateway's status), one socket per
// listener port of its services. A request arriving there is routed among that service network's
// services with a listener on the port, as one Gateway would route among its routes:
//
//   - the candidates are the services whose generated DNS name or custom domain is the Host;
//     when there are none, the services without a custom domain (routes without hostnames);
//   - their non-default rules are merged and tried most specific first, as Gateway API ranks
//     matches across routes: exact path before prefix, longer paths first, then rules with a
//     method, then more header matches; ties go to the older service, then to rule priority;
//   - the first matching rule serves; when none matches the answer is 404.

// gatewayTable maps each served gateway address to its service network's routes by port.
type gatewayTable struct {
	addrs map[netip.Addr]map[int32][]candidate
}

// candidate is one non-default rule of a service's listener.
type candidate struct {
	rt    *route
	rule  *rule
	names []string // the service's DNS name and custom domain, normalised
	// custom reports whether the service has a custom domain: such a service serves only its
	// own names, as a route with hostnames serves only those.
	custom bool
}

// gatewayPort is one socket of a gateway address.
type gatewayPort struct {
	addr netip.Addr
	port int32
}

// compileGateways indexes the compiled table by service network address. When two service
// networks hash to one address the older one is served there.
func compileGateways(snap *store.Snapshot, t *table, prefix netip.Prefix) *gatewayTable {
	out := &gatewayTable{addrs: map[netip.Addr]map[int32][]candidate{}}
	if !prefix.IsValid() {
		return out
	}
	networks := slices.Clone(snap.ServiceNetworks)
	slices.SortStableFunc(networks, func(a, b store.ServiceNetwork) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Name, b.Name))
	})
	snAddr := map[string]netip.Addr{}
	for _, sn := range networks {
		addr := model.GatewayAddress(prefix, sn.Name)
		if _, taken := out.addrs[addr]; taken || !addr.IsValid() {
			continue
		}
		out.addrs[addr] = map[int32][]candidate{}
		snAddr[sn.ID] = addr
	}
	services := map[string]*store.Service{}
	for i := range snap.Services {
		services[snap.Services[i].ID] = &snap.Services[i]
	}
	type member struct {
		svc  *store.Service
		addr netip.Addr
	}
	var members []member
	for _, a := range snap.ServiceAssociations {
		addr, ok := snAddr[a.ServiceNetworkID]
		if svc := services[a.ServiceID]; ok && svc != nil {
			members = append(members, member{svc, addr})
		}
	}
	slices.SortStableFunc(members, func(a, b member) int {
		return cmp.Or(a.svc.CreatedAt.Compare(b.svc.CreatedAt), cmp.Compare(a.svc.Name, b.svc.Name))
	})
	for _, m := range members {
		names := hostNames(m.svc)
		if len(names) == 0 {
			continue
		}
		for port, pr := range t.ports {
			// The compiled route is keyed by each of the service's names; the first one is
			// always there for HTTP and HTTPS listeners.
			rt := pr.hosts[names[0]]
			if rt == nil || rt.service.ID != m.svc.ID {
				// TLS passthrough routes are keyed by the custom domain only.
				if len(names) < 2 || pr.hosts[names[1]] == nil || pr.hosts[names[1]].service.ID != m.svc.ID {
					continue
				}
				rt = pr.hosts[names[1]]
			}
			byPort := out.addrs[m.addr]
			if _, ok := byPort[port]; !ok {
				// Served even without rules: 404 rather than a refused connection, and TLS
				// passthrough is routed by SNI on any socket.
				byPort[port] = nil
			}
			if rt.listener.Protocol == "TLS_PASSTHROUGH" {
				continue
			}
			for _, ru := range rt.rules {
				if ru.arn == "" {
					continue
				}
				byPort[port] = append(byPort[port], candidate{rt: rt, rule: ru, names: names, custom: m.svc.CustomDomainName != ""})
			}
		}
	}
	for _, byPort := range out.addrs {
		for _, cs := range byPort {
			slices.SortStableFunc(cs, func(a, b candidate) int { return compareSpecificity(b.rule.match, a.rule.match) })
		}
	}
	return out
}

// compareSpecificity orders matches as Gateway API precedence does (more specific is greater).
// A match without a path counts as the prefix "/", as Gateway API defaults it.
func compareSpecificity(a, b *matcher) int {
	key := func(m *matcher) (exact, pathLen, method, headers int) {
		if m == nil {
			return 0, 1, 0, 0
		}
		pathLen = 1
		if m.path != nil {
			pathLen = len(m.path.value)
			if !m.path.prefix {
				exact = 1
			}
		}
		if m.method != "" {
			method = 1
		}
		return exact, pathLen, method, len(m.headers)
	}
	ae, al, am, ah := key(a)
	be, bl, bm, bh := key(b)
	return cmp.Or(cmp.Compare(ae, be), cmp.Compare(al, bl), cmp.Compare(am, bm), cmp.Compare(ah, bh))
}

// route picks the service and rule for a request that arrived on a gateway address; nil when
// nothing matches.
func (g *gatewayTable) route(addr netip.Addr, port int32, r *http.Request) (*route, *rule) {
	cs := g.addrs[addr][port]
	host := requestHost(r.Host)
	named := slices.ContainsFunc(cs, func(c candidate) bool { return slices.Contains(c.names, host) })
	for _, c := range cs {
		eligible := !c.custom
		if named {
			eligible = slices.Contains(c.names, host)
		}
		if eligible && c.rule.match.matches(r) {
			return c.rt, c.rule
		}
	}
	return nil, nil
}

// ports lists every socket the gateway addresses need.
func (g *gatewayTable) ports() map[gatewayPort]bool {
	out := map[gatewayPort]bool{}
	for addr, byPort := range g.addrs {
		for port := range byPort {
			out[gatewayPort{addr, port}] = true
		}
	}
	return out
}

// reconcileGateways publishes the gateway routes of snap and binds or closes gateway sockets.
// The caller holds dp.mu.
func (dp *DataPlane) reconcileGateways(snap *store.Snapshot, t *table) {
	g := compileGateways(snap, t, dp.opts.GatewayAddresses)
	dp.gateways.Store(g)
	want := g.ports()
	for gp := range want {
		if _, ok := dp.gatewayListeners[gp]; ok {
			continue
		}
		pl, err := dp.listen(gp.addr.String(), gp.port, gp.addr)
		if err != nil {
			dp.log.Error(err, "cannot serve gateway address")
			continue
		}
		dp.gatewayListeners[gp] = pl
		dp.log.V(1).Info("serving gateway address", "port", gp.port, "address", pl.ln.Addr().String())
	}
	for gp, pl := range dp.gatewayListeners {
		if !want[gp] {
			ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			pl.close(ctx)
			time.AfterFunc(drainTimeout, cancel)
			delete(dp.gatewayListeners, gp)
		}
	}
}

// GatewayAddr is where Lattice listener port of the service network named serviceNetwork is
// served, if it is.
func (dp *DataPlane) GatewayAddr(serviceNetwork string, port int32) (string, bool) {
	addr := model.GatewayAddress(dp.opts.GatewayAddresses, serviceNetwork)
	dp.mu.Lock()
	defer dp.mu.Unlock()
	pl, ok := dp.gatewayListeners[gatewayPort{addr, port}]
	if !ok {
		return "", false
	}
	return pl.ln.Addr().String(), true
}
