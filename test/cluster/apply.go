package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// FieldOwner is the server-side apply field manager of Apply.
const FieldOwner = "lattice-gateway-test"

// ApplyDir server-side applies every .yaml, .yml and .json file of dir (not recursive), in name
// order, as Apply does.
func (c *Cluster) ApplyDir(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read manifests dir: %w", err)
	}
	var all bytes.Buffer
	for _, e := range entries {
		if e.IsDir() || !slices.Contains([]string{".yaml", ".yml", ".json"}, filepath.Ext(e.Name())) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("read manifest: %w", err)
		}
		all.WriteString("\n---\n")
		all.Write(b)
	}
	return c.Apply(ctx, all.String())
}

// Apply server-side applies a multi-document YAML (or JSON) manifest with force, like
// `kubectl apply --server-side --force-conflicts`. Namespaces and CRDs go first; namespaced
// objects without a namespace go to "default". Kinds whose CRD was just created are retried
// until the API serves them.
func (c *Cluster) Apply(ctx context.Context, manifests string) error {
	objs, err := decodeManifests(manifests)
	if err != nil {
		return err
	}
	// Stable sort keeps the author's order within each rank.
	sort.SliceStable(objs, func(i, j int) bool { return applyRank(objs[i]) < applyRank(objs[j]) })
	for _, obj := range objs {
		if err := c.applyOne(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

func applyRank(u *unstructured.Unstructured) int {
	switch u.GetKind() {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	default:
		return 2
	}
}

func decodeManifests(manifests string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	var objs []*unstructured.Unstructured
	for i := 1; ; i++ {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode manifest document %d: %w", i, err)
		}
		if len(raw) == 0 {
			continue // empty document between separators
		}
		u := &unstructured.Unstructured{Object: raw}
		if u.IsList() {
			if err := u.EachListItem(func(o runtime.Object) error {
				objs = append(objs, o.(*unstructured.Unstructured))
				return nil
			}); err != nil {
				return nil, fmt.Errorf("decode manifest document %d: %w", i, err)
			}
			continue
		}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("manifest document %d: apiVersion, kind and metadata.name are required", i)
		}
		objs = append(objs, u)
	}
}

func (c *Cluster) applyOne(ctx context.Context, u *unstructured.Unstructured) error {
	what := fmt.Sprintf("%s %s", u.GetKind(), u.GetName())
	for {
		err := c.trySSA(ctx, u)
		if err == nil {
			return nil
		}
		if !meta.IsNoMatchError(err) {
			return fmt.Errorf("apply %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("apply %s: %w (%w)", what, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) trySSA(ctx context.Context, u *unstructured.Unstructured) error {
	gvk := u.GroupVersionKind()
	mapping, err := c.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	obj := u.DeepCopy()
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace && obj.GetNamespace() == "" {
		obj.SetNamespace("default")
	}
	return c.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(FieldOwner), client.ForceOwnership)
}

// WaitFor polls obj (by its namespace and name) until cond holds or ctx ends; the error shows
// the object as last seen.
func WaitFor[T client.Object](ctx context.Context, c client.Client, obj T, cond func(T) bool) error {
	key := client.ObjectKeyFromObject(obj)
	var lastErr error
	for {
		if lastErr = c.Get(ctx, key, obj); lastErr == nil && cond(obj) {
			return nil
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("wait for %T %s: %w (last error: %w)", obj, key, ctx.Err(), lastErr)
			}
			seen, _ := yaml.Marshal(obj)
			return fmt.Errorf("wait for %T %s: %w; last seen:\n%s", obj, key, ctx.Err(), seen)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
