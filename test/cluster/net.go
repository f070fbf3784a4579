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
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

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

// LoopbackOnly is a net.Dialer Control function that refuses any destination outside
// 127.0.0.0/8 (and ::1), before a packet leaves.
func LoopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: not an IP address", network, address)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return fmt.Errorf("dial %s %s: refused, tests may only send packets to 127.0.0.0/8", network, address)
	}
	return nil
}

// DialFunc dials like net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// PodDialer dials Pod IPs at their loopback addresses and any loopback address as is; every
// other destination, host names included (resolving them would query the system resolver), is
// refused and fails t.
func PodDialer(t testing.TB) DialFunc {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: LoopbackOnly}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			t.Errorf("dial %s: %v", address, err)
			return nil, fmt.Errorf("dial %s: %w", address, err)
		}
		if host == "localhost" {
			host = "127.0.0.1"
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			t.Errorf("dial %s: host names are refused in tests; resolve with ResolveDNS first", address)
			return nil, fmt.Errorf("dial %s: host name refused", address)
		}
		target := net.JoinHostPort(PodAddr(ip).String(), port)
		conn, err := d.DialContext(ctx, network, target)
		if err != nil && !PodAddr(ip).IsLoopback() {
			t.Errorf("test tried to dial %s outside 127.0.0.0/8", address)
		}
		return conn, err
	}
}

// ResolveDNS asks the DNS server at dnsAddr (a loopback host:port, such as Local Lattice's DNS)
// for the IPv4 addresses of name, with a real DNS client.
func ResolveDNS(name, dnsAddr string) ([]netip.Addr, error) {
	if err := LoopbackOnly("udp", dnsAddr, nil); err != nil {
		return nil, err
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
func SendRequests(n int, url, hostHeader string, dial DialFunc) map[string]int {
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
