package status

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
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

func TestMergeConditions(t *testing.T) {
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
			if got := MergeConditions(tt.current, tt.want, now); !equality.Semantic.DeepEqual(got, tt.expect) {
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
			got := MergeParents(tt.current, tt.want, ours, now)
			if !equality.Semantic.DeepEqual(got, tt.expect) {
				t.Errorf("got  %+v\nwant %+v", got, tt.expect)
			}
		})
	}
}

func TestMergeGatewayListeners(t *testing.T) {
	current := gwv1.GatewayStatus{
		Conditions: []metav1.Condition{cond("Accepted", "True", t0)},
		Listeners: []gwv1.ListenerStatus{
			{Name: "http", Conditions: []metav1.Condition{cond("Programmed", "True", t0)}},
			{Name: "https", Conditions: []metav1.Condition{cond("Programmed", "True", t0)}},
		},
	}
	want := gwv1.GatewayStatus{
		Conditions: []metav1.Condition{cond("Accepted", "True", metav1.Time{})},
		Listeners: []gwv1.ListenerStatus{
			{Name: "https", Conditions: []metav1.Condition{cond("Programmed", "False", metav1.Time{})}},
			{Name: "http", Conditions: []metav1.Condition{cond("Programmed", "True", metav1.Time{})}},
			{Name: "tls", Conditions: []metav1.Condition{cond("Programmed", "True", metav1.Time{})}},
		},
	}
	got := MergeGateway(current, want, now)
	for _, c := range []struct {
		listener int
		at       metav1.Time
	}{{0, now}, {1, t0}, {2, now}} {
		if at := got.Listeners[c.listener].Conditions[0].LastTransitionTime; !at.Equal(&c.at) {
			t.Errorf("listener %s: lastTransitionTime %v, want %v", got.Listeners[c.listener].Name, at, c.at)
		}
	}
	if !got.Conditions[0].LastTransitionTime.Equal(&t0) {
		t.Errorf("gateway Accepted: lastTransitionTime %v, want %v", got.Conditions[0].LastTransitionTime, t0)
	}
	if !want.Listeners[0].Conditions[0].LastTransitionTime.IsZero() {
		t.Error("MergeGateway must not modify want")
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
			if got := ProgrammedAt(tt.parents, ours, 2); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cut  bool
	}{
		{"short message unchanged", "ServiceQuotaExceededException", false},
		{"exactly the limit unchanged", strings.Repeat("a", MaxMessageLength), false},
		{"one byte over is cut", strings.Repeat("a", MaxMessageLength+1), true},
		{"multi-byte characters cut whole", strings.Repeat("ü", MaxMessageLength), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Truncate(tt.in)
			if len(got) > MaxMessageLength || !utf8.ValidString(got) {
				t.Fatalf("len %d, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
			if cut := got != tt.in; cut != tt.cut {
				t.Errorf("cut = %v, want %v", cut, tt.cut)
			}
			if tt.cut && !strings.HasSuffix(got, "(truncated)") {
				t.Errorf("a cut message must say so: ...%q", got[len(got)-20:])
			}
		})
	}
	long := []metav1.Condition{{Type: "Programmed", Status: "False", Message: strings.Repeat("x", 40000)}}
	if got := MergeConditions(nil, long, now); len(got[0].Message) > MaxMessageLength {
		t.Errorf("MergeConditions wrote a %d-byte message", len(got[0].Message))
	}
}

func TestSetProgrammed(t *testing.T) {
	pendingCond := func() []metav1.Condition {
		return []metav1.Condition{{Type: ConditionProgrammed, Status: metav1.ConditionUnknown, Reason: ReasonPending, Message: "Waiting for VPC Lattice"}}
	}
	tests := []struct {
		name                    string
		conds                   []metav1.Condition
		outcome                 Outcome
		status, reason, message string
	}{
		{"success, default message", pendingCond(), Outcome{Programmed: true}, "True", "Programmed", "Programmed in VPC Lattice"},
		{"success with message", pendingCond(), Outcome{Programmed: true, Message: "aws-service-network-arn: arn:x"}, "True", "Programmed", "aws-service-network-arn: arn:x"},
		{"failure, default reason", pendingCond(), Outcome{Message: "CreateService: ConflictException"}, "False", "Invalid", "CreateService: ConflictException"},
		{"retry keeps Pending", pendingCond(), Outcome{Reason: ReasonPending, Message: "unreachable"}, "False", "Pending", "unreachable"},
		{"decided by translate: left alone", []metav1.Condition{{Type: ConditionProgrammed, Status: "False", Reason: "Invalid", Message: "listener is not valid"}},
			Outcome{Programmed: true}, "False", "Invalid", "listener is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			SetProgrammed(tt.conds, tt.outcome)
			c := tt.conds[0]
			if string(c.Status) != tt.status || c.Reason != tt.reason || c.Message != tt.message {
				t.Errorf("got %s/%s %q, want %s/%s %q", c.Status, c.Reason, c.Message, tt.status, tt.reason, tt.message)
			}
		})
	}
}

func TestMergeListenerSetListeners(t *testing.T) {
	current := gwv1.ListenerSetStatus{
		Conditions: []metav1.Condition{cond("Accepted", "True", t0)},
		Listeners: []gwv1.ListenerEntryStatus{
			{Name: "a", Conditions: []metav1.Condition{cond("Programmed", "True", t0)}},
			{Name: "b", Conditions: []metav1.Condition{cond("Programmed", "True", t0)}},
		},
	}
	want := gwv1.ListenerSetStatus{
		Conditions: []metav1.Condition{cond("Accepted", "False", metav1.Time{})},
		Listeners: []gwv1.ListenerEntryStatus{
			{Name: "b", Conditions: []metav1.Condition{cond("Programmed", "True", metav1.Time{})}},
			{Name: "a", Conditions: []metav1.Condition{cond("Programmed", "False", metav1.Time{})}},
		},
	}
	got := MergeListenerSet(current, want, now)
	if at := got.Conditions[0].LastTransitionTime; !at.Equal(&now) {
		t.Errorf("Accepted changed status: lastTransitionTime %v, want %v", at, now)
	}
	if at := got.Listeners[0].Conditions[0].LastTransitionTime; !at.Equal(&t0) {
		t.Errorf("listener b unchanged: lastTransitionTime %v, want %v", at, t0)
	}
	if at := got.Listeners[1].Conditions[0].LastTransitionTime; !at.Equal(&now) {
		t.Errorf("listener a changed: lastTransitionTime %v, want %v", at, now)
	}
	if !want.Listeners[0].Conditions[0].LastTransitionTime.IsZero() {
		t.Error("MergeListenerSet must not modify want")
	}
}
