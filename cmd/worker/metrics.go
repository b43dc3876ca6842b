package main

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// metricsNamespace prefixes every metric of the worker.
const metricsNamespace = "docusign_worker"

// scrapeTimeout bounds the NATS request a scrape makes.
const scrapeTimeout = 5 * time.Second

// timeToApplyBuckets span the worker's seconds to the 40-minute cycles of IdP connectors and beyond (effective
// dates, outages).
var timeToApplyBuckets = []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 2400, 3600, 4 * 3600, 24 * 3600} //nolint:gochecknoglobals // constant

// metrics is the worker's Prometheus side: its own registry (no global), the jobs.Metrics counters and the
// DocuSign latency histogram. Intake, limiter and queue figures are read on each scrape by collectors.
type metrics struct {
	reg *prometheus.Registry

	jobs             *prometheus.CounterVec
	stale            *prometheus.CounterVec
	paused           *prometheus.CounterVec
	archived         *prometheus.CounterVec
	docusignRequests *prometheus.CounterVec
	docusignLatency  *prometheus.HistogramVec
	timeToProvision  prometheus.Histogram
	timeToRevoke     prometheus.Histogram
	deadLetters      *prometheus.CounterVec
	deadLetterFails  *prometheus.CounterVec
	guardTrips       prometheus.Counter
	guardHeld        prometheus.Counter
}

