package store

import (
	"strconv"
	"sync"
	"testing"
)

// TestSnapshotAfterUpdateIsCurrent has readers rebuild the snapshot while a writer updates: a
// Snapshot taken after an Update returns must include it, even when another reader is in the
// middle of rebuilding (the data plane compiles what a subscriber's Snapshot returns, so an old
// one would leave it serving outdated routes until the next change).
func TestSnapshotAfterUpdateIsCurrent(t *testing.T) {
	s := newStore(t, "", nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					s.Snapshot()
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for i := range 50000 {
		name := strconv.Itoa(i)
		if err := s.Update(func(st *State) error { st.Services["svc-1"] = &Service{ID: "svc-1", Name: name}; return nil }); err != nil {
			t.Fatal(err)
		}
		if got := s.Snapshot().Services[0].Name; got != name {
			t.Fatalf("update %d: snapshot has service %q, want %q", i, got, name)
		}
	}
}
