package main

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Readiness timings.
const (
	// readyCheckTimeout bounds each readiness check.
	readyCheckTimeout = 2 * time.Second
	// docuSignCheckTTL is how long the DocuSign check's result is reused, so that probes every few seconds do not
	// call the token endpoint (the client caches its token; this also spares it while the endpoint fails).
	docuSignCheckTTL = 15 * time.Second
)

// readyCheck is one dependency /readyz looks at.
type readyCheck struct {
	name string
	// ttl > 0 caches the result for that long.
	ttl   time.Duration
	check func(ctx context.Context) error

	mu   sync.Mutex // serialises runs of a cached check: concurrent probes share one
	at   time.Time
	last checkResult
}

// checkResult is one check's part of the /readyz reply.
type checkResult struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	TookMS int64  `json:"took_ms"`
	Cached bool   `json:"cached,omitempty"`
}

func (c *readyCheck) run(ctx context.Context, now func() time.Time) checkResult {
	if c.ttl > 0 {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.at.IsZero() && now().Sub(c.at) < c.ttl {
			r := c.last
			r.Cached = true
			return r
		}
	}
	start := now()
	cctx, cancel := context.WithTimeout(ctx, readyCheckTimeout)
	err := c.check(cctx)
	cancel()
	r := checkResult{OK: err == nil, TookMS: now().Sub(start).Milliseconds()}
	if err != nil {
		r.Error = err.Error()
	}
	if c.ttl > 0 {
		c.at, c.last = now(), r
	}
	return r
}

// readiness answers /readyz: every check in parallel, 503 when any fails or while shutting down.
type readiness struct {
	checks   []*readyCheck
	stopping atomic.Bool
	now      func() time.Time
}

// readyReply is the /readyz body.
type readyReply struct {
	Status string                 `json:"status"`
	Checks map[string]checkResult `json:"checks,omitempty"`
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rd.stopping.Load() {
		writeJSON(w, http.StatusServiceUnavailable, readyReply{Status: "shutting down"})
		return
	}
	results := make([]checkResult, len(rd.checks))
	var wg sync.WaitGroup
	for i, c := range rd.checks {
		wg.Go(func() { results[i] = c.run(r.Context(), rd.now) })
	}
	wg.Wait()
	reply := readyReply{Status: "ready", Checks: make(map[string]checkResult, len(rd.checks))}
	code := http.StatusOK
	for i, c := range rd.checks {
		reply.Checks[c.name] = results[i]
		if !results[i].OK {
			reply.Status, code = "not ready", http.StatusServiceUnavailable
		}
	}
	writeJSON(w, code, reply)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// newHTTPHandler serves /healthz (the process is alive), /readyz and /metrics; run mounts the dashboard on it.
func newHTTPHandler(rd *readiness, reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.Handle("GET /readyz", rd)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError, // a failing queue read must not hide the other metrics
		Timeout:       10 * time.Second,
	}))
	return mux
}
