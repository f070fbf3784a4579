package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves the admin endpoint:
//
//	GET  /healthz          ok
//	GET  /metrics          Prometheus metrics
//	GET  /counters         {"total":N,"mutating":M,"operations":{"CreateService":{"201":3}}}
//	POST /counters/reset   zero the counters (DELETE /counters does the same)
//	GET  /faults           current fault settings
//	PUT  /faults           change some of them: {"tpsLimit":5,"apiLatency":"20ms"} (POST works too)
//
// HandleAdmin adds more (the console); MetricsRegistry takes more metrics (the data plane's).
func (s *Server) AdminHandler() http.Handler {
	s.adminOnce.Do(s.buildAdmin)
	return s.adminMux
}

// HandleAdmin serves h for pattern (an http.ServeMux pattern) on the admin endpoint.
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.adminOnce.Do(s.buildAdmin)
	s.adminMux.Handle(pattern, h)
}

// MetricsRegistry is where the admin endpoint's /metrics comes from.
func (s *Server) MetricsRegistry() prometheus.Registerer { return s.counters.registry }

func (s *Server) buildAdmin() {
	mux := http.NewServeMux()
	s.adminMux = mux
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.counters.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /counters", func(w http.ResponseWriter, _ *http.Request) {
		c := s.Counts()
		ops := map[string]map[string]int64{}
		for op, codes := range c {
			ops[op] = map[string]int64{}
			for code, n := range codes {
				ops[op][strconv.Itoa(code)] = n
			}
		}
		adminJSON(w, http.StatusOK, map[string]any{"total": c.Total(), "mutating": c.Mutating(), "operations": ops})
	})
	reset := func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCounts()
		w.WriteHeader(http.StatusNoContent)
	}
	mux.HandleFunc("POST /counters/reset", reset)
	mux.HandleFunc("DELETE /counters", reset)
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, _ *http.Request) { adminJSON(w, http.StatusOK, s.Faults()) })
	setFaults := func(w http.ResponseWriter, r *http.Request) {
		f := s.Faults()
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err == nil {
			err = json.Unmarshal(body, &f)
		}
		if err == nil {
			err = s.SetFaults(f)
		}
		if err != nil {
			adminJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		adminJSON(w, http.StatusOK, f)
	}
	mux.HandleFunc("PUT /faults", setFaults)
	mux.HandleFunc("POST /faults", setFaults)
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
