// Package describe answers "why is my route not getting traffic" in one screen: for a Gateway, a
// route or a Kubernetes Service it shows the object's conditions, the policies attached to it,
// the VPC Lattice resources it became (IDs, ARNs, state), and their targets with health.
//
// Build is pure: Objects (read from a cluster or a folder, load.go) and Lattice (read through
// the VPC Lattice API, lattice.go) in, a Report out; render.go prints it as text, YAML or JSON.
package describe

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
)

// Route annotations the controller writes (the upstream controller's keys).
const (
	annotationServiceARN = "application-networking.k8s.aws/lattice-service-arn"
	annotationDNSName    = "application-networking.k8s.aws/lattice-assigned-domain-name"
)

// Kinds describe knows.
const (
	KindGateway   = "Gateway"
	KindHTTPRoute = "HTTPRoute"
	KindGRPCRoute = "GRPCRoute"
	KindService   = "Service"
)

// Ref names the object to describe.
type Ref struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (r Ref) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

// Objects are the Kubernetes objects describe reads.
type Objects struct {
	Gateways   []gwv1.Gateway
	HTTPRoutes []gwv1.HTTPRoute
	GRPCRoutes []gwv1.GRPCRoute
	Services   []corev1.Service
	Policies   []v1alpha1.Policy
}

// Lattice is the VPC Lattice state describe reads, in its own plain shape.
type Lattice struct {
	ServiceNetworks []ServiceNetwork `json:"serviceNetworks,omitempty"`
	Services        []Service        `json:"services,omitempty"`
	// TargetGroups are listed on their own because a Kubernetes Service's groups are found by tag.
	TargetGroups []TargetGroup `json:"targetGroups,omitempty"`
}

// ServiceNetwork is a Lattice service network.
type ServiceNetwork struct {
	Name       string   `json:"name"`
	ID         string   `json:"id"`
	ARN        string   `json:"arn"`
	VPCs       []string `json:"vpcAssociations,omitempty"` // "vpc-... ACTIVE"
	AuthPolicy string   `json:"authPolicy,omitempty"`
}

// Service is a Lattice service with its listeners and rules.
type Service struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	ARN        string            `json:"arn"`
	Status     string            `json:"status"`
	DNSName    string            `json:"dnsName,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Networks   []string          `json:"serviceNetworks,omitempty"` // "name ACTIVE"
	AuthPolicy string            `json:"authPolicy,omitempty"`
	AccessLogs []string          `json:"accessLogDestinations,omitempty"`
	Listeners  []Listener        `json:"listeners,omitempty"`
}

// Listener is a Lattice listener.
type Listener struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	ARN      string `json:"arn"`
	Protocol string `json:"protocol"`
	Port     int32  `json:"port"`
	Rules    []Rule `json:"rules,omitempty"` // priority order, the default rule last
}

// Rule is a Lattice rule: what it matches and what it does.
type Rule struct {
	Name     string `json:"name"`
	ID       string `json:"id,omitempty"`
	Priority string `json:"priority"` // "default" for the listener's default action
	Match    string `json:"match"`
	Action   string `json:"action"` // "forward tg-a=50 tg-b=50" or "fixed-response 404"
	// TargetGroups are the IDs the action forwards to.
	TargetGroups []string `json:"targetGroupIds,omitempty"`
}

// TargetGroup is a Lattice target group with its targets.
type TargetGroup struct {
	Name    string            `json:"name"`
	ID      string            `json:"id"`
	ARN     string            `json:"arn"`
	Status  string            `json:"status"`
	Tags    map[string]string `json:"tags,omitempty"`
	Targets []Target          `json:"targets"`
}

// Target is a registered target and its health.
type Target struct {
	ID     string `json:"id"`
	Port   int32  `json:"port"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Report is what describe prints.
type Report struct {
	Object     Ref         `json:"object"`
	Found      bool        `json:"found"`
	Conditions []Condition `json:"conditions,omitempty"`
	Policies   []Policy    `json:"policies,omitempty"`
	// Routes are the routes attached to a Gateway, or using a Service as backend.
	Routes []Ref `json:"routes,omitempty"`
	// ServiceNetwork is the Gateway's service network.
	ServiceNetwork *ServiceNetwork `json:"serviceNetwork,omitempty"`
	// Services are the route's (or the Gateway's routes') Lattice services.
	Services []Service `json:"latticeServices,omitempty"`
	// TargetGroups are the target groups the services forward to (or the Service's).
	TargetGroups []TargetGroup `json:"targetGroups,omitempty"`
	// Problems answer "why no traffic": each is one thing to fix or look at.
	Problems []string `json:"problems,omitempty"`
}

