package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/ratelimit"
	"github.com/jml-sync/docusign-worker/rules"
)

// Startup and shutdown bounds that are not settings.
const (
	redisPingTimeout  = 5 * time.Second
	streamsTimeout    = 30 * time.Second
	verifyTimeout     = time.Minute
	httpStopTimeout   = 2 * time.Second
	natsFlushTimeout  = 2 * time.Second
	redisProbeTTL     = 10 * time.Second
	httpHeaderTimeout = 5 * time.Second
	// handlerGrace is how long stop waits, after asynq's shutdown, for handlers asynq gave up on at its
	// ShutdownTimeout (it requeues their tasks and cancels their context but does not wait for them), so that
	// they release their employee lease before Redis is closed.
	handlerGrace = 5 * time.Second
)

// run is the whole command: configuration, start, wait for a signal or a failure, ordered stop. It returns the
// exit code: 0 after a clean stop (also when a signal interrupts the start), 1 when the worker could not start
// or a component failed, 2 for a configuration error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "worker: invalid configuration:\n  %s\nRun with -h for every setting, its default and meaning.\n",
			strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	logger := newLogger(stdout, cfg.LogLevel)
	logger.Info().Str("version", version).Dict("config", cfg.logDict()).Msg("worker starting")

	w := &worker{cfg: &cfg, log: logger, failed: make(chan error, 2)}
	if err := w.start(ctx); err != nil {
		w.stop()
		if ctx.Err() != nil {
			logger.Info().Err(err).Msg("start interrupted by a signal; stopped")
			return 0
		}
		logger.Error().Err(err).Msg("worker cannot start")
		return 1
	}
	logger.Info().Msg("worker ready")

	code := 0
	select {
	case <-ctx.Done():
		logger.Info().Msg("signal received; shutting down: intake, then tasks, then clients")
	case err := <-w.failed:
		logger.Error().Err(err).Msg("a component failed; shutting down")
		code = 1
	}
	w.stop()
	logger.Info().Int("exit_code", code).Msg("worker stopped")
	return code
}

// worker holds every component; start builds them in dependency order, stop takes them down in the order that
// loses nothing. stop copes with a partial start.
type worker struct {
	cfg *Config
	log zerolog.Logger

	rdb       *redis.Client
	natsSrv   *server.Server
	nc        *nats.Conn
	js        jetstream.JetStream
	metrics   *metrics
	transport *http.Transport
	client    *docusign.Client
	enqueuer  *asynq.Client
	inspector *asynq.Inspector
	srv       *asynq.Server
	handlers  *trackedHandler
	consumer  *events.Consumer
	ready     *readiness
	httpSrv   *http.Server
	dashboard *dashboard
	planner   *planner

	rules     *rules.Store
	rulesStop context.CancelFunc
	rulesDone chan struct{}

	deadLetters *jobs.DeadLetters
	sweepStop   context.CancelFunc
	sweepDone   chan struct{}

	intakeDone chan struct{}
	httpDone   chan struct{}
	// failed receives the error of a component that stopped on its own.
	failed   chan error
	stopping atomic.Bool
}

// component returns the logger of one component.
func (w *worker) component(name string) *zerolog.Logger {
	l := w.log.With().Str("component", name).Logger()
	return &l
}

