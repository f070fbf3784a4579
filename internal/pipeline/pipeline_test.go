package pipeline

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// world is a GatewayClass of ours, Gateway my-hotel and HTTPRoute inventory with its backend.
const world = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: amazon-vpc-lattice, generation: 1}
spec: {controllerName: application-networking.k8s.aws/gateway-api-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: my-hotel, namespace: default, generation: 1}
spec:
  gatewayClassName: amazon-vpc-lattice
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: inventory, namespace: default, generation: 1}
spec:
  parentRefs: [{name: my-hotel}]
  rules: [{backendRefs: [{name: inventory, port: 8090}]}]
---
apiVersion: v1
kind: Service
metadata: {name: inventory, namespace: default}
spec: {ports: [{port: 8090}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: inventory-1, namespace: default, labels: {kubernetes.io/service-name: inventory}}
addressType: IPv4
ports: [{port: 8090}]
endpoints: [{addresses: [10.244.0.1]}]
`

var (
	testConfig = translate.Config{Owner: model.Owner{AccountID: "123456789012", ClusterName: "test", VPCID: "vpc-0123456789abcdef0"}}
	inventory  = model.RouteKey{Kind: model.KindHTTPRoute, Namespace: "default", Name: "inventory"}
	t1         = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2         = t1.Add(time.Hour)
)

// fakeDeployer answers Apply with a canned result and records what it was asked.
type fakeDeployer struct {
	result  func(*model.Model) (*deploy.Result, error)
	applied []*model.Model
	synced  []string
}

func (f *fakeDeployer) Apply(_ context.Context, m *model.Model) (*deploy.Result, error) {
	f.applied = append(f.applied, m)
	return f.result(m)
}

func (f *fakeDeployer) SyncTargets(_ context.Context, m *model.Model, names []string) (*deploy.Result, error) {
	f.synced = append(f.synced, names...)
	return f.result(m)
}

// programmed is Lattice accepting everything in the model, with routeFailure (when set) as
// the inventory route's failure.
func programmed(routeFailure string) func(*model.Model) (*deploy.Result, error) {
	return func(m *model.Model) (*deploy.Result, error) {
		res := &deploy.Result{Routes: map[model.RouteKey]deploy.RouteResult{}, Gateways: map[model.GatewayKey]deploy.GatewayResult{}}
		for _, sn := range m.ServiceNetworks {
			res.Gateways[sn.Gateway] = deploy.GatewayResult{Programmed: true, ServiceNetworkARN: "arn:aws:vpc-lattice:us-west-2:123456789012:servicenetwork/sn-1"}
		}
		for _, svc := range m.Services {
			rr := deploy.RouteResult{Programmed: true, DNSName: svc.Name + ".lattice.test", ServiceARN: "arn:svc/" + svc.Name}
			if svc.Route == inventory && routeFailure != "" {
				rr = deploy.RouteResult{Message: routeFailure}
			}
			res.Routes[svc.Route] = rr
		}
		return res, nil
	}
}

func failing(res func(*model.Model) (*deploy.Result, error), err error) func(*model.Model) (*deploy.Result, error) {
	return func(m *model.Model) (*deploy.Result, error) {
		if res == nil {
			return nil, err
		}
		r, _ := res(m)
		return r, err
	}
}

func snapshot(t *testing.T, mutate func(*translate.Input)) *translate.Input {
	t.Helper()
	return parse(t, world, mutate)
}

func deleting(obj client.Object) {
	now := metav1.NewTime(t1)
	obj.SetDeletionTimestamp(&now)
	obj.SetFinalizers([]string{"x"})
}

// condition names a Programmed condition by status, reason and message ("" message: any).
type condition struct{ status, reason, message string }

func programmedOf(t *testing.T, conds []metav1.Condition) condition {
	t.Helper()
	c := meta.FindStatusCondition(conds, status.ConditionProgrammed)
	if c == nil {
		return condition{}
	}
	return condition{string(c.Status), c.Reason, c.Message}
}

func decisions(fs []Finalizer) []string {
	var out []string
	for _, f := range fs {
		verb := "release"
		if f.Hold {
			verb = "hold"
		}
		out = append(out, verb+" "+Kind(f.Object)+" "+f.Object.GetName())
	}
	sort.Strings(out)
	return out
}

func TestPass(t *testing.T) {
	const arn = "aws-service-network-arn: arn:aws:vpc-lattice:us-west-2:123456789012:servicenetwork/sn-1"
	unreachable := errors.New("dial tcp 127.0.0.1:8686: connection refused")
	tests := []struct {
		name   string
		mutate func(*translate.Input)
		deploy func(*model.Model) (*deploy.Result, error)

		route, gateway, listener condition         // Programmed conditions; zero: no status of ours
		annotations              map[string]string // wanted on the route; nil: left alone
		protect, release         []string
		unprogrammed             int
	}{
		{
			name:        "everything programmed",
			deploy:      programmed(""),
			route:       condition{"True", "Programmed", "Programmed in VPC Lattice"},
			gateway:     condition{"True", "Programmed", arn},
			listener:    condition{"True", "Programmed", arn},
			annotations: map[string]string{status.AnnotationDomainName: "inventory-default.lattice.test", status.AnnotationServiceARN: "arn:svc/inventory-default"},
			protect:     []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice", "hold HTTPRoute inventory"},
		},
		{
			name:         "Lattice refuses the route's service",
			deploy:       programmed("CreateService inventory-default: ConflictException: name taken"),
			route:        condition{"False", "Invalid", "CreateService inventory-default: ConflictException: name taken"},
			gateway:      condition{"True", "Programmed", arn},
			listener:     condition{"True", "Programmed", arn},
			protect:      []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice", "hold HTTPRoute inventory"},
			unprogrammed: 1,
		},
		{
			name:         "Lattice unreachable: everything Pending, no finalizer released",
			mutate:       func(in *translate.Input) { deleting(&in.HTTPRoutes[0]) },
			deploy:       failing(nil, unreachable),
			gateway:      condition{"False", "Pending", "VPC Lattice: " + unreachable.Error() + "; retrying"},
			listener:     condition{"False", "Pending", "VPC Lattice: " + unreachable.Error() + "; retrying"},
			protect:      []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice"},
			unprogrammed: 1,
		},
		{
			name:     "cleanup error: statuses from the result, finalizers kept",
			mutate:   func(in *translate.Input) { deleting(&in.HTTPRoutes[0]) },
			deploy:   failing(programmed(""), errors.New("DeleteService old: ConflictException")),
			gateway:  condition{"True", "Programmed", arn},
			listener: condition{"True", "Programmed", arn},
			protect:  []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice"},
		},
		{
			name:     "route being deleted: left out of the model, released after a clean Apply",
			mutate:   func(in *translate.Input) { deleting(&in.HTTPRoutes[0]) },
			deploy:   programmed(""),
			gateway:  condition{"True", "Programmed", arn},
			listener: condition{"True", "Programmed", arn},
			protect:  []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice"},
			release:  []string{"release HTTPRoute inventory"},
		},
		{
			name: "route of ours rejected: its Lattice service goes, and so do its annotations",
			mutate: func(in *translate.Input) {
				r := &in.HTTPRoutes[0]
				r.Spec.ParentRefs[0].SectionName = ptr[gwv1.SectionName]("no-such-listener")
				r.Annotations = map[string]string{status.AnnotationDomainName: "old.lattice.test", status.AnnotationServiceARN: "arn:old", "team": "hotel"}
			},
			deploy:      programmed(""),
			gateway:     condition{"True", "Programmed", arn},
			listener:    condition{"True", "Programmed", arn},
			annotations: map[string]string{"team": "hotel"},
			protect:     []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice", "hold HTTPRoute inventory"},
		},
		{
			name: "route moved to another controller's gateway: annotations left to it, released",
			mutate: func(in *translate.Input) {
				r := &in.HTTPRoutes[0]
				r.Spec.ParentRefs[0].Name = "istio"
				r.Annotations = map[string]string{status.AnnotationDomainName: "old.lattice.test", status.AnnotationServiceARN: "arn:old"}
			},
			deploy:   programmed(""),
			gateway:  condition{"True", "Programmed", arn},
			listener: condition{"True", "Programmed", arn},
			protect:  []string{"hold Gateway my-hotel", "hold GatewayClass amazon-vpc-lattice"},
			release:  []string{"release HTTPRoute inventory"},
		},
		{
			name: "Gateway being deleted with its class: class keeps its finalizer, Gateway released",
			mutate: func(in *translate.Input) {
				deleting(&in.Gateways[0])
				deleting(&in.GatewayClasses[0])
			},
			deploy:  programmed(""),
			protect: []string{"hold HTTPRoute inventory"},
			release: []string{"release Gateway my-hotel"},
		},
		{
			name: "a failed deletion holds only the finalizer of its object",
			mutate: func(in *translate.Input) {
				deleting(&in.HTTPRoutes[0])
				deleting(&in.Gateways[0])
			},
			deploy: func(m *model.Model) (*deploy.Result, error) {
				res, err := programmed("")(m)
				res.Withdrawals.Gateways = map[model.GatewayKey]string{{Namespace: "default", Name: "my-hotel"}: "DeleteServiceNetwork service network my-hotel: ConflictException"}
				return res, err
			},
			protect:      []string{"hold GatewayClass amazon-vpc-lattice"},
			release:      []string{"release HTTPRoute inventory"},
			unprogrammed: 1,
		},
		{
			name:    "class without Gateways lets its finalizer go",
			mutate:  func(in *translate.Input) { in.Gateways = nil },
			deploy:  programmed(""),
			protect: []string{"release GatewayClass amazon-vpc-lattice"},
			release: []string{"release HTTPRoute inventory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := snapshot(t, tt.mutate)
			before := deepCopy(in)
			d := &fakeDeployer{result: tt.deploy}
			p := New(testConfig, d)
			pass := p.Translate(in)
			if got := decisions(pass.Protect()); !reflect.DeepEqual(got, tt.protect) {
				t.Errorf("Protect = %q, want %q", got, tt.protect)
			}
			p.Deploy(context.Background(), pass)
			if len(d.applied) != 1 {
				t.Fatalf("Apply called %d times, want 1", len(d.applied))
			}
			if !reflect.DeepEqual(before, in) {
				t.Error("the pass modified its snapshot")
			}

			route, gw := &in.HTTPRoutes[0], (*gwv1.Gateway)(nil)
			if len(in.Gateways) > 0 {
				gw = &in.Gateways[0]
			}
			for _, obj := range pass.Objects() {
				pass.SetStatus(obj, t1)
			}
			var gotRoute, gotGateway, gotListener condition
			if len(route.Status.Parents) > 0 {
				gotRoute = programmedOf(t, route.Status.Parents[0].Conditions)
			}
			if gw != nil && len(gw.Status.Listeners) > 0 {
				gotGateway, gotListener = programmedOf(t, gw.Status.Conditions), programmedOf(t, gw.Status.Listeners[0].Conditions)
			}
			for _, c := range []struct {
				what      string
				got, want condition
			}{{"route", gotRoute, tt.route}, {"gateway", gotGateway, tt.gateway}, {"listener", gotListener, tt.listener}} {
				if c.got != c.want {
					t.Errorf("%s Programmed = %+v, want %+v", c.what, c.got, c.want)
				}
			}

			ann, change := pass.Annotations(route)
			if tt.annotations == nil && change {
				t.Errorf("annotations changed to %v, want them left alone", ann)
			}
			if tt.annotations != nil && (!change || !reflect.DeepEqual(ann, tt.annotations)) {
				t.Errorf("annotations = %v (change %v), want %v", ann, change, tt.annotations)
			}
			if got := decisions(pass.Release()); !reflect.DeepEqual(got, tt.release) {
				t.Errorf("Release = %q, want %q", got, tt.release)
			}
			if got := pass.Unprogrammed(); got != tt.unprogrammed {
				t.Errorf("Unprogrammed = %d, want %d", got, tt.unprogrammed)
			}
		})
	}
}

// TestSteadyState: a second pass with the same answers changes no status (so a provider writes
// nothing), and keeps transition times; a changed answer moves only the changed condition's.
func TestSteadyState(t *testing.T) {
	in := snapshot(t, nil)
	d := &fakeDeployer{result: programmed("")}
	p := New(testConfig, d)
	pass := func(at time.Time) (changed []string) {
		ps := p.Translate(in)
		p.Deploy(context.Background(), ps)
		for _, obj := range ps.Objects() {
			if ours, ch := ps.SetStatus(obj, at); ours && ch {
				changed = append(changed, Kind(obj))
			}
		}
		return changed
	}
	if got := pass(t1); len(got) != 3 {
		t.Fatalf("first pass changed %v, want GatewayClass, Gateway and HTTPRoute", got)
	}
	if got := pass(t2); len(got) != 0 {
		t.Errorf("steady state changed %v, want nothing", got)
	}
	d.result = programmed("CreateRule: ServiceQuotaExceededException")
	if got := pass(t2); !reflect.DeepEqual(got, []string{"HTTPRoute"}) {
		t.Errorf("route failure changed %v, want only the HTTPRoute", got)
	}
	conds := in.HTTPRoutes[0].Status.Parents[0].Conditions
	accepted, prog := meta.FindStatusCondition(conds, "Accepted"), meta.FindStatusCondition(conds, status.ConditionProgrammed)
	if !accepted.LastTransitionTime.Time.Equal(t1) || !prog.LastTransitionTime.Time.Equal(t2) {
		t.Errorf("transition times: Accepted %v (want %v), Programmed %v (want %v)", accepted.LastTransitionTime, t1, prog.LastTransitionTime, t2)
	}
}

// TestOtherControllersParents: a route shared with another controller keeps its entries.
func TestOtherControllersParents(t *testing.T) {
	other := gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: "mesh"}, ControllerName: "istio.io/gateway-controller",
		Conditions: []metav1.Condition{{Type: "Accepted", Status: "True", Reason: "Accepted", LastTransitionTime: metav1.NewTime(t1)}}}
	in := snapshot(t, func(in *translate.Input) { in.HTTPRoutes[0].Status.Parents = []gwv1.RouteParentStatus{other} })
	p := New(testConfig, &fakeDeployer{result: programmed("")})
	pass := p.Translate(in)
	p.Deploy(context.Background(), pass)
	route := &in.HTTPRoutes[0]
	if ours, changed := pass.SetStatus(route, t2); !ours || !changed {
		t.Fatalf("SetStatus = %v, %v; want ours and changed", ours, changed)
	}
	parents := route.Status.Parents
	if len(parents) != 2 || !reflect.DeepEqual(parents[0], other) || parents[1].ControllerName != ours {
		t.Errorf("parents = %+v, want istio's entry first, then ours", parents)
	}
}

func TestSyncTargets(t *testing.T) {
	svc := types.NamespacedName{Namespace: "default", Name: "inventory"}
	moreEndpoints := func(in *translate.Input) {
		in.EndpointSlices[0].Endpoints[0].Addresses = append(in.EndpointSlices[0].Endpoints[0].Addresses, "10.244.0.2")
	}
	tests := []struct {
		name     string
		applied  bool
		mutate   func(*translate.Input)
		deploy   func(*model.Model) (*deploy.Result, error)
		wantFull bool
		wantErr  bool
		wantSync []string
		wantTGs  int
	}{
		{name: "before the first Apply: a full pass", mutate: moreEndpoints, deploy: programmed(""), wantFull: true},
		{name: "only targets changed: synced alone", applied: true, mutate: moreEndpoints, deploy: programmed(""), wantSync: []string{"k8s-default-inventory-8090-http1-762b3c48"}, wantTGs: 1},
		{name: "more than targets changed: a full pass", applied: true, deploy: programmed(""),
			mutate: func(in *translate.Input) { in.HTTPRoutes[0].Spec.Hostnames = []gwv1.Hostname{"inventory.example.com"} }, wantFull: true},
		{name: "sync failed: a full pass reports it", applied: true, mutate: moreEndpoints, deploy: programmed("RegisterTargets: ThrottlingException"),
			wantSync: []string{"k8s-default-inventory-8090-http1-762b3c48"}, wantTGs: 1, wantFull: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &fakeDeployer{result: programmed("")}
			p := New(testConfig, d)
			if tt.applied {
				p.Deploy(context.Background(), p.Translate(snapshot(t, nil)))
			}
			d.result = tt.deploy
			tgs, full, err := p.SyncTargets(context.Background(), snapshot(t, tt.mutate), svc)
			if full != tt.wantFull || (err != nil) != tt.wantErr || len(tgs) != tt.wantTGs {
				t.Errorf("SyncTargets = %v, full %v, err %v; want %d target groups, full %v, error %v", tgs, full, err, tt.wantTGs, tt.wantFull, tt.wantErr)
			}
			if !reflect.DeepEqual(d.synced, tt.wantSync) {
				t.Errorf("synced %v, want %v", d.synced, tt.wantSync)
			}
		})
	}
}

func deepCopy(in *translate.Input) *translate.Input {
	out := *in
	out.GatewayClasses = copyEach(in.GatewayClasses, (*gwv1.GatewayClass).DeepCopy)
	out.Gateways = copyEach(in.Gateways, (*gwv1.Gateway).DeepCopy)
	out.HTTPRoutes = copyEach(in.HTTPRoutes, (*gwv1.HTTPRoute).DeepCopy)
	return &out
}

func copyEach[T any](s []T, deepCopy func(*T) *T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	for i := range s {
		out[i] = *deepCopy(&s[i])
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestListenerSetProgrammed: a ListenerSet and its listeners are Programmed when their parent
// Gateway's service network is, and the status lands on the ListenerSet object.
func TestListenerSetProgrammed(t *testing.T) {
	const set = `apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: extra, namespace: default, generation: 3}
