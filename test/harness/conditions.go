package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Condition is the condition of type typ, or nil.
func Condition(conds []metav1.Condition, typ string) *metav1.Condition {
	return meta.FindStatusCondition(conds, typ)
}

// IsTrue reports whether the condition of type typ is True for generation.
func IsTrue(conds []metav1.Condition, typ string, generation int64) bool {
	c := Condition(conds, typ)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

// ParentConditions returns the conditions of our status.parents entry for the parent named gateway.
func ParentConditions(parents []gwv1.RouteParentStatus, gateway string) []metav1.Condition {
	for _, p := range parents {
		if string(p.ControllerName) == translate.DefaultControllerName && string(p.ParentRef.Name) == gateway {
			return p.Conditions
		}
	}
	return nil
}

// Describe prints conditions for a failure message.
func Describe(conds []metav1.Condition) string {
	var b strings.Builder
	for _, c := range conds {
		fmt.Fprintf(&b, "%s=%s/%s(%q, gen %d) ", c.Type, c.Status, c.Reason, c.Message, c.ObservedGeneration)
	}
	return b.String()
}

// RouteProgrammed waits until the HTTPRoute is Accepted, ResolvedRefs and Programmed under
// gateway for its current generation, and returns it.
func RouteProgrammed(t testing.TB, c client.Client, ns, name, gateway string, timeout time.Duration) *gwv1.HTTPRoute {
	t.Helper()
	r := &gwv1.HTTPRoute{}
	Eventually(t, timeout, That(func() bool {
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			return false
		}
		conds := ParentConditions(r.Status.Parents, gateway)
		return IsTrue(conds, "Accepted", r.Generation) && IsTrue(conds, "ResolvedRefs", r.Generation) && IsTrue(conds, "Programmed", r.Generation)
	}, func() string {
		return fmt.Sprintf("route %s/%s: %s", ns, name, Describe(ParentConditions(r.Status.Parents, gateway)))
	}))
	return r
}

// RouteCondition waits until the HTTPRoute's parent status for gateway has the condition for its
// current generation, and returns it.
func RouteCondition(t testing.TB, c client.Client, ns, name, gateway, typ string, status metav1.ConditionStatus, reason string) *gwv1.HTTPRoute {
	t.Helper()
	r := &gwv1.HTTPRoute{}
	Eventually(t, time.Minute, That(func() bool {
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, r); err != nil {
			return false
		}
		cond := Condition(ParentConditions(r.Status.Parents, gateway), typ)
		return cond != nil && cond.Status == status && cond.Reason == reason && cond.ObservedGeneration == r.Generation
	}, func() string {
		return fmt.Sprintf("%s/%s: want %s=%s/%s, have %s", ns, name, typ, status, reason, Describe(ParentConditions(r.Status.Parents, gateway)))
	}))
	return r
}