// start connects and starts every component, logging one line for each.
func (w *worker) start(ctx context.Context) error {
	cfg := w.cfg

	// Redis: queues, limiter, identity map, ordering state.
	opts := *cfg.redisOptions
	if opts.PoolSize == 0 {
		// One connection per running task and intake worker, plus asynq's own loops.
		opts.PoolSize = max(10, cfg.TaskConcurrency+cfg.ConsumerConcurrency+10)
	}
	w.rdb = redis.NewClient(&opts)
	pctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	err := w.rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("redis: cannot reach %s: %w (is redis-server running? check WORKER_REDIS_URL)", redactURL(cfg.RedisURL), err)
	}
	w.component("redis").Info().Str("addr", opts.Addr).Int("db", opts.DB).Msg("redis connected")

	// NATS: the embedded server unless an external one is configured.
	if cfg.NATSURL == "" {
		if w.natsSrv, err = startEmbeddedNATS(cfg, w.log); err != nil {
			return err
		}
		w.component("nats-server").Info().Str("url", w.natsSrv.ClientURL()).Str("store_dir", cfg.NATSDataDir).
			Msg("no WORKER_NATS_URL: running the embedded NATS server with JetStream")
	}
	if w.nc, err = connectNATS(cfg, w.natsSrv, w.log); err != nil {
		return err
	}
	if w.js, err = jetstream.New(w.nc); err != nil {
		return fmt.Errorf("nats: jetstream: %w", err)
	}
	w.component("nats").Info().Str("url", w.nc.ConnectedUrlRedacted()).Bool("embedded", w.natsSrv != nil).Msg("nats connected")

	// Streams: HR and dead letters (intake), AUDIT (handlers).
	sctx, cancel := context.WithTimeout(ctx, streamsTimeout)
	defer cancel()
	if err := events.EnsureStreams(sctx, w.js, cfg.eventsConfig(zerolog.Nop(), 0)); err != nil {
		return err //nolint:wrapcheck // prefixed by events
	}
	if _, err := jobs.EnsureAuditStream(sctx, w.js, jobs.AuditStreamConfig{Name: cfg.AuditStream,
		SubjectPrefix: cfg.AuditPrefix, MaxAge: cfg.AuditMaxAge, Replicas: cfg.StreamReplicas}); err != nil {
		return err //nolint:wrapcheck // prefixed by jobs
	}
	w.component("streams").Info().Str("hr", cfg.HRStream).Strs("hr_subjects", cfg.HRSubjects).
		Str("deadletter", cfg.DeadLetterStream).Str("audit", cfg.AuditStream).Msg("streams ready")

	// Rate limiter and DocuSign client: every DocuSign request takes a token through the jobs hook.
	w.metrics = newMetrics()
	limiter, err := ratelimit.New(w.rdb, cfg.limiterConfig())
	if err != nil {
		return err //nolint:wrapcheck // prefixed by ratelimit
	}
	w.component("ratelimit").Info().Str("key_prefix", cfg.RateLimitKeyPrefix).Dur("window", cfg.RateLimitWindow).
		Dur("burst_window", cfg.RateLimitBurstWindow).Float64("reserve", cfg.RateLimitReserve).
		Bool("fail_open", cfg.RateLimitFailOpen).Msg("rate limiter ready")
	w.transport = newTransport()
	dcfg := cfg.docuSignConfig(timingHook{inner: jobs.NewLimiterHook(limiter, w.metrics), latency: w.metrics.docusignLatency})
	dcfg.HTTPClient = &http.Client{Transport: w.transport, Timeout: cfg.DocuSignHTTPTimeout}
	if w.client, err = docusign.New(dcfg); err != nil {
		return err //nolint:wrapcheck // prefixed by docusign
	}
	vctx, vcancel := context.WithTimeout(ctx, verifyTimeout)
	err = w.client.Verify(vctx)
	vcancel()
	if err != nil {
		return fmt.Errorf("checking the WORKER_DOCUSIGN_* settings against DocuSign: %w", err)
	}
	authURL, adminURL := cfg.docuSignURLs()
	w.component("docusign").Info().Str("auth_url", authURL).Str("admin_url", adminURL).
		Str("environment", string(cfg.DocuSignEnvironment)).Str("surface", string(cfg.DocuSignSurface)).
		Strs("accounts", cfg.DocuSignAccounts).Str("organization_id", cfg.DocuSignOrganizationID).
		Msg("docusign credentials, consent and accounts verified")

	// Mapping rules, checked against DocuSign; the worker refuses an invalid file.
	if err := w.startRules(ctx); err != nil {
		return err
	}
	if w.rules == nil {
		logRulesOff(w.component("rules"))
	}

	// Handlers and the asynq server. Shadow mode sends no DocuSign write.
	adminOpts := jobs.AdminOptions{NoAutoActivate: cfg.DocuSignNoAutoActivate}
	newDir := jobs.NewDirectory
	if cfg.Shadow {
		newDir = jobs.NewDryRunDirectory
		w.component("jobs").Warn().Str("queues_prefix", jobs.ShadowQueuePrefix).Str("consumer", cfg.ConsumerName).
			Str("audit_prefix", cfg.AuditPrefix).Str("key_prefix", cfg.keyPrefix()).
			Msg("SHADOW MODE: events are processed fully, DocuSign is read but never written; audit events list the writes a live run would send")
	}
	dir, err := newDir(cfg.DocuSignSurface, w.client, adminOpts)
	if err != nil {
		return err //nolint:wrapcheck // prefixed by jobs
	}
	w.enqueuer = asynq.NewClientFromRedisClient(w.rdb)
	w.inspector = asynq.NewInspectorFromRedisClient(w.rdb)
	tombstones := jobs.NewTombstones(w.rdb, cfg.tombstonePrefix())
	retryLimit := cfg.RetryLimit
	if retryLimit == 0 {
		retryLimit = -1 // jobs: negative means none, zero its default
	}
	guard, err := w.newGuard()
	if err != nil {
		return err
	}
	hcfg := jobs.Config{
		Directory:          dir,
		Accounts:           cfg.DocuSignAccounts,
		Redis:              w.rdb,
		KeyPrefix:          cfg.jobsPrefix(),
		Tombstones:         tombstones,
		Audit:              w.js,
		AuditSubjectPrefix: cfg.AuditPrefix,
		AuditSource:        cfg.AuditSource,
		Queues:             w.inspector,
		Retry:              jobs.RetryPolicy{Limit: retryLimit, Base: cfg.RetryBackoffBase, Cap: cfg.RetryBackoffCap},
		BurstWindow:        cfg.RateLimitBurstWindow,
		Metrics:            w.metrics,
		Guard:              guard,
		Shadow:             cfg.Shadow,
		Logger:             *w.component("jobs"),
	}
	if w.rules != nil {
		hcfg.Rules = w.rules
	}
	h, err := jobs.NewHandlers(hcfg)
	if err != nil {
		return err //nolint:wrapcheck // prefixed by jobs
	}
	if err := w.newPlanner(hcfg, adminOpts); err != nil {
		return err
	}
	queues := sortedKeys(cfg.Queues)
	if err := w.startDeadLetters(mergeQueues(queues, w.intakeQueues())); err != nil {
		return err
	}
	mux := asynq.NewServeMux()
	h.Register(mux)
	asynqLog := w.component("asynq")
	w.srv = asynq.NewServerFromRedisClient(w.rdb, asynq.Config{
		Concurrency:              cfg.TaskConcurrency,
		TaskCheckInterval:        cfg.TaskCheckInterval,
		DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
		Queues:                   cfg.Queues,
		// Strict priority by default: a free worker always takes a leaver (critical) before a joiner or mover
		// (default), and those before backfill (low). With weights (6/3/1) a leaver behind a burst of joiners
		// would be taken first only ~60 % of the time, although revoking access is the most urgent work; and the
		// limiter already hands scarce tokens to critical requests first, so the queue order should agree with it.
		// Starvation is not a concern: leavers are bounded by HR's pace and cheap (1–2 calls), and low is meant
		// to wait. Idle cost: one dequeue script per served queue per poll (WORKER_TASK_CHECK_INTERVAL).
		StrictPriority:  cfg.StrictPriority,
		IsFailure:       jobs.IsFailure,
		RetryDelayFunc:  h.RetryDelayFunc,
		ErrorHandler:    asynq.ErrorHandlerFunc(w.taskFailed),
		Logger:          asynqLogger{l: *asynqLog},
		LogLevel:        asynqLevel(cfg.LogLevel),
		ShutdownTimeout: cfg.ShutdownTimeout,
		HealthCheckFunc: func(err error) {
			if err != nil {
				asynqLog.Warn().Err(err).Msg("asynq: redis health check failed")
			}
		},
	})
	w.handlers = &trackedHandler{next: mux}
	if err := w.srv.Start(w.handlers); err != nil {
		return fmt.Errorf("asynq: start server: %w", err)
	}
	asynqLog.Info().Interface("queues", cfg.Queues).Bool("strict_priority", cfg.StrictPriority).
		Int("concurrency", cfg.TaskConcurrency).Dur("task_check_interval", cfg.TaskCheckInterval).
		Dur("delayed_task_check_interval", cfg.DelayedTaskCheckInterval).Int("retry_limit", h.RetryLimit()).
		Msg("task processing started")
	for _, q := range w.intakeQueues() {
		if _, ok := cfg.Queues[q]; !ok {
			asynqLog.Warn().Str("queue", q).Strs("served", queues).
				Msg("intake enqueues to a queue this process does not serve: another worker must serve it (WORKER_QUEUES)")
		}
	}

	// Intake: HR events → tasks.
	w.consumer, err = events.New(w.js, events.Backends{
		Enqueuer:   w.enqueuer,
		Inspector:  w.inspector,
		Tombstones: tombstones,
		Pinger:     events.PingFunc(w.probeRedis),
	}, cfg.eventsConfig(*w.component("intake"), jobs.MaxRetryFor(h.RetryLimit())))
	if err != nil {
		return err //nolint:wrapcheck // prefixed by events
	}
	w.intakeDone = make(chan struct{})
	go func() {
		defer close(w.intakeDone)
		err := w.consumer.Run(context.WithoutCancel(ctx)) // stopped explicitly by stop, first
		if w.stopping.Load() {
			return
		}
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		w.failed <- fmt.Errorf("intake: %w", err)
	}()
	w.component("intake").Info().Str("stream", cfg.HRStream).Str("consumer", cfg.ConsumerName).
		Int("concurrency", cfg.ConsumerConcurrency).Msg("intake consuming")

	// HTTP: health, readiness, metrics, dashboard.
	w.metrics.reg.MustRegister(newIntakeCollector(w.consumer.Stats), newLimiterCollector(limiter.Snapshot),
		newQueueCollector(w.inspector, mergeQueues(queues, w.intakeQueues())), newDeadLetterCollector(w.js, cfg.DeadLetterStream))
	if w.rules != nil {
		w.metrics.reg.MustRegister(newRulesCollector(w.rules.Status))
	}
	w.ready = &readiness{now: time.Now, checks: []*readyCheck{
		{name: "redis", check: func(ctx context.Context) error { return w.rdb.Ping(ctx).Err() }},
		{name: "nats", check: w.checkNATS},
		{name: "docusign", ttl: docuSignCheckTTL, check: w.client.Authenticate},
	}}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w (set WORKER_HTTP_ADDR)", cfg.HTTPAddr, err)
	}
	routes := newHTTPHandler(w.ready, w.metrics.reg)
	routes.Handle("POST /plan", w.protect(w.planner))
	if w.dashboard = newDashboard(cfg); w.dashboard != nil {
		w.dashboard.mount(routes)
	}
	w.httpSrv = &http.Server{Handler: routes, ReadHeaderTimeout: httpHeaderTimeout}
	w.httpDone = make(chan struct{})
	go func() {
		defer close(w.httpDone)
		if err := w.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !w.stopping.Load() {
			w.failed <- fmt.Errorf("http: %w", err)
		}
	}()
	httpLog := w.component("http")
	if w.dashboard == nil {
		httpLog.Info().Str("addr", ln.Addr().String()).Msg("http server listening: /healthz /readyz /metrics")
	} else {
		w.dashboard.logFields(httpLog.Info().Str("addr", ln.Addr().String()), ln.Addr()).
			Msg("http server listening: /healthz /readyz /metrics " + w.dashboard.path)
		w.dashboard.warnIfOpen(httpLog, ln.Addr())
	}
	return nil
}

