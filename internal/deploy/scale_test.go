package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/go-logr/logr/testr"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/latticeclient"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// newTaggingDeployer is newDeployer with Tagging API discovery through the production client.
func newTaggingDeployer(t *testing.T, srv *api.Server, c *vpclattice.Client) *deploy.Deployer {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := aws.Config{Region: "us-west-2", HTTPClient: &http.Client{Transport: tr},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, nil
		})}
	tagging, err := latticeclient.NewTagging(cfg, srv.URL(), nil, latticeclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return deploy.New(c, deploy.Config{Owner: model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID},
		WaitInitial: time.Millisecond, WaitTimeout: 10 * time.Second, Tagging: tagging}, testr.New(t))
}

// manyRoutes is a model of n seed-shaped routes on the seed's service network.
func manyRoutes(n int) *model.Model {
	m := seed()
	m.Services = nil
	for i := range n {
		r := fmt.Sprintf("route-%03d", i)
		m.Services = append(m.Services, service(r, []model.Listener{listener(80,
			rule("all", 1, prefix("/"), forward(r+"-a", 50, r+"-b", 50)))},
			tg(r+"-a", fmt.Sprintf("10.1.%d.1", i)), tg(r+"-b", fmt.Sprintf("10.1.%d.2", i))))
	}
	return m
}

// TestTaggingDiscovery: a restarted deployer learns ownership from GetResources pages (ManagedBy
// tag, 100 resources each) and reads no resource's tags one by one, yet decides as before: ours
// are kept or garbage-collected, another cluster's are not touched, untagged ones are adopted.
func TestTaggingDiscovery(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	client := newClient(t, srv, 3, nil)
	ctx := context.Background()
	m := manyRoutes(40) // 40 services + 80 target groups + 1 network: two pages
	if res, err := newTaggingDeployer(t, srv, client).Apply(ctx, m); err != nil || !allProgrammed(res) {
		t.Fatalf("first apply: %s", describeFailure(res, err))
	}
	other := "123456789012/other/vpc-0123456789abcdef0"
	for _, l := range []struct{ name, owner string }{{"k8s-leaked-ours", managedBy}, {"k8s-someone-elses", other}, {"k8s-untagged", ""}} {
		var tags map[string]string
		if l.owner != "" {
			tags = map[string]string{model.TagManagedBy: l.owner}
		}
		if _, err := client.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(l.name), Type: "IP", Tags: tags,
			Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: "HTTP", VpcIdentifier: aws.String(vpcID)}}); err != nil {
			t.Fatal(err)
		}
	}
	// A route whose service another cluster owns, and one whose untagged service is adopted.
	if _, err := client.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("foreign-default"),
		Tags: map[string]string{model.TagManagedBy: other}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("adopted-default")}); err != nil {
		t.Fatal(err)
	}
	m.Services = append(m.Services,
		service("foreign", []model.Listener{listener(80)}, tg("foreign-a", "10.2.0.1")),
		service("adopted", []model.Listener{listener(80)}, tg("adopted-a", "10.2.0.2")))

	srv.ResetCounts()
	res, err := newTaggingDeployer(t, srv, client).Apply(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	got := calls(srv)
	if got["ListTagsForResource"] != 0 || got["GetResources"] != 2 {
		t.Fatalf("restart: want 2 GetResources pages and no ListTagsForResource, calls %v", got)
	}
	if r := res.Routes[svc(m, "foreign").Route]; r.Programmed || !strings.Contains(r.Message, "owned by "+other) {
		t.Fatalf("foreign: %+v", r)
	}
	if r := res.Routes[svc(m, "adopted").Route]; !r.Programmed {
		t.Fatalf("adopted: %+v", r)
	}
	state := describe(srv.Store().Snapshot())
	for _, c := range []struct {
		prefix string
		kept   bool
	}{{"tg k8s-leaked-ours ", false}, {"tg k8s-someone-elses ", true}, {"tg k8s-untagged ", true},
		{"svc foreign-default domain= owner=" + other, true}, {"svc adopted-default domain= owner=" + managedBy, true}} {
		if present := slices.ContainsFunc(state, func(s string) bool { return strings.HasPrefix(s, c.prefix) }); present != c.kept {
			t.Errorf("%q: present=%v, want %v\n%s", c.prefix, present, c.kept, strings.Join(state, "\n"))
		}
	}

	// An unchanged world: the restart writes nothing and reads no tags one by one.
	m.Services = slices.DeleteFunc(m.Services, func(s model.Service) bool { return s.Name == "foreign-default" })
	if res, err := newTaggingDeployer(t, srv, client).Apply(ctx, m); err != nil || !allProgrammed(res) {
		t.Fatalf("apply: %s", describeFailure(res, err))
	}
	srv.ResetCounts()
	if res, err := newTaggingDeployer(t, srv, client).Apply(ctx, m); err != nil || !allProgrammed(res) {
		t.Fatalf("restart: %s", describeFailure(res, err))
	}
	if c := srv.Counts(); c.Mutating() != 0 || c.Op("ListTagsForResource") != 0 {
		t.Fatalf("restart with nothing changed: calls %v", calls(srv))
	}
	state = describe(srv.Store().Snapshot())
	for _, want := range expect(m) {
		if !slices.Contains(state, want) {
			t.Errorf("missing %s", want)
		}
	}
}

