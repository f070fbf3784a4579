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

func (w *Injector) hasLatticeParent(ctx context.Context, namespace string, parents []gwv1.ParentReference) (bool, error) {
	for _, p := range parents {
		if (p.Group != nil && *p.Group != gwv1.GroupName) || (p.Kind != nil && *p.Kind != "Gateway") {
			continue
		}
		ns := namespace
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		var gw gwv1.Gateway
		if err := w.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: string(p.Name)}, &gw); err != nil {
			if client.IgnoreNotFound(err) == nil {
				continue
			}
			return false, fmt.Errorf("get gateway %s/%s: %w", ns, p.Name, err)
		}
		var class gwv1.GatewayClass
		if err := w.Client.Get(ctx, types.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, &class); err != nil {
			if client.IgnoreNotFound(err) == nil {
				continue
			}
			return false, fmt.Errorf("get gateway class %s: %w", gw.Spec.GatewayClassName, err)
		}
		if string(class.Spec.ControllerName) == w.ControllerName {
			return true, nil
		}
	}
	return false, nil
}
