package dns

import (
	"net"
	"testing"

	"github.com/go-logr/logr"
	mdns "github.com/miekg/dns"
)

// TestAnswer covers the replies a real client cannot easily provoke; TestDNS in the dataplane
// package asks over the wire.
func TestAnswer(t *testing.T) {
	t.Parallel()
	names := func(n string) bool { return n == "svc.example.com" }
	v4 := New(names, net.ParseIP("127.0.0.9"), logr.Discard())
	v6 := New(names, net.ParseIP("fd00::9"), logr.Discard())
	q := func(name string, qtype, class uint16) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		m.Question[0].Qclass = class
		return m
	}
	two := q("svc.example.com.", mdns.TypeA, mdns.ClassINET)
	two.Question = append(two.Question, two.Question[0])
	update := q("svc.example.com.", mdns.TypeA, mdns.ClassINET)
	update.Opcode = mdns.OpcodeUpdate
	cases := []struct {
		name    string
		srv     *Server
		req     *mdns.Msg
		rcode   int
		answers int
	}{
		{"A", v4, q("SVC.example.com.", mdns.TypeA, mdns.ClassINET), mdns.RcodeSuccess, 1},
		{"ANY", v4, q("svc.example.com.", mdns.TypeANY, mdns.ClassINET), mdns.RcodeSuccess, 1},
		{"AAAA of an IPv4 data plane", v4, q("svc.example.com.", mdns.TypeAAAA, mdns.ClassINET), mdns.RcodeSuccess, 0},
		{"AAAA of an IPv6 data plane", v6, q("svc.example.com.", mdns.TypeAAAA, mdns.ClassINET), mdns.RcodeSuccess, 1},
		{"unknown name", v4, q("other.example.com.", mdns.TypeA, mdns.ClassINET), mdns.RcodeNameError, 0},
		{"CHAOS class", v4, q("svc.example.com.", mdns.TypeTXT, mdns.ClassCHAOS), mdns.RcodeRefused, 0},
		{"two questions", v4, two, mdns.RcodeNotImplemented, 0},
		{"update", v4, update, mdns.RcodeNotImplemented, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.srv.answer(tc.req)
			if resp.Rcode != tc.rcode || len(resp.Answer) != tc.answers {
				t.Errorf("rcode %s with %d answers, want %s with %d", mdns.RcodeToString[resp.Rcode], len(resp.Answer), mdns.RcodeToString[tc.rcode], tc.answers)
			}
			if resp.Id != tc.req.Id || !resp.Authoritative {
				t.Errorf("reply id %d authoritative %v", resp.Id, resp.Authoritative)
			}
		})
	}
}