// faultyService answers CreateService for one service name with a ValidationException, and
// records the most requests in flight at once.
type faultyService struct {
	name string
	next http.RoundTripper

	mu                  sync.Mutex
	inFlight, maxFlight int
}

func (f *faultyService) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	if r.Method == http.MethodPost && r.URL.Path == "/services" && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(`"name":"`+f.name+`"`)) {
			return validationError(r, "injected for "+f.name), nil
		}
	}
	return f.next.RoundTrip(r)
}

// validationError is Lattice's answer to r with a ValidationException saying msg.
func validationError(r *http.Request, msg string) *http.Response {
	return &http.Response{StatusCode: http.StatusBadRequest, Request: r,
		Header: http.Header{"X-Amzn-Errortype": {"ValidationException"}, "Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(`{"message":"` + msg + `"}`))}
}

// TestParallelApply: services are applied in parallel with at most Concurrency calls in flight;
// one service's failure leaves the others programmed, and each service's own order (target
// groups, targets, service, association, listener, rules) holds — Lattice would refuse a child
// before its parent. Run with -race: the observed state is shared by the workers.
func TestParallelApply(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	faulty := &faultyService{name: "route-007-default", next: tr}
	client := newClient(t, srv, 3, faulty)
	const concurrency = 4
	d := deploy.New(client, deploy.Config{Owner: model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID},
		Concurrency: concurrency, WaitInitial: time.Millisecond, WaitTimeout: 10 * time.Second}, testr.New(t))
	m := manyRoutes(24)
	ctx := context.Background()
	res, err := d.Apply(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Services {
		r := res.Routes[s.Route]
		if s.Name == faulty.name {
			if want := "CreateService service route-007-default: ValidationException: injected"; r.Programmed || !strings.HasPrefix(r.Message, want) {
				t.Fatalf("%s: %+v, want not programmed with %q", s.Name, r, want)
			}
			continue
		}
		if !r.Programmed {
			t.Fatalf("%s not programmed although only %s failed: %+v", s.Name, faulty.name, r)
		}
	}
	if n := srv.Counts().Op("CreateListener"); n != 23 {
		t.Fatalf("CreateListener calls = %d, want 23 (none for the failed service)", n)
	}
	t.Logf("at most %d calls in flight", faulty.maxFlight)
	if faulty.maxFlight > concurrency {
		t.Fatalf("%d calls in flight, more than Concurrency %d", faulty.maxFlight, concurrency)
	}

	// The fault gone, the next Apply finishes the failed service alone.
	faulty.name = "none"
	srv.ResetCounts()
	if res, err := d.Apply(ctx, m); err != nil || !allProgrammed(res) {
		t.Fatalf("second apply: %s", describeFailure(res, err))
	}
	if n := srv.Counts().Op("CreateService"); n != 1 {
		t.Fatalf("CreateService calls = %d, want 1", n)
	}
	checkState(t, srv, m)
}