var (
	_ jobs.Metrics           = (*metrics)(nil)
	_ jobs.DeadLetterMetrics = (*metrics)(nil)
	_ jobs.GuardMetrics      = (*metrics)(nil)
)

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "jobs_total",
			Help: "Task runs by task type, queue and result: an outcome (created, reactivated, updated, closed, unchanged, " +
				"stale, cancelled), rate_limited, lease_taken, integration_paused, retry (transient failure) or failed (archived)."},
			[]string{"task_type", "queue", "result"}),
		stale: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "jobs_stale_total",
			Help: "Events skipped because a newer event of the employee was already applied."}, []string{"task_type"}),
		paused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "integration_paused_total",
			Help: "Queues paused because the DocuSign integration is unusable (consent, key): alert on any increase."},
			[]string{"queue"}),
		archived: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "tasks_archived_total",
			Help: "Tasks archived by asynq (permanent failure or retry limit), by reason code."},
			[]string{"task_type", "queue", "reason"}),
		docusignRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "docusign_requests_total",
			Help: "DocuSign API requests by API, operation and HTTP status (0: no reply)."},
			[]string{"api", "operation", "status"}),
		docusignLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace,
			Name: "docusign_request_duration_seconds", Help: "Duration of DocuSign API requests, from sending to the whole reply.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}},
			[]string{"api", "operation"}),
		timeToProvision: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace,
			Name: "time_to_provision_seconds",
			Help: "From the HR event's effective time (effective_at, else time) to DocuSign's success, for tasks that " +
				"created, reactivated or updated a user.", Buckets: timeToApplyBuckets}),
		timeToRevoke: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace,
			Name: "time_to_revoke_seconds",
			Help: "From the HR event's effective time (effective_at, else time) to DocuSign's success, for tasks that " +
				"closed memberships.", Buckets: timeToApplyBuckets}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "deadletter_records_total",
			Help: "Dead-letter records of archived tasks written, by task type, reason and writer (error_handler, archive_sweep)."},
			[]string{"task_type", "reason", "recorded_by"}),
		deadLetterFails: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace,
			Name: "deadletter_write_failures_total",
			Help: "Dead-letter records that could not be written, by cause: stream_full (a WORKER_DEADLETTER_MAX_* limit) or error; the sweep retries them."},
			[]string{"cause"}),
		guardTrips: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "guard_trips_total",
			Help: "Trips of the mass-deprovisioning guard: closes are held until `enqueue approve` or `enqueue reject`; alert on any increase."}),
		guardHeld: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "guard_held_total",
			Help: "Close attempts held by the mass-deprovisioning guard (a held close counts at every attempt)."}),
	}
	m.reg.MustRegister(m.jobs, m.stale, m.paused, m.archived, m.docusignRequests, m.docusignLatency, m.timeToProvision, m.timeToRevoke,
		m.deadLetters, m.deadLetterFails, m.guardTrips, m.guardHeld,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// TaskFinished implements jobs.Metrics.
func (m *metrics) TaskFinished(taskType, queue, result string) {
	m.jobs.WithLabelValues(taskType, queue, result).Inc()
}

// StaleSkipped implements jobs.Metrics.
func (m *metrics) StaleSkipped(taskType string) { m.stale.WithLabelValues(taskType).Inc() }

// DocuSignCall implements jobs.Metrics.
func (m *metrics) DocuSignCall(api, operation string, status int) {
	m.docusignRequests.WithLabelValues(api, operation, strconv.Itoa(status)).Inc()
}

// IntegrationPaused implements jobs.Metrics.
func (m *metrics) IntegrationPaused(queue string) { m.paused.WithLabelValues(queue).Inc() }

// TimeToApply implements jobs.Metrics.
func (m *metrics) TimeToApply(kind string, d time.Duration) {
	h := m.timeToProvision
	if kind == "revoke" {
		h = m.timeToRevoke
	}
	h.Observe(max(d, 0).Seconds())
}

// DeadLetterRecorded implements jobs.DeadLetterMetrics.
func (m *metrics) DeadLetterRecorded(taskType, reason, by string) {
	m.deadLetters.WithLabelValues(taskType, reason, by).Inc()
}

// GuardTripped implements jobs.GuardMetrics.
func (m *metrics) GuardTripped() { m.guardTrips.Inc() }

// CloseHeld implements jobs.GuardMetrics.
func (m *metrics) CloseHeld() { m.guardHeld.Inc() }

// DeadLetterWriteFailed implements jobs.DeadLetterMetrics.
func (m *metrics) DeadLetterWriteFailed(cause string) { m.deadLetterFails.WithLabelValues(cause).Inc() }

// streamInfoer is the part of jetstream.JetStream the dead-letter stream collector reads.
type streamInfoer interface {
	Stream(ctx context.Context, name string) (jetstream.Stream, error)
}

// deadLetterCollector exports the dead-letter stream's size against its limits on each scrape (one JetStream
// request): the dead letters waiting for an operator, intake and tasks together.
type deadLetterCollector struct {
	js     streamInfoer
	stream string

	msgs, bytes, maxMsgs, maxBytes *prometheus.Desc
}

func newDeadLetterCollector(js streamInfoer, stream string) *deadLetterCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "deadletter", name), help, nil, nil)
	}
	return &deadLetterCollector{
		js: js, stream: stream,
		msgs:     d("stream_messages", "Dead letters (invalid events and archived tasks) waiting in the dead-letter stream."),
		bytes:    d("stream_bytes", "Bytes of the dead-letter stream."),
		maxMsgs:  d("stream_max_messages", "The stream's message limit (-1: none); at the limit new dead letters are refused, never old ones dropped."),
		maxBytes: d("stream_max_bytes", "The stream's byte limit (-1: none)."),
	}
}

func (c *deadLetterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.msgs, c.bytes, c.maxMsgs, c.maxBytes} {
		ch <- d
	}
}

func (c *deadLetterCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.msgs, err)
		return
	}
	info := s.CachedInfo()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	gauge(c.msgs, float64(info.State.Msgs))
	gauge(c.bytes, float64(info.State.Bytes))
	gauge(c.maxMsgs, float64(info.Config.MaxMsgs))
	gauge(c.maxBytes, float64(info.Config.MaxBytes))
}

// timingHook wraps the jobs limiter hook to time every DocuSign request (jobs.Metrics carries no durations).
type timingHook struct {
	inner   docusign.Hook
	latency *prometheus.HistogramVec
}

func (h timingHook) BeforeRequest(ctx context.Context, req docusign.RequestInfo) error {
	return h.inner.BeforeRequest(ctx, req) //nolint:wrapcheck // the client wraps it
}