spec:
  parentRef: {name: my-hotel}
  listeners: [{name: extra, port: 8080, protocol: HTTP}]
`
	in := parse(t, world+"---\n"+set, func(in *translate.Input) {
		from := gwv1.NamespacesFromSame
		in.Gateways[0].Spec.AllowedListeners = &gwv1.AllowedListeners{Namespaces: &gwv1.ListenerNamespaces{From: &from}}
	})
	p := New(testConfig, &fakeDeployer{result: programmed("")})
	pass := p.Translate(in)
	p.Deploy(context.Background(), pass)

	ls := &in.ListenerSets[0]
	ours, changed := pass.SetStatus(ls, t2)
	if !ours || !changed {
		t.Fatalf("SetStatus on the ListenerSet: ours %v changed %v, want both", ours, changed)
	}
	if got := programmedOf(t, ls.Status.Conditions); got.status != "True" || got.reason != status.ReasonProgrammed {
		t.Errorf("ListenerSet Programmed = %+v, want True/Programmed", got)
	}
	if len(ls.Status.Listeners) != 1 {
		t.Fatalf("ListenerSet has %d listener statuses, want 1", len(ls.Status.Listeners))
	}
	if got := programmedOf(t, ls.Status.Listeners[0].Conditions); got.status != "True" {
		t.Errorf("ListenerSet listener Programmed = %+v, want True", got)
	}
	if c := ls.Status.Conditions[0]; c.ObservedGeneration != 3 || c.LastTransitionTime.Time != t2 {
		t.Errorf("Accepted observedGeneration %d at %v, want 3 at %v", c.ObservedGeneration, c.LastTransitionTime, t2)
	}
	gw := &in.Gateways[0]
	pass.SetStatus(gw, t2)
	if n := gw.Status.AttachedListenerSets; n == nil || *n != 1 {
		t.Errorf("Gateway attachedListenerSets = %v, want 1", n)
	}
	if Kind(ls) != "ListenerSet" {
		t.Errorf("Kind = %q, want ListenerSet", Kind(ls))
	}
}
