package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// DialFunc opens a connection; it has the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options configure the data plane. The zero value is completed by defaults in New.
type Options struct {
	// DNSAddr is where the resolver listens (UDP and TCP).
	DNSAddr string
	// DataPlaneAddr is the IP the DNS names resolve to and the listeners bind.
	DataPlaneAddr string
	// ListenerPortOffset is added to every Lattice listener port when binding, so that port 80
	// can be served without privileges (offset 8000 serves it on 8080).
	ListenerPortOffset int
	// DataDir holds the CA and the access-log files.
	DataDir string
	// DialMap rewrites target addresses before every dial (traffic and health checks).
	DialMap DialMap
	// Dialer, when set, replaces net.Dialer for every dial to a target (after DialMap).
	Dialer DialFunc
	// HealthCheckInterval, when positive, replaces every target group's configured interval;
	// demos and tests use it to see failover in well under the API's 5 s minimum.
	HealthCheckInterval time.Duration
	// GatewayAddresses, when valid, serves each service network on its own address in this
	// IPv4 range (contract.GatewayAddress), routing Host-less requests as gateways.go describes.
	GatewayAddresses netip.Prefix
	// PrincipalsFile lists the IAM principals (PrincipalsFile format) whose SigV4 signatures
	// the data plane accepts, besides the one it creates under DataDir.
	PrincipalsFile string
}

// Defaults for the flags.
const (
	DefaultDNSAddr       = "127.0.0.1:8653"
	DefaultDataPlaneAddr = "127.0.0.1"
)

// DefaultDataDir is where Local Lattice keeps its CA and access logs when --data-dir is not set.
func DefaultDataDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "lattice-gateway", "local")
}

// BindFlags registers the data plane's flags on fs.
func (o *Options) BindFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.DNSAddr, "dns-addr", DefaultDNSAddr, "address (UDP and TCP) of the DNS server answering service names")
	fs.StringVar(&o.DataPlaneAddr, "dataplane-addr", DefaultDataPlaneAddr, "IP address service names resolve to and listeners bind")
	fs.IntVar(&o.ListenerPortOffset, "listener-port-offset", 0, "added to every Lattice listener port when binding (8000 serves port 80 on 8080)")
	fs.StringVar(&o.DataDir, "data-dir", DefaultDataDir(), "directory for the Local Lattice CA (ca.pem) and access logs")
	fs.Var(&o.DialMap, "target-dial-map", "FROM_CIDR=TO_CIDR: dial a target IP in FROM at the same offset in TO (repeatable), e.g. 10.244.0.0/16=127.244.0.0/16")
	fs.Var(prefixFlag{&o.GatewayAddresses}, "gateway-address-cidr", "serve each service network on its own address in this IPv4 range, as the controller's --gateway-address-cidr announces it in Gateway status (e.g. 127.77.0.0/16)")
	fs.StringVar(&o.PrincipalsFile, "iam-principals-file", "", "YAML or JSON file of IAM principals (access key, secret key, ARN, tags) that may sign requests to AWS_IAM services, besides the one created in the data dir (docs/iam-auth.md)")
	fs.DurationVar(&o.HealthCheckInterval, "health-check-interval", 0, "if set, overrides every target group's health-check interval (for demos and tests)")
}

func (o *Options) complete() error {
	if o.DNSAddr == "" {
		o.DNSAddr = DefaultDNSAddr
	}
	if o.DataPlaneAddr == "" {
		o.DataPlaneAddr = DefaultDataPlaneAddr
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir()
	}
	if _, err := netip.ParseAddr(o.DataPlaneAddr); err != nil {
		return fmt.Errorf("dataplane address %q: %w", o.DataPlaneAddr, err)
	}
	if o.ListenerPortOffset < 0 || o.ListenerPortOffset > 65534 {
		return fmt.Errorf("listener port offset %d out of range", o.ListenerPortOffset)
	}
	return nil
}

// DialMap maps target IPs from one prefix to the same offset in another (first match wins). It
// implements pflag.Value so that --target-dial-map can repeat.
type DialMap []DialMapping

// DialMapping is one FROM=TO pair of prefixes of equal length and family.
type DialMapping struct {
	From, To netip.Prefix
}

// ParseDialMapping parses "10.244.0.0/16=127.244.0.0/16".
func ParseDialMapping(s string) (DialMapping, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return DialMapping{}, fmt.Errorf("dial mapping %q: want FROM_CIDR=TO_CIDR", s)
	}
	f, err := netip.ParsePrefix(strings.TrimSpace(from))
	if err != nil {
		return DialMapping{}, fmt.Errorf("dial mapping %q: %w", s, err)
	}
	t, err := netip.ParsePrefix(strings.TrimSpace(to))
	if err != nil {
		return DialMapping{}, fmt.Errorf("dial mapping %q: %w", s, err)
	}
	if f.Bits() != t.Bits() || f.Addr().Is4() != t.Addr().Is4() {
		return DialMapping{}, fmt.Errorf("dial mapping %q: prefixes differ in length or family", s)
	}
	return DialMapping{From: f.Masked(), To: t.Masked()}, nil
}

// String implements pflag.Value.
func (m *DialMap) String() string {
	parts := make([]string, len(*m))
	for i, d := range *m {
		parts[i] = d.From.String() + "=" + d.To.String()
	}
	return strings.Join(parts, ",")
}

// Set implements pflag.Value; a comma-separated list is accepted too.
func (m *DialMap) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		d, err := ParseDialMapping(part)
		if err != nil {
			return err
		}
		*m = append(*m, d)
	}
	return nil
}

// Type implements pflag.Value.
func (m *DialMap) Type() string { return "cidr=cidr" }

// Map returns the address to dial for ip.
func (m DialMap) Map(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	for _, d := range m {
		if !d.From.Contains(ip) {
			continue
		}
		from, to := ip.AsSlice(), d.To.Addr().AsSlice()
		bits := d.From.Bits()
		for i := range from {
			// Keep the network bits of To and the host bits of ip.
			keep := max(0, min(8, bits-8*i))
			mask := byte(0xff << (8 - keep))
			from[i] = to[i]&mask | from[i]&^mask
		}
		out, _ := netip.AddrFromSlice(from)
		return out
	}
	return ip
}

// MapHostPort applies Map to the host of a host:port address; names are left alone.
func (m DialMap) MapHostPort(addr string) string {
	if len(m) == 0 {
		return addr
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return addr
	}
	return netip.AddrPortFrom(m.Map(ap.Addr()), ap.Port()).String()
}

// prefixFlag is a pflag.Value for an IPv4 CIDR.
type prefixFlag struct{ p *netip.Prefix }

func (f prefixFlag) String() string {
	if f.p == nil || !f.p.IsValid() {
		return ""
	}
	return f.p.String()
}

func (f prefixFlag) Set(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		return fmt.Errorf("%q is not an IPv4 CIDR with room for hosts", s)
	}
	*f.p = p
	return nil
}

func (prefixFlag) Type() string { return "cidr" }
