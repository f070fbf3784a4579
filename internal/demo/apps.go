package demo

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/lattice-gateway/lattice-gateway/internal/demo/workload"
	"github.com/lattice-gateway/lattice-gateway/internal/provider/file"
)

// Pod is one running stand-in for a Pod named in an EndpointSlice.
type Pod struct {
	// Cluster is the name of the pod's cluster in a multi-cluster walkthrough, else empty.
	Cluster       string
	Service, Name string
	Addr          netip.AddrPort
}

// Apps are the running pods; Close stops them.
type Apps struct {
	Pods    []Pod
	running []*workload.Running
}

// StartApps runs, for every ready endpoint of the EndpointSlices in objs, the workload of the
// Deployment behind its Service (the image decides which, see workload.KindOf; the demo apps'
// image answers "Requesting to Pod(<pod>): <PodName env>") on the endpoint's loopback address, as
// the Pod named in its targetRef. So the manifests are the single description of the demo. A
// slice of a Service objs do not hold starts nothing: its Service lives in another cluster.
func StartApps(objs []file.Object, log logr.Logger) (*Apps, error) {
	services := map[string]*corev1.Service{}
	var deployments []*appsv1.Deployment
	var slices []*discoveryv1.EndpointSlice
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			services[o.Namespace+"/"+o.Name] = o
		case *appsv1.Deployment:
			deployments = append(deployments, o)
		case *discoveryv1.EndpointSlice:
			slices = append(slices, o)
		}
	}
	apps := &Apps{}
	for _, es := range slices {
		svcName := es.Labels[discoveryv1.LabelServiceName]
		svc, ok := services[es.Namespace+"/"+svcName]
		if !ok {
			continue
		}
		container := containerFor(svc, deployments)
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				pod, err := apps.start(es, ep, a, svcName, container, log)
				if err != nil {
					apps.Close()
					return nil, err
				}
				apps.Pods = append(apps.Pods, pod...)
			}
		}
	}
	apps.sort()
	return apps, nil
}

// startClusterApps starts the pods of each folder's cluster.
func startClusterApps(folders []folder, log logr.Logger) (*Apps, error) {
	all := &Apps{}
	for _, f := range folders {
		apps, err := StartApps(f.objs, log.WithValues("cluster", f.cluster.Name))
		if err != nil {
			all.Close()
			return nil, err
		}
		for _, p := range apps.Pods {
			p.Cluster = f.cluster.Name
			all.Pods = append(all.Pods, p)
		}
		all.running = append(all.running, apps.running...)
	}
	all.sort()
	return all, nil
}

func (a *Apps) sort() {
	sort.Slice(a.Pods, func(i, j int) bool { return a.Pods[i].Addr.Addr().Less(a.Pods[j].Addr.Addr()) })
}

func (a *Apps) start(es *discoveryv1.EndpointSlice, ep discoveryv1.Endpoint, address, svcName string, c corev1.Container, log logr.Logger) ([]Pod, error) {
	addr, err := netip.ParseAddr(address)
	if err != nil || !addr.IsLoopback() {
		return nil, fmt.Errorf("EndpointSlice %s/%s: address %s is not a loopback address; the demo runs its pods on this machine", es.Namespace, es.Name, address)
	}
	podName := svcName + "-" + addr.String()
	if ep.TargetRef != nil && ep.TargetRef.Name != "" {
		podName = ep.TargetRef.Name
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	var ports []int32
	for _, p := range es.Ports {
		if p.Port != nil {
			ports = append(ports, *p.Port)
		}
	}
	image := c.Image
	if image == "" {
		image = workload.DemoAppImage
	}
	r, err := workload.Start(workload.Container{Pod: podName, Namespace: es.Namespace, Name: nonEmpty(c.Name, svcName),
		Image: image, Addr: addr, Env: env, Ports: ports}, log)
	if err != nil {
		return nil, fmt.Errorf("start pod %s of %s: %w", podName, svcName, err)
	}
	a.running = append(a.running, r)
	pods := make([]Pod, 0, len(r.Addrs))
	for _, ap := range r.Addrs {
		pods = append(pods, Pod{Service: svcName, Name: podName, Addr: ap})
	}
	return pods, nil
}

// containerFor is the first container of the Deployment whose Pods the Service selects, or a
// zero container (the demo app, answering with its defaults) when there is none.
func containerFor(svc *corev1.Service, deployments []*appsv1.Deployment) corev1.Container {
	if svc == nil || len(svc.Spec.Selector) == 0 {
		return corev1.Container{}
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	for _, d := range deployments {
		if d.Namespace == svc.Namespace && sel.Matches(labels.Set(d.Spec.Template.Labels)) && len(d.Spec.Template.Spec.Containers) > 0 {
			return d.Spec.Template.Spec.Containers[0]
		}
	}
	return corev1.Container{}
}

// Close stops every pod.
func (a *Apps) Close() {
	for _, r := range a.running {
		_ = r.Close()
	}
	a.running = nil
}

// ServiceOf names the Service of a pod, or "".
func (a *Apps) ServiceOf(pod string) string {
	for _, p := range a.Pods {
		if p.Name == pod {
			return p.Service
		}
	}
	return ""
}

// ClusterOf names the cluster of a pod, or "".
func (a *Apps) ClusterOf(pod string) string {
	for _, p := range a.Pods {
		if p.Name == pod {
			return p.Cluster
		}
	}
	return ""
}

// PodsOf lists the pods of a Service.
func (a *Apps) PodsOf(service string) []Pod {
	var out []Pod
	for _, p := range a.Pods {
		if p.Service == service {
			out = append(out, p)
		}
	}
	return out
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
