package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice"
	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/locallatticetest"
	"github.com/lattice-gateway/lattice-gateway/internal/readiness"
	"github.com/lattice-gateway/lattice-gateway/internal/status"
	"github.com/lattice-gateway/lattice-gateway/test/cluster"
	"github.com/lattice-gateway/lattice-gateway/test/harness"
	"github.com/lattice-gateway/lattice-gateway/test/workloads"
)

const (
	// drainingDelay is Local Lattice's deregistration delay; the pods' preStop sleep outlasts it
	// by the time deregistration itself takes.
	drainingDelay = time.Second
	preStopSleep  = 2
	// appStartup is how long the app takes to listen after its container started. Without a
	// readiness probe Kubernetes counts the pod ready at once; only Lattice's health check
	// (every 100 ms here) finds out when it really serves.
	appStartup = 3 * time.Second
	// loadWorkers each send one request every loadInterval: 100 requests per second in all.
	loadWorkers  = 4
	loadInterval = 40 * time.Millisecond
)

// rolloutNamespace has Service web behind HTTPRoute web on Gateway sn, of examples/hotel's
// GatewayClass (applyClass).
const rolloutNamespace = `
apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
  labels: {%[2]s}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: sn, namespace: %[1]s}
spec:
  gatewayClassName: amazon-vpc-lattice
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: %[1]s}
spec:
  selector: {app: web}
  ports: [{protocol: TCP, port: 80, targetPort: 8090}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: %[1]s}
spec:
  parentRefs: [{name: sn}]
  rules: [{backendRefs: [{name: web, port: 80}]}]
`

// rolloutDeployment is docs/rollouts.md's example, scaled to the test's draining time.
const rolloutDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  replicas: %[5]d
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations: {version: "1"}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: public.ecr.aws/x2j8p8w7/http-server:latest
        env:
        - {name: PodName, value: web handler pod}
        - {name: %[2]s, value: %[3]s}
        lifecycle:
          preStop:
            sleep: {seconds: %[4]d}