func (h timingHook) AfterResponse(ctx context.Context, req docusign.RequestInfo, resp docusign.ResponseInfo) {
	h.latency.WithLabelValues(string(req.API), req.Operation).Observe(resp.Duration.Seconds())
	h.inner.AfterResponse(ctx, req, resp)
}

// intakeCollector exports events.Stats on each scrape.
type intakeCollector struct {
	stats func() events.Stats

	received, enqueued, duplicates, deadLettered, cancelled, cancelledTasks, cancelTooLate, naked, pauses, paused *prometheus.Desc
}

func newIntakeCollector(stats func() events.Stats) *intakeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "events", name), help, labels, nil)
	}
	return &intakeCollector{
		stats:          stats,
		received:       d("received_total", "HR events received, by CloudEvents type (invalid: did not decode).", "type"),
		enqueued:       d("enqueued_total", "Tasks enqueued from HR events."),
		duplicates:     d("duplicates_total", "Events whose task already existed (redelivered or re-published), acknowledged without a new task."),
		deadLettered:   d("dead_lettered_total", "Events written to the dead-letter stream, by reason.", "reason"),
		cancelled:      d("cancelled_total", "Events acknowledged without a task because a cancellation names them."),
		cancelledTasks: d("cancelled_tasks_total", "Waiting tasks deleted by cancellations."),
		cancelTooLate:  d("cancel_too_late_total", "Cancellations whose task had already started, finished or been archived."),
		naked:          d("naked_total", "Events handed back for redelivery (Redis or the dead-letter stream unavailable)."),
		pauses:         d("intake_pauses_total", "Times intake stopped fetching because Redis was unavailable."),
		paused:         d("intake_paused", "1 while intake is stopped because Redis is unavailable."),
	}
}

func (c *intakeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.received, c.enqueued, c.duplicates, c.deadLettered, c.cancelled,
		c.cancelledTasks, c.cancelTooLate, c.naked, c.pauses, c.paused} {
		ch <- d
	}
}

func (c *intakeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, t := range sortedKeys(s.Received) {
		counter(c.received, s.Received[t], t)
	}
	for _, r := range events.Reasons() {
		counter(c.deadLettered, s.DeadLettered[r], string(r))
	}
	counter(c.enqueued, s.Enqueued)
	counter(c.duplicates, s.Duplicates)
	counter(c.cancelled, s.Cancelled)
	counter(c.cancelledTasks, s.CancelledTasks)
	counter(c.cancelTooLate, s.CancelTooLate)
	counter(c.naked, s.Naked)
	counter(c.pauses, s.Pauses)
	paused := 0.0
	if s.Paused {
		paused = 1
	}
	ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused)
}

// limiterCollector exports ratelimit.Stats per budget key (DocuSign account) on each scrape.
type limiterCollector struct {
	snapshot func() map[string]ratelimit.Stats

	limit, remaining, reserve, burstLimit, burstRemaining, foreign, windowEnd               *prometheus.Desc
	granted, grants, attempts, waits, waitSeconds, parked, throttled, unavailable, failOpen *prometheus.Desc
}

func newLimiterCollector(snapshot func() map[string]ratelimit.Stats) *limiterCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "ratelimit", name), help,
			append([]string{"account"}, labels...), nil)
	}
	return &limiterCollector{
		snapshot:       snapshot,
		limit:          d("limit", "Hourly limit of the account (from X-RateLimit-Limit, or the configured default)."),
		remaining:      d("remaining", "Shared view of the calls left in the account's hourly window."),
		reserve:        d("reserve", "Calls of the hourly limit left to other integrations."),
		burstLimit:     d("burst_limit", "Burst limit of the account."),
		burstRemaining: d("burst_remaining", "Shared view of the calls left in the current burst window."),
		foreign:        d("foreign_calls", "Estimated calls of other integrations in the current hourly window."),
		windowEnd:      d("window_end_timestamp_seconds", "End of the account's hourly window (X-RateLimit-Reset)."),
		granted:        d("granted_tokens_total", "Tokens granted to this process."),
		grants:         d("grants_total", "Grants to this process."),
		attempts:       d("attempts_total", "Acquire round trips to Redis."),
		waits:          d("waits_total", "Grants that waited in place for a token."),
		waitSeconds:    d("wait_seconds_total", "Time spent waiting in place for tokens."),
		parked:         d("parked_total", "Requests sent back to come later (the task is rescheduled without spending a retry)."),
		throttled:      d("throttled_total", "Throttled DocuSign replies (429 or a limit error), by limit: the goal is zero.", "limit"),
		unavailable:    d("redis_failures_total", "Limiter round trips that failed because Redis was unavailable."),
		failOpen:       d("fail_open_grants_total", "Unpaced grants given while Redis was unavailable (WORKER_RATELIMIT_FAIL_OPEN)."),
	}
}

