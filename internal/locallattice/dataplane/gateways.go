package dataplane

import (
	"cmp"
	"context"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/contract"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// Gateway addresses (Options.GatewayAddresses): VPC Lattice service networks have no address,
// but a Gateway API Gateway needs one, and clients such as the Gateway API conformance suite send
// requests to it with any Host. Each service network is served on its own loopback address
// (contract.GatewayAddress, the address translate writes into the Gateway's status), one socket per
// listener port of its services. A request arriving there is routed among that service network's
// services with a listener on the port, as one Gateway would route among its routes:
//
//   - a service serves the Host when it is the service's generated DNS name or custom domain,
//     or one of the route hostnames in its contract.TagHostnames tag ("*.x" matching any name
//     below x); a service with neither a custom domain nor that tag (a route without hostnames)
//     serves any Host;
//   - among the rules of those services that match the request, the most specific Host match
//     wins (exact before wildcard, longer first, then services serving any Host), as Gateway API
//     ranks hostnames across routes; then the most specific rule: exact path before prefix,
//     longer paths first, then rules with a method, then more header matches; ties go to the
//     older service, then to rule priority;
//   - when no rule matches the answer is 404.

// gatewayTable maps each served gateway address to its service network's routes by port.
type gatewayTable struct {
	addrs map[netip.Addr]map[int32][]candidate
	// certs are each socket's imported certificates of HTTPS services, for unknown SNIs.
	certs map[gatewayPort][]*importedCert
}

// candidate is one non-default rule of a service's listener.
type candidate struct {
	rt    *route
	rule  *rule
	names []string // the service's DNS name and custom domain, normalised
	// hostnames are the route hostnames of the contract.TagHostnames tag, a wildcard as ".x".
	hostnames []string
	// anyHost: no custom domain and no hostnames tag, so a route without hostnames.
	anyHost bool
}

// gatewayPort is one socket of a gateway address.
type gatewayPort struct {
	addr netip.Addr
	port int32
}

// compileGateways indexes the compiled table by service network address. When two service
// networks hash to one address the older one is served there.
func compileGateways(snap *store.Snapshot, t *table, prefix netip.Prefix) *gatewayTable {
	out := &gatewayTable{addrs: map[netip.Addr]map[int32][]candidate{}, certs: map[gatewayPort][]*importedCert{}}
	if !prefix.IsValid() {
		return out
	}
	networks := slices.Clone(snap.ServiceNetworks)
	slices.SortStableFunc(networks, func(a, b store.ServiceNetwork) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Name, b.Name))
	})
	snAddr := map[string]netip.Addr{}
	for _, sn := range networks {
		addr := contract.GatewayAddress(prefix, sn.Name)
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
		hostnames := strings.Fields(strings.ToLower(m.svc.Tags[contract.TagHostnames]))
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
			if rt.listener.Protocol == "HTTPS" {
				gp := gatewayPort{m.addr, port}
				out.certs[gp] = appendCert(out.certs[gp], rt.cert)
			}
			for _, ru := range rt.rules {
				if ru.arn == "" {
					continue
				}
				byPort[port] = append(byPort[port], candidate{rt: rt, rule: ru, names: names, hostnames: hostnames, anyHost: m.svc.CustomDomainName == "" && len(hostnames) == 0})
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
// nothing matches. Candidates are sorted by rule specificity, so the first match of the best
// Host score wins.
func (g *gatewayTable) route(addr netip.Addr, port int32, r *http.Request) (*route, *rule) {
	host := requestHost(r.Host)
	var best *candidate
	bestScore := -1
	for i := range g.addrs[addr][port] {
		c := &g.addrs[addr][port][i]
		if score := c.hostScore(host); score > bestScore && c.rule.match.matches(r) {
			best, bestScore = c, score
		}
	}
	if best == nil {
		return nil, nil
	}
	return best.rt, best.rule
}

// hostScore ranks how the candidate's service serves host: -1 not at all, 0 any Host, a
// wildcard by its length, an exact name above every wildcard.
func (c *candidate) hostScore(host string) int {
	const exact = 1 << 16
	if slices.Contains(c.names, host) {
		return exact + len(host)
	}
	score := -1
	for _, h := range c.hostnames {
		switch {
		case h == host:
			return exact + len(host)
		case strings.HasPrefix(h, ".") && len(host) > len(h) && strings.HasSuffix(host, h):
			score = max(score, len(h))
		}
	}
	if score < 0 && c.anyHost {
		return 0
	}
	return score
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

// reconcileGateways publishes the gateway routes of snap and closes the gateway sockets no
// longer needed (bindMissing binds new ones). The caller holds dp.mu.
func (dp *DataPlane) reconcileGateways(snap *store.Snapshot, t *table) {
	g := compileGateways(snap, t, dp.opts.GatewayAddresses)
	dp.gateways.Store(g)
	want := g.ports()
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
	addr := contract.GatewayAddress(dp.opts.GatewayAddresses, serviceNetwork)
	dp.mu.Lock()
	defer dp.mu.Unlock()
	pl, ok := dp.gatewayListeners[gatewayPort{addr, port}]
	if !ok {
		return "", false
	}
	return pl.ln.Addr().String(), true
}