// stop takes the worker down in the order that loses nothing: intake first (no new tasks; events in flight are
// enqueued and acknowledged, or handed back to NATS), then task processing (running tasks finish within
// WORKER_SHUTDOWN_TIMEOUT or go back to their queue without spending a retry), then HTTP and the clients, the
// embedded NATS server last. It copes with a partial start.
func (w *worker) stop() {
	w.stopping.Store(true)
	if w.ready != nil {
		w.ready.stopping.Store(true)
	}
	if w.consumer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.ShutdownTimeout)
		if err := w.consumer.Stop(ctx); err != nil {
			w.component("intake").Warn().Err(err).
				Msg("intake did not drain in time; its unacknowledged events are redelivered after the ack wait")
		}
		cancel()
		<-w.intakeDone
		w.component("intake").Info().Msg("intake stopped")
	}
	if w.srv != nil {
		w.srv.Stop()     // no new tasks
		w.srv.Shutdown() // running tasks finish, or are requeued after ShutdownTimeout
		if !w.handlers.wait(handlerGrace) {
			w.component("asynq").Warn().Dur("waited", handlerGrace).
				Msg("handlers still running after their tasks were requeued; an employee lease may block its next task until it expires")
		}
		w.component("asynq").Info().Msg("task processing stopped")
	}
	w.stopDeadLetters()
	w.stopRules()
	if w.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), httpStopTimeout)
		_ = w.httpSrv.Shutdown(ctx)
		cancel()
		<-w.httpDone
	}
	if w.dashboard != nil {
		if err := w.dashboard.close(); err != nil {
			w.component("http").Warn().Err(err).Msg("dashboard: close")
		}
	}
	if w.transport != nil {
		w.transport.CloseIdleConnections()
	}
	// The asynq client and inspector share the Redis pool: closing Redis closes them.
	if w.rdb != nil {
		if err := w.rdb.Close(); err != nil {
			w.component("redis").Warn().Err(err).Msg("redis: close")
		}
	}
	if w.nc != nil {
		if err := w.nc.FlushTimeout(natsFlushTimeout); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			w.component("nats").Warn().Err(err).Msg("nats: flush before close")
		}
		w.nc.Close()
	}
	if w.natsSrv != nil {
		w.natsSrv.Shutdown()
		w.natsSrv.WaitForShutdown()
		w.component("nats-server").Info().Msg("embedded NATS server stopped")
	}
}

