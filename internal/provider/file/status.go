package file

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/lattice-gateway/lattice-gateway/api/v1alpha1"
	"github.com/lattice-gateway/lattice-gateway/internal/pipeline"
)

// recordStatus merges the statuses and route annotations of the pass into the tracked objects.
func (r *Runner) recordStatus(pass *pipeline.Pass) {
	now := r.cfg.Now()
	for _, t := range r.objects {
		pass.SetStatus(t.obj, now)
		if want, change := pass.Annotations(t.obj); change {
			t.obj.SetAnnotations(want)
		}
	}
}

func clearStatus(o Object) {
	switch o := o.(type) {
	case *gwv1.GatewayClass:
		o.Status = gwv1.GatewayClassStatus{}
	case *gwv1.Gateway:
		o.Status = gwv1.GatewayStatus{}
	case *gwv1.ListenerSet:
		o.Status = gwv1.ListenerSetStatus{}
	case *gwv1.HTTPRoute:
		o.Status = gwv1.HTTPRouteStatus{}
	case *gwv1.GRPCRoute:
		o.Status = gwv1.GRPCRouteStatus{}
	case *gwv1.TLSRoute:
		o.Status = gwv1.TLSRouteStatus{}
	case *v1alpha1.ServiceExport:
		o.Status = v1alpha1.ServiceExportStatus{}
	case *v1alpha1.ServiceNetwork:
		o.Status = v1alpha1.ServiceNetworkStatus{}
	case v1alpha1.Policy:
		o.SetConditions(nil)
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
	case *gwv1.ListenerSet:
		to.Status = from.(*gwv1.ListenerSet).Status
	case *gwv1.HTTPRoute:
		to.Status = from.(*gwv1.HTTPRoute).Status
	case *gwv1.GRPCRoute:
		to.Status = from.(*gwv1.GRPCRoute).Status
	case *gwv1.TLSRoute:
		to.Status = from.(*gwv1.TLSRoute).Status
	case *v1alpha1.ServiceExport:
		to.Status = from.(*v1alpha1.ServiceExport).Status
	case *v1alpha1.ServiceNetwork:
		to.Status = from.(*v1alpha1.ServiceNetwork).Status
	case v1alpha1.Policy:
		to.SetConditions(from.(v1alpha1.Policy).GetConditions())
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

var statusKinds = []string{"gatewayclass.", "gateway.", "listenerset.", "httproute.", "grpcroute.", "tlsroute.",
	"targetgrouppolicy.", "vpcassociationpolicy.", "accesslogpolicy.", "iamauthpolicy.", "serviceexport.", "servicenetwork."}

// writeStatus writes each Gateway API object and policy with its status to the status folder (atomically,
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
	case *gwv1.GatewayClass, *gwv1.Gateway, *gwv1.ListenerSet, *gwv1.HTTPRoute, *gwv1.GRPCRoute, *gwv1.TLSRoute, v1alpha1.Policy, *v1alpha1.ServiceExport, *v1alpha1.ServiceNetwork:
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
