package pipeline

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// SetStatus merges the status this pass computed for obj into obj's own, in place: conditions
// keep their lastTransitionTime when their status is unchanged and get now otherwise, and other
// controllers' route parent entries stay. A policy whose target moved to another controller
// since the last pass loses the conditions we wrote; a Gateway, route or ServiceExport whose
// Lattice resources could not be deleted says why (see held.go). ours is false (and obj
// untouched) when the pass has no status for obj; changed says whether obj's status differs
// from before.
func (p *Pass) SetStatus(obj client.Object, now time.Time) (ours, changed bool) {
	if key, ok := PolicyKey(obj); ok {
		return p.setPolicyStatus(obj, key, now)
	}
	t := metav1.NewTime(now.Truncate(time.Second))
	nn := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	switch o := obj.(type) {
	case *gwv1.GatewayClass:
		want, ok := p.Output.GatewayClasses[o.Name]
		return ok, ok && merge(&o.Status, status.MergeGatewayClass(o.Status, want, t))
	case *gwv1.Gateway:
		want, ok := p.Output.Gateways[nn]
		if !ok {
			return p.setHeldStatus(o, now)
		}
		return true, merge(&o.Status, status.MergeGateway(o.Status, want, t))
	case *gwv1.ListenerSet:
		want, ok := p.Output.ListenerSets[nn]
		return ok, ok && merge(&o.Status, status.MergeListenerSet(o.Status, want.Status, t))
	case *v1alpha1.ServiceExport:
		return p.setExportStatus(o, now)
	case *v1alpha1.ServiceNetwork:
		return p.setServiceNetworkStatus(o, now)
	}
	key, isRoute := RouteKey(obj)
	if !isRoute {
		return false, false
	}
	want, ok := routeStatuses(p.Output)[key.Kind][nn]
	if !ok {
		return p.setHeldStatus(obj, now)
	}
	_, st := routeSpec(obj)
	return true, merge(&st.Parents, status.MergeParents(st.Parents, want, p.controller, t))
}

// merge sets *cur to next and reports whether that changed it.
func merge[S any](cur *S, next S) bool {
	changed := !equality.Semantic.DeepEqual(*cur, next)
	*cur = next
	return changed
}

// Annotations returns the annotations obj should carry and whether they differ from its own:
// each route with a Lattice service records its DNS name and service ARN, as upstream's does,
// and a route of ours without one loses them; policies record the Lattice resource they change
// (see policyAnnotationsOf). Objects being deleted, other objects, and routes whose service
// Lattice has not reported yet are left alone.
func (p *Pass) Annotations(obj client.Object) (map[string]string, bool) {
	var (
		keys    []string
		want    map[string]string
		decided bool
	)
	if key, isPolicy := PolicyKey(obj); isPolicy {
		keys, want, decided = p.policyAnnotationsOf(obj, key)
	} else {
		keys, want, decided = p.routeAnnotations(obj)
	}
	if !decided {
		return nil, false
	}
	return setAnnotations(obj.GetAnnotations(), keys, want)
}

var routeAnnotationKeys = []string{status.AnnotationDomainName, status.AnnotationServiceARN}

func (p *Pass) routeAnnotations(obj client.Object) (keys []string, want map[string]string, decided bool) {
	key, isRoute := RouteKey(obj)
	if !isRoute || obj.GetDeletionTimestamp() != nil {
		return nil, nil, false
	}
	switch {
	case !p.inModel[key]:
		return routeAnnotationKeys, nil, p.own.owns(obj)
	case p.Result != nil && p.Result.Routes[key].DNSName != "":
		r := p.Result.Routes[key]
		return routeAnnotationKeys, map[string]string{status.AnnotationDomainName: r.DNSName, status.AnnotationServiceARN: r.ServiceARN}, true
	}
	return nil, nil, false
}

// setAnnotations returns cur with each of keys set to its non-empty value in want and removed
// otherwise, and whether that changes cur.
func setAnnotations(cur map[string]string, keys []string, want map[string]string) (map[string]string, bool) {
	same := true
	for _, k := range keys {
		same = same && cur[k] == want[k]
	}
	if same {
		return cur, false
	}
	next := make(map[string]string, len(cur)+len(keys))
	for k, v := range cur {
		next[k] = v
	}
	for _, k := range keys {
		if v := want[k]; v != "" {
			next[k] = v
		} else {
			delete(next, k)
		}
	}
	return next, true
}