// willArchive mirrors asynq v0.26's decision after a failed run (processor.handleFailedMessage): RevokeTask
// drops the task; SkipRetry, or a retry count that reached MaxRetry, archives it; anything else is retried.
func willArchive(err error, retried, maxRetry int) bool {
	if errors.Is(err, asynq.RevokeTask) {
		return false
	}
	return retried >= maxRetry || errors.Is(err, asynq.SkipRetry)
}

// trackedHandler counts running handlers. asynq's Shutdown requeues the tasks still running at its timeout and
// cancels their context, but returns without waiting for them; stop waits here so that they finish their
// clean-up (lease release, pending audit record) while Redis is still open.
type trackedHandler struct {
	next    asynq.Handler
	running sync.WaitGroup
}

func (h *trackedHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	h.running.Add(1)
	defer h.running.Done()
	return h.next.ProcessTask(ctx, t) //nolint:wrapcheck // the jobs middleware classifies it
}

// wait waits for the running handlers, at most d; it reports whether they all returned. Call it only after the
// server has stopped taking tasks.
func (h *trackedHandler) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		h.running.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// probeRedis is the intake's health probe after a Redis failure: a write, so that a Redis that answers PING but
// refuses writes (read-only replica, OOM) still counts as down.
func (w *worker) probeRedis(ctx context.Context) error {
	return w.rdb.Set(ctx, w.cfg.RedisKeyPrefix+"probe", "1", redisProbeTTL).Err() //nolint:wrapcheck // logged by events
}

