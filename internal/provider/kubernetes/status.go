package kubernetes

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Route annotations written as upstream does, so tooling built on them keeps working.
const (
	AnnotationDomainName = "application-networking.k8s.aws/lattice-assigned-domain-name"
	AnnotationServiceARN = "application-networking.k8s.aws/lattice-service-arn"
)

const conditionProgrammed = "Programmed"

// writeStatuses writes every status translate computed that differs from what the API server
// has. Translate leaves lastTransitionTime zero; here it is kept from the current condition when
// the condition's status did not change, and set to now when it did.
func (c *Controller) writeStatuses(ctx context.Context, s *snapshot, out *translate.Output) error {
	now := metav1.Now()
	var errs []error
	for i := range s.classes.Items {
		cl := &s.classes.Items[i]
		want, ok := out.GatewayClasses[cl.Name]
		if !ok {
			continue
		}
		next := cl.DeepCopy()
		next.Status = *want.DeepCopy()
		next.Status.Conditions = keepTransitionTimes(cl.Status.Conditions, next.Status.Conditions, now)
		errs = append(errs, c.updateStatus(ctx, "GatewayClass", cl, next, equality.Semantic.DeepEqual(cl.Status, next.Status)))
	}
	for i := range s.gateways.Items {
		gw := &s.gateways.Items[i]
		want, ok := out.Gateways[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}]
		if !ok {
			continue
		}
		next := gw.DeepCopy()
		next.Status = *want.DeepCopy()
		next.Status.Conditions = keepTransitionTimes(gw.Status.Conditions, next.Status.Conditions, now)
		for j := range next.Status.Listeners {
			l := &next.Status.Listeners[j]
			var old []metav1.Condition
			for _, ol := range gw.Status.Listeners {
				if ol.Name == l.Name {
					old = ol.Conditions
				}
			}
			l.Conditions = keepTransitionTimes(old, l.Conditions, now)
		}
		c.programmedEvent(gw, gw.Status.Conditions, next.Status.Conditions)
		errs = append(errs, c.updateStatus(ctx, "Gateway", gw, next, equality.Semantic.DeepEqual(gw.Status, next.Status)))
	}
	byKind := map[model.RouteKind]map[types.NamespacedName][]gwv1.RouteParentStatus{
		model.KindHTTPRoute: out.HTTPRoutes, model.KindGRPCRoute: out.GRPCRoutes, model.KindTLSRoute: out.TLSRoutes,
	}
	for _, r := range s.routes() {
		want, ok := byKind[r.key.Kind][types.NamespacedName{Namespace: r.key.Namespace, Name: r.key.Name}]
		if !ok {
			continue
		}
		cur := routeStatus(r.obj)
		next := r.obj.DeepCopyObject().(client.Object)
		nst := routeStatus(next)
		nst.Parents = mergeParents(cur.Parents, want, gwv1.GatewayController(c.cfg.ControllerName), now)
		c.programmedEvent(r.obj, ourConditions(cur.Parents, c.cfg.ControllerName), ourConditions(nst.Parents, c.cfg.ControllerName))
		if programmedAt(nst.Parents, c.cfg.ControllerName, r.obj.GetGeneration()) {
			c.programmedRoute(r.key, r.obj.GetGeneration())
		}
		errs = append(errs, c.updateStatus(ctx, string(r.key.Kind), r.obj, next, equality.Semantic.DeepEqual(cur.Parents, nst.Parents)))
	}
	return errors.Join(errs...)
}

func (c *Controller) updateStatus(ctx context.Context, kind string, cur, next client.Object, unchanged bool) error {
	if unchanged {
		return nil
	}
	if err := c.client.Status().Update(ctx, next); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil
		}
		return fmt.Errorf("update status of %s %s/%s: %w", kind, cur.GetNamespace(), cur.GetName(), err)
	}
	c.metrics.statusWrites.WithLabelValues(kind).Inc()
	return nil
}

// keepTransitionTimes returns want with each condition's lastTransitionTime taken from the
// current condition of the same type when the status is unchanged, and now otherwise.
func keepTransitionTimes(current, want []metav1.Condition, now metav1.Time) []metav1.Condition {
	out := make([]metav1.Condition, len(want))
	for i, w := range want {
		if old := meta.FindStatusCondition(current, w.Type); old != nil && old.Status == w.Status && !old.LastTransitionTime.IsZero() {
			w.LastTransitionTime = old.LastTransitionTime
		} else {
			w.LastTransitionTime = now
		}
		out[i] = w
	}
	return out
}

