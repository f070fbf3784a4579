package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

// containerSpec resolves what a real kubelet would hand the container: its environment
// (values, downward API, ConfigMap and Secret references) and the files of its ConfigMap,
// Secret and projected volumes.
func containerSpec(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, c corev1.Container, ip netip.Addr) (workloads.Container, error) {
	r := &resolver{ctx: ctx, cs: cs, pod: pod, ip: ip}
	env, err := r.env(c)
	if err != nil {
		return workloads.Container{}, fmt.Errorf("container %s env: %w", c.Name, err)
	}
	files, err := r.files(c)
	if err != nil {
		return workloads.Container{}, fmt.Errorf("container %s volumes: %w", c.Name, err)
	}
	var ports []int32
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			ports = append(ports, p.ContainerPort)
		}
	}
	return workloads.Container{
		Pod: pod.Name, Namespace: pod.Namespace, Name: c.Name, Image: c.Image,
		Addr: PodAddr(ip), Env: env, Ports: ports, Files: files,
	}, nil
}

type resolver struct {
	ctx        context.Context
	cs         kubernetes.Interface
	pod        *corev1.Pod
	ip         netip.Addr
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

// configMap returns nil, nil for a missing optional ConfigMap.
func (r *resolver) configMap(name string, optional *bool) (*corev1.ConfigMap, error) {
	if cm, ok := r.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := r.cs.CoreV1().ConfigMaps(r.pod.Namespace).Get(r.ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("configmap %s: %w", name, err)
	}
	if r.configMaps == nil {
		r.configMaps = map[string]*corev1.ConfigMap{}
	}
	r.configMaps[name] = cm
	return cm, nil
}

// secret returns nil, nil for a missing optional Secret.
func (r *resolver) secret(name string, optional *bool) (*corev1.Secret, error) {
	if s, ok := r.secrets[name]; ok {
		return s, nil
	}
	s, err := r.cs.CoreV1().Secrets(r.pod.Namespace).Get(r.ctx, name, metav1.GetOptions{})
	if err != nil {
		if optional != nil && *optional {
			return nil, nil
		}
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	if r.secrets == nil {
		r.secrets = map[string]*corev1.Secret{}
	}
	r.secrets[name] = s
	return s, nil
}

func (r *resolver) env(c corev1.Container) (map[string]string, error) {
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := r.configMap(from.ConfigMapRef.Name, from.ConfigMapRef.Optional)
			if err != nil {
				return nil, err
			}
			if cm != nil {
				for k, v := range cm.Data {
					env[from.Prefix+k] = v
				}
			}
		case from.SecretRef != nil:
			s, err := r.secret(from.SecretRef.Name, from.SecretRef.Optional)
			if err != nil {
				return nil, err
			}
			if s != nil {
				for k, v := range s.Data {
					env[from.Prefix+k] = string(v)
				}
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env[e.Name] = expand(e.Value, env)
			continue
		}
		v, err := r.valueFrom(e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		env[e.Name] = v
	}
	return env, nil
}

var varRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)`)

// expand applies Kubernetes $(VAR) expansion: defined variables are replaced, undefined
// references stay as written, and $$ escapes a dollar.
func expand(s string, env map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		if v, ok := env[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

var fieldKey = regexp.MustCompile(`^metadata\.(labels|annotations)\['(.+)'\]$`)

func (r *resolver) valueFrom(src *corev1.EnvVarSource) (string, error) {
	switch {
	case src.FieldRef != nil:
		return r.field(src.FieldRef.FieldPath)
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := r.configMap(ref.Name, ref.Optional)
		if err != nil || cm == nil {
			return "", err
		}
		v, ok := cm.Data[ref.Key]
		if !ok && (ref.Optional == nil || !*ref.Optional) {
			return "", fmt.Errorf("key %s not in configmap %s", ref.Key, ref.Name)
		}
		return v, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := r.secret(ref.Name, ref.Optional)
		if err != nil || s == nil {
			return "", err
		}
		v, ok := s.Data[ref.Key]
		if !ok && (ref.Optional == nil || !*ref.Optional) {
			return "", fmt.Errorf("key %s not in secret %s", ref.Key, ref.Name)
		}
		return string(v), nil
	}
	// Resource limits: the simulated containers have none.
	return "", nil
}

func (r *resolver) field(fieldPath string) (string, error) {
	p := r.pod
	switch fieldPath {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return r.ip.String(), nil
	case "status.hostIP", "status.hostIPs":
		return nodeIP, nil
	}
	if m := fieldKey.FindStringSubmatch(fieldPath); m != nil {
		if m[1] == "labels" {
			return p.Labels[m[2]], nil
		}
		return p.Annotations[m[2]], nil
	}
	return "", fmt.Errorf("unsupported fieldRef %q", fieldPath)
}

// files maps the container's mounted ConfigMap, Secret and projected volumes to file contents by
// absolute path. Other volume types mount nothing.
func (r *resolver) files(c corev1.Container) (map[string][]byte, error) {
	volumes := map[string]corev1.Volume{}
	for _, v := range r.pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	files := map[string][]byte{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume %s is not defined", m.Name)
		}
		content, err := r.volume(v)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", m.Name, err)
		}
		for rel, data := range content {
			if m.SubPath != "" {
				// A subPath mounts one entry of the volume at exactly the mount path.
				if rel == m.SubPath {
					files[path.Clean(m.MountPath)] = data
				}
				continue
			}
			files[path.Join(m.MountPath, rel)] = data
		}
	}
	return files, nil
}

// volume returns a volume's files by path relative to its mount point.
func (r *resolver) volume(v corev1.Volume) (map[string][]byte, error) {
	out := map[string][]byte{}
	switch {
	case v.Secret != nil:
		return out, r.addSecret(out, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional)
	case v.ConfigMap != nil:
		return out, r.addConfigMap(out, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			var err error
			switch {
			case src.Secret != nil:
				err = r.addSecret(out, src.Secret.Name, src.Secret.Items, src.Secret.Optional)
			case src.ConfigMap != nil:
				err = r.addConfigMap(out, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (r *resolver) addSecret(out map[string][]byte, name string, items []corev1.KeyToPath, optional *bool) error {
	s, err := r.secret(name, optional)
	if err != nil || s == nil {
		return err
	}
	return addItems(out, s.Data, items, "secret "+name)
}

func (r *resolver) addConfigMap(out map[string][]byte, name string, items []corev1.KeyToPath, optional *bool) error {
	cm, err := r.configMap(name, optional)
	if err != nil || cm == nil {
		return err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return addItems(out, data, items, "configmap "+name)
}

// addItems projects keys to files: all keys by their names, or only the listed items at their paths.
func addItems(out map[string][]byte, data map[string][]byte, items []corev1.KeyToPath, what string) error {
	if len(items) == 0 {
		for k, v := range data {
			out[k] = v
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return fmt.Errorf("key %s not in %s", it.Key, what)
		}
		out[strings.TrimPrefix(path.Clean(it.Path), "/")] = v
	}
	return nil
}
