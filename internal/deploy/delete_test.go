package deploy_test

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// deleteLog records when each DELETE of a service or target group started and ended, in one
// sequence of events; the request for path slow takes a while.
type deleteLog struct {
	next http.RoundTripper
	slow string

	mu         sync.Mutex
	seq        int
	start, end map[string]int // by path
}

func (l *deleteLog) tick() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	return l.seq
}

func (l *deleteLog) RoundTrip(r *http.Request) (*http.Response, error) {
	watched := r.Method == http.MethodDelete && (strings.HasPrefix(r.URL.Path, "/services/") || strings.HasPrefix(r.URL.Path, "/targetgroups/"))
	if watched {
		n := l.tick()
		l.mu.Lock()
		l.start[r.URL.Path] = n
		l.mu.Unlock()
	}
	l.mu.Lock()
	slow := r.URL.Path == l.slow
	l.mu.Unlock()
	if slow {
		time.Sleep(300 * time.Millisecond)
	}
	resp, err := l.next.RoundTrip(r)
	if watched {
		n := l.tick()
		l.mu.Lock()
		l.end[r.URL.Path] = n
		l.mu.Unlock()
	}
	return resp, err
}

// TestDeleteOrderPerResource: deleting everything, each target group is deleted only after the
// service that uses it (Lattice would refuse, and the retries would show in the counts) — the
// first service's deletion is slow, so its target groups would be reached before it is gone —
// but not after all services: target-group deletions start while services are still being
// deleted. Run with -race.
func TestDeleteOrderPerResource(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	log := &deleteLog{next: tr, start: map[string]int{}, end: map[string]int{}}
	client := newClient(t, srv, 3, log)
	d := deploy.New(client, deploy.Config{Owner: model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID},
		Concurrency: 4, WaitInitial: time.Millisecond, WaitTimeout: 10 * time.Second}, testr.New(t))
	ctx := context.Background()
	const n = 24
	if res, err := d.Apply(ctx, manyRoutes(n)); err != nil || !allProgrammed(res) {
		t.Fatalf("apply: %s", describeFailure(res, err))
	}
	// Which service uses which target group, from Lattice itself.
	snap := srv.Store().Snapshot()
	serviceOf := map[string]string{} // target group ID -> service ID
	for _, sv := range snap.Services {
		if sv.Name == "route-000-default" {
			log.mu.Lock()
			log.slow = "/services/" + sv.ID
			log.mu.Unlock()
		}
	}
	for _, r := range snap.Rules {
		if r.Action.Forward != nil {
			for _, w := range r.Action.Forward.TargetGroups {
				serviceOf[w.TargetGroupIdentifier] = r.ServiceID
			}
		}
	}
	if len(serviceOf) != 2*n {
		t.Fatalf("%d target groups in use, want %d", len(serviceOf), 2*n)
	}

	srv.ResetCounts()
	if _, err := d.Apply(ctx, &model.Model{}); err != nil {
		t.Fatal(err)
	}
	checkState(t, srv, &model.Model{})
	want := map[string]int64{"DeleteServiceNetworkServiceAssociation": n, "DeleteService": n, "DeregisterTargets": 2 * n,
		"DeleteTargetGroup": 2 * n, "DeleteServiceNetworkVpcAssociation": 1, "DeleteServiceNetwork": 1}
	if got := calls(srv); !maps.Equal(got, want) {
		t.Fatalf("calls\n got %v\nwant %v", got, want)
	}
	firstTG, lastSvc := 1<<30, 0
	for tg, svc := range serviceOf {
		tgPath, svcPath := "/targetgroups/"+tg, "/services/"+svc
		if log.start[tgPath] < log.end[svcPath] {
			t.Errorf("target group %s deletion started (%d) before its service %s was deleted (%d)", tg, log.start[tgPath], svc, log.end[svcPath])
		}
		firstTG, lastSvc = min(firstTG, log.start[tgPath]), max(lastSvc, log.start[svcPath])
	}
	if firstTG > lastSvc {
		t.Errorf("no target group deletion started before the last service deletion (%d > %d): still in phases", firstTG, lastSvc)
	}
}

// failDelete answers the DELETE of one path with a ValidationException while set.
type failDelete struct {
	next http.RoundTripper
	mu   sync.Mutex
	path string
}

func (f *failDelete) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := r.Method == http.MethodDelete && r.URL.Path == f.path
	f.mu.Unlock()
	if fail {
		return validationError(r, "injected"), nil
	}
	return f.next.RoundTrip(r)
}

// TestDeleteWaitsForFailedService: when a service's deletion fails, the target groups it uses
// are not attempted (Lattice would refuse them until the deployer gives up waiting), the error
// says why, and the next Apply finishes.
func TestDeleteWaitsForFailedService(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	faulty := &failDelete{next: tr}
	d := newDeployer(t, newClient(t, srv, 1, faulty))
	ctx := context.Background()
	m := seed()
	if res, err := d.Apply(ctx, m); err != nil || !allProgrammed(res) {
		t.Fatalf("apply: %s", describeFailure(res, err))
	}
	for _, s := range srv.Store().Snapshot().Services {
		if s.Name == svc(m, "rates").Name {
			faulty.path = "/services/" + s.ID
		}
	}
	m.Services = m.Services[:1] // rates deleted
	srv.ResetCounts()
	// The service reports to the route's withdrawal; the seed's target groups carry no route
	// tags, so theirs is cleanup, reported in the error.
	res, err := d.Apply(ctx, m)
	if msg := res.Withdrawals.Routes[svc(seed(), "rates").Route]; !strings.Contains(msg, "DeleteService service rates-default: ValidationException: injected") {
		t.Fatalf("withdrawal of rates: %q", msg)
	}
	for _, want := range []string{
		"DeleteTargetGroup target group parking: not attempted until DeleteService service rates-default succeeds",
		"DeleteTargetGroup target group review: not attempted until DeleteService service rates-default succeeds"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("apply error %v, want it to say %q", err, want)
		}
	}
	if got, want := calls(srv), map[string]int64{"DeleteServiceNetworkServiceAssociation": 1}; !maps.Equal(got, want) {
		t.Fatalf("calls %v, want %v: no target group of rates before its service is gone", got, want)
	}
	faulty.mu.Lock()
	faulty.path = ""
	faulty.mu.Unlock()
	srv.ResetCounts()
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got, want := calls(srv), map[string]int64{"DeleteService": 1, "DeregisterTargets": 2, "DeleteTargetGroup": 2}; !maps.Equal(got, want) {
		t.Fatalf("second apply: calls %v, want %v", got, want)
	}
	checkState(t, srv, m)
}
