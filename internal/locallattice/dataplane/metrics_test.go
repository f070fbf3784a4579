package dataplane

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// TestMetricsCountTraffic sends a known number of requests and expects exactly those counts,
// split by who answered: targets, a fixed-response rule, and Lattice when a target is down.
func TestMetricsCountTraffic(t *testing.T) {
	t.Parallel()
	b1 := startBackend(t, "ver1", "127.0.78.1:8090")
	b2 := startBackend(t, "ver2", "127.0.78.2:8090")
	f := newFixture()
	svc := f.service("inventory", "")
	tg1 := f.targetGroup("HTTP", "HTTP1", nil, "", b1.addr)
	tg2 := f.targetGroup("HTTP", "HTTP1", nil, "", b2.addr)
	f.tg(tg1).Name, f.tg(tg2).Name = "inventory-ver1", "inventory-ver2"
	l := f.listener(svc, "HTTP", 80, forward(tg1, 50, tg2, 50))
	f.rule(l, 1, &store.HTTPMatch{PathMatch: &store.PathMatch{Match: store.PathMatchType{Prefix: ptr("/gone")}}}, fixed(404))
	broken := f.service("broken", "")
	// Nothing listens on the dead target: Lattice itself answers 502.
	tg3 := f.targetGroup("HTTP", "HTTP1", nil, "", "127.0.78.3:8090")
	f.tg(tg3).Name = "dead"
	f.listener(broken, "HTTP", 80, forward(tg3, 1))
	for i := range f.snap.Listeners {
		f.snap.Listeners[i].Name = "http"
	}
	src := newFakeSource()
	src.publish(f.build())
	dp := startDataPlane(t, src, "127.0.78.10")
	c := clientFor(dp, nil)

	send := func(host, path string, n, want int) {
		for range n {
			if code, _ := get(t, c, mustRequest(t, "GET", "http://"+host+path)); code != want {
				t.Fatalf("GET %s%s: %d, want %d", host, path, code, want)
			}
		}
	}
	inventory, brokenHost := f.svc(svc).DNSEntry.DomainName, f.svc(broken).DNSEntry.DomainName
	send(inventory, "/", 100, 200)
	send(inventory, "/gone/x", 5, 404)
	send(brokenHost, "/", 10, 502)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(dp.Metrics())
	got := gather(t, reg)
	want := map[string]float64{
		`lattice_request_count_total{listener="http",service="inventory",target_group="inventory-ver1"}`:                           50,
		`lattice_request_count_total{listener="http",service="inventory",target_group="inventory-ver2"}`:                           50,
		`lattice_request_count_total{listener="http",service="inventory",target_group=""}`:                                         5,
		`lattice_request_count_total{listener="http",service="broken",target_group="dead"}`:                                        10,
		`lattice_http_code_count_total{code_class="2XX",listener="http",service="inventory",target_group="inventory-ver1"}`:        50,
		`lattice_http_code_count_total{code_class="2XX",listener="http",service="inventory",target_group="inventory-ver2"}`:        50,
		`lattice_http_code_count_total{code_class="4XX",listener="http",service="inventory",target_group=""}`:                      5,
		`lattice_http_code_count_total{code_class="5XX",listener="http",service="broken",target_group="dead"}`:                     10,
		`lattice_http_code_target_count_total{code_class="2XX",listener="http",service="inventory",target_group="inventory-ver1"}`: 50,
		`lattice_http_code_target_count_total{code_class="2XX",listener="http",service="inventory",target_group="inventory-ver2"}`: 50,
		`lattice_request_time_seconds_count{listener="http",service="inventory",target_group="inventory-ver1"}`:                    50,
		`lattice_request_time_seconds_count{listener="http",service="broken",target_group="dead"}`:                                 10,
		`lattice_active_connection_count{listener="http",service="inventory"}`:                                                     0,
		`lattice_healthy_target_count{target_group="inventory-ver1"}`:                                                              1,
		`lattice_unhealthy_target_count{target_group="inventory-ver1"}`:                                                            0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for k := range got {
		// Lattice's own answers never count as the target's.
		if strings.HasPrefix(k, "lattice_http_code_target_count_total") && !strings.Contains(k, `code_class="2XX"`) {
			t.Errorf("unexpected %s = %v", k, got[k])
		}
	}
	eventually(t, "the dead target reported UNHEALTHY", func() bool {
		return gather(t, reg)[`lattice_unhealthy_target_count{target_group="dead"}`] == 1
	})

	split := map[string]uint64{}
	for _, s := range dp.Split(time.Now()) {
		if s.ServiceID == svc {
			split[s.TargetGroupID+" "+s.Target+" "+s.CodeClass+" "+s.RuleARN] += s.Requests
		}
	}
	if split[tg1+" "+b1.addr+" 2XX "] != 50 || split[tg2+" "+b2.addr+" 2XX "] != 50 || split["  4XX arn:rule/"+f.snap.Rules[0].ID] != 5 {
		t.Errorf("split %v", split)
	}
	if len(dp.Split(time.Now().Add(2*time.Minute))) != 0 {
		t.Error("requests older than a minute are still in the split")
	}
	recent := dp.RecentRequests(3)
	if len(recent) != 3 || recent[0].Service != "broken" || recent[0].Status != 502 || recent[0].FromTarget || recent[0].TargetGroup != "dead" {
		t.Errorf("recent requests %+v", recent)
	}
	if n := len(dp.RecentRequests(RecentRequestsKept + 1)); n != 115 {
		t.Errorf("%d recent requests, want 115", n)
	}
}

// gather renders every sample as name{labels} -> value (histograms by their _count).
func gather(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+`="`+lp.GetValue()+`"`)
			}
			name := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				out[name] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[mf.GetName()+"_count{"+strings.Join(labels, ",")+"}"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}
