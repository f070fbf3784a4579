package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// routeStatusWrites is the API server's count of HTTPRoute status updates and patches, from
// every client: it survives controller restarts, which the controller's own counter does not.
func (b *clusterBench) routeStatusWrites(ctx context.Context) (float64, error) {
	body, err := b.c.Clientset.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("read kube-apiserver metrics: %w", err)
	}
	fams, err := parseMetrics(bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("parse kube-apiserver metrics: %w", err)
	}
	var n float64
	for _, m := range fams["apiserver_request_total"].GetMetric() {
		l := labels(m)
		if l["resource"] == "httproutes" && l["subresource"] == "status" && (l["verb"] == "PUT" || l["verb"] == "PATCH") {
			n += m.GetCounter().GetValue()
		}
	}
	return n, nil
}

// printStatusWrites prints the HTTPRoute status writes since the routes were applied, by the
// API server's count and by the controller's own lattice_gateway_status_writes_total, and the
// controller's Kubernetes API requests by method.
func (b *clusterBench) printStatusWrites(ctx context.Context) error {
	n, err := b.routeStatusWrites(ctx)
	if err != nil {
		return err
	}
	writes := n - b.statusBase
	fmt.Printf("  status writes: %.0f HTTPRoute status PUT/PATCH at the API server (%.2f per route)", writes, writes/float64(b.n))
	fams, err := b.ctrl.metrics()
	if err != nil {
		fmt.Printf("; controller metrics unavailable: %v\n", err)
		return nil
	}
	byKind := map[string]float64{}
	for _, m := range fams["lattice_gateway_status_writes_total"].GetMetric() {
		byKind[labels(m)["kind"]] += m.GetCounter().GetValue()
	}
	meta := 0.0
	for _, m := range fams["lattice_gateway_metadata_writes_total"].GetMetric() {
		meta += m.GetCounter().GetValue()
	}
	byMethod := map[string]float64{}
	for _, m := range fams["rest_client_requests_total"].GetMetric() {
		byMethod[labels(m)["method"]] += m.GetCounter().GetValue()
	}
	fmt.Printf("; controller's lattice_gateway_status_writes_total %v, metadata (finalizer/annotation) writes %.0f\n", byKind, meta)
	fmt.Printf("  controller's Kubernetes API requests since its start, by method: %v\n", byMethod)
	return nil
}

// metrics scrapes the controller's /metrics.
func (c *controller) metrics() (map[string]*dto.MetricFamily, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get("http://" + c.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// printProcess prints the controller process's resident and peak memory and CPU time, from /proc.
func (b *clusterBench) printProcess(when string) {
	pid := b.ctrl.pid()
	u, err := procUsage(pid)
	if err != nil {
		fmt.Printf("%s: %v\n", when, err)
		return
	}
	fmt.Printf("%s (pid %d): RSS %d MiB (anonymous %d MiB, file-backed %d MiB), peak RSS %d MiB, CPU %v\n",
		when, pid, u.rss>>10, u.anon>>10, u.file>>10, u.hwm>>10, u.cpu.Round(time.Millisecond))
}

// usage is a process's memory (KiB) and CPU time.
type usage struct {
	// rss is anon (the Go heap, stacks and runtime) plus file (the mapped binary): the kernel
	// can drop file pages under a memory limit, not anonymous ones.
	rss, anon, file, hwm int64
	cpu                  time.Duration
}

// procUsage reads VmRSS, RssAnon, RssFile and VmHWM from /proc/pid/status and user+system time
// from /proc/pid/stat.
func procUsage(pid int) (u usage, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for line := range strings.Lines(string(status)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			u.rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "RssAnon:":
			u.anon, _ = strconv.ParseInt(f[1], 10, 64)
		case "RssFile:":
			u.file, _ = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			u.hwm, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, err
	}
	// Fields after the command name, which may hold spaces, start at state (field 3); utime and
	// stime are fields 14 and 15, in clock ticks of 1/100 s on Linux.
	rest := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(rest) < 13 {
		return u, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(rest[11], 10, 64)
	stime, _ := strconv.ParseInt(rest[12], 10, 64)
	u.cpu = time.Duration(utime+stime) * 10 * time.Millisecond
	return u, nil
}
