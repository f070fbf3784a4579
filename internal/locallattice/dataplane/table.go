package dataplane

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// table is the routing state compiled from one store snapshot. It is immutable once published;
// requests read it through an atomic pointer, so configuration changes never block traffic.
type table struct {
	names map[string]struct{} // every DNS name served, lower case, no trailing dot
	ports map[int32]*portRoutes
	// tgs holds every compiled target group, also those no rule uses (health checks need them).
	tgs map[string]*targetGroup
	// counters carries round-robin positions across compilations, keyed by owner ID.
	counters map[string]*atomic.Uint64
	// certs are the Local ACM certificates by ARN.
	certs map[string]*importedCert
	// invalidPolicies are the auth policies of AWS_IAM resources that do not parse, by
	// resource ID: the API accepts any JSON, so the data plane is where they fail.
	invalidPolicies map[string]string
}

// portRoutes are the services sharing one Lattice listener port, told apart by Host or SNI.
type portRoutes struct {
	hosts map[string]*route
	// certs are the imported certificates of the port's HTTPS services, presented to an SNI
	// that no service answers (see fallbackCertificate).
	certs []*importedCert
}

// route is one service's listener on a port.
type route struct {
	service           *store.Service
	listener          *store.Listener
	serviceNetworkARN string
	// networkHeader is x-amzn-lattice-network, empty when the service network has no VPC.
	networkHeader string
	rules         []*rule // ascending priority; the default rule is last
	logs          []*logSink
	// cert is the imported certificate the service's certificateArn names, if any.
	cert *importedCert
	auth *routeAuth
}

type rule struct {
	arn    string // empty for the default rule
	match  *matcher
	action action
}

// action is a fixed response (fixed != 0) or a weighted forward.
type action struct {
	fixed int
	tgs   []forwardTarget
	// schedule interleaves the target groups by weight (smooth weighted round robin), so that
	// even a short run of requests is split as the weights say; next indexes into it.
	schedule []uint8
	next     *atomic.Uint64
}

type forwardTarget struct {
	tg *targetGroup
	// header is the x-amzn-lattice-target value for this service and target group.
	header string
}

type targetGroup struct {
	id, arn  string
	name     string
	protocol string // HTTP | HTTPS | TCP
	version  string // HTTP1 | HTTP2 | GRPC
	// eligible are the targets that get new requests: HEALTHY (or UNAVAILABLE, health checks
	// off); when there are none, every non-draining target (fail open).
	eligible []*target
	next     *atomic.Uint64
}

type target struct {
	id       string
	port     int32
	hostPort string
}

func (t *table) route(port int32, host string) *route {
	pr := t.ports[port]
	if pr == nil {
		return nil
	}
	return pr.hosts[host]
}

// targetAddrs is the set of every target address in the table.
func (t *table) targetAddrs() map[string]bool {
	out := map[string]bool{}
	for _, g := range t.tgs {
		for _, tt := range g.eligible {
			out[tt.hostPort] = true
		}
	}
	return out
}

// pick returns the target group for the next request, nil when every weight is 0.
func (a *action) pick() *forwardTarget {
	if len(a.schedule) == 0 {
		return nil
	}
	n := a.next.Add(1) - 1
	return &a.tgs[a.schedule[n%uint64(len(a.schedule))]]
}

// pick returns the next target round robin, nil when the group has none.
func (g *targetGroup) pick() *target {
	if len(g.eligible) == 0 {
		return nil
	}
	n := g.next.Add(1) - 1
	return g.eligible[n%uint64(len(g.eligible))]
}

// compiler builds a table; prev supplies round-robin counters so that positions survive
// configuration changes.
type compiler struct {
	snap  *store.Snapshot
	prev  *table
	out   *table
	sinks func(destinationARN string) *logSink
}

func compile(snap *store.Snapshot, prev *table, sinks func(string) *logSink) *table {
	c := &compiler{snap: snap, prev: prev, sinks: sinks, out: &table{
		names:           map[string]struct{}{},
		ports:           map[int32]*portRoutes{},
		tgs:             map[string]*targetGroup{},
		counters:        map[string]*atomic.Uint64{},
		invalidPolicies: map[string]string{},
	}}
	c.out.certs = c.certificates()
	for i := range snap.TargetGroups {
		tg := &snap.TargetGroups[i]
		c.out.tgs[tg.ID] = c.targetGroup(tg)
	}
	listeners := map[string][]*store.Listener{}
	for i := range snap.Listeners {
		l := &snap.Listeners[i]
		listeners[l.ServiceID] = append(listeners[l.ServiceID], l)
	}
	rules := map[string][]*store.Rule{}
	for i := range snap.Rules {
		r := &snap.Rules[i]
		rules[r.ListenerID] = append(rules[r.ListenerID], r)
	}
	for i := range snap.Services {
		svc := &snap.Services[i]
		c.service(svc, listeners[svc.ID], rules)
	}
	return c.out
}