// mergeParents replaces our entries of status.parents by want and keeps the other controllers'
// entries, in their order, first.
func mergeParents(current, want []gwv1.RouteParentStatus, controllerName gwv1.GatewayController, now metav1.Time) []gwv1.RouteParentStatus {
	out := make([]gwv1.RouteParentStatus, 0, len(current)+len(want))
	for _, p := range current {
		if p.ControllerName != controllerName {
			out = append(out, *p.DeepCopy())
		}
	}
	for _, w := range want {
		w = *w.DeepCopy()
		w.ControllerName = controllerName
		var old []metav1.Condition
		for _, p := range current {
			if p.ControllerName == controllerName && equality.Semantic.DeepEqual(p.ParentRef, w.ParentRef) {
				old = p.Conditions
			}
		}
		w.Conditions = keepTransitionTimes(old, w.Conditions, now)
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ourConditions are the Programmed-relevant conditions of our parents: the first parent's, which
// is what a user reads first and what the event reports.
func ourConditions(parents []gwv1.RouteParentStatus, controllerName string) []metav1.Condition {
	for _, p := range parents {
		if string(p.ControllerName) == controllerName {
			return p.Conditions
		}
	}
	return nil
}

func programmedAt(parents []gwv1.RouteParentStatus, controllerName string, generation int64) bool {
	for _, p := range parents {
		if string(p.ControllerName) != controllerName {
			continue
		}
		if cond := meta.FindStatusCondition(p.Conditions, conditionProgrammed); cond != nil &&
			cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == generation {
			return true
		}
	}
	return false
}

// programmedEvent records an event when the Programmed condition changes status.
func (c *Controller) programmedEvent(obj client.Object, before, after []metav1.Condition) {
	now := meta.FindStatusCondition(after, conditionProgrammed)
	if now == nil || now.Status == metav1.ConditionUnknown {
		return
	}
	if was := meta.FindStatusCondition(before, conditionProgrammed); was != nil && was.Status == now.Status && was.Message == now.Message {
		return
	}
	if now.Status == metav1.ConditionTrue {
		c.events.Eventf(obj, nil, corev1.EventTypeNormal, "Programmed", "Reconcile", "%s", now.Message)
		return
	}
	if now.Reason == "Pending" {
		return
	}
	c.events.Eventf(obj, nil, corev1.EventTypeWarning, "ProgrammingFailed", "Reconcile", "%s: %s", now.Reason, now.Message)
}

// writeAnnotations records each live route's Lattice DNS name and service ARN, and removes them
// from routes that no longer have a Lattice service.
func (c *Controller) writeAnnotations(ctx context.Context, s *snapshot, own ownership, m *model.Model, res map[model.RouteKey]routeOutcome) error {
	inModel := map[model.RouteKey]bool{}
	for _, svc := range m.Services {
		inModel[svc.Route] = true
	}
	var errs []error
	for _, r := range s.routes() {
		if r.obj.GetDeletionTimestamp() != nil {
			continue
		}
		ann := r.obj.GetAnnotations()
		want := map[string]string{AnnotationDomainName: ann[AnnotationDomainName], AnnotationServiceARN: ann[AnnotationServiceARN]}
		switch o, ok := res[r.key]; {
		case !inModel[r.key]:
			if !own.ownsRoute(r) {
				continue
			}
			want = map[string]string{}
		case ok && o.dnsName != "":
			want = map[string]string{AnnotationDomainName: o.dnsName, AnnotationServiceARN: o.serviceARN}
		default:
			continue
		}
		errs = append(errs, c.setAnnotations(ctx, r, want))
	}
	return errors.Join(errs...)
}

func (c *Controller) setAnnotations(ctx context.Context, r route, want map[string]string) error {
	ann := r.obj.GetAnnotations()
	if ann[AnnotationDomainName] == want[AnnotationDomainName] && ann[AnnotationServiceARN] == want[AnnotationServiceARN] {
		return nil
	}
	orig := r.obj.DeepCopyObject().(client.Object)
	next := map[string]string{}
	for k, v := range ann {
		next[k] = v
	}
	for _, k := range []string{AnnotationDomainName, AnnotationServiceARN} {
		if want[k] == "" {
			delete(next, k)
		} else {
			next[k] = want[k]
		}
	}
	r.obj.SetAnnotations(next)
	if err := c.client.Patch(ctx, r.obj, client.MergeFrom(orig)); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil
		}
		return fmt.Errorf("annotate %s: %w", r.key, err)
	}
	c.metrics.metadataWrites.WithLabelValues(string(r.key.Kind)).Inc()
	return nil
}
