// Package consoletest fills a store with many services for the console's scale test and
// benchmark.
package consoletest

import (
	"fmt"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// Populate returns a store with n services svc-0000... in one service network, each with an
// HTTP listener, five path rules and a default rule splitting 50/50 between two target groups
// of ten targets.
func Populate(tb testing.TB, n int) *store.Store {
	tb.Helper()
	st, err := store.New(store.Options{Region: "us-west-2", AccountID: "123456789012"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	err = st.Update(func(s *store.State) error {
		s.ServiceNetworks["sn-0"] = &store.ServiceNetwork{ID: "sn-0", Name: "my-hotel"}
		for i := range n {
			svc, lis := fmt.Sprintf("svc-%017d", i), fmt.Sprintf("listener-%017d", i)
			name := fmt.Sprintf("svc-%04d", i)
			s.Services[svc] = &store.Service{ID: svc, Name: name, Status: "ACTIVE",
				DNSEntry: store.DNSEntry{DomainName: name + ".7d67968.vpc-lattice-svcs.us-west-2.on.aws"}}
			s.ServiceAssociations["snsa-"+svc] = &store.ServiceNetworkServiceAssociation{ID: "snsa-" + svc, ServiceID: svc, ServiceNetworkID: "sn-0", Status: "ACTIVE"}
			fwd := store.RuleAction{Forward: &store.ForwardAction{}}
			for g := range 2 {
				tg := fmt.Sprintf("tg-%016d%d", i, g)
				fwd.Forward.TargetGroups = append(fwd.Forward.TargetGroups, store.WeightedTargetGroup{TargetGroupIdentifier: tg, Weight: ptr(int32(50))})
				group := &store.TargetGroup{ID: tg, Name: fmt.Sprintf("%s-v%d", name, g+1), Type: "IP", Status: "ACTIVE", Config: &store.TargetGroupConfig{Protocol: "HTTP", Port: ptr(int32(8090))}}
				for t := range 10 {
					group.Targets = append(group.Targets, store.Target{ID: fmt.Sprintf("10.%d.%d.%d", i/250, i%250, t+10*g), Port: 8090, Status: store.TargetHealthy})
				}
				s.TargetGroups[tg] = group
			}
			s.Listeners[lis] = &store.Listener{ID: lis, Name: "http-80", ServiceID: svc, Protocol: "HTTP", Port: 80, DefaultAction: fwd}
			for r := range 5 {
				id := fmt.Sprintf("rule-%015d%02d", i, r)
				prefix := fmt.Sprintf("/p%d", r)
				s.Rules[id] = &store.Rule{ID: id, Name: fmt.Sprintf("rule-%d", r), ListenerID: lis, ServiceID: svc, Priority: int32(r + 1), Action: fwd,
					Match: store.RuleMatch{HTTPMatch: &store.HTTPMatch{PathMatch: &store.PathMatch{Match: store.PathMatchType{Prefix: &prefix}}}}}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

func ptr[T any](v T) *T { return &v }
