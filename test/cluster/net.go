package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

// PodAddr maps a Pod IP 10.244.a.b to the loopback address 127.244.a.b where the kubelet
// simulator runs that Pod's workload. Other addresses are returned unchanged.
func PodAddr(ip netip.Addr) netip.Addr {
	if _, ok := blockOf(ip); !ok {
		return ip
	}
	b := ip.As4()
	return netip.AddrFrom4([4]byte{loopbackByte, b[1], b[2], b[3]})
}

// PodIP is the inverse of PodAddr.
func PodIP(addr netip.Addr) netip.Addr {
	if !addr.Is4() {
		return addr
	}
	b := addr.As4()
	if b[0] != loopbackByte || b[1] != podIPOctet2 {
		return addr
	}
	return netip.AddrFrom4([4]byte{podIPOctet1, b[1], b[2], b[3]})
}

// PodDialMap is the Local Lattice data plane's target dial map for this cluster
// (--target-dial-map 10.244.0.0/16=127.244.0.0/16): Pod IPs to their workloads' loopback addresses.
func PodDialMap() dataplane.DialMap {
	return dataplane.DialMap{{
		From: netip.PrefixFrom(netip.AddrFrom4([4]byte{podIPOctet1, podIPOctet2, 0, 0}), 16),
		To:   netip.PrefixFrom(netip.AddrFrom4([4]byte{loopbackByte, podIPOctet2, 0, 0}), 16),
	}}
}

// PodDialer dials Pod IPs at their workloads' loopback addresses through the data plane's
// loopback guard: any other destination, host names included, fails t and the dial.
func PodDialer(t dataplane.TB) dataplane.DialFunc {
	guard := dataplane.LoopbackOnlyDialer(t)
	m := PodDialMap()
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		return guard(ctx, network, m.MapHostPort(address))
	}
}

// ResolveDNS asks the DNS server at dnsAddr (a loopback host:port, such as Local Lattice's DNS)
// for the IPv4 addresses of name, with a real DNS client.
func ResolveDNS(name, dnsAddr string) ([]netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(dnsAddr); err != nil || !ap.Addr().IsLoopback() {
		return nil, fmt.Errorf("resolve %s: DNS server %q refused, tests may only send packets to 127.0.0.0/8", name, dnsAddr)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Timeout: 5 * time.Second}
	resp, _, err := c.Exchange(m, dnsAddr)
	if err != nil {
		return nil, fmt.Errorf("resolve %s at %s: %w", name, dnsAddr, err)
	}
	if resp.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("resolve %s at %s: %s", name, dnsAddr, dns.RcodeToString[resp.Rcode])
	}
	var out []netip.Addr
	for _, rr := range resp.Answer {
		if a, ok := rr.(*dns.A); ok {
			if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
				out = append(out, ip)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("resolve %s at %s: no A records", name, dnsAddr)
	}
	return out, nil
}

// SendRequests sends n GET requests to url, each on a new connection as n separate curls would,
// with hostHeader as Host when not empty, and counts the answers by the Pod that produced them.
// Other outcomes are counted under "status <code>", "error: <message>" or "unknown: <body>".
func SendRequests(n int, url, hostHeader string, dial dataplane.DialFunc) map[string]int {
	hc := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
	}
	counts := map[string]int{}
	for range n {
		counts[sendOne(hc, url, hostHeader)]++
	}
	return counts
}

func sendOne(hc *http.Client, url, host string) string {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "error: " + err.Error()
	}
	if host != "" {
		req.Host = host
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "error: " + err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("status %d", resp.StatusCode)
	}
	if pod, ok := workloads.PodOf(body); ok {
		return pod
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 80 {
		s = s[:80]
	}
	return "unknown: " + s
}

// replicaSetPod matches Deployment Pod names: <deployment>-<pod-template-hash>-<5 chars>.
var replicaSetPod = regexp.MustCompile(`^(.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$`)

// Apps folds SendRequests counts by Pod into counts by Deployment, so a weighted split can be
// checked without knowing Pod names.
func Apps(counts map[string]int) map[string]int {
	out := map[string]int{}
	for k, n := range counts {
		if m := replicaSetPod.FindStringSubmatch(k); m != nil {
			k = m[1]
		}
		out[k] += n
	}
	return out
}
