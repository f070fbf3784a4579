package cluster

import (
	"context"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// defaultGracePeriod is the API's default terminationGracePeriodSeconds.
const defaultGracePeriod = 30 * time.Second

// terminate runs a deleted Pod's shutdown as a kubelet does: the containers' preStop hooks run
// while the servers keep serving, in-flight and new requests alike; once the longest hook ended,
// or the grace period ran out first, the servers stop and the Pod is removed with grace 0. The
// Ready condition is left alone meanwhile, as a real kubelet leaves it until a readiness probe
// fails: the EndpointSlice controller marks the endpoint terminating (ready false, serving as
// the Pod's Ready) from the deletion timestamp alone.
func (k *Kubelet) terminate(ctx context.Context, key string, pod *corev1.Pod) error {
	if left := k.shutdownLeft(key, pod); left > 0 {
		k.queue.AddAfter(key, left)
		return nil
	}
	k.teardown(key, pod.UID)
	return k.remove(ctx, pod)
}

// shutdownLeft is how long the Pod's containers keep running, starting the clock the first time
// the Pod is seen terminating; 0 when this kubelet runs no containers for it.
func (k *Kubelet) shutdownLeft(key string, pod *corev1.Pod) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	run := k.runs[key]
	if run == nil || run.uid != pod.UID || run.needsStart() {
		return 0
	}
	if run.stopAt.IsZero() {
		run.stopAt = time.Now().Add(shutdownTime(pod))
		k.log.V(1).Info("pod terminating", "pod", key, "stopAt", run.stopAt.Format(time.RFC3339Nano))
	}
	return time.Until(run.stopAt)
}

// shutdownTime is how long a terminating Pod keeps running: its longest preStop sleep, capped
// by the grace period of the deletion (the Pod's terminationGracePeriodSeconds unless the delete
// asked for less).
func shutdownTime(pod *corev1.Pod) time.Duration {
	grace := defaultGracePeriod
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	var hook time.Duration
	for _, c := range pod.Spec.Containers {
		if c.Lifecycle != nil {
			hook = max(hook, preStopSleep(c.Lifecycle.PreStop))
		}
	}
	return min(hook, grace)
}

// shellSleep finds a sleep in a shell script such as "sleep 15" or "echo bye; sleep 5 && true".
var shellSleep = regexp.MustCompile(`(?:^|[\s;&|(])(?:/usr)?(?:/bin/)?sleep\s+([0-9.]+[smhd]?)(?:$|[\s;&|)])`)

// preStopSleep is how long a preStop hook takes: the sleep action, or an exec of sleep (directly
// or in a shell script). Other hooks have nothing to simulate and take no time.
func preStopSleep(h *corev1.LifecycleHandler) time.Duration {
	switch {
	case h == nil:
		return 0
	case h.Sleep != nil:
		return time.Duration(h.Sleep.Seconds) * time.Second
	case h.Exec == nil || len(h.Exec.Command) == 0:
		return 0
	}
	cmd := h.Exec.Command
	if path.Base(cmd[0]) == "sleep" {
		if len(cmd) < 2 {
			return 0
		}
		return sleepArg(cmd[1])
	}
	for i, arg := range cmd[:len(cmd)-1] {
		if arg == "-c" {
			if m := shellSleep.FindStringSubmatch(cmd[i+1]); m != nil {
				return sleepArg(m[1])
			}
		}
	}
	return 0
}

// sleepArg parses sleep(1)'s operand: a number of seconds with an optional unit s, m, h or d.
func sleepArg(s string) time.Duration {
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		s, unit = s[:len(s)-1], time.Minute
	case strings.HasSuffix(s, "h"):
		s, unit = s[:len(s)-1], time.Hour
	case strings.HasSuffix(s, "d"):
		s, unit = s[:len(s)-1], 24*time.Hour
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n * float64(unit))
}
