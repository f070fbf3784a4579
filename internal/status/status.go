// Package status holds the Gateway API status mechanics shared by both providers: merging the
// statuses translate computes into the ones objects already carry (keeping lastTransitionTime of
// conditions whose status did not change, and other controllers' route parent entries), filling
// the Programmed conditions from what Lattice answered, the API's message length limit, and the
// condition reasons and route annotations this controller writes, each spelled once.
//
// It is pure: no I/O and no clock; callers pass the time.
package status

import (
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ConditionProgrammed is the condition type of Gateways and listeners, and the one this
// controller adds to each accepted route parent: whether Lattice accepted what was built from the
// object. Gateway API defines no such route condition; upstream reported deploy failures only as
// events, which users rarely see.
const ConditionProgrammed = string(gwv1.GatewayConditionProgrammed)

// Reasons of the Programmed condition.
const (
	// ReasonProgrammed: Lattice holds the object's resources. Gateway API spells the Gateway,
	// listener and (our) route reasons alike.
	ReasonProgrammed = string(gwv1.GatewayReasonProgrammed)
	// ReasonPending: not known yet (translate's verdict before deploy), or retrying after Lattice
	// was unreachable.
	ReasonPending = string(gwv1.GatewayReasonPending)
	// ReasonInvalid: Lattice refused the object's resources; the message says why.
	ReasonInvalid = string(gwv1.GatewayReasonInvalid)
)

// Route annotations written as upstream does, so tooling built on them keeps working.
const (
	AnnotationDomainName = "application-networking.k8s.aws/lattice-assigned-domain-name"
	AnnotationServiceARN = "application-networking.k8s.aws/lattice-service-arn"
)

// Policy annotations written as upstream does, naming the Lattice resource each policy changes
// (upstream reads them back to clean up; tools and runbooks read them too).
const (
	// AnnotationResourceARN on a VpcAssociationPolicy: the service network VPC association.
	AnnotationResourceARN = "application-networking.k8s.aws/resourceArn"
	// AnnotationAccessLogSubscription on an AccessLogPolicy: the access log subscription ARN, and
	// AnnotationAccessLogSubscriptionResourceName the name of its service or service network.
	AnnotationAccessLogSubscription             = "application-networking.k8s.aws/accessLogSubscription"
	AnnotationAccessLogSubscriptionResourceName = "application-networking.k8s.aws/accessLogSubscriptionResourceName"
	// AnnotationIAMAuthPolicyResourceID, -Type and -Name on an IAMAuthPolicy: the ID, type
	// (Service or ServiceNetwork) and name of the resource whose auth policy it is.
	AnnotationIAMAuthPolicyResourceID   = "application-networking.k8s.aws/iam-auth-policy-resource-id"
	AnnotationIAMAuthPolicyResourceType = "application-networking.k8s.aws/iam-auth-policy-resource-type"
	AnnotationIAMAuthPolicyResourceName = "application-networking.k8s.aws/iam-auth-policy-resource-name"
)

// MaxMessageLength is the limit the API server enforces on a condition message (in bytes).
const MaxMessageLength = 32768

const truncated = " ... (truncated)"

// Truncate shortens msg to MaxMessageLength bytes, cutting at a character boundary and saying so,
// so that a long Lattice error never makes the whole status write fail.
func Truncate(msg string) string {
	if len(msg) <= MaxMessageLength {
		return msg
	}
	cut := MaxMessageLength - len(truncated)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + truncated
}

// MergeConditions returns want with each message truncated and each lastTransitionTime taken
// from the current condition of the same type when its status is unchanged, and now otherwise.
// Translate leaves transition times zero to stay deterministic.
func MergeConditions(current, want []metav1.Condition, now metav1.Time) []metav1.Condition {
	out := make([]metav1.Condition, len(want))
	for i, w := range want {
		if old := meta.FindStatusCondition(current, w.Type); old != nil && old.Status == w.Status && !old.LastTransitionTime.IsZero() {
			w.LastTransitionTime = old.LastTransitionTime
		} else {
			w.LastTransitionTime = now
		}
		w.Message = Truncate(w.Message)
		out[i] = w
	}
	return out
}

// MergeGatewayClass returns want with its conditions merged into current's.
func MergeGatewayClass(current, want gwv1.GatewayClassStatus, now metav1.Time) gwv1.GatewayClassStatus {
	next := *want.DeepCopy()
	next.Conditions = MergeConditions(current.Conditions, next.Conditions, now)
	return next
}

// MergeGateway returns want with its conditions, and those of each listener, merged into
// current's.
func MergeGateway(current, want gwv1.GatewayStatus, now metav1.Time) gwv1.GatewayStatus {
	next := *want.DeepCopy()
	next.Conditions = MergeConditions(current.Conditions, next.Conditions, now)
	mergeListeners(current.Listeners, next.Listeners, func(l *gwv1.ListenerStatus) (gwv1.SectionName, *[]metav1.Condition) {
		return l.Name, &l.Conditions
	}, now)
	return next
}

// MergeListenerSet returns want with its conditions, and those of each listener, merged into
// current's.
func MergeListenerSet(current, want gwv1.ListenerSetStatus, now metav1.Time) gwv1.ListenerSetStatus {
	next := *want.DeepCopy()
	next.Conditions = MergeConditions(current.Conditions, next.Conditions, now)
	mergeListeners(current.Listeners, next.Listeners, func(l *gwv1.ListenerEntryStatus) (gwv1.SectionName, *[]metav1.Condition) {
		return l.Name, &l.Conditions
	}, now)
	return next
}

// mergeListeners merges the conditions of each listener of next into those of the current
// listener of the same name, in place.
func mergeListeners[L any](current, next []L, fields func(*L) (gwv1.SectionName, *[]metav1.Condition), now metav1.Time) {
	for i := range next {
		name, conds := fields(&next[i])
		var old []metav1.Condition
		for j := range current {
			if n, c := fields(&current[j]); n == name {
				old = *c
			}
		}
		*conds = MergeConditions(old, *conds, now)
	}
}

// MergeParents replaces the entries of controller in status.parents by want and keeps the other
// controllers' entries, in their order, first.
func MergeParents(current, want []gwv1.RouteParentStatus, controller gwv1.GatewayController, now metav1.Time) []gwv1.RouteParentStatus {
	out := make([]gwv1.RouteParentStatus, 0, len(current)+len(want))
	for _, p := range current {
		if p.ControllerName != controller {
			out = append(out, *p.DeepCopy())
		}
	}
	for _, w := range want {
		w = *w.DeepCopy()
		w.ControllerName = controller
		var old []metav1.Condition
		for _, p := range current {
			if p.ControllerName == controller && equality.Semantic.DeepEqual(p.ParentRef, w.ParentRef) {
				old = p.Conditions
			}
		}
		w.Conditions = MergeConditions(old, w.Conditions, now)
		out = append(out, w)
	}
	// An empty list, never null: the route CRDs require status.parents, so a route left with no
	// entries (ours removed) would fail validation.
	return out
}

// OurConditions are the conditions of controller's first parent entry: what a user reads first
// and what events report.
func OurConditions(parents []gwv1.RouteParentStatus, controller gwv1.GatewayController) []metav1.Condition {
	for _, p := range parents {
		if p.ControllerName == controller {
			return p.Conditions
		}
	}
	return nil
}

// ProgrammedAt reports whether one of controller's parent entries is Programmed for generation.
func ProgrammedAt(parents []gwv1.RouteParentStatus, controller gwv1.GatewayController, generation int64) bool {
	for _, p := range parents {
		if p.ControllerName != controller {
			continue
		}
		if c := meta.FindStatusCondition(p.Conditions, ConditionProgrammed); c != nil &&
			c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation {
			return true
		}
	}
	return false
}

// Outcome is what Lattice answered for one route or gateway.
type Outcome struct {
	Programmed bool
	// Reason of a failure; default ReasonInvalid.
	Reason  string
	Message string
}

// SetProgrammed overwrites, in place, the Pending Programmed conditions of conds with o;
// conditions translate already decided (False because the object is invalid) are left alone.
func SetProgrammed(conds []metav1.Condition, o Outcome) {
	for i := range conds {
		c := &conds[i]
		if c.Type != ConditionProgrammed || c.Reason != ReasonPending {
			continue
		}
		if o.Programmed {
			c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonProgrammed, nonEmpty(o.Message, "Programmed in VPC Lattice")
			continue
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, nonEmpty(o.Reason, ReasonInvalid), o.Message
	}
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