func (c *compiler) counter(key string) *atomic.Uint64 {
	if n, ok := c.out.counters[key]; ok {
		return n
	}
	n := new(atomic.Uint64)
	if c.prev != nil {
		if p, ok := c.prev.counters[key]; ok {
			n = p
		}
	}
	c.out.counters[key] = n
	return n
}

func (c *compiler) targetGroup(tg *store.TargetGroup) *targetGroup {
	out := &targetGroup{id: tg.ID, arn: tg.ARN, name: tg.Name, protocol: "HTTP", version: "HTTP1", next: c.counter("tg/" + tg.ID)}
	port := int32(0)
	if cfg := tg.Config; cfg != nil {
		if cfg.Protocol != "" {
			out.protocol = cfg.Protocol
		}
		if cfg.ProtocolVersion != "" {
			out.version = cfg.ProtocolVersion
		}
		if cfg.Port != nil {
			port = *cfg.Port
		}
	}
	if port == 0 {
		port = 80
		if out.protocol == "HTTPS" {
			port = 443
		}
	}
	if tg.Type != "" && tg.Type != "IP" {
		// Lambda functions, instances and ALBs cannot be reached from a laptop; the group
		// stays empty and requests to it get 503.
		return out
	}
	var healthy, open []*target
	for _, t := range tg.Targets {
		if t.Status == "DRAINING" {
			continue
		}
		p := t.Port
		if p == 0 {
			p = port
		}
		tt := &target{id: t.ID, port: p, hostPort: joinHostPort(t.ID, p)}
		open = append(open, tt)
		if t.Status == "HEALTHY" || t.Status == "UNAVAILABLE" {
			healthy = append(healthy, tt)
		}
	}
	out.eligible = healthy
	if len(healthy) == 0 {
		out.eligible = open
	}
	return out
}

func (c *compiler) service(svc *store.Service, listeners []*store.Listener, rules map[string][]*store.Rule) {
	snARN, networkHeader := c.serviceNetwork(svc.ID)
	logs := c.accessLogs(svc)
	auth := c.auth(svc, snARN)
	hosts := hostNames(svc)
	for _, h := range hosts {
		c.out.names[h] = struct{}{}
	}
	for _, l := range listeners {
		rt := &route{service: svc, listener: l, serviceNetworkARN: snARN, networkHeader: networkHeader, logs: logs,
			cert: c.out.certs[svc.CertificateARN], auth: auth}
		rs := slices.Clone(rules[l.ID])
		slices.SortFunc(rs, func(a, b *store.Rule) int { return cmp.Compare(a.Priority, b.Priority) })
		if l.Protocol != "TLS_PASSTHROUGH" {
			for _, r := range rs {
				rt.rules = append(rt.rules, &rule{arn: r.ARN, match: compileMatch(r.Match), action: c.action(rt, r.ID, r.Action)})
			}
		}
		rt.rules = append(rt.rules, &rule{action: c.action(rt, l.ID, l.DefaultAction)})
		pr := c.out.ports[l.Port]
		if pr == nil {
			pr = &portRoutes{hosts: map[string]*route{}}
			c.out.ports[l.Port] = pr
		}
		names := hosts
		if l.Protocol == "TLS_PASSTHROUGH" {
			// Passthrough matches the ClientHello SNI against the custom domain only (§3.1).
			names = nil
			if svc.CustomDomainName != "" {
				names = []string{normalizeHost(svc.CustomDomainName)}
			}
		}
		for _, h := range names {
			pr.hosts[h] = rt
		}
		if l.Protocol == "HTTPS" {
			pr.certs = appendCert(pr.certs, rt.cert)
		}
	}
}

