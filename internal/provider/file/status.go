package file

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/internal/deploy"
	"github.com/lattice-gateway/lattice-gateway/internal/model"
	"github.com/lattice-gateway/lattice-gateway/internal/translate"
)

// Route annotations the upstream controller writes; tools read a route's Lattice DNS name there.
const (
	AnnotationAssignedDomainName = "application-networking.k8s.aws/lattice-assigned-domain-name"
	AnnotationServiceARN         = "application-networking.k8s.aws/lattice-service-arn"
)

// recordStatus stores the statuses of out (and the route annotations from res) in the tracked
// objects, keeping the transition time of conditions whose status did not change.
func (r *Runner) recordStatus(out *translate.Output, res *deploy.Result) {
	now := metav1.NewTime(r.cfg.Now().Truncate(time.Second))
	for _, t := range r.objects {
		nn := nsName(t.obj)
		switch o := t.obj.(type) {
		case *gwv1.GatewayClass:
			if st, ok := out.GatewayClasses[o.Name]; ok {
				st.Conditions = stamp(o.Status.Conditions, st.Conditions, now)
				o.Status = st
			}
		case *gwv1.Gateway:
			if st, ok := out.Gateways[nn]; ok {
				st.Conditions = stamp(o.Status.Conditions, st.Conditions, now)
				for i := range st.Listeners {
					st.Listeners[i].Conditions = stamp(listenerConditions(o.Status.Listeners, st.Listeners[i].Name), st.Listeners[i].Conditions, now)
				}
				o.Status = st
			}
		case *gwv1.HTTPRoute:
			o.Status.Parents = stampParents(o.Status.Parents, out.HTTPRoutes[nn], now)
			annotate(o, res, model.RouteKey{Kind: model.KindHTTPRoute, Namespace: nn.Namespace, Name: nn.Name})
		case *gwv1.GRPCRoute:
			o.Status.Parents = stampParents(o.Status.Parents, out.GRPCRoutes[nn], now)
			annotate(o, res, model.RouteKey{Kind: model.KindGRPCRoute, Namespace: nn.Namespace, Name: nn.Name})
		case *gwv1.TLSRoute:
			o.Status.Parents = stampParents(o.Status.Parents, out.TLSRoutes[nn], now)
			annotate(o, res, model.RouteKey{Kind: model.KindTLSRoute, Namespace: nn.Namespace, Name: nn.Name})
		}
	}
}

func nsName(o Object) types.NamespacedName {
	return types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}
}

// stamp sets LastTransitionTime on next: kept from prev when the status is unchanged, now
// otherwise (Translate leaves it zero to stay deterministic).
func stamp(prev, next []metav1.Condition, now metav1.Time) []metav1.Condition {
	for i := range next {
		next[i].LastTransitionTime = now
		for _, p := range prev {
			if p.Type == next[i].Type && p.Status == next[i].Status && !p.LastTransitionTime.IsZero() {
				next[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return next
}

func listenerConditions(ls []gwv1.ListenerStatus, name gwv1.SectionName) []metav1.Condition {
	for _, l := range ls {
		if l.Name == name {
			return l.Conditions
		}
	}
	return nil
}

func stampParents(prev, next []gwv1.RouteParentStatus, now metav1.Time) []gwv1.RouteParentStatus {
	for i := range next {
		var old []metav1.Condition
		for _, p := range prev {
			if reflect.DeepEqual(p.ParentRef, next[i].ParentRef) && p.ControllerName == next[i].ControllerName {
				old = p.Conditions
			}
		}
		next[i].Conditions = stamp(old, next[i].Conditions, now)
	}
	return next
}

func annotate(o Object, res *deploy.Result, key model.RouteKey) {
	if res == nil {
		return
	}
	rr, ok := res.Routes[key]
	if !ok || rr.DNSName == "" {
		return
	}
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationAssignedDomainName] = rr.DNSName
	a[AnnotationServiceARN] = rr.ServiceARN
	o.SetAnnotations(a)
}

func clearStatus(o Object) {
	switch o := o.(type) {
	case *gwv1.GatewayClass:
		o.Status = gwv1.GatewayClassStatus{}
	case *gwv1.Gateway:
		o.Status = gwv1.GatewayStatus{}
	case *gwv1.HTTPRoute:
		o.Status = gwv1.HTTPRouteStatus{}
	case *gwv1.GRPCRoute:
		o.Status = gwv1.GRPCRouteStatus{}
	case *gwv1.TLSRoute:
		o.Status = gwv1.TLSRouteStatus{}
	}
}

// copyStatus carries the status we wrote last time over to the re-read object: in a file the
// status is ours, not the user's.
func copyStatus(from, to Object) {
	switch to := to.(type) {
	case *gwv1.GatewayClass:
		to.Status = from.(*gwv1.GatewayClass).Status
	case *gwv1.Gateway:
		to.Status = from.(*gwv1.Gateway).Status
	case *gwv1.HTTPRoute:
		to.Status = from.(*gwv1.HTTPRoute).Status
	case *gwv1.GRPCRoute:
		to.Status = from.(*gwv1.GRPCRoute).Status
	case *gwv1.TLSRoute:
		to.Status = from.(*gwv1.TLSRoute).Status
	}
}

// statusFileName is where an object's status goes in the status folder:
// <kind>.<namespace>.<name>.yaml, lower-case kind, no namespace for cluster-scoped kinds.
func statusFileName(o Object) string {
	kind := strings.ToLower(o.GetObjectKind().GroupVersionKind().Kind)
	if o.GetNamespace() == "" {
		return kind + "." + o.GetName() + ".yaml"
	}
	return kind + "." + o.GetNamespace() + "." + o.GetName() + ".yaml"
}

var statusKinds = []string{"gatewayclass.", "gateway.", "httproute.", "grpcroute.", "tlsroute."}

// writeStatus writes each Gateway API object with its status to the status folder (atomically,
// only when it changed) and removes the files of objects that are gone. Only files named like
// ours are ever removed.
func (r *Runner) writeStatus() error {
	if err := os.MkdirAll(r.cfg.StatusDir, 0o755); err != nil {
		return fmt.Errorf("create status folder: %w", err)
	}
	want := map[string]bool{}
	var errs []error
	for _, t := range r.objects {
		if !hasStatus(t.obj) {
			continue
		}
		name := statusFileName(t.obj)
		want[name] = true
		b, err := yaml.Marshal(t.obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("render %s: %w", name, err))
			continue
		}
		if err := writeIfChanged(filepath.Join(r.cfg.StatusDir, name), b); err != nil {
			errs = append(errs, err)
		}
	}
	entries, err := os.ReadDir(r.cfg.StatusDir)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list status folder: %w", err))...)
	}
	for _, e := range entries {
		if want[e.Name()] || e.IsDir() || !ours(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(r.cfg.StatusDir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove stale status: %w", err))
		}
	}
	return errors.Join(errs...)
}

func hasStatus(o Object) bool {
	switch o.(type) {
	case *gwv1.GatewayClass, *gwv1.Gateway, *gwv1.HTTPRoute, *gwv1.GRPCRoute, *gwv1.TLSRoute:
		return true
	}
	return false
}

func ours(name string) bool {
	if !strings.HasSuffix(name, ".yaml") {
		return false
	}
	for _, p := range statusKinds {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func writeIfChanged(path string, b []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".status-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
