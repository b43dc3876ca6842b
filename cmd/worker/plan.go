package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/rules"
)

// planTimeout bounds one plan (its DocuSign look-ups may wait for limiter tokens).
const planTimeout = 2 * time.Minute

// planRequest is the body of POST /plan: an HR event (a structured-mode CloudEvent) and, optionally, the text of
// a rules file to plan with instead of the rules in force.
type planRequest struct {
	Event json.RawMessage `json:"event"`
	Rules string          `json:"rules,omitempty"`
}

// planError is an error reply of POST /plan.
type planError struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

// planner answers POST /plan: what the worker would do for an event against DocuSign's live state, with real
// look-ups (through the client and its limiter hook) and no writes. `enqueue plan` calls it.
type planner struct {
	handlers *jobs.Handlers
	decoder  *events.Decoder
	dir      rulesDirectory
	maxBytes int
}

func (p *planner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(p.maxBytes)+rulesMaxRequest))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, planError{Error: "read the request: " + err.Error()})
		return
	}
	var req planRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.Event) == 0 {
		writeJSON(w, http.StatusBadRequest, planError{Error: `the body is {"event": <HR CloudEvent>, "rules": "<rules file, optional>"}`})
		return
	}
	h := nats.Header{}
	h.Set("Content-Type", events.ContentTypeStructured)
	ev, err := p.decoder.Decode(h, req.Event)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, planError{Error: err.Error()})
		return
	}
	taskType := ev.TaskType()
	if taskType == "" {
		writeJSON(w, http.StatusBadRequest, planError{Error: "a cancellation has no task to plan: plan a joined, updated or left event"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), planTimeout)
	defer cancel()
	var set *rules.Set
	if req.Rules != "" {
		if set, err = rules.Parse("request", []byte(req.Rules)); err == nil {
			err = set.Validate(ctx, p.dir)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, rulesProblems(err))
			return
		}
	}
	rep, err := p.handlers.Plan(ctx, taskType, ev.Payload(), set)
	if err != nil {
		code := http.StatusServiceUnavailable // transient or rate limited: try again
		if jobs.ReasonOf(err) != "" {
			code = http.StatusUnprocessableEntity
		}
		writeJSON(w, code, planError{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// rulesMaxRequest bounds the rules file a plan request may carry.
const rulesMaxRequest = rules.MaxFileSize + 4096

// rulesProblems is the error reply for a refused rules file: every problem with its line.
func rulesProblems(err error) planError {
	pe := planError{Error: "the rules file is invalid"}
	var ve *rules.ValidationError
	if !errors.As(err, &ve) {
		pe.Error = err.Error()
		return pe
	}
	for _, pr := range ve.Problems {
		pe.Problems = append(pe.Problems, pr.String())
	}
	if ve.Omitted > 0 {
		pe.Problems = append(pe.Problems, fmt.Sprintf("... and %d more", ve.Omitted))
	}
	return pe
}

// guardCollector exports the close guard's state on each scrape (one Redis script).
type guardCollector struct {
	status func(ctx context.Context) (jobs.GuardStatus, error)

	tripped, held, count *prometheus.Desc
}

func newGuardCollector(status func(ctx context.Context) (jobs.GuardStatus, error)) *guardCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "guard", name), help, nil, nil)
	}
	return &guardCollector{status: status,
		tripped: d("tripped", "1 while the mass-deprovisioning guard holds closes (enqueue approve or enqueue reject)."),
		held:    d("held_closes", "Closes held by the guard."),
		count:   d("closes_in_window", "Closes counted in the guard's sliding window."),
	}
}

func (c *guardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tripped
	ch <- c.held
	ch <- c.count
}

func (c *guardCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := c.status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.tripped, err)
		return
	}
	tripped := 0.0
	if s.Tripped {
		tripped = 1
	}
	ch <- prometheus.MustNewConstMetric(c.tripped, prometheus.GaugeValue, tripped)
	ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(len(s.Held)))
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(s.Count))
}

// newPlanner builds the planner: handlers like the worker's (its Redis keys, tombstones, rules), over a dry-run
// directory, without the close guard.
func (w *worker) newPlanner(cfg jobs.Config, opts jobs.AdminOptions) error {
	dir, err := jobs.NewDryRunDirectory(w.cfg.DocuSignSurface, w.client, opts)
	if err != nil {
		return err //nolint:wrapcheck // prefixed by jobs
	}
	cfg.Directory, cfg.Guard, cfg.Metrics, cfg.Queues = dir, nil, nil, nil
	h, err := jobs.NewHandlers(cfg)
	if err != nil {
		return err //nolint:wrapcheck // prefixed by jobs
	}
	var opt []events.DecoderOption
	if w.rules != nil {
		opt = append(opt, events.WithRules())
	}
	dec, err := events.NewDecoder(w.cfg.MaxEventBytes, opt...)
	if err != nil {
		return err //nolint:wrapcheck // prefixed by events
	}
	w.planner = &planner{handlers: h, decoder: dec, maxBytes: w.cfg.MaxEventBytes,
		dir: w.rulesDirectory()}
	return nil
}

// newGuard builds the mass-deprovisioning guard; nil when both limits are 0.
func (w *worker) newGuard() (*jobs.Guard, error) {
	cfg := w.cfg
	if cfg.GuardMaxCloses == 0 && cfg.GuardMaxPercent == 0 {
		w.component("guard").Warn().Msg("mass-deprovisioning guard off (WORKER_GUARD_MAX_CLOSES and WORKER_GUARD_MAX_PERCENT are 0)")
		return nil, nil
	}
	g, err := jobs.NewGuard(jobs.GuardConfig{Redis: w.rdb, KeyPrefix: jobs.GuardKeyPrefix(cfg.keyPrefix()),
		Window: cfg.GuardWindow, MaxCloses: cfg.GuardMaxCloses, MaxPercent: cfg.GuardMaxPercent,
		ManagedUsersFunc: jobs.IdentityCounter(w.rdb, cfg.jobsPrefix()), Metrics: w.metrics,
		Logger: *w.component("guard"), Audit: w.js, AuditSubjectPrefix: cfg.AuditPrefix, AuditSource: cfg.AuditSource})
	if err != nil {
		return nil, err //nolint:wrapcheck // prefixed by jobs
	}
	w.metrics.reg.MustRegister(newGuardCollector(g.Status))
	w.component("guard").Info().Int("max_closes", cfg.GuardMaxCloses).Float64("max_percent", cfg.GuardMaxPercent).
		Dur("window", cfg.GuardWindow).Msg("mass-deprovisioning guard on")
	return g, nil
}

// protect puts the dashboard's basic auth, when configured, in front of h: a plan shows an employee's DocuSign
// state.
func (w *worker) protect(h http.Handler) http.Handler {
	if w.cfg.MonitoringUser == "" {
		return h
	}
	return newBasicAuth(w.cfg.MonitoringUser, w.cfg.MonitoringPassword, h)
}
