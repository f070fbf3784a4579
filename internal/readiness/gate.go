package readiness

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// TargetHealth reads the Lattice status of the targets registered for a Kubernetes Service.
type TargetHealth interface {
	TargetStatuses(ctx context.Context, namespace, name string) (map[model.Target]string, error)
}

// Lattice target statuses (the API's spelling).
const (
	statusHealthy     = "HEALTHY"
	statusUnavailable = "UNAVAILABLE"
	statusUnused      = "UNUSED"
)

// Recheck is how soon a gated pod whose target is not healthy yet is looked at again: Lattice
// health changes without any Kubernetes event (upstream requeues after 10 s too). Only such pods
// are re-checked; ready ones wait for the next change of their EndpointSlices.
var Recheck = 10 * time.Second

// Gate sets the readiness-gate condition of gated pods.
type Gate struct {
	Client client.Client
	Health TargetHealth
}

// SetupGate registers the gate controller with mgr; like every controller it runs on the leader.
func SetupGate(mgr ctrl.Manager, name string, health TargetHealth) error {
	g := &Gate{Client: mgr.GetClient(), Health: health}
	// Target changes follow EndpointSlice changes, so those re-check the slice's pods.
	pods := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		es, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil
		}
		var out []reconcile.Request
		for _, ep := range es.Endpoints {
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: es.Namespace, Name: ep.TargetRef.Name}})
			}
		}
		return out
	})
	gated := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		p, ok := obj.(*corev1.Pod)
		return ok && Gated(p)
	})
	err := ctrl.NewControllerManagedBy(mgr).
		Named(name+"-pod-readiness-gate").
		For(&corev1.Pod{}, builder.WithPredicates(gated)).
		Watches(&discoveryv1.EndpointSlice{}, pods).
		Complete(g)
	if err != nil {
		return fmt.Errorf("set up pod readiness gate controller: %w", err)
	}
	return nil
}

// Reconcile implements reconcile.Reconciler.
func (g *Gate) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	pod := &corev1.Pod{}
	if err := g.Client.Get(ctx, req.NamespacedName, pod); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !Gated(pod) || pod.DeletionTimestamp != nil || pod.Status.PodIP == "" {
		return reconcile.Result{}, nil
	}
	services, err := g.services(ctx, pod)
	if err != nil {
		return reconcile.Result{}, err
	}
	ips := map[string]bool{}
	for _, ip := range pod.Status.PodIPs {
		ips[ip.IP] = true
	}
	ips[pod.Status.PodIP] = true
	var statuses []string
	for _, s := range services {
		all, err := g.Health.TargetStatuses(ctx, pod.Namespace, s)
		if err != nil {
			return reconcile.Result{}, err
		}
		for t, st := range all {
			if ips[t.IP] {
				statuses = append(statuses, fmt.Sprintf("%s:%d %s", t.IP, t.Port, st))
			}
		}
	}
	sort.Strings(statuses)
	cond := condition(statuses)
	if err := g.setCondition(ctx, pod, cond); err != nil {
		return reconcile.Result{}, err
	}
	if cond.Status == corev1.ConditionTrue || cond.Reason == statusUnused {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{RequeueAfter: Recheck}, nil
}

// condition is True when the pod has targets and all are HEALTHY, or UNAVAILABLE because
// health checks are off.
func condition(statuses []string) corev1.PodCondition {
	c := corev1.PodCondition{Type: GateType, Status: corev1.ConditionFalse}
	if len(statuses) == 0 {
		c.Reason, c.Message = "TargetNotFound", "the pod is not a registered Lattice target yet"
		return c
	}
	c.Message = "Lattice targets: " + strings.Join(statuses, ", ")
	for _, s := range statuses {
		st := s[strings.LastIndexByte(s, ' ')+1:]
		if st != statusHealthy && st != statusUnavailable {
			c.Reason = st
			return c
		}
	}
	c.Status, c.Reason = corev1.ConditionTrue, "TargetHealthy"
	return c
}

// services are the Services whose EndpointSlices list pod.
func (g *Gate) services(ctx context.Context, pod *corev1.Pod) ([]string, error) {
	var slices discoveryv1.EndpointSliceList
	if err := g.Client.List(ctx, &slices, client.InNamespace(pod.Namespace)); err != nil {
		return nil, fmt.Errorf("list endpoint slices of namespace %s: %w", pod.Namespace, err)
	}
	seen := map[string]bool{}
	var out []string
	for _, es := range slices.Items {
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" || seen[svc] {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" && ep.TargetRef.Name == pod.Name {
				seen[svc] = true
				out = append(out, svc)
				break
			}
		}
	}
	return out, nil
}

func (g *Gate) setCondition(ctx context.Context, pod *corev1.Pod, c corev1.PodCondition) error {
	for i, have := range pod.Status.Conditions {
		if have.Type != GateType {
			continue
		}
		if have.Status == c.Status && have.Reason == c.Reason && have.Message == c.Message {
			return nil
		}
		if have.Status == c.Status {
			c.LastTransitionTime = have.LastTransitionTime
		} else {
			c.LastTransitionTime = metav1.Now()
		}
		patch := client.StrategicMergeFrom(pod.DeepCopy())
		pod.Status.Conditions[i] = c
		return g.patch(ctx, pod, patch)
	}
	c.LastTransitionTime = metav1.Now()
	patch := client.StrategicMergeFrom(pod.DeepCopy())
	pod.Status.Conditions = append(pod.Status.Conditions, c)
	return g.patch(ctx, pod, patch)
}

func (g *Gate) patch(ctx context.Context, pod *corev1.Pod, patch client.Patch) error {
	if err := g.Client.Status().Patch(ctx, pod, patch); err != nil {
		return fmt.Errorf("set readiness gate of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