`

// TestRolloutLosesNoRequest is issue 18's proof. Requests flow through the data plane at 100
// per second while a 4-replica Deployment rolls (maxSurge 1, maxUnavailable 0) and scales
// 4 -> 1 -> 4. Its app starts listening only 3 s after its container, which Kubernetes, without
// a readiness probe, does not see. With the readiness gate no request fails and every answer
// comes from a pod that Kubernetes counted Ready or Lattice found healthy; without it, the
// rollout replaces the old pods while the new ones do not listen yet, Lattice has no healthy
// target left, and requests fail.
func TestRolloutLosesNoRequest(t *testing.T) {
	e := startEnvWith(t, "127.0.73.1", "", func(o *locallattice.Options) { o.API.DrainingDelay = drainingDelay })
	port, certDir := harness.InstallReadinessWebhook(t, e.cluster.Config)
	e.gateController(t, "", port, certDir)

	gated := e.rollout(t, "gated", true)
	plain := e.rollout(t, "plain", false)
	for _, r := range []*rolloutResult{gated, plain} {
		t.Logf("%s: %d pods (%d gated); %d requests in %s (%.0f/s), %d failed (first: %s); %d answers from pods neither Ready nor healthy in Lattice (%d from healthy ones not Ready yet); "+
			"pod Running -> first request served: %s; rolling update: all old pods terminating after %s, new pods serving after %s",
			r.name, r.seenPods, r.gatedPods, r.sent, r.took.Round(time.Millisecond), float64(r.sent)/r.took.Seconds(),
			r.failed, r.firstErr, len(r.unready), r.beforeReady, r.runToTraffic, r.replaced.Round(time.Millisecond), r.rolled.Round(time.Millisecond))
	}
	if gated.failed != 0 {
		t.Errorf("with the readiness gate %d of %d requests failed; first: %s", gated.failed, gated.sent, gated.firstErr)
	}
	if len(gated.unready) > 0 {
		t.Errorf("with the readiness gate, answers from pods neither Ready nor healthy in Lattice: %v", gated.unready)
	}
	if plain.failed == 0 {
		t.Errorf("without the readiness gate no request failed: the test cannot tell the gate's effect "+
			"(Kubernetes took %s to replace the old pods, the app %s to start)", plain.replaced, appStartup)
	}
}

type rolloutResult struct {
	name         string
	sent, failed int64
	firstErr     string
	took         time.Duration
	// rolled is how long the rolling update took until the new pods served; replaced, how long
	// until Kubernetes had started terminating every old pod.
	rolled, replaced time.Duration
	unready          []string
	// beforeReady counts answers from pods whose target was HEALTHY but whose gate had not
	// turned them Ready yet (the gate follows Lattice).
	beforeReady         int
	runToTraffic        durations
	gatedPods, seenPods int
}

type durations []time.Duration

func (d durations) String() string {
	if len(d) == 0 {
		return "no new pod"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return fmt.Sprintf("%d new pods, min %s, median %s, max %s", len(s), s[0].Round(time.Millisecond),
		s[len(s)/2].Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// answer is one request of the load: which pod answered, or why it failed.
type answer struct {
	pod        string
	sent, done time.Time
	err        string
}

// rollout runs the scenario in its own namespace, labelled for the webhook when gate is set.
func (e *env) rollout(t *testing.T, ns string, gate bool) *rolloutResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	label := ""
	if gate {
		label = readiness.NamespaceLabel + ": enabled"
	}
	e.applyClass(t)
	e.apply(t, fmt.Sprintf(rolloutNamespace, ns, label))
	route := harness.RouteProgrammed(t, e.cluster.Client, ns, "web", "sn", time.Minute)
	pods := e.watchPods(t, ns)
	health := e.watchHealth(t, "k8s-"+ns+"-web-")
	e.apply(t, fmt.Sprintf(rolloutDeployment, ns, workloads.StartupDelayEnv, appStartup, preStopSleep, 4))
	e.waitServing(t, ctx, ns, health, 4)

	dnsName := route.Annotations[status.AnnotationDomainName]
	ips, err := cluster.ResolveDNS(dnsName, e.dp.DNSAddr())
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ips[0].String() + ":" + strconv.Itoa(80+listenerPortOffset) + "/"
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: cluster.PodDialer(t), DisableKeepAlives: true}}
	var mu sync.Mutex
	var answers []answer
	var sends []func() error
	var tickers []*time.Ticker
	for range loadWorkers {
		tick := time.NewTicker(loadInterval)
		tickers = append(tickers, tick)
		sends = append(sends, func() error {
			<-tick.C
			a := get(hc, url, dnsName)
			mu.Lock()
			answers = append(answers, a)
			mu.Unlock()
			if a.err != "" {
				return fmt.Errorf("%s", a.err)
			}
			return nil
		})
	}
	begin := time.Now()
	load := locallatticetest.StartLoad(sends...)

	// (a) A rolling update.
	patched := time.Now()
	if err := e.cluster.Client.Patch(ctx, &appsv1.Deployment{ObjectMeta: objMeta(ns, "web")},
		client.RawPatch(types.MergePatchType, []byte(`{"spec":{"template":{"metadata":{"annotations":{"version":"2"}}}}}`))); err != nil {
		t.Fatal(err)
	}
	e.waitServing(t, ctx, ns, health, 4)
	rolled := time.Since(patched)
	// (b) Scale in and out.
	for _, n := range []int{1, 4} {
		if err := e.cluster.Client.Patch(ctx, &appsv1.Deployment{ObjectMeta: objMeta(ns, "web")},
			client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n))); err != nil {
			t.Fatal(err)
		}
		e.waitServing(t, ctx, ns, health, n)
	}
	sent, failed, firstErr := load.Stop()
	for _, tick := range tickers {
		tick.Stop()
	}
	r := &rolloutResult{name: ns, sent: sent, failed: failed, firstErr: firstErr, took: time.Since(begin), rolled: rolled,
		replaced: pods.lastDeleting(begin).Sub(patched)}
	if gate {
		r.name += " (readiness gate)"
	} else {
		r.name += " (no readiness gate)"
	}
	pods.check(t, r, gate)
	r.unready, r.beforeReady, r.runToTraffic = pods.judge(answers, health, begin)
	return r
}

// applyClass applies the GatewayClass amazon-vpc-lattice of examples/hotel.
func (e *env) applyClass(t *testing.T) {
	t.Helper()
	class, err := os.ReadFile(filepath.Join(hotelDir(t), "gatewayclass.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e.apply(t, string(class))
}

func get(hc *http.Client, url, host string) answer {
	a := answer{sent: time.Now()}
	defer func() { a.done = time.Now() }()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		a.err = err.Error()
		return a
	}
	req.Host = host
	resp, err := hc.Do(req)
	if err != nil {
		a.err = err.Error()
		a.done = time.Now()
		return a
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	a.done = time.Now()
	switch pod, ok := workloads.PodOf(body); {
	case err != nil:
		a.err = err.Error()
	case resp.StatusCode != http.StatusOK:
		a.err = fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	case !ok:
		a.err = "unknown answer: " + string(body)
	default:
		a.pod = pod
	}
	return a
}

// waitServing waits until the Deployment has n pods, all Ready and none terminating, the old
// ones are gone, and Lattice has exactly their n targets, all HEALTHY.
func (e *env) waitServing(t *testing.T, ctx context.Context, ns string, health *healthLog, n int) {
	t.Helper()
	harness.Eventually(t, time.Minute, func() error {
		var list corev1.PodList
		if err := e.cluster.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{"app": "web"}); err != nil {
			return err
		}
		ips := map[string]bool{}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil || !podReady(&p) {
				return fmt.Errorf("pod %s not ready or terminating", p.Name)
			}
			ips[p.Status.PodIP] = true
		}
		var d appsv1.Deployment
		if err := e.cluster.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, &d); err != nil {
			return err
		}
		if len(list.Items) != n || d.Status.ObservedGeneration != d.Generation || d.Status.UpdatedReplicas != int32(n) {
			return fmt.Errorf("%d pods, deployment status %+v, want %d", len(list.Items), d.Status, n)
		}
		targets := health.current()
		for ip, st := range targets {
			if st != "DRAINING" && (st != "HEALTHY" || !ips[ip]) {
				return fmt.Errorf("lattice targets %v, pods %v", targets, ips)
			}
		}
		for ip := range ips {
			if targets[ip] != "HEALTHY" {
				return fmt.Errorf("lattice targets %v, pods %v", targets, ips)
			}
		}
		return nil
	})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// healthLog follows the targets of the target groups named with a prefix in Local Lattice, as
// every change commits: their current status and when each target IP was first HEALTHY.
type healthLog struct {
	mu      sync.Mutex
	now     map[string]string
	healthy map[string][]time.Time // by IP: when it turned HEALTHY (an IP may be reused)
}

func (e *env) watchHealth(t *testing.T, tgPrefix string) *healthLog {
	h := &healthLog{now: map[string]string{}, healthy: map[string][]time.Time{}}
	update := func() {
		at := time.Now()
		snap := e.lattice.Store().Snapshot()
		h.mu.Lock()
		defer h.mu.Unlock()
		now := map[string]string{}
		for _, tg := range snap.TargetGroups {
			if !strings.HasPrefix(tg.Name, tgPrefix) {
				continue
			}
			for _, tt := range tg.Targets {
				now[tt.ID] = tt.Status
				if tt.Status == "HEALTHY" && h.now[tt.ID] != "HEALTHY" {
					h.healthy[tt.ID] = append(h.healthy[tt.ID], at)
				}
			}
		}
		h.now = now
	}
	t.Cleanup(e.lattice.Store().Subscribe(update))
	update()
	return h
}

func (h *healthLog) current() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.now)
}

// healthyWithin says whether ip turned HEALTHY within [from, to].
func (h *healthLog) healthyWithin(ip string, from, to time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, at := range h.healthy[ip] {
		if !at.Before(from) && !at.After(to) {
			return true
		}
	}
	return false
}

// podLog records, as the watch delivers them, when each pod of a namespace was first Running
// and first Ready, and its IP and gate.
type podLog struct {
	mu   sync.Mutex
	pods map[string]*podTimes
}

type podTimes struct {
	ip                       string
	gated                    bool
	running, ready, deleting time.Time
}

func (e *env) watchPods(t *testing.T, ns string) *podLog {
	l := &podLog{pods: map[string]*podTimes{}}
	record := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		now := time.Now()
		l.mu.Lock()
		defer l.mu.Unlock()
		pt := l.pods[p.Name]
		if pt == nil {
			pt = &podTimes{gated: readiness.Gated(p)}
			l.pods[p.Name] = pt
		}
		if p.Status.PodIP != "" {
			pt.ip = p.Status.PodIP
		}
		if pt.running.IsZero() && p.Status.Phase == corev1.PodRunning {
			pt.running = now
		}
		if pt.ready.IsZero() && podReady(p) {
			pt.ready = now
		}
		if pt.deleting.IsZero() && p.DeletionTimestamp != nil {
			pt.deleting = now
		}
	}
	e.watchNamespacePods(t, ns, cache.ResourceEventHandlerFuncs{AddFunc: record, UpdateFunc: func(_, obj any) { record(obj) }})
	return l
}

// lastDeleting is when the last pod created before t started terminating.
func (l *podLog) lastDeleting(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var last time.Time
	for _, p := range l.pods {
		if p.running.Before(t) && p.deleting.After(last) {
			last = p.deleting
		}
	}
	return last
}

// check: in a gated namespace every pod got the gate, elsewhere none.
func (l *podLog) check(t *testing.T, r *rolloutResult, gate bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, p := range l.pods {
		r.seenPods++
		if p.gated {
			r.gatedPods++
		}
		if p.gated != gate {
			t.Errorf("%s: pod %s gated %v", r.name, name, p.gated)
		}
	}
}

// judge lists the answers that came from a pod that was neither Ready (as Kubernetes said) nor
// healthy in Lattice by the time the answer arrived, and for the pods started during the load,
// how long after Running each answered its first request.
func (l *podLog) judge(answers []answer, health *healthLog, begin time.Time) (unready []string, beforeReady int, d durations) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := map[string]time.Time{}
	for _, a := range answers {
		if a.pod == "" {
			continue
		}
		p := l.pods[a.pod]
		if p == nil {
			unready = append(unready, "unknown pod "+a.pod)
			continue
		}
		if f, ok := first[a.pod]; !ok || a.done.Before(f) {
			first[a.pod] = a.done
		}
		if !p.ready.IsZero() && !p.ready.After(a.done) {
			continue
		}
		if health.healthyWithin(p.ip, p.running, a.done) {
			beforeReady++
		} else {
			unready = append(unready, fmt.Sprintf("%s at %s", a.pod, a.done.Sub(begin).Round(time.Millisecond)))
		}
	}
	for name, f := range first {
		if p := l.pods[name]; p.running.After(begin) {
			d = append(d, f.Sub(p.running))
		}
	}
	return unready, beforeReady, d
}
