package cluster

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Pod IPs come from 10.244.0.0/16, split into 16 blocks of /20. Several clusters run at once
// (go test runs packages in parallel), and their workloads share the loopback interface, so each
// cluster claims whole blocks. The claim is a listening socket on the block's first loopback
// address (127.244.N.0, never a Pod address): it is exclusive across processes and released
// by the kernel even when the process is killed.
const (
	blockBits    = 20
	blockCount   = 1 << (blockBits - 16)
	claimPort    = 60999
	podIPOctet1  = 10
	podIPOctet2  = 244
	loopbackByte = 127
)

type ipam struct {
	mu     sync.Mutex
	claims []net.Listener
	blocks []int // claimed block numbers, in claim order
	used   map[netip.Addr]bool
}

func newIPAM() *ipam { return &ipam{used: map[netip.Addr]bool{}} }

// allocate returns the lowest free Pod IP of the claimed blocks, claiming another block when
// they are full. Freed addresses are reused.
func (a *ipam) allocate() (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.blocks {
		if ip, ok := a.freeIn(b); ok {
			a.used[ip] = true
			return ip, nil
		}
	}
	b, err := a.claim()
	if err != nil {
		return netip.Addr{}, err
	}
	ip, _ := a.freeIn(b)
	a.used[ip] = true
	return ip, nil
}

// reserve marks an address as used (a Pod that already has an IP in its status).
func (a *ipam) reserve(ip netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := blockOf(ip)
	if !ok || a.used[ip] || !a.owns(b) {
		return false
	}
	a.used[ip] = true
	return true
}

func (a *ipam) release(ip netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, ip)
}

func (a *ipam) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, l := range a.claims {
		l.Close()
	}
	a.claims, a.blocks = nil, nil
}

func (a *ipam) owns(block int) bool {
	for _, b := range a.blocks {
		if b == block {
			return true
		}
	}
	return false
}

// freeIn skips x.y.z.0 and x.y.z.255 of every /24 so no Pod gets an address that looks like a
// network or broadcast address (and .0 of the first /24 is the claim socket).
func (a *ipam) freeIn(block int) (netip.Addr, bool) {
	for third := block * 16; third < (block+1)*16; third++ {
		for fourth := 1; fourth < 255; fourth++ {
			ip := netip.AddrFrom4([4]byte{podIPOctet1, podIPOctet2, byte(third), byte(fourth)})
			if !a.used[ip] {
				return ip, true
			}
		}
	}
	return netip.Addr{}, false
}

func (a *ipam) claim() (int, error) {
	for b := range blockCount {
		if a.owns(b) {
			continue
		}
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{loopbackByte, podIPOctet2, byte(b * 16), 0}), claimPort)
		l, err := net.Listen("tcp", addr.String())
		if err != nil {
			continue // another cluster holds this block
		}
		a.claims = append(a.claims, l)
		a.blocks = append(a.blocks, b)
		return b, nil
	}
	return 0, fmt.Errorf("all %d Pod IP blocks of 10.244.0.0/16 are in use by other test clusters", blockCount)
}

func blockOf(ip netip.Addr) (int, bool) {
	if !ip.Is4() {
		return 0, false
	}
	b := ip.As4()
	if b[0] != podIPOctet1 || b[1] != podIPOctet2 {
		return 0, false
	}
	return int(b[2]) / 16, true
}
