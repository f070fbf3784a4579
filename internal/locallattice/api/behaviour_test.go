package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
)

func TestPagination(t *testing.T) {
	_, c := start(t, nil)
	cx := ctx(t)
	want := map[string]bool{}
	for i := range 23 {
		out := must(c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("page-%02d", i))}))
		want[*out.Id] = true
	}
	cases := []struct {
		name      string
		pageSize  int32
		wantPages int
	}{
		{"one page by default", 0, 1},
		{"pages of 5", 5, 5},
		{"pages of 1", 1, 23},
		{"exact fit", 23, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &vpclattice.ListServicesInput{}
			if tc.pageSize > 0 {
				in.MaxResults = aws.Int32(tc.pageSize)
			}
			p := vpclattice.NewListServicesPaginator(c, in)
			seen, pages := map[string]bool{}, 0
			for p.HasMorePages() {
				out := must(p.NextPage(ctx(t)))
				pages++
				for _, s := range out.Items {
					if seen[*s.Id] {
						t.Errorf("%s listed twice", *s.Id)
					}
					seen[*s.Id] = true
				}
			}
			if pages != tc.wantPages || len(seen) != len(want) {
				t.Errorf("%d pages, %d items; want %d pages, %d items", pages, len(seen), tc.wantPages, len(want))
			}
		})
	}

	t.Run("token survives deletes", func(t *testing.T) {
		first := must(c.ListServices(cx, &vpclattice.ListServicesInput{MaxResults: aws.Int32(10)}))
		must(c.DeleteService(cx, &vpclattice.DeleteServiceInput{ServiceIdentifier: first.Items[9].Id}))
		rest := must(c.ListServices(cx, &vpclattice.ListServicesInput{MaxResults: aws.Int32(100), NextToken: first.NextToken}))
		if len(rest.Items) != 13 || rest.NextToken != nil {
			t.Errorf("rest: %d items, token %v", len(rest.Items), rest.NextToken)
		}
	})

	t.Run("lists are never null", func(t *testing.T) {
		srv, _ := start(t, nil)
		body := rawCall(t, srv, http.MethodGet, "/servicenetworks", "")
		if !strings.Contains(body, `"items":[]`) {
			t.Errorf("empty list body %s", body)
		}
	})
}