// Condition is a condition with where it was reported (parent Gateway or listener).
type Condition struct {
	On      string `json:"on,omitempty"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

// Policy is a policy attached to the object.
type Policy struct {
	Kind       string      `json:"kind"`
	Name       string      `json:"name"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Build describes ref.
func Build(ref Ref, objs *Objects, lat *Lattice) *Report {
	r := &Report{Object: ref}
	switch ref.Kind {
	case KindGateway:
		r.gateway(objs, lat)
	case KindHTTPRoute, KindGRPCRoute:
		r.route(objs, lat)
	case KindService:
		r.service(objs, lat)
	default:
		r.Problems = append(r.Problems, fmt.Sprintf("describe knows Gateway, HTTPRoute, GRPCRoute and Service, not %q", ref.Kind))
	}
	if !r.Found && len(r.Problems) == 0 {
		r.Problems = append(r.Problems, ref.String()+" not found")
	}
	return r
}

func conditions(on string, cs []metav1.Condition) []Condition {
	out := make([]Condition, 0, len(cs))
	for _, c := range cs {
		out = append(out, Condition{On: on, Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message})
	}
	return out
}

// problemsOf turns every False condition (and a missing status) into a problem line.
func (r *Report) problemsOf(cs []Condition) {
	for _, c := range cs {
		if c.Status == string(metav1.ConditionFalse) {
			on := ""
			if c.On != "" {
				on = " (" + c.On + ")"
			}
			r.Problems = append(r.Problems, fmt.Sprintf("%s is False%s: %s: %s", c.Type, on, c.Reason, c.Message))
		}
	}
}

func (r *Report) policies(objs *Objects, kind, ns, name string) {
	for _, p := range objs.Policies {
		ref := p.GetTargetRef()
		if ref == nil || string(ref.Kind) != kind || string(ref.Name) != name || p.GetNamespace() != ns {
			continue
		}
		pol := Policy{Kind: p.GetObjectKind().GroupVersionKind().Kind, Name: p.GetName(), Conditions: conditions("", p.GetConditions())}
		if pol.Kind == "" { // typed objects from a client carry no TypeMeta
			pol.Kind = reflect.TypeOf(p).Elem().Name()
		}
		r.Policies = append(r.Policies, pol)
		for _, c := range pol.Conditions {
			if c.Status == string(metav1.ConditionFalse) {
				r.Problems = append(r.Problems, fmt.Sprintf("%s %s: %s is False: %s: %s", pol.Kind, pol.Name, c.Type, c.Reason, c.Message))
			}
		}
	}
}

func (r *Report) gateway(objs *Objects, lat *Lattice) {
	i := slices.IndexFunc(objs.Gateways, func(g gwv1.Gateway) bool { return g.Namespace == r.Object.Namespace && g.Name == r.Object.Name })
	if i < 0 {
		return
	}
	gw := &objs.Gateways[i]
	r.Found = true
	r.Conditions = conditions("gateway", gw.Status.Conditions)
	for _, l := range gw.Status.Listeners {
		r.Conditions = append(r.Conditions, conditions("listener "+string(l.Name), l.Conditions)...)
	}
	if len(gw.Status.Conditions) == 0 {
		r.Problems = append(r.Problems, "the Gateway has no status: is the controller running, and is its GatewayClass ours?")
	}
	r.problemsOf(r.Conditions)
	r.policies(objs, KindGateway, gw.Namespace, gw.Name)
	for _, sn := range lat.ServiceNetworks {
		if sn.Name == gw.Name {
			r.ServiceNetwork = &sn
		}
	}
	if r.ServiceNetwork == nil {
		r.Problems = append(r.Problems, fmt.Sprintf("no Lattice service network named %q", gw.Name))
	}
	for _, rt := range routes(objs) {
		if !rt.attachedTo(gw) {
			continue
		}
		r.Routes = append(r.Routes, rt.ref)
		if svc := findService(lat, rt); svc != nil {
			r.Services = append(r.Services, *svc)
		}
	}
	r.targetGroups(lat)
}

// route is what describe needs of an HTTPRoute or GRPCRoute.
type route struct {
	ref      Ref
	meta     *metav1.ObjectMeta
	parents  []gwv1.ParentReference
	status   []gwv1.RouteParentStatus
	backends []gwv1.BackendRef
}

func routes(objs *Objects) []route {
	var out []route
	for i := range objs.HTTPRoutes {
		h := &objs.HTTPRoutes[i]
		rt := route{ref: Ref{KindHTTPRoute, h.Namespace, h.Name}, meta: &h.ObjectMeta, parents: h.Spec.ParentRefs, status: h.Status.Parents}
		for _, rule := range h.Spec.Rules {
			for _, b := range rule.BackendRefs {
				rt.backends = append(rt.backends, b.BackendRef)
			}
		}
		out = append(out, rt)
	}
	for i := range objs.GRPCRoutes {
		g := &objs.GRPCRoutes[i]
		rt := route{ref: Ref{KindGRPCRoute, g.Namespace, g.Name}, meta: &g.ObjectMeta, parents: g.Spec.ParentRefs, status: g.Status.Parents}
		for _, rule := range g.Spec.Rules {
			for _, b := range rule.BackendRefs {
				rt.backends = append(rt.backends, b.BackendRef)
			}
		}
		out = append(out, rt)
	}
	return out
}

func (rt *route) attachedTo(gw *gwv1.Gateway) bool {
	for _, p := range rt.parents {
		ns := rt.ref.Namespace
		if p.Namespace != nil {
			ns = string(*p.Namespace)
		}
		if string(p.Name) == gw.Name && ns == gw.Namespace && (p.Kind == nil || *p.Kind == KindGateway) {
			return true
		}
	}
	return false
}

// findService finds a route's Lattice service: by the service ARN the controller annotated,
// else by the route tags, else by the default name <route>-<namespace>.
func findService(lat *Lattice, rt route) *Service {
	arn := rt.meta.Annotations[annotationServiceARN]
	for _, match := range []func(s *Service) bool{
		func(s *Service) bool { return arn != "" && s.ARN == arn },
		func(s *Service) bool {
			return s.Tags[model.TagRouteName] == rt.ref.Name && s.Tags[model.TagRouteNamespace] == rt.ref.Namespace &&
				strings.EqualFold(s.Tags[model.TagRouteType], strings.TrimSuffix(rt.ref.Kind, "Route"))
		},
		func(s *Service) bool { return s.Name == rt.ref.Name+"-"+rt.ref.Namespace },
	} {
		for i := range lat.Services {
			if match(&lat.Services[i]) {
				return &lat.Services[i]
			}
		}
	}
	return nil
}

func (r *Report) route(objs *Objects, lat *Lattice) {
	var rt *route
	for _, x := range routes(objs) {
		if x.ref == r.Object {
			rt = &x
		}
	}
	if rt == nil {
		return
	}
	r.Found = true
	for _, p := range rt.status {
		on := "parent " + string(p.ParentRef.Name)
		if p.ParentRef.SectionName != nil {
			on += "/" + string(*p.ParentRef.SectionName)
		}
		r.Conditions = append(r.Conditions, conditions(on, p.Conditions)...)
	}
	if len(rt.status) == 0 {
		r.Problems = append(r.Problems, "the route has no status: no controller accepted it (check parentRefs and the GatewayClass)")
	}
	r.problemsOf(r.Conditions)
	r.policies(objs, r.Object.Kind, rt.ref.Namespace, rt.ref.Name)
	svc := findService(lat, *rt)
	if svc == nil {
		r.Problems = append(r.Problems, "no Lattice service for this route")
		return
	}
	r.Services = []Service{*svc}
	if dns := rt.meta.Annotations[annotationDNSName]; dns != "" && dns != svc.DNSName {
		r.Problems = append(r.Problems, fmt.Sprintf("annotation %s is %s, the Lattice service's DNS name is %s", annotationDNSName, dns, svc.DNSName))
	}
	r.targetGroups(lat)
}

// targetGroups adds the target groups the report's services forward to, and flags empty and
// unhealthy ones.
func (r *Report) targetGroups(lat *Lattice) {
	seen := map[string]bool{}
	for _, svc := range r.Services {
		if svc.Status != "ACTIVE" {
			r.Problems = append(r.Problems, fmt.Sprintf("Lattice service %s is %s", svc.Name, svc.Status))
		}
		for _, l := range svc.Listeners {
			for _, ru := range l.Rules {
				for _, id := range ru.TargetGroups {
					seen[id] = true
				}
			}
		}
	}
	for _, tg := range lat.TargetGroups {
		if seen[tg.ID] {
			r.TargetGroups = append(r.TargetGroups, tg)
			r.targetProblems(tg)
		}
	}
	slices.SortFunc(r.TargetGroups, func(a, b TargetGroup) int { return cmp.Compare(a.Name, b.Name) })
}

func (r *Report) targetProblems(tg TargetGroup) {
	if len(tg.Targets) == 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("target group %s has no targets (no ready endpoints?)", tg.Name))
	}
	for _, t := range tg.Targets {
		if t.Status == "UNHEALTHY" {
			r.Problems = append(r.Problems, fmt.Sprintf("target %s:%d in %s is UNHEALTHY (%s)", t.ID, t.Port, tg.Name, t.Reason))
		}
	}
}

func (r *Report) service(objs *Objects, lat *Lattice) {
	if !slices.ContainsFunc(objs.Services, func(s corev1.Service) bool { return s.Namespace == r.Object.Namespace && s.Name == r.Object.Name }) {
		return
	}
	r.Found = true
	r.policies(objs, KindService, r.Object.Namespace, r.Object.Name)
	for _, rt := range routes(objs) {
		for _, b := range rt.backends {
			ns := rt.ref.Namespace
			if b.Namespace != nil {
				ns = string(*b.Namespace)
			}
			if string(b.Name) == r.Object.Name && ns == r.Object.Namespace && (b.Kind == nil || *b.Kind == KindService) {
				r.Routes = append(r.Routes, rt.ref)
				break
			}
		}
	}
	for _, tg := range lat.TargetGroups {
		if tg.Tags[model.TagServiceName] == r.Object.Name && tg.Tags[model.TagServiceNamespace] == r.Object.Namespace {
			r.TargetGroups = append(r.TargetGroups, tg)
			r.targetProblems(tg)
		}
	}
	if len(r.TargetGroups) == 0 {
		r.Problems = append(r.Problems, "no Lattice target group for this Service (is it a backend of an accepted route?)")
	}
}