// checkNATS is the readiness check of NATS: connected, and JetStream answering.
func (w *worker) checkNATS(ctx context.Context) error {
	if !w.nc.IsConnected() {
		return fmt.Errorf("nats: not connected (%s)", w.nc.Status())
	}
	if _, err := w.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("nats: jetstream: %w", err)
	}
	return nil
}

// intakeQueues are the queues the intake enqueues to.
func (w *worker) intakeQueues() []string {
	if w.cfg.IntakeQueue != "" {
		return []string{w.cfg.IntakeQueue}
	}
	p := w.cfg.queuePrefix()
	return []string{p + jobs.QueueFor(jobs.TypeUserClose), p + jobs.QueueFor(jobs.TypeUserCreate)}
}

// mergeQueues returns a followed by the queues of b not in a.
func mergeQueues(a, b []string) []string {
	out := slices.Clone(a)
	for _, q := range b {
		if !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	return out
}

// newTransport is the DocuSign client's HTTP transport, owned by the worker so that stop can close its idle
// connections.
func newTransport() *http.Transport {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Transport{}
	}
	return t.Clone()
}

// asynqLevel maps the worker's log level to asynq's.
func asynqLevel(l zerolog.Level) asynq.LogLevel {
	switch {
	case l <= zerolog.DebugLevel:
		return asynq.DebugLevel
	case l == zerolog.InfoLevel:
		return asynq.InfoLevel
	case l == zerolog.WarnLevel:
		return asynq.WarnLevel
	case l == zerolog.ErrorLevel:
		return asynq.ErrorLevel
	}
	return asynq.FatalLevel
}
