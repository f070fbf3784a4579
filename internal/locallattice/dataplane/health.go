package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lattice-gateway/lattice-gateway/internal/locallattice/store"
)

// healthConfig is a target group's effective health check (defaults of reference §3.5 applied).
type healthConfig struct {
	enabled            bool
	scheme             string // http | https
	http2              bool
	port               int32 // 0: the target's port
	path               string
	interval, timeout  time.Duration
	healthy, unhealthy int
	codes              codeMatcher
}

func effectiveHealth(tg *store.TargetGroup, override time.Duration) healthConfig {
	cfg := tg.Config
	if cfg == nil {
		cfg = &store.TargetGroupConfig{}
	}
	hc := cfg.HealthCheck
	if hc == nil {
		hc = &store.HealthCheckConfig{}
	}
	out := healthConfig{
		enabled:   store.HealthCheckEnabled(tg),
		scheme:    "http",
		http2:     hc.ProtocolVersion == "HTTP2",
		path:      hc.Path,
		interval:  seconds(hc.HealthCheckIntervalSeconds, 30),
		timeout:   seconds(hc.HealthCheckTimeoutSeconds, 5),
		healthy:   count(hc.HealthyThresholdCount, 5),
		unhealthy: count(hc.UnhealthyThresholdCount, 2),
	}
	if tg.Type != "" && tg.Type != "IP" {
		// Only IP targets can be dialled from this machine.
		out.enabled = false
	}
	if strings.EqualFold(hc.Protocol, "HTTPS") {
		out.scheme = "https"
	}
	if hc.Port != nil {
		out.port = *hc.Port
	}
	if out.path == "" {
		out.path = "/"
	}
	code := "200"
	if hc.Matcher != nil && hc.Matcher.HTTPCode != nil && *hc.Matcher.HTTPCode != "" {
		code = *hc.Matcher.HTTPCode
	}
	out.codes = parseCodes(code)
	if override > 0 {
		// The timeout stays: probes run one after another, so a slow one only delays the next.
		out.interval = override
	}
	return out
}

// seconds treats 0 as "use the default", as the API does (§3.5).
func seconds(v *int32, def int) time.Duration {
	if v == nil || *v <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(*v) * time.Second
}

func count(v *int32, def int) int {
	if v == nil || *v <= 0 {
		return def
	}
	return int(*v)
}

// codeMatcher is a parsed matcher.httpCode such as "200-299,301".
type codeMatcher [][2]int

func parseCodes(s string) codeMatcher {
	var out codeMatcher
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		out = append(out, [2]int{a, b})
	}
	if len(out) == 0 {
		out = codeMatcher{{200, 200}}
	}
	return out
}

func (m codeMatcher) match(code int) bool {
	for _, r := range m {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// healthChecks runs one prober per (target group, target, port) and restarts it when the
// group's health-check configuration changes.
type healthChecks struct {
	dp *DataPlane

	mu      sync.Mutex
	probers map[proberKey]*prober
}

type proberKey struct {
	tg, target string
	port       int32
}

type prober struct {
	cfg    healthConfig
	cancel context.CancelFunc
}

// reconcile is called after every snapshot; it never waits for a prober (a prober reporting
// health may itself be delivering the snapshot that triggered this call).
func (h *healthChecks) reconcile(ctx context.Context, snap *store.Snapshot) {
	h.mu.Lock()
	defer h.mu.Unlock()
	want := map[proberKey]bool{}
	for i := range snap.TargetGroups {
		tg := &snap.TargetGroups[i]
		cfg := effectiveHealth(tg, h.dp.opts.HealthCheckInterval)
		for _, t := range tg.Targets {
			if t.Status == "DRAINING" {
				continue
			}
			key := proberKey{tg: tg.ID, target: t.ID, port: t.Port}
			// The store shows UNAVAILABLE without health checks and UNUSED for groups no
			// service uses; Lattice checks neither.
			if !cfg.enabled || t.Status == "UNUSED" {
				continue
			}
			want[key] = true
			if p, ok := h.probers[key]; ok {
				if p.cfg.equal(&cfg) {
					continue
				}
				p.cancel()
			}
			port := t.Port
			if port == 0 {
				port = defaultPort(tg)
			}
			if cfg.port != 0 {
				port = cfg.port
			}
			pctx, cancel := context.WithCancel(ctx)
			h.probers[key] = &prober{cfg: cfg, cancel: cancel}
			go h.run(pctx, key, cfg, joinHostPort(t.ID, port), t.Status)
		}
	}
	for key, p := range h.probers {
		if !want[key] {
			p.cancel()
			delete(h.probers, key)
		}
	}
}

func (c *healthConfig) equal(o *healthConfig) bool {
	return fmt.Sprint(*c) == fmt.Sprint(*o)
}

func defaultPort(tg *store.TargetGroup) int32 {
	if tg.Config != nil && tg.Config.Port != nil && *tg.Config.Port != 0 {
		return *tg.Config.Port
	}
	if tg.Config != nil && tg.Config.Protocol == "HTTPS" {
		return 443
	}
	return 80
}

func (h *healthChecks) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for key, p := range h.probers {
		p.cancel()
		delete(h.probers, key)
	}
}

// run probes until ctx ends. Thresholds follow §3.5: one success makes a new target healthy;
// after that, healthy/unhealthy thresholds of consecutive results flip the state.
func (h *healthChecks) run(ctx context.Context, key proberKey, cfg healthConfig, addr, status string) {
	var protos http.Protocols
	if cfg.http2 {
		if cfg.scheme == "https" {
			protos.SetHTTP2(true)
		} else {
			protos.SetUnencryptedHTTP2(true)
		}
	} else {
		protos.SetHTTP1(true)
	}
	client := &http.Client{
		Timeout: cfg.timeout,
		Transport: &http.Transport{
			DialContext:       h.dp.dial,
			Protocols:         &protos,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true, // every check opens a fresh connection (§3.5)
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	url := cfg.scheme + "://" + addr + cfg.path
	successes, failures := 0, 0
	ticker := time.NewTicker(cfg.interval)
	defer ticker.Stop()
	for {
		ok, reason := probe(ctx, client, url, cfg.codes)
		if ctx.Err() != nil {
			return
		}
		if ok {
			successes, failures = successes+1, 0
		} else {
			successes, failures = 0, failures+1
		}
		next := status
		switch {
		case ok && (status != "UNHEALTHY" || successes >= cfg.healthy):
			next = "HEALTHY"
		case !ok && failures >= cfg.unhealthy:
			next = "UNHEALTHY"
		}
		if next != status {
			status = next
			if ok {
				reason = ""
			}
			h.dp.log.V(1).Info("target health changed", "targetGroup", key.tg, "target", addr, "status", status, "reason", reason)
			h.dp.src.SetTargetHealth(key.tg, key.target, key.port, status, reason)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string, codes codeMatcher) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, "HealthCheckFailed"
	}
	req.Header.Set("User-Agent", "Amazon-VPC-Lattice-HealthChecker/1.0")
	resp, err := client.Do(req)
	if err != nil {
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return false, "HealthCheckTimeout"
		}
		return false, "ConnectionFailed"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64*1024))
	resp.Body.Close()
	if !codes.match(resp.StatusCode) {
		return false, "HealthCheckResponseMismatch"
	}
	return true, ""
}
