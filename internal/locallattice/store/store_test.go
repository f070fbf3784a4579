package store

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

func newStore(t *testing.T, file string, now func() time.Time) *Store {
	t.Helper()
	s, err := New(Options{Region: "us-west-2", AccountID: "123456789012", StateFile: file, Logger: testr.New(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// addUsedTG creates a service whose listener forwards to target group tg-1 with one target.
func addUsedTG(st *State, hc *HealthCheckConfig, version string) {
	st.Services["svc-1"] = &Service{ID: "svc-1", ARN: "arn:svc-1"}
	st.Listeners["listener-1"] = &Listener{ID: "listener-1", ServiceID: "svc-1", DefaultAction: RuleAction{
		Forward: &ForwardAction{TargetGroups: []WeightedTargetGroup{{TargetGroupIdentifier: "tg-1"}}}}}
	st.TargetGroups["tg-1"] = &TargetGroup{ID: "tg-1", Type: "IP",
		Config:  &TargetGroupConfig{Protocol: "HTTP", ProtocolVersion: version, HealthCheck: hc},
		Targets: []Target{{ID: "10.0.0.1", Port: 80, Status: TargetInitial}}}
}

func TestSnapshotIsImmutableAndVersioned(t *testing.T) {
	s := newStore(t, "", nil)
	before := s.Snapshot()
	if err := s.Update(func(st *State) error { addUsedTG(st, nil, "HTTP1"); return nil }); err != nil {
		t.Fatal(err)
	}
	after := s.Snapshot()
	if len(before.TargetGroups) != 0 || len(after.TargetGroups) != 1 || after.Version <= before.Version {
		t.Fatalf("before %+v after %+v", before, after)
	}
	s.SetTargetHealth("tg-1", "10.0.0.1", 80, TargetHealthy, "")
	if after.TargetGroups[0].Targets[0].Status != TargetInitial {
		t.Error("an old snapshot changed")
	}
	if got := s.Snapshot().TargetGroups[0].Targets[0].Status; got != TargetHealthy {
		t.Errorf("status %s after SetTargetHealth", got)
	}
}

func TestFailedUpdateChangesNothing(t *testing.T) {
	s := newStore(t, "", nil)
	var calls atomic.Int32
	s.Subscribe(func() { calls.Add(1) })
	v := s.Snapshot().Version
	if err := s.Update(func(*State) error { return errors.New("no") }); err == nil {
		t.Fatal("error lost")
	}
	if err := s.Update(func(*State) error { return ErrUnchanged }); err != nil {
		t.Errorf("ErrUnchanged surfaced as %v", err)
	}
	if s.Snapshot().Version != v || calls.Load() != 0 {
		t.Error("a failed or unchanged update rebuilt the snapshot or notified")
	}
}

func TestPanickingUpdateReleasesTheLock(t *testing.T) {
	s := newStore(t, "", nil)
	func() {
		defer func() { _ = recover() }()
		_ = s.Update(func(*State) error { panic("boom") })
	}()
	if err := s.Update(func(*State) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestSubscribe(t *testing.T) {
	s := newStore(t, "", nil)
	var calls atomic.Int32
	cancel := s.Subscribe(func() { calls.Add(1) })
	_ = s.Update(func(st *State) error { addUsedTG(st, nil, "HTTP1"); return nil })
	s.SetTargetHealth("tg-1", "10.0.0.1", 80, TargetHealthy, "")
	s.SetTargetHealth("tg-1", "10.0.0.1", 80, TargetHealthy, "") // no change, no call
	s.SetTargetHealth("tg-404", "10.0.0.1", 80, TargetHealthy, "")
	cancel()
	_ = s.Update(func(*State) error { return nil })
	if n := calls.Load(); n != 2 {
		t.Errorf("%d notifications, want 2", n)
	}
}

func TestEffectiveTargetStatus(t *testing.T) {
	off, on := false, true
	cases := []struct {
		name    string
		hc      *HealthCheckConfig
		version string
		used    bool
		stored  string
		want    string
	}{
		{"unused", nil, "HTTP1", false, TargetHealthy, TargetUnused},
		{"HTTP1 checks by default", nil, "HTTP1", true, TargetInitial, TargetInitial},
		{"reported health", nil, "HTTP1", true, TargetUnhealthy, TargetUnhealthy},
		{"HTTP2 has no default check", nil, "HTTP2", true, TargetHealthy, TargetUnavailable},
		{"GRPC with check enabled", &HealthCheckConfig{Enabled: &on}, "GRPC", true, TargetHealthy, TargetHealthy},
		{"check disabled", &HealthCheckConfig{Enabled: &off}, "HTTP1", true, TargetHealthy, TargetUnavailable},
		{"draining wins", nil, "HTTP1", false, TargetDraining, TargetDraining},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tg := &TargetGroup{Type: "IP", Config: &TargetGroupConfig{Protocol: "HTTP", ProtocolVersion: tc.version, HealthCheck: tc.hc}}
			if got := EffectiveTargetStatus(tg, tc.used, Target{Status: tc.stored}); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPendingAndDraining(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now.Store(&t0)
	s := newStore(t, "", func() time.Time { return *now.Load() })
	_ = s.Update(func(st *State) error {
		addUsedTG(st, nil, "HTTP1")
		st.Services["svc-1"].Status = StatusCreateInProgress
		st.Pending["svc-1"] = Pending{Due: t0.Add(time.Minute)}
		st.TargetGroups["tg-1"].Targets[0].Status = TargetDraining
		st.TargetGroups["tg-1"].Targets[0].DrainingUntil = t0.Add(time.Minute)
		return nil
	})
	if snap := s.Snapshot(); snap.Services[0].Status != StatusCreateInProgress || len(snap.TargetGroups[0].Targets) != 1 {
		t.Fatalf("transition ran early: %+v", snap)
	}
	later := t0.Add(2 * time.Minute)
	now.Store(&later)
	s.Schedule(later) // due at once on the fake clock: the timer fires right away
	deadline := time.Now().Add(10 * time.Second)
	for {
		snap := s.Snapshot()
		if snap.Services[0].Status == StatusActive && len(snap.TargetGroups[0].Targets) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the delay: %+v", snap)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPersistence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state.gob")
	s := newStore(t, file, nil)
	if err := s.Update(func(st *State) error {
		addUsedTG(st, nil, "HTTP1")
		st.Services["svc-1"].Tags = map[string]string{"k": "v"}
		st.Tokens["CreateService/t"] = Token{Hash: "h", Status: 201, Body: []byte(`{}`)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	s2 := newStore(t, file, nil)
	s2.View(func(st *State) {
		if st.Services["svc-1"].Tags["k"] != "v" || st.Listeners["listener-1"].ServiceID != "svc-1" ||
			len(st.TargetGroups["tg-1"].Targets) != 1 || st.Tokens["CreateService/t"].Status != 201 {
			t.Errorf("state after reload: %+v", st)
		}
	})
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 1 {
		t.Errorf("%d files next to the state file, want none", len(entries)-1)
	}

	if err := os.WriteFile(file, []byte("torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{StateFile: file}); err == nil {
		t.Error("a corrupt state file loaded without error")
	}
}
