package contract

import (
	"net/netip"
	"testing"
)

func TestGatewayAddress(t *testing.T) {
	cases := []struct {
		name   string
		prefix string
		valid  bool
	}{
		{"a /16 of loopback", "127.77.0.0/16", true},
		{"an unmasked prefix", "127.77.1.2/16", true},
		{"the smallest with hosts", "127.0.0.0/30", true},
		{"no room for a host", "127.0.0.0/31", false},
		{"IPv6", "fd00::/64", false},
		{"unset", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p netip.Prefix
			if tc.prefix != "" {
				p = netip.MustParsePrefix(tc.prefix)
			}
			for _, sn := range []string{"same-namespace", "all-namespaces", "my-hotel", ""} {
				a := GatewayAddress(p, sn)
				if a.IsValid() != tc.valid {
					t.Fatalf("GatewayAddress(%s, %q) = %v, want valid=%v", tc.prefix, sn, a, tc.valid)
				}
				if !tc.valid {
					continue
				}
				m := p.Masked()
				if !m.Contains(a) || a == m.Addr() || a.Next().IsValid() && !m.Contains(a.Next()) {
					t.Errorf("GatewayAddress(%s, %q) = %s: not a host of %s", tc.prefix, sn, a, m)
				}
				if again := GatewayAddress(p, sn); again != a {
					t.Errorf("not deterministic: %s then %s", a, again)
				}
			}
		})
	}
	if GatewayAddress(netip.MustParsePrefix("127.77.0.0/16"), "a") == GatewayAddress(netip.MustParsePrefix("127.77.0.0/16"), "b") {
		t.Errorf("two names share an address")
	}
}
