package readiness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
)

// Injector is the admission handler that adds the gate to pods selected by a Service that a
// route with a Lattice parent, or a ServiceExport, uses; other pods are left alone, because a
// gate nobody sets keeps a pod unready forever (upstream's #623).
type Injector struct {
	Client         client.Reader
	ControllerName string
	Decoder        admission.Decoder
}

// Handle implements admission.Handler.
func (w *Injector) Handle(ctx context.Context, req admission.Request) admission.Response {
	pod := &corev1.Pod{}
	if err := w.Decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if Gated(pod) {
		return admission.Allowed("gate present")
	}
	if pod.Namespace == "" {
		pod.Namespace = req.Namespace
	}
	backs, err := w.backsLatticeTarget(ctx, pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	if !backs {
		return admission.Allowed("no Lattice target")
	}
	pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: GateType})
	out, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, out)
}

// backsLatticeTarget says whether a Service selecting pod is a backend of a route with a Lattice
// parent or is exported.
func (w *Injector) backsLatticeTarget(ctx context.Context, pod *corev1.Pod) (bool, error) {
	var services corev1.ServiceList
	if err := w.Client.List(ctx, &services, client.InNamespace(pod.Namespace)); err != nil {
		return false, fmt.Errorf("list services of namespace %s: %w", pod.Namespace, err)
	}
	var selecting []types.NamespacedName
	for _, s := range services.Items {
		if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			selecting = append(selecting, types.NamespacedName{Namespace: s.Namespace, Name: s.Name})
		}
	}
	if len(selecting) == 0 {
		return false, nil
	}
	used, err := w.usedServices(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range selecting {
		if used[s] {
			return true, nil
		}
	}
	return false, nil
}

// usedServices are the Services that back an HTTPRoute or GRPCRoute with a Lattice parent
// Gateway (TLSRoutes are not considered, as upstream) or that a ServiceExport exports.
func (w *Injector) usedServices(ctx context.Context) (map[types.NamespacedName]bool, error) {
	used := map[types.NamespacedName]bool{}
	var http gwv1.HTTPRouteList
	var grpc gwv1.GRPCRouteList
	if err := w.Client.List(ctx, &http); err != nil {
		return nil, fmt.Errorf("list HTTPRoutes: %w", err)
	}
	if err := w.Client.List(ctx, &grpc); err != nil {
		return nil, fmt.Errorf("list GRPCRoutes: %w", err)
	}
	type route struct {
		namespace string
		parents   []gwv1.ParentReference
		backends  []gwv1.BackendObjectReference
	}
	var routes []route
	for _, r := range http.Items {
		routes = append(routes, route{r.Namespace, r.Spec.ParentRefs, backendRefs(r.Spec.Rules,
			func(x gwv1.HTTPRouteRule) []gwv1.HTTPBackendRef { return x.BackendRefs },
			func(b gwv1.HTTPBackendRef) gwv1.BackendObjectReference { return b.BackendObjectReference })})
	}
	for _, r := range grpc.Items {
		routes = append(routes, route{r.Namespace, r.Spec.ParentRefs, backendRefs(r.Spec.Rules,
			func(x gwv1.GRPCRouteRule) []gwv1.GRPCBackendRef { return x.BackendRefs },
			func(b gwv1.GRPCBackendRef) gwv1.BackendObjectReference { return b.BackendObjectReference })})
	}
	for _, r := range routes {
		lattice, err := w.hasLatticeParent(ctx, r.namespace, r.parents)
		if err != nil {
			return nil, err
		}
		if !lattice {
			continue
		}
		for _, b := range r.backends {
			if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") {
				continue
			}
			ns := r.namespace
			if b.Namespace != nil {
				ns = string(*b.Namespace)
			}
			used[types.NamespacedName{Namespace: ns, Name: string(b.Name)}] = true
		}
	}
	var exports v1alpha1.ServiceExportList
	if err := w.Client.List(ctx, &exports); err != nil && !meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("list ServiceExports: %w", err)
	}
	for _, e := range exports.Items {
		name := e.Name
		if n := e.Annotations[v1alpha1.GroupName+"/service-name"]; n != "" {
			name = n
		}
		used[types.NamespacedName{Namespace: e.Namespace, Name: name}] = true
	}
	return used, nil
}

// backendRefs lists the backend references of a route's rules, whatever the route's kind.
func backendRefs[Rule, Ref any](rules []Rule, refs func(Rule) []Ref, object func(Ref) gwv1.BackendObjectReference) []gwv1.BackendObjectReference {
	var out []gwv1.BackendObjectReference
	for _, r := range rules {
		for _, b := range refs(r) {
			out = append(out, object(b))
		}
	}
	return out
}

// hasLatticeParent says whether a parentRef names a Gateway of a class of ours, directly or
// through a ListenerSet attached to it (as the translator resolves ListenerSet parents).
func (w *Injector) hasLatticeParent(ctx context.Context, namespace string, parents []gwv1.ParentReference) (bool, error) {
	for _, p := range parents {
		if p.Group != nil && *p.Group != gwv1.GroupName {
			continue
		}
		key := refKey(namespace, p.Namespace, p.Name)
		var ours bool
		var err error
		switch {
		case p.Kind == nil || *p.Kind == "Gateway":
			ours, err = w.latticeGateway(ctx, key)
		case *p.Kind == "ListenerSet":
			ours, err = w.latticeListenerSet(ctx, key)
		}
		if ours || err != nil {
			return ours, err
		}
	}
	return false, nil
}

// latticeListenerSet says whether the ListenerSet's parent is a Gateway of a class of ours. A
// cluster without the ListenerSet CRD has no such parent.
func (w *Injector) latticeListenerSet(ctx context.Context, key types.NamespacedName) (bool, error) {
	var ls gwv1.ListenerSet
	if err := w.Client.Get(ctx, key, &ls); err != nil {
		if client.IgnoreNotFound(err) == nil || meta.IsNoMatchError(err) {
			return false, nil
		}
		return false, fmt.Errorf("get ListenerSet %s: %w", key, err)
	}
	ref := ls.Spec.ParentRef
	if (ref.Group != nil && *ref.Group != gwv1.GroupName) || (ref.Kind != nil && *ref.Kind != "Gateway") {
		return false, nil
	}
	return w.latticeGateway(ctx, refKey(ls.Namespace, ref.Namespace, ref.Name))
}

// latticeGateway says whether the Gateway exists and its class names our controller.
func (w *Injector) latticeGateway(ctx context.Context, key types.NamespacedName) (bool, error) {
	var gw gwv1.Gateway
	if err := w.Client.Get(ctx, key, &gw); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return false, nil
		}
		return false, fmt.Errorf("get gateway %s: %w", key, err)
	}
	var class gwv1.GatewayClass
	if err := w.Client.Get(ctx, types.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, &class); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return false, nil
		}
		return false, fmt.Errorf("get gateway class %s: %w", gw.Spec.GatewayClassName, err)
	}
	return string(class.Spec.ControllerName) == w.ControllerName, nil
}

// refKey is the object a reference from namespace names; its namespace defaults to the
// referrer's.
func refKey(namespace string, refNamespace *gwv1.Namespace, name gwv1.ObjectName) types.NamespacedName {
	if refNamespace != nil && *refNamespace != "" {
		namespace = string(*refNamespace)
	}
	return types.NamespacedName{Namespace: namespace, Name: string(name)}
}
