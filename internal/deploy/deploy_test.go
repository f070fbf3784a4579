package deploy_test

import (
	"context"
	"maps"
	"testing"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/api"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// step is one change of the model and the exact API calls it must cost.
type step struct {
	name   string
	change func(m *model.Model)
	calls  map[string]int64
}

var discovery = map[string]int64{"ListServiceNetworks": 1, "ListServices": 1, "ListTargetGroups": 1, "ListServiceNetworkVpcAssociations": 1}

func plus(a, b map[string]int64) map[string]int64 {
	out := maps.Clone(a)
	for k, v := range b {
		out[k] += v
	}
	return out
}

func svc(m *model.Model, route string) *model.Service {
	for i := range m.Services {
		if m.Services[i].Route.Name == route {
			return &m.Services[i]
		}
	}
	panic("no route " + route)
}

var steps = []step{
	{"create", func(*model.Model) {}, plus(discovery, map[string]int64{
		"CreateServiceNetwork": 1, "CreateServiceNetworkVpcAssociation": 1, "CreateTargetGroup": 4, "RegisterTargets": 4,
		"CreateService": 2, "CreateServiceNetworkServiceAssociation": 2, "CreateListener": 2, "CreateRule": 3})},
	{"steady state", func(*model.Model) {}, map[string]int64{}},
	{"add rule", func(m *model.Model) {
		l := &svc(m, "rates").Listeners[0]
		l.Rules = append(l.Rules, rule("rates", 3, prefix("/rates"), forward("review", 1)))
	}, map[string]int64{"CreateRule": 1}},
	{"remove rule", func(m *model.Model) {
		l := &svc(m, "rates").Listeners[0]
		l.Rules = l.Rules[:2]
	}, map[string]int64{"DeleteRule": 1}},
	{"change weights", func(m *model.Model) {
		svc(m, "inventory").Listeners[0].Rules[0].Action = forward("inventory-ver1", 20, "inventory-ver2", 80)
	}, map[string]int64{"BatchUpdateRule": 1}},
	{"swap rule priorities", func(m *model.Model) {
		rs := svc(m, "rates").Listeners[0].Rules
		rs[0].Priority, rs[1].Priority = 2, 1
		rs[0], rs[1] = rs[1], rs[0]
	}, map[string]int64{"BatchUpdateRule": 1}},
	{"add backend", func(m *model.Model) {
		s := svc(m, "inventory")
		s.TargetGroups = append(s.TargetGroups, tg("inventory-ver3", "10.244.5.1"))
		s.Listeners[0].Rules[0].Action = forward("inventory-ver1", 20, "inventory-ver2", 40, "inventory-ver3", 40)
	}, map[string]int64{"CreateTargetGroup": 1, "RegisterTargets": 1, "BatchUpdateRule": 1}},
	{"remove backend", func(m *model.Model) {
		s := svc(m, "inventory")
		s.TargetGroups = s.TargetGroups[:2]
		s.Listeners[0].Rules[0].Action = forward("inventory-ver1", 20, "inventory-ver2", 80)
	}, map[string]int64{"BatchUpdateRule": 1, "DeregisterTargets": 1, "DeleteTargetGroup": 1}},
	{"change listener port", func(m *model.Model) {
		s := svc(m, "rates")
		rules := s.Listeners[0].Rules
		s.Listeners = []model.Listener{listener(8080, rules...)}
	}, map[string]int64{"CreateListener": 1, "CreateRule": 2, "DeleteListener": 1}},
	{"change hostname", func(m *model.Model) {
		svc(m, "inventory").CustomDomainName = "inventory.example.com"
	}, map[string]int64{"DeleteServiceNetworkServiceAssociation": 1, "DeleteService": 1, "CreateService": 1,
		"CreateServiceNetworkServiceAssociation": 1, "CreateListener": 1, "CreateRule": 1}},
	{"delete route", func(m *model.Model) {
		m.Services = m.Services[:1]
	}, map[string]int64{"DeleteServiceNetworkServiceAssociation": 1, "DeleteService": 1, "DeregisterTargets": 2, "DeleteTargetGroup": 2}},
	{"delete everything", func(m *model.Model) {
		*m = model.Model{}
	}, map[string]int64{"DeleteServiceNetworkServiceAssociation": 1, "DeleteService": 1, "DeregisterTargets": 2, "DeleteTargetGroup": 2,
		"DeleteServiceNetworkVpcAssociation": 1, "DeleteServiceNetwork": 1}},
}

func TestApplyCallsAndState(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	d := newDeployer(t, newClient(t, srv, 3, nil))
	m := seed()
	ctx := context.Background()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.change(m)
			srv.ResetCounts()
			res, err := d.Apply(ctx, m)
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			for k, r := range res.Routes {
				if !r.Programmed || r.ServiceARN == "" || r.DNSName == "" {
					t.Errorf("route %s: %+v", k, r)
				}
			}
			for k, g := range res.Gateways {
				if !g.Programmed || g.ServiceNetworkID == "" {
					t.Errorf("gateway %s: %+v", k, g)
				}
			}
			checkState(t, srv, m)
			if got := calls(srv); !maps.Equal(got, s.calls) {
				t.Fatalf("API calls\n got %v\nwant %v", got, s.calls)
			}
			// Whatever just changed, applying the same model again is free.
			srv.ResetCounts()
			if _, err := d.Apply(ctx, m); err != nil {
				t.Fatal(err)
			}
			if got := calls(srv); len(got) != 0 {
				t.Fatalf("second apply of an unchanged model made calls: %v", got)
			}
		})
	}
}

