package deploy_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/go-logr/logr"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// BenchmarkSteadyStateApply1000Routes is the cost of re-applying an unchanged model of 1000
// routes: no API call, only the diff against the cache.
func BenchmarkSteadyStateApply1000Routes(b *testing.B) {
	q := api.DefaultQuotas()
	q.Services, q.TargetGroups, q.ServicesPerServiceNetwork = 1010, 2010, 1010
	srv := locallatticetest.Start(b, locallattice.Options{API: api.Options{AccountID: account, Quotas: q}, Logger: locallatticetest.Silent}).API
	d := deploy.New(newClient(b, srv, 3, nil), deploy.Config{Owner: model.Owner{AccountID: account, ClusterName: cluster, VPCID: vpcID}}, logr.Discard())
	m := seed()
	proto := m.Services[0]
	m.Services = nil
	for i := range 1000 {
		s := proto
		s.Name = "route" + strconv.Itoa(i) + "-default"
		s.Route.Name = "route" + strconv.Itoa(i)
		s.TargetGroups = []model.TargetGroup{tg(s.Route.Name+"-a", "10.244.1.1"), tg(s.Route.Name+"-b", "10.244.1.2")}
		s.Listeners = []model.Listener{listener(80, rule("all", 1, prefix("/"), forward(s.Route.Name+"-a", 50, s.Route.Name+"-b", 50)))}
		m.Services = append(m.Services, s)
	}
	ctx := context.Background()
	if _, err := d.Apply(ctx, m); err != nil {
		b.Fatal(err)
	}
	srv.ResetCounts()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Apply(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	if n := srv.Counts().Total(); n != 0 {
		b.Fatalf("steady state made %d calls", n)
	}
}
