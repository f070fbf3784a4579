// Package dns answers the generated and custom DNS names of Local Lattice services with the data
// plane's address, the way Lattice's link-local addresses answer inside an associated VPC.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	mdns "github.com/miekg/dns"
)

// ttl is short so that a deleted service stops resolving soon in client caches.
const ttl = 10

// Names reports whether a fully qualified, lower-case name (trailing dot removed) belongs to a
// service. It is called on every query and must be safe for concurrent use.
type Names func(name string) bool

// Server serves A (or AAAA) records over UDP and TCP.
type Server struct {
	names Names
	addr  net.IP
	log   logr.Logger

	udp, tcp *mdns.Server
	wg       sync.WaitGroup
}

// New returns a server that answers every name accepted by names with answer.
func New(names Names, answer net.IP, log logr.Logger) *Server {
	return &Server{names: names, addr: answer, log: log}
}

// freePortAttempts bounds the retries when addr has port 0 and the UDP port picked is taken for
// TCP by another program.
const freePortAttempts = 5

// Start binds UDP and TCP on addr (TCP on the port UDP got when addr has port 0).
func (s *Server) Start(addr string) error {
	pc, ln, err := listenBoth(addr)
	for i := 1; err != nil && i < freePortAttempts && strings.HasSuffix(addr, ":0"); i++ {
		pc, ln, err = listenBoth(addr)
	}
	if err != nil {
		return err
	}
	h := mdns.HandlerFunc(s.serve)
	s.udp = &mdns.Server{PacketConn: pc, Handler: h}
	s.tcp = &mdns.Server{Listener: ln, Handler: h}
	for _, srv := range []*mdns.Server{s.udp, s.tcp} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.ActivateAndServe(); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error(err, "DNS server stopped")
			}
		}()
	}
	return nil
}

// listenBoth binds UDP on addr, then TCP on the same address and port.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen DNS udp %s: %w", addr, err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, nil, fmt.Errorf("listen DNS tcp %s: %w", pc.LocalAddr(), err)
	}
	return pc, ln, nil
}

// Addr is the bound address (the same port serves UDP and TCP).
func (s *Server) Addr() string { return s.udp.PacketConn.LocalAddr().String() }

// Close stops both servers and waits for them.
func (s *Server) Close() {
	if s.udp == nil {
		return
	}
	ctx := context.Background()
	_ = s.udp.ShutdownContext(ctx)
	_ = s.tcp.ShutdownContext(ctx)
	s.wg.Wait()
}

func (s *Server) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	resp := s.answer(req)
	if err := w.WriteMsg(resp); err != nil {
		s.log.V(1).Info("write DNS answer", "error", err.Error())
	}
}

func (s *Server) answer(req *mdns.Msg) *mdns.Msg {
	resp := new(mdns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	if req.Opcode != mdns.OpcodeQuery || len(req.Question) != 1 {
		resp.Rcode = mdns.RcodeNotImplemented
		return resp
	}
	q := req.Question[0]
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY {
		resp.Rcode = mdns.RcodeRefused
		return resp
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	if !s.names(name) {
		resp.Rcode = mdns.RcodeNameError
		return resp
	}
	hdr := mdns.RR_Header{Name: q.Name, Class: mdns.ClassINET, Ttl: ttl}
	// A name that exists but has no record of the asked type gets an empty NOERROR (NODATA).
	if v4 := s.addr.To4(); v4 != nil {
		if q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY {
			hdr.Rrtype = mdns.TypeA
			resp.Answer = append(resp.Answer, &mdns.A{Hdr: hdr, A: v4})
		}
	} else if q.Qtype == mdns.TypeAAAA || q.Qtype == mdns.TypeANY {
		hdr.Rrtype = mdns.TypeAAAA
		resp.Answer = append(resp.Answer, &mdns.AAAA{Hdr: hdr, AAAA: s.addr})
	}
	return resp
}
