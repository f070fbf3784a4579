package store

import (
	"fmt"
	"testing"
)

// BenchmarkUpdateAtScale measures one mutation, alone and followed by the snapshot rebuild a
// subscribed data plane triggers, with a large state: 500 services with a listener and 5 rules
// each, 500 target groups with 20 targets each. The services=0 cases are the baseline.
func BenchmarkUpdateAtScale(b *testing.B) {
	for _, n := range []int{0, 500} {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			s, err := New(Options{Region: "us-west-2", AccountID: "123456789012"})
			if err != nil {
				b.Fatal(err)
			}
			_ = s.Update(func(st *State) error {
				for i := range n {
					svc, lis, tg := fmt.Sprintf("svc-%d", i), fmt.Sprintf("listener-%d", i), fmt.Sprintf("tg-%d", i)
					fwd := RuleAction{Forward: &ForwardAction{TargetGroups: []WeightedTargetGroup{{TargetGroupIdentifier: tg}}}}
					st.Services[svc] = &Service{ID: svc}
					st.Listeners[lis] = &Listener{ID: lis, ServiceID: svc, DefaultAction: fwd}
					for r := range 5 {
						id := fmt.Sprintf("rule-%d-%d", i, r)
						st.Rules[id] = &Rule{ID: id, ListenerID: lis, ServiceID: svc, Action: fwd}
					}
					g := &TargetGroup{ID: tg, Type: "IP", Config: &TargetGroupConfig{Protocol: "HTTP"}}
					for t := range 20 {
						g.Targets = append(g.Targets, Target{ID: fmt.Sprintf("10.0.%d.%d", i%250, t), Port: 80, Status: TargetInitial})
					}
					st.TargetGroups[tg] = g
				}
				return nil
			})
			b.Run("update", func(b *testing.B) {
				for b.Loop() {
					_ = s.Update(func(st *State) error { return nil })
				}
			})
			b.Run("update+snapshot", func(b *testing.B) {
				for b.Loop() {
					_ = s.Update(func(st *State) error { return nil })
					_ = s.Snapshot()
				}
			})
		})
	}
}
