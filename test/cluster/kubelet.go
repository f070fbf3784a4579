package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

// nodeIP is the simulated Node's address: the Node is this machine, reached on loopback.
const nodeIP = "127.0.0.1"

// Kubelet simulates the kubelet of one Node: it binds every unscheduled Pod to the Node, gives
// it an IP, runs its containers in process and reports the Pod Running and Ready (Ready only
// when all readiness gates are True). A deleted Pod keeps serving while its preStop sleeps run
// (within its grace period), then is stopped and removed with grace 0; Pods without a preStop
// hook go at once, so Deployments scale and namespaces terminate promptly.
type Kubelet struct {
	cs     kubernetes.Interface
	node   string
	log    logr.Logger
	ipam   *ipam
	queue  workqueue.TypedRateLimitingInterface[string]
	pods   corelisters.PodLister
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	runs map[string]*podRun // by namespace/name
}

// podRun is a Pod incarnation this kubelet runs.
type podRun struct {
	uid        types.UID
	ip         netip.Addr
	started    metav1.Time
	containers []*workloads.Running
	err        error // why the containers are not running
	// stopAt is when a terminating Pod's containers stop (its preStop hooks end); zero while
	// the Pod is not terminating.
	stopAt time.Time
}

func newKubelet(cs kubernetes.Interface, node string, log logr.Logger) *Kubelet {
	return &Kubelet{
		cs:    cs,
		node:  node,
		log:   log,
		ipam:  newIPAM(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]()),
		runs:  map[string]*podRun{},
	}
}

func (k *Kubelet) start(ctx context.Context) error {
	if err := k.registerNode(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	factory := informers.NewSharedInformerFactory(k.cs, 0)
	inf := factory.Core().V1().Pods()
	k.pods = inf.Lister()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	factory.Start(runCtx.Done())
	k.wg.Go(func() {
		<-runCtx.Done()
		factory.Shutdown()
	})
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return fmt.Errorf("pod informer did not sync: %w", ctx.Err())
	}
	for range 4 {
		k.wg.Go(func() {
			for k.work(runCtx) {
			}
		})
	}
	return nil
}

func (k *Kubelet) stop() {
	if k.cancel != nil {
		k.cancel()
	}
	k.queue.ShutDown()
	k.wg.Wait()
	k.mu.Lock()
	for key, run := range k.runs {
		k.stopContainers(key, run)
	}
	k.runs = map[string]*podRun{}
	k.mu.Unlock()
	k.ipam.close()
}

func (k *Kubelet) registerNode(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: k.node,
		Labels: map[string]string{
			"kubernetes.io/hostname":      k.node,
			"kubernetes.io/os":            "linux",
			"kubernetes.io/arch":          "amd64",
			"topology.kubernetes.io/zone": "zone-a",
		},
	}}
	if _, err := k.cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("register node %s: %w", k.node, err)
	}
	now := metav1.Now()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("1000"),
	}
	status := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: nodeIP},
			{Type: corev1.NodeHostName, Address: k.node},
		},
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "kubelet simulator is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.36.3-sim", OperatingSystem: "linux", Architecture: "amd64", ContainerRuntimeVersion: "in-process://test/workloads"},
	}
	// Controllers (ttl, taints) touch a new Node at once, so the status write may conflict.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := k.cs.CoreV1().Nodes().Get(ctx, k.node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.Status = status
		_, err = k.cs.CoreV1().Nodes().UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("report node %s ready: %w", k.node, err)
	}
	return nil
}

func (k *Kubelet) work(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			k.log.V(1).Info("retrying pod", "pod", key, "error", err.Error())
		}
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

