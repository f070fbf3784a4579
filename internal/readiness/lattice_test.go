package readiness_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/dataplane"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/readiness"
)

// TestGateFollowsLocalLattice: the whole chain on real servers. A backend pod answers Local
// Lattice's health checks with 503, then 200; the gate, read through the deployer over the SDK,
// stays False while the target is UNHEALTHY and turns True once Lattice's check passes.
func TestGateFollowsLocalLattice(t *testing.T) {
	// Pod IPs cannot be loopback addresses; Local Lattice dials the pod's IP in 127.61/16.
	const podIP, backendIP = "10.61.0.7", "127.61.0.7"
	var healthy atomic.Bool
	ln, err := net.Listen("tcp", backendIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	backend.Listener = ln
	backend.Start()
	t.Cleanup(backend.Close)
	port := ln.Addr().(*net.TCPAddr).Port

	dial, err := dataplane.ParseDialMapping("10.61.0.0/16=127.61.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	ll := locallatticetest.Start(t, locallattice.Options{DataPlane: &dataplane.Options{DataPlaneAddr: "127.0.61.1",
		DialMap: dataplane.DialMap{dial}, HealthCheckInterval: 200 * time.Millisecond}})
	owner := model.Owner{AccountID: locallatticetest.AccountID, ClusterName: "c", VPCID: "vpc-0123456789abcdef0"}
	d := deploy.New(ll.Client, deploy.Config{Owner: owner, WaitInitial: time.Millisecond}, testr.New(t))
	if _, err := d.Apply(t.Context(), webModel(owner, int32(port), podIP)); err != nil {
		t.Fatal(err)
	}

	ctx, c := start(t, d)
	latticeApp(ctx, t, c)
	web := newPod(ctx, t, c, "apps", "web-1", "web")
	if !readiness.Gated(web) {
		t.Fatal("pod behind a lattice route has no gate")
	}
	endpoint(ctx, t, c, web, podIP)
	key := types.NamespacedName{Namespace: "apps", Name: "web-1"}
	waitCondition(t, c, key, corev1.ConditionFalse, "UNHEALTHY")
	healthy.Store(true)
	waitCondition(t, c, key, corev1.ConditionTrue, "TargetHealthy")
}

// webModel is what translate makes of latticeApp: a service network for Gateway sn, a service for route web
// and target group web (Service apps/web) with the pod's target.
func webModel(owner model.Owner, port int32, ip string) *model.Model {
	tags := func(kv ...string) map[string]string {
		m := map[string]string{model.TagManagedBy: owner.ManagedBy()}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tg := model.TargetGroup{Name: "k8s-web-apps-http-http1", Backend: model.BackendKey{Namespace: "apps", Name: "web", Port: 80},
		Type: model.TargetGroupTypeIP, Port: port, Protocol: model.ProtocolHTTP, ProtocolVersion: model.ProtocolVersionHTTP1,
		IPAddressType: model.IPAddressTypeIPv4, VPCID: owner.VPCID, Targets: []model.Target{{IP: ip, Port: port}},
		Tags: tags(model.TagServiceName, "web", model.TagServiceNamespace, "apps", model.TagProtocolVersion, model.ProtocolVersionHTTP1)}
	return &model.Model{
		ServiceNetworks: []model.ServiceNetwork{{Name: "apps-sn", Gateway: model.GatewayKey{Namespace: "apps", Name: "sn"}, Tags: tags()}},
		Services: []model.Service{{Name: "web-apps", Route: model.RouteKey{Kind: model.KindHTTPRoute, Namespace: "apps", Name: "web"},
			ServiceNetworks: []string{"apps-sn"}, TargetGroups: []model.TargetGroup{tg},
			Listeners: []model.Listener{{Name: "http-80", Protocol: model.ProtocolHTTP, Port: 80, Tags: tags(),
				DefaultAction: model.Action{Forward: []model.WeightedTargetGroup{{TargetGroup: tg.Name, Weight: 1}}}}},
			Tags: tags(model.TagRouteName, "web", model.TagRouteNamespace, "apps", model.TagRouteType, "http")}},
	}
}