// rawCall sends a signed-looking request without the SDK and returns the body.
func rawCall(t *testing.T, srv *api.Server, method, path, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-west-2/vpc-lattice/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestIdempotentCreate(t *testing.T) {
	srv, c := start(t, nil)
	cx := ctx(t)
	in := &vpclattice.CreateServiceNetworkInput{Name: aws.String("idem"), ClientToken: aws.String("token-1")}
	a := must(c.CreateServiceNetwork(cx, in))
	b := must(c.CreateServiceNetwork(cx, in))
	if *a.Id != *b.Id {
		t.Errorf("retry created %s, first call %s", *b.Id, *a.Id)
	}
	if n := len(srv.Store().Snapshot().ServiceNetworks); n != 1 {
		t.Errorf("%d service networks after a retried create", n)
	}
}

func TestAsyncStates(t *testing.T) {
	_, c := start(t, func(o *api.Options) { o.Faults.AsyncDelay = 50 * time.Millisecond })
	cx := ctx(t)
	svc := must(c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("slow")}))
	if svc.Status != types.ServiceStatusCreateInProgress {
		t.Fatalf("status %s, want CREATE_IN_PROGRESS", svc.Status)
	}
	eventually(t, func() bool {
		return must(c.GetService(cx, &vpclattice.GetServiceInput{ServiceIdentifier: svc.Id})).Status == types.ServiceStatusActive
	})
	sn := must(c.CreateServiceNetwork(cx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("slow-sn")}))
	snva := must(c.CreateServiceNetworkVpcAssociation(cx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String("vpc-12345678"), SecurityGroupIds: []string{"sg-12345678"}}))
	if snva.Status != types.ServiceNetworkVpcAssociationStatusCreateInProgress {
		t.Errorf("SNVA status %s", snva.Status)
	}
	snvaStatus := func() types.ServiceNetworkVpcAssociationStatus {
		return must(c.GetServiceNetworkVpcAssociation(cx, &vpclattice.GetServiceNetworkVpcAssociationInput{ServiceNetworkVpcAssociationIdentifier: snva.Id})).Status
	}
	eventually(t, func() bool { return snvaStatus() == types.ServiceNetworkVpcAssociationStatusActive })
	upd := must(c.UpdateServiceNetworkVpcAssociation(cx, &vpclattice.UpdateServiceNetworkVpcAssociationInput{
		ServiceNetworkVpcAssociationIdentifier: snva.Id, SecurityGroupIds: []string{"sg-87654321"}}))
	if upd.Status != types.ServiceNetworkVpcAssociationStatusUpdateInProgress {
		t.Errorf("SNVA update status %s", upd.Status)
	}
	eventually(t, func() bool { return snvaStatus() == types.ServiceNetworkVpcAssociationStatusActive })

	tg := must(c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{Name: aws.String("slow-tg"), Type: types.TargetGroupTypeLambda}))
	var conflict *types.ConflictException
	if _, err := c.DeleteTargetGroup(cx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: tg.Id}); !errors.As(err, &conflict) {
		t.Errorf("delete while CREATE_IN_PROGRESS: %v, want ConflictException", err)
	}
	eventually(t, func() bool {
		return must(c.GetTargetGroup(cx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: tg.Id})).Status == types.TargetGroupStatusActive
	})
	del := must(c.DeleteTargetGroup(cx, &vpclattice.DeleteTargetGroupInput{TargetGroupIdentifier: tg.Id}))
	if del.Status != types.TargetGroupStatusDeleteInProgress {
		t.Errorf("delete status %s", del.Status)
	}
	eventually(t, func() bool {
		_, err := c.GetTargetGroup(cx, &vpclattice.GetTargetGroupInput{TargetGroupIdentifier: tg.Id})
		var nf *types.ResourceNotFoundException
		return errors.As(err, &nf)
	})
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTargetStatus(t *testing.T) {
	srv, c := start(t, func(o *api.Options) { o.DrainingDelay = time.Hour })
	cx := ctx(t)
	svc := must(c.CreateService(cx, &vpclattice.CreateServiceInput{Name: aws.String("status")}))
	mkTG := func(name string, version types.TargetGroupProtocolVersion) *string {
		return must(c.CreateTargetGroup(cx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, ProtocolVersion: version,
				VpcIdentifier: aws.String("vpc-0123456789abcdef0")}})).Id
	}
	h1, h2 := mkTG("http1-tg", types.TargetGroupProtocolVersionHttp1), mkTG("http2-tg", types.TargetGroupProtocolVersionHttp2)
	for _, tg := range []*string{h1, h2} {
		must(c.RegisterTargets(cx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg, Targets: []types.Target{{Id: aws.String("10.244.0.1")}}}))
	}
	status := func(tg *string) types.TargetStatus {
		return must(c.ListTargets(cx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: tg})).Items[0].Status
	}
	if s := status(h1); s != types.TargetStatusUnused {
		t.Errorf("unused TG: %s", s)
	}
	must(c.CreateListener(cx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String("http"),
		Protocol: types.ListenerProtocolHttp, DefaultAction: forward(h1, h2)}))
	steps := []struct {
		name string
		do   func()
		tg   *string
		want types.TargetStatus
	}{
		{"health-checked starts INITIAL", func() {}, h1, types.TargetStatusInitial},
		{"HTTP2 has no default health check", func() {}, h2, types.TargetStatusUnavailable},
		{"data plane reports health", func() { srv.Store().SetTargetHealth(*h1, "10.244.0.1", 80, "HEALTHY", "") }, h1, types.TargetStatusHealthy},
		{"deregistered drains", func() {
			must(c.DeregisterTargets(cx, &vpclattice.DeregisterTargetsInput{TargetGroupIdentifier: h1, Targets: []types.Target{{Id: aws.String("10.244.0.1")}}}))
		}, h1, types.TargetStatusDraining},
	}
	for _, st := range steps {
		st.do()
		if got := status(st.tg); got != st.want {
			t.Errorf("%s: %s, want %s", st.name, got, st.want)
		}
	}
	snap := srv.Store().Snapshot()
	for _, tg := range snap.TargetGroups {
		if tg.ID == *h1 && tg.Targets[0].Status != "DRAINING" {
			t.Errorf("snapshot target status %s", tg.Targets[0].Status)
		}
	}
}