func (k *Kubelet) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // a malformed key can never sync
	}
	pod, err := k.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		k.teardown(key, "")
		return nil
	}
	if err != nil {
		return fmt.Errorf("get pod %s: %w", key, err)
	}
	switch {
	case pod.Spec.NodeName == "":
		return k.bind(ctx, pod)
	case pod.Spec.NodeName != k.node:
		return nil
	case pod.DeletionTimestamp != nil:
		return k.terminate(ctx, key, pod)
	case pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		k.teardown(key, pod.UID)
		return nil
	}
	run, err := k.ensureRunning(ctx, key, pod)
	if err != nil {
		return err
	}
	if err := k.updateStatus(ctx, pod, run); err != nil {
		return err
	}
	// A container that failed to start is retried with backoff, as the kubelet restarts it.
	return run.err
}

func (k *Kubelet) bind(ctx context.Context, pod *corev1.Pod) error {
	err := k.cs.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: k.node},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("bind pod %s/%s to %s: %w", pod.Namespace, pod.Name, k.node, err)
	}
	return nil
}

// remove deletes a terminating Pod with grace 0, as the kubelet does once its containers stopped.
func (k *Kubelet) remove(ctx context.Context, pod *corev1.Pod) error {
	err := k.cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// ensureRunning starts the Pod's containers once per incarnation (UID); a failed start is
// retried. The lock is not held while containers start (API reads for Secrets and ConfigMaps):
// the work queue never syncs one Pod in two workers at once.
func (k *Kubelet) ensureRunning(ctx context.Context, key string, pod *corev1.Pod) (*podRun, error) {
	run, err := k.podRun(key, pod)
	if err != nil || !run.needsStart() {
		return run, err
	}
	var started []*workloads.Running
	var startErr error
	for _, c := range pod.Spec.Containers {
		spec, err := containerSpec(ctx, k.cs, pod, c, run.ip)
		if err == nil {
			var r *workloads.Running
			if r, err = workloads.Start(spec, k.log); err == nil {
				started = append(started, r)
				k.log.V(1).Info("container started", "pod", key, "container", c.Name, "workload", r.Kind, "addrs", r.Addrs)
				continue
			}
		}
		startErr = err
		break
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	run.containers, run.err = started, startErr
	if startErr != nil {
		k.stopContainers(key, run)
	}
	return run, nil
}

// podRun returns the Pod's run, replacing one of an earlier incarnation and giving a new one an IP.
func (k *Kubelet) podRun(key string, pod *corev1.Pod) (*podRun, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	run := k.runs[key]
	if run != nil && run.uid != pod.UID {
		k.stopContainers(key, run)
		k.ipam.release(run.ip)
		delete(k.runs, key)
		run = nil
	}
	if run != nil {
		return run, nil
	}
	// Whole seconds, as the API stores them, so the next status compares equal.
	run = &podRun{uid: pod.UID, started: metav1.NewTime(time.Now().UTC().Truncate(time.Second))}
	if ip, err := netip.ParseAddr(pod.Status.PodIP); err == nil && k.ipam.reserve(ip) {
		run.ip = ip
	} else if run.ip, err = k.ipam.allocate(); err != nil {
		return nil, fmt.Errorf("allocate IP for pod %s: %w", key, err)
	}
	k.runs[key] = run
	return run, nil
}

func (r *podRun) needsStart() bool { return len(r.containers) == 0 }

func (k *Kubelet) stopContainers(key string, run *podRun) {
	for _, c := range run.containers {
		if err := c.Close(); err != nil {
			k.log.Error(err, "stop container", "pod", key)
		}
	}
	run.containers = nil
}

// teardown stops a Pod's containers and frees its IP; uid "" matches any incarnation.
func (k *Kubelet) teardown(key string, uid types.UID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	run := k.runs[key]
	if run == nil || (uid != "" && run.uid != uid) {
		return
	}
	k.stopContainers(key, run)
	k.ipam.release(run.ip)
	delete(k.runs, key)
}

func (k *Kubelet) updateStatus(ctx context.Context, pod *corev1.Pod, run *podRun) error {
	status := podStatus(pod, run)
	if equality.Semantic.DeepEqual(status, &pod.Status) {
		return nil
	}
	updated := pod.DeepCopy()
	updated.Status = *status
	_, err := k.cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		// A conflict means someone (a readiness-gate writer) changed the Pod; the update event
		// brings the Pod back with their change.
		if apierrors.IsConflict(err) {
			return nil
		}
		return fmt.Errorf("update status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// podStatus is the status a kubelet would report, keeping conditions others own (readiness gates).
func podStatus(pod *corev1.Pod, run *podRun) *corev1.PodStatus {
	s := pod.Status.DeepCopy()
	running := run.err == nil
	s.Phase = corev1.PodRunning
	if !running {
		s.Phase = corev1.PodPending
	}
	s.HostIP, s.HostIPs = nodeIP, []corev1.HostIP{{IP: nodeIP}}
	s.PodIP, s.PodIPs = run.ip.String(), []corev1.PodIP{{IP: run.ip.String()}}
	if s.StartTime == nil {
		s.StartTime = &run.started
	}
	// The API server sets the QoS class on create from the requests and limits, and it is
	// immutable afterwards: keep it (Pods with requests, like the conformance echo servers, are
	// Burstable).
	if s.QOSClass == "" {
		s.QOSClass = corev1.PodQOSBestEffort
	}
	s.InitContainerStatuses = nil
	for _, c := range pod.Spec.InitContainers {
		s.InitContainerStatuses = append(s.InitContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "sim://" + c.Image, Ready: true,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed", StartedAt: run.started, FinishedAt: run.started}},
		})
	}
	old := map[string]corev1.ContainerStatus{}
	for _, cs := range pod.Status.ContainerStatuses {
		old[cs.Name] = cs
	}
	s.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "sim://" + c.Image,
			ContainerID: fmt.Sprintf("sim://%s/%s", pod.UID, c.Name),
			Ready:       running, Started: &running,
			RestartCount: old[c.Name].RestartCount,
		}
		if running {
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: run.started}
		} else {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: run.err.Error()}
		}
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
	}
	ready := running
	for _, gate := range pod.Spec.ReadinessGates {
		if c := findCondition(s.Conditions, gate.ConditionType); c == nil || c.Status != corev1.ConditionTrue {
			ready = false
		}
	}
	setCondition(s, corev1.PodScheduled, true, "", "")
	setCondition(s, corev1.PodReadyToStartContainers, true, "", "")
	setCondition(s, corev1.PodInitialized, true, "", "")
	switch {
	case !running:
		setCondition(s, corev1.ContainersReady, false, "ContainersNotReady", run.err.Error())
		setCondition(s, corev1.PodReady, false, "ContainersNotReady", run.err.Error())
	case !ready:
		setCondition(s, corev1.ContainersReady, true, "", "")
		setCondition(s, corev1.PodReady, false, "ReadinessGatesNotReady", `the status of pod readiness gates is not "True"`)
	default:
		setCondition(s, corev1.ContainersReady, true, "", "")
		setCondition(s, corev1.PodReady, true, "", "")
	}
	return s
}

func findCondition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// setCondition sets a kubelet-owned condition, keeping the transition time while it holds.
func setCondition(s *corev1.PodStatus, t corev1.PodConditionType, ok bool, reason, msg string) {
	status := corev1.ConditionTrue
	if !ok {
		status = corev1.ConditionFalse
	}
	if c := findCondition(s.Conditions, t); c != nil {
		if c.Status != status {
			c.LastTransitionTime = metav1.Now()
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	s.Conditions = append(s.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()})
}

// Running is the number of Pods whose containers this kubelet runs or retries.
func (k *Kubelet) Running() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.runs)
}

// Addr returns where the Pod's workload listens (127.244.a.b), or false when this kubelet does
// not run it.
func (k *Kubelet) Addr(namespace, name string) (netip.Addr, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	run := k.runs[namespace+"/"+name]
	if run == nil || len(run.containers) == 0 {
		return netip.Addr{}, false
	}
	return PodAddr(run.ip), true
}