func hostNames(svc *store.Service) []string {
	var out []string
	for _, n := range []string{svc.DNSEntry.DomainName, svc.CustomDomainName} {
		if n = normalizeHost(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func normalizeHost(h string) string {
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func (c *compiler) action(rt *route, owner string, a store.RuleAction) action {
	if a.FixedResponse != nil {
		code := int(a.FixedResponse.StatusCode)
		if code < 200 || code > 599 {
			// The API accepts 100-599; an informational code cannot end a request.
			code = http.StatusInternalServerError
		}
		return action{fixed: code}
	}
	out := action{next: c.counter("action/" + owner)}
	if a.Forward == nil {
		return out
	}
	var weights []int
	for _, w := range a.Forward.TargetGroups {
		weight := 1
		if w.Weight != nil {
			weight = int(*w.Weight)
		}
		tg := c.out.tgs[w.TargetGroupIdentifier]
		if tg == nil || weight <= 0 {
			continue
		}
		out.tgs = append(out.tgs, forwardTarget{tg: tg, header: fmt.Sprintf("ServiceArn=%s;ServiceNetworkArn=%s;TargetGroupArn=%s", rt.service.ARN, rt.serviceNetworkARN, tg.arn)})
		weights = append(weights, weight)
	}
	skipEmpty(out.tgs, weights)
	out.schedule = smoothSchedule(weights)
	return out
}

// skipEmpty zeroes the weight of target groups without any target that can take a request, as
// long as another weighted group has one: a backend scaled to zero hands its share to the
// others instead of failing it (documented in docs/dataplane.md as Local Lattice's choice, the
// real behaviour being undocumented). When every group is empty, the weights stay, and the
// request fails with 503 as it must.
func skipEmpty(tgs []forwardTarget, weights []int) {
	someTargets := false
	for i, ft := range tgs {
		if weights[i] > 0 && len(ft.tg.eligible) > 0 {
			someTargets = true
		}
	}
	if !someTargets {
		return
	}
	for i, ft := range tgs {
		if len(ft.tg.eligible) == 0 {
			weights[i] = 0
		}
	}
}

// smoothSchedule is nginx's smooth weighted round robin unrolled over one period: each index i
// appears weights[i]/g times (g the weights' gcd), spread as evenly as possible.
func smoothSchedule(weights []int) []uint8 {
	g := 0
	for _, w := range weights {
		g = gcd(g, w)
	}
	if g == 0 {
		return nil
	}
	total := 0
	for _, w := range weights {
		total += w / g
	}
	current := make([]int, len(weights))
	out := make([]uint8, total)
	for n := range out {
		best := 0
		for i, w := range weights {
			current[i] += w / g
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		out[n] = uint8(best)
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// serviceNetwork returns the ARN of the service's first service network and the
// x-amzn-lattice-network value for that network's first VPC association.
func (c *compiler) serviceNetwork(serviceID string) (arn, networkHeader string) {
	var snID string
	for _, a := range c.snap.ServiceAssociations {
		if a.ServiceID == serviceID {
			snID = a.ServiceNetworkID
			break
		}
	}
	if snID == "" {
		return "", ""
	}
	for _, sn := range c.snap.ServiceNetworks {
		if sn.ID == snID {
			arn = sn.ARN
			break
		}
	}
	for _, v := range c.snap.VPCAssociations {
		if v.ServiceNetworkID == snID {
			networkHeader = fmt.Sprintf("SourceVpcArn=arn:aws:ec2:%s:%s:vpc/%s", c.snap.Region, c.snap.AccountID, v.VPCID)
			break
		}
	}
	return arn, networkHeader
}

// accessLogs returns the sinks of every subscription on the service or on a service network
// it belongs to (service-network subscriptions of type RESOURCE log resource access, not
// service traffic).
func (c *compiler) accessLogs(svc *store.Service) []*logSink {
	if c.sinks == nil {
		return nil
	}
	owners := map[string]bool{svc.ID: true, svc.ARN: true}
	for _, a := range c.snap.ServiceAssociations {
		if a.ServiceID == svc.ID {
			owners[a.ServiceNetworkID] = true
		}
	}
	var out []*logSink
	for _, s := range c.snap.AccessLogSubscriptions {
		if !(owners[s.ResourceID] || owners[s.ResourceARN]) || s.ServiceNetworkLogType == "RESOURCE" {
			continue
		}
		if sink := c.sinks(s.DestinationARN); sink != nil && !slices.Contains(out, sink) {
			out = append(out, sink)
		}
	}
	return out
}

func joinHostPort(host string, port int32) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}