func TestVPCAssociationMoves(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	d := newDeployer(t, newClient(t, srv, 3, nil))
	ctx := context.Background()
	m := seed()
	second := model.ServiceNetwork{Name: "my-hotel-2", Gateway: model.GatewayKey{Namespace: "other", Name: "my-hotel"}, Tags: tags()}
	m.ServiceNetworks = append(m.ServiceNetworks, second)
	cases := []struct {
		name  string
		assoc int // index of the network that wants the VPC, -1 none
		calls map[string]int64
	}{
		{"first network", 0, nil},
		{"moves to the second", 1, map[string]int64{"DeleteServiceNetworkVpcAssociation": 1, "CreateServiceNetworkVpcAssociation": 1}},
		{"nobody wants it", -1, map[string]int64{"DeleteServiceNetworkVpcAssociation": 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range m.ServiceNetworks {
				m.ServiceNetworks[i].VPCAssociation = nil
				if i == c.assoc {
					m.ServiceNetworks[i].VPCAssociation = &model.VPCAssociation{VPCID: vpcID}
				}
			}
			srv.ResetCounts()
			res, err := d.Apply(ctx, m)
			if err != nil || !allProgrammed(res) {
				t.Fatalf("apply: %s", describeFailure(res, err))
			}
			checkState(t, srv, m)
			if got := calls(srv); c.calls != nil && !maps.Equal(got, c.calls) {
				t.Fatalf("calls %v, want %v", got, c.calls)
			}
		})
	}
}

func TestRouteMovesBetweenServiceNetworks(t *testing.T) {
	srv := startLattice(t, api.Faults{})
	d := newDeployer(t, newClient(t, srv, 3, nil))
	ctx := context.Background()
	m := seed()
	if _, err := d.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		sns   []string
		calls map[string]int64
	}{
		{"joins a second gateway", []string{"my-hotel", "my-hotel-2"},
			map[string]int64{"CreateServiceNetwork": 1, "CreateServiceNetworkServiceAssociation": 1}},
		{"leaves the first", []string{"my-hotel-2"}, map[string]int64{"DeleteServiceNetworkServiceAssociation": 1}},
	}
	m.ServiceNetworks = append(m.ServiceNetworks, model.ServiceNetwork{Name: "my-hotel-2",
		Gateway: model.GatewayKey{Namespace: "default", Name: "my-hotel-2"}, Tags: tags()})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc(m, "rates").ServiceNetworks = c.sns
			srv.ResetCounts()
			res, err := d.Apply(ctx, m)
			if err != nil || !allProgrammed(res) {
				t.Fatalf("apply: %s", describeFailure(res, err))
			}
			checkState(t, srv, m)
			if got := calls(srv); !maps.Equal(got, c.calls) {
				t.Fatalf("calls %v, want %v", got, c.calls)
			}
		})
	}
}
