package pipeline

import (
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/internal/status"
)

// SetStatus merges the status this pass computed for obj into obj's own, in place: conditions
// keep their lastTransitionTime when their status is unchanged and get now otherwise, and other
// controllers' route parent entries stay. ours is false (and obj untouched) when the pass has no
// status for obj; changed says whether obj's status differs from before.
func (p *Pass) SetStatus(obj client.Object, now time.Time) (ours, changed bool) {
	t := metav1.NewTime(now.Truncate(time.Second))
	nn := types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}
	switch o := obj.(type) {
	case *gwv1.GatewayClass:
		want, ok := p.Output.GatewayClasses[o.Name]
		return ok, ok && merge(&o.Status, status.MergeGatewayClass(o.Status, want, t))
	case *gwv1.Gateway:
		want, ok := p.Output.Gateways[nn]
		return ok, ok && merge(&o.Status, status.MergeGateway(o.Status, want, t))
	}
	key, isRoute := RouteKey(obj)
	if !isRoute {
		return false, false
	}
	want, ok := routeStatuses(p.Output)[key.Kind][nn]
	if !ok {
		return false, false
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
// and a route of ours without one loses them. Objects being deleted, other objects, and routes
// whose service Lattice has not reported yet are left alone.
func (p *Pass) Annotations(obj client.Object) (map[string]string, bool) {
	key, isRoute := RouteKey(obj)
	if !isRoute || obj.GetDeletionTimestamp() != nil {
		return nil, false
	}
	var dnsName, arn string
	switch {
	case !p.inModel[key]:
		if !p.own.owns(obj) {
			return nil, false
		}
	case p.Result != nil && p.Result.Routes[key].DNSName != "":
		r := p.Result.Routes[key]
		dnsName, arn = r.DNSName, r.ServiceARN
	default:
		return nil, false
	}
	cur := obj.GetAnnotations()
	if cur[status.AnnotationDomainName] == dnsName && cur[status.AnnotationServiceARN] == arn {
		return cur, false
	}
	next := make(map[string]string, len(cur)+2)
	for k, v := range cur {
		next[k] = v
	}
	for k, v := range map[string]string{status.AnnotationDomainName: dnsName, status.AnnotationServiceARN: arn} {
		if v == "" {
			delete(next, k)
		} else {
			next[k] = v
		}
	}
	return next, true
}
