package kubernetes

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

const ours = gwv1.GatewayController("application-networking.k8s.aws/gateway-api-controller")

var (
	t0  = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now = metav1.NewTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
)

func cond(typ string, status metav1.ConditionStatus, at metav1.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: typ, ObservedGeneration: 1, LastTransitionTime: at}
}

func parent(name string, controller gwv1.GatewayController, conds ...metav1.Condition) gwv1.RouteParentStatus {
	return gwv1.RouteParentStatus{ParentRef: gwv1.ParentReference{Name: gwv1.ObjectName(name)}, ControllerName: controller, Conditions: conds}
}

func TestKeepTransitionTimes(t *testing.T) {
	tests := []struct {
		name          string
		current, want []metav1.Condition
		expect        []metav1.Condition
	}{
		{"new condition gets now", nil, []metav1.Condition{cond("Accepted", "True", metav1.Time{})}, []metav1.Condition{cond("Accepted", "True", now)}},
		{"unchanged status keeps its time", []metav1.Condition{cond("Accepted", "True", t0)}, []metav1.Condition{cond("Accepted", "True", metav1.Time{})}, []metav1.Condition{cond("Accepted", "True", t0)}},
		{"changed status gets now", []metav1.Condition{cond("Accepted", "True", t0)}, []metav1.Condition{cond("Accepted", "False", metav1.Time{})}, []metav1.Condition{cond("Accepted", "False", now)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := keepTransitionTimes(tt.current, tt.want, now); !equality.Semantic.DeepEqual(got, tt.expect) {
				t.Errorf("got %+v, want %+v", got, tt.expect)
			}
		})
	}
}

func TestMergeParents(t *testing.T) {
	other := parent("istio-gw", "istio.io/gateway-controller", cond("Accepted", "True", t0))
	tests := []struct {
		name          string
		current, want []gwv1.RouteParentStatus
		expect        []gwv1.RouteParentStatus
	}{
		{
			name:    "other controllers' entries are kept, ours replaced",
			current: []gwv1.RouteParentStatus{other, parent("my-hotel", ours, cond("Accepted", "False", t0))},
			want:    []gwv1.RouteParentStatus{parent("my-hotel", ours, cond("Accepted", "True", metav1.Time{}))},
			expect:  []gwv1.RouteParentStatus{other, parent("my-hotel", ours, cond("Accepted", "True", now))},
		},
		{
			name:    "unchanged entry is identical, so no write happens",
			current: []gwv1.RouteParentStatus{parent("my-hotel", ours, cond("Accepted", "True", t0))},
			want:    []gwv1.RouteParentStatus{parent("my-hotel", "", cond("Accepted", "True", metav1.Time{}))},
			expect:  []gwv1.RouteParentStatus{parent("my-hotel", ours, cond("Accepted", "True", t0))},
		},
		{
			name:    "no parents of ours any more: our stale entry removed",
			current: []gwv1.RouteParentStatus{other, parent("old", ours, cond("Accepted", "True", t0))},
			want:    []gwv1.RouteParentStatus{},
			expect:  []gwv1.RouteParentStatus{other},
		},
		{
			name:    "nothing at all stays nil",
			current: []gwv1.RouteParentStatus{parent("old", ours)},
			want:    nil,
			expect:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeParents(tt.current, tt.want, ours, now)
			if !equality.Semantic.DeepEqual(got, tt.expect) {
				t.Errorf("got  %+v\nwant %+v", got, tt.expect)
			}
		})
	}
}

func TestProgrammedAt(t *testing.T) {
	prog := func(status metav1.ConditionStatus, gen int64) metav1.Condition {
		c := cond("Programmed", status, t0)
		c.ObservedGeneration = gen
		return c
	}
	tests := []struct {
		name    string
		parents []gwv1.RouteParentStatus
		want    bool
	}{
		{"ours programmed at generation", []gwv1.RouteParentStatus{parent("gw", ours, prog("True", 2))}, true},
		{"older generation", []gwv1.RouteParentStatus{parent("gw", ours, prog("True", 1))}, false},
		{"not programmed", []gwv1.RouteParentStatus{parent("gw", ours, prog("False", 2))}, false},
		{"someone else's", []gwv1.RouteParentStatus{parent("gw", "x.io/y", prog("True", 2))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := programmedAt(tt.parents, string(ours), 2); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEqualIgnoringTargets(t *testing.T) {
	base := func(targets ...model.Target) *model.Model {
		return &model.Model{Services: []model.Service{{Name: "inventory-default", TargetGroups: []model.TargetGroup{{Name: "tg", Port: 8090, Targets: targets}}}}}
	}
	renamed := base()
	renamed.Services[0].TargetGroups[0].Port = 8080
	tests := []struct {
		name string
		a, b *model.Model
		want bool
	}{
		{"only targets differ", base(model.Target{IP: "10.244.0.1", Port: 8090}), base(), true},
		{"target group config differs", base(), renamed, false},
		{"service added", base(), &model.Model{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := equalIgnoringTargets(tt.a, tt.b); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if m := base(model.Target{IP: "10.244.0.1", Port: 8090}); len(m.Services[0].TargetGroups[0].Targets) != 1 {
		t.Error("equalIgnoringTargets must not modify its arguments")
	}
}
