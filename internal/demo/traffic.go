package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/lattice-gateway/lattice-gateway/internal/demo/workload"
)

// Resolve asks the DNS server at server for the A record of name, as a pod's resolver would ask
// the VPC resolver for a Lattice service name.
func Resolve(ctx context.Context, server, name string) (netip.Addr, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s at %s: %w", name, server, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return netip.Addr{}, fmt.Errorf("resolve %s at %s: %s", name, server, dns.RcodeToString[r.Rcode])
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			if addr, ok := netip.AddrFromSlice(a.A.To4()); ok {
				return addr, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("resolve %s at %s: no A record", name, server)
}

// Split counts answers per Service, per Pod and, in a multi-cluster walkthrough, per cluster.
type Split struct {
	Total    int
	Failed   int
	Services map[string]int
	Pods     map[string]int
	Clusters map[string]int
}

// Request sends n sequential GETs of url from the source address (like curl inside a pod, one
// connection per request), dialing addr whatever url's host, and reports every answer to each.
func Request(ctx context.Context, n int, url string, addr netip.AddrPort, source netip.Addr, apps *Apps, each func(line string)) (*Split, error) {
	dialer := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: source.AsSlice()}}
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr.String())
			},
		},
	}
	s := &Split{Services: map[string]int{}, Pods: map[string]int{}, Clusters: map[string]int{}}
	for range n {
		s.Total++
		line, err := get(ctx, client, url)
		if err != nil {
			s.Failed++
			each("request failed: " + err.Error())
			continue
		}
		each(line)
		if pod, ok := workload.PodOf([]byte(line)); ok {
			s.Pods[pod]++
			s.Services[apps.ServiceOf(pod)]++
			if c := apps.ClusterOf(pod); c != "" {
				s.Clusters[c]++
			}
		}
	}
	return s, ctx.Err()
}

func get(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return strings.TrimSpace(string(body)), nil
}

// String renders the split as "inventory-ver1 15 (50%)  inventory-ver2 15 (50%)".
func (s *Split) String() string {
	out := s.shares(s.Services)
	if s.Failed > 0 {
		out += fmt.Sprintf("  failed %d", s.Failed)
	}
	return out
}

// ByCluster renders the answers per cluster as "cluster-a 15 (50%)  cluster-b 15 (50%)", or ""
// for a single cluster.
func (s *Split) ByCluster() string {
	return s.shares(s.Clusters)
}

func (s *Split) shares(counts map[string]int) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d (%d%%)", n, counts[n], 100*counts[n]/max(s.Total, 1)))
	}
	return strings.Join(parts, "  ")
}