func (c *limiterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.limit, c.remaining, c.reserve, c.burstLimit, c.burstRemaining, c.foreign,
		c.windowEnd, c.granted, c.grants, c.attempts, c.waits, c.waitSeconds, c.parked, c.throttled, c.unavailable, c.failOpen} {
		ch <- d
	}
}

func (c *limiterCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.snapshot()
	for _, key := range sortedKeys(snap) {
		s := snap[key]
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, key)
		}
		counter := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{key}, labels...)...)
		}
		gauge(c.limit, float64(s.Limit))
		gauge(c.remaining, float64(s.Remaining))
		gauge(c.reserve, float64(s.Reserve))
		gauge(c.burstLimit, float64(s.BurstLimit))
		gauge(c.burstRemaining, float64(s.BurstRemaining))
		gauge(c.foreign, float64(s.Foreign))
		if !s.WindowEnd.IsZero() {
			gauge(c.windowEnd, float64(s.WindowEnd.Unix()))
		}
		counter(c.granted, float64(s.Granted))
		counter(c.grants, float64(s.Grants))
		counter(c.attempts, float64(s.Attempts))
		counter(c.waits, float64(s.Waits))
		counter(c.waitSeconds, s.WaitTotal.Seconds())
		counter(c.parked, float64(s.Parked))
		counter(c.throttled, float64(s.ThrottledHourly), ratelimit.Hourly.String())
		counter(c.throttled, float64(s.ThrottledBurst), ratelimit.Burst.String())
		counter(c.unavailable, float64(s.Unavailable))
		counter(c.failOpen, float64(s.FailOpenGrants))
	}
}

// queueInfoer is the part of *asynq.Inspector the queue collector reads.
type queueInfoer interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// queueCollector exports the size of each served queue by task state, read from Redis on each scrape (a few
// commands per queue). A queue that does not exist yet (nothing was ever enqueued) is left out.
type queueCollector struct {
	insp   queueInfoer
	queues []string

	tasks, latency, paused *prometheus.Desc
}

func newQueueCollector(insp queueInfoer, queues []string) *queueCollector {
	return &queueCollector{
		insp:   insp,
		queues: queues,
		tasks: prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "queue", "tasks"),
			"Tasks in an asynq queue by state.", []string{"queue", "state"}, nil),
		latency: prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "queue", "latency_seconds"),
			"Age of the oldest pending task of the queue.", []string{"queue"}, nil),
		paused: prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "queue", "paused"),
			"1 while the queue is paused (e.g. the DocuSign integration is unusable).", []string{"queue"}, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.tasks
	ch <- c.latency
	ch <- c.paused
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	existing, err := c.insp.Queues()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.tasks, err)
		return
	}
	for _, q := range c.queues {
		if !slices.Contains(existing, q) {
			continue
		}
		info, err := c.insp.GetQueueInfo(q)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.tasks, err)
			continue
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed, "aggregating": info.Aggregating} {
			ch <- prometheus.MustNewConstMetric(c.tasks, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.latency, prometheus.GaugeValue, info.Latency.Seconds(), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused, q)
	}
}

func sortedKeys[M ~map[K]V, K ~string, V any](m M) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