func TestPersistence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state")
	open := func() (*api.Server, *vpclattice.Client) {
		return start(t, func(o *api.Options) { o.StateFile = file })
	}
	srv, c := open()
	f := newFixture(t, c, "keep")
	must(c.RegisterTargets(ctx(t), &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: f.tg.Id, Targets: []types.Target{{Id: aws.String("10.244.0.9")}}}))
	must(c.TagResource(ctx(t), &vpclattice.TagResourceInput{ResourceArn: f.svc.Arn, Tags: map[string]string{"k": "v"}}))
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	_, c = open()
	cx := ctx(t)
	svc := must(c.GetService(cx, &vpclattice.GetServiceInput{ServiceIdentifier: f.svc.Id}))
	if *svc.DnsEntry.DomainName != *f.svc.DnsEntry.DomainName {
		t.Errorf("service after restart: %+v", svc)
	}
	if tags := must(c.ListTagsForResource(cx, &vpclattice.ListTagsForResourceInput{ResourceArn: f.svc.Arn})); tags.Tags["k"] != "v" {
		t.Errorf("tags after restart: %v", tags.Tags)
	}
	if lt := must(c.ListTargets(cx, &vpclattice.ListTargetsInput{TargetGroupIdentifier: f.tg.Id})); len(lt.Items) != 1 {
		t.Errorf("targets after restart: %+v", lt.Items)
	}
	rules := must(c.ListRules(cx, &vpclattice.ListRulesInput{ServiceIdentifier: f.svc.Id, ListenerIdentifier: f.listener.Id}))
	if len(rules.Items) != 1 || *rules.Items[0].Id == "" {
		t.Errorf("default rule after restart: %+v", rules.Items)
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files, want only the state file", len(entries))
	}
}

func TestAdminEndpoint(t *testing.T) {
	srv, c := start(t, nil)
	admin := httptest.NewServer(srv.AdminHandler())
	t.Cleanup(admin.Close)
	get := func(path string) string {
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	must(c.CreateService(ctx(t), &vpclattice.CreateServiceInput{Name: aws.String("metered")}))
	must(c.ListServices(ctx(t), &vpclattice.ListServicesInput{}))

	if m := get("/metrics"); !strings.Contains(m, `locallattice_api_calls_total{code="201",operation="CreateService"} 1`) ||
		!strings.Contains(m, "locallattice_api_call_duration_seconds_bucket") {
		t.Errorf("metrics lack the call counter or histogram")
	}
	var counters struct {
		Total, Mutating int64
		Operations      map[string]map[string]int64
	}
	if err := json.Unmarshal([]byte(get("/counters")), &counters); err != nil {
		t.Fatal(err)
	}
	if counters.Total != 2 || counters.Mutating != 1 || counters.Operations["CreateService"]["201"] != 1 {
		t.Errorf("counters %+v", counters)
	}
	resp, err := http.Post(admin.URL+"/counters/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if n := srv.Counts().Total(); n != 0 {
		t.Errorf("%d calls after reset", n)
	}

	req, _ := http.NewRequest(http.MethodPut, admin.URL+"/faults", strings.NewReader(`{"apiLatency":"5ms","tpsLimit":50}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if f := srv.Faults(); f.APILatency != 5*time.Millisecond || f.TPSLimit != 50 {
		t.Errorf("faults after PUT: %+v", f)
	}
	req, _ = http.NewRequest(http.MethodPut, admin.URL+"/faults", strings.NewReader(`{"errorRate":2}`))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("errorRate 2 accepted: %d", resp.StatusCode)
	}
}
