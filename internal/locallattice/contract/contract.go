// Package contract holds what the controller and Local Lattice must agree on beyond the VPC
// Lattice API: the address a Gateway's service network is served on, and the tag that carries a
// route's hostnames. Local Lattice owns it; translate writes these values, the data plane reads them.
package contract

import (
	"hash/fnv"
	"net/netip"
)

// GatewayAddress is the address a Gateway's service network is served on when Gateway addresses
// are enabled: a host of prefix chosen by hashing the service network name. VPC Lattice gives a
// service network no address of its own, so translate (which writes Gateway status) and the Local
// Lattice data plane (which binds the address) must derive the same one from the name alone.
// Two names may hash to the same host; with a /16 and a handful of Gateways that is unlikely,
// and the data plane then serves the older service network there (documented). It returns the
// zero Addr when prefix is not a valid IPv4 prefix with room for one host.
func GatewayAddress(prefix netip.Prefix, serviceNetwork string) netip.Addr {
	if !prefix.IsValid() || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		return netip.Addr{}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(serviceNetwork))
	hosts := uint32(1)<<(32-prefix.Bits()) - 2 // neither the network nor the broadcast address
	base := prefix.Masked().Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	n += 1 + h.Sum32()%hosts
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// TagHostnames lists a route's hostnames on its service, space-separated, a wildcard "*.x" written
// ".x" (AWS tag values allow no "*"). A Lattice service has one custom domain; the Local Lattice
// data plane reads this tag to route Gateway-address requests by every hostname, as Gateway API
// does. Absent when the route has no hostnames or they do not fit the 256-character tag value.
const TagHostnames = "lattice-gateway/hostnames"
