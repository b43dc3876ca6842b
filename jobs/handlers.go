package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/ratelimit"
	"github.com/jml-sync/docusign-worker/rules"
)

// Handler defaults.
const (
	// DefaultKeyPrefix prefixes the handlers' Redis keys (identity map,
	// watermarks, leases, pending audit records). Shadow mode uses its own.
	DefaultKeyPrefix = "docusign-worker:jobs:"
	// DefaultLeaseTTL is the employee lease's time to live; it is renewed
	// every third of it while a job runs.
	DefaultLeaseTTL = 30 * time.Second
	// DefaultAuditTimeout bounds one audit publication.
	DefaultAuditTimeout = 5 * time.Second
	// DefaultPendingAuditTTL bounds how long an unpublished audit record is
	// kept for the task's retries.
	DefaultPendingAuditTTL = DefaultRetention
)

// Rediser is the part of a go-redis client the handlers use
// (*redis.Client, *redis.ClusterClient and redis.UniversalClient have it).
type Rediser interface {
	redis.Scripter
	Get(ctx context.Context, key string) *redis.StringCmd
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
	SetNX(ctx context.Context, key string, value any, expiration time.Duration) *redis.BoolCmd
	Del(ctx context.Context, keys ...string) *redis.IntCmd
	Exists(ctx context.Context, keys ...string) *redis.IntCmd
}

// TombstoneChecker tells cancelled events; *Tombstones implements it.
type TombstoneChecker interface {
	Has(ctx context.Context, source, id string) (bool, error)
}

// QueuePauser pauses an asynq queue; *asynq.Inspector implements it.
type QueuePauser interface {
	PauseQueue(queue string) error
}

// Config configures Handlers. Directory, Accounts, Redis and Audit are
// required; every other zero value means its default.
type Config struct {
	// Directory is the DocuSign surface (NewAdminDirectory or
	// NewESignatureDirectory, or NewDirectory by configuration).
	Directory Directory
	// Accounts are the DocuSign accounts the worker manages; a leaver
	// without accounts is closed in all of them.
	Accounts []string
	// Redis holds the identity map, watermarks, leases and pending audit
	// records.
	Redis Rediser
	// KeyPrefix prefixes those keys (default DefaultKeyPrefix); it must not
	// contain braces.
	KeyPrefix string
	// Tombstones tells cancelled events. Default: NewTombstones(Redis, "")
	// when Redis is a full go-redis client; pass the intake's Tombstones when
	// it uses another prefix.
	Tombstones TombstoneChecker
	// Audit publishes provisioning.* events (a jetstream.JetStream).
	Audit AuditPublisher
	// AuditSubjectPrefix is the audit subject prefix (default
	// DefaultAuditSubjectPrefix).
	AuditSubjectPrefix string
	// AuditSource is the CloudEvents source of audit events (default
	// DefaultAuditSource); give each worker deployment its own.
	AuditSource string
	// AuditTimeout bounds one publication (default DefaultAuditTimeout).
	AuditTimeout time.Duration
	// PendingAuditTTL bounds how long a recorded but unpublished outcome is
	// kept (default DefaultPendingAuditTTL).
	PendingAuditTTL time.Duration
	// Queues pauses a queue when the integration is unusable (an
	// *asynq.Inspector). Nil: the error is still alerted and the task comes
	// back later, but nothing is paused.
	Queues QueuePauser
	// Retry is the retry policy: limit, backoff base and cap, jitter source.
	Retry RetryPolicy
	// LeaseTTL is the employee lease's TTL (default DefaultLeaseTTL, at
	// least 300 ms).
	LeaseTTL time.Duration
	// LeaseRetryIn is when a task finding the lease taken comes back
	// (default DefaultLeaseRetryIn).
	LeaseRetryIn time.Duration
	// PausedRetryIn is when a task of a paused queue is due again (default
	// DefaultPausedRetryIn).
	PausedRetryIn time.Duration
	// BurstWindow is DocuSign's burst window, to time the return of a task
	// throttled by the burst limit (default DefaultBurstWindow).
	BurstWindow time.Duration
	// Metrics receives counters (default NopMetrics).
	Metrics Metrics
	// Rules gives the mapping rules in force (nil: none; events must then
	// carry their accounts).
	Rules RuleSource
	// Guard holds closes beyond the mass-deprovisioning threshold (nil: no
	// guard).
	Guard *Guard
	// Shadow marks every audit event as a shadow run's: the Directory is a
	// dry-run one (NewDryRunDirectory) and the audit events list the writes
	// it would have sent.
	Shadow bool
	// Logger is the base logger of the per-task loggers; the zero value
	// logs nothing.
	Logger zerolog.Logger
	// NowFunc is the clock (default time.Now).
	NowFunc func() time.Time
}

func (c *Config) setDefaults() {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.Tombstones == nil {
		if rdb, ok := c.Redis.(tombstoneRediser); ok {
			c.Tombstones = NewTombstones(rdb, "")
		}
	}
	if c.AuditSubjectPrefix == "" {
		c.AuditSubjectPrefix = DefaultAuditSubjectPrefix
	}
	if c.AuditSource == "" {
		c.AuditSource = DefaultAuditSource
	}
	if c.AuditTimeout <= 0 {
		c.AuditTimeout = DefaultAuditTimeout
	}
	if c.PendingAuditTTL <= 0 {
		c.PendingAuditTTL = DefaultPendingAuditTTL
	}
	c.Retry = c.Retry.withDefaults()
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseRetryIn <= 0 {
		c.LeaseRetryIn = DefaultLeaseRetryIn
	}
	if c.PausedRetryIn <= 0 {
		c.PausedRetryIn = DefaultPausedRetryIn
	}
	if c.BurstWindow <= 0 {
		c.BurstWindow = DefaultBurstWindow
	}
	if c.Metrics == nil {
		c.Metrics = NopMetrics{}
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Directory == nil {
		errs = append(errs, errors.New("missing Directory (NewAdminDirectory or NewESignatureDirectory)"))
	}
	if len(c.Accounts) == 0 {
		errs = append(errs, errors.New("no Accounts: name the DocuSign accounts the worker manages"))
	}
	for i, a := range c.Accounts {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, fmt.Errorf("empty account id at Accounts[%d]", i))
		}
	}
	if c.Redis == nil {
		errs = append(errs, errors.New("missing Redis"))
	} else if c.Tombstones == nil {
		errs = append(errs, errors.New("missing Tombstones (Redis cannot hold them: pass jobs.NewTombstones)"))
	}
	if c.Audit == nil {
		errs = append(errs, errors.New("missing Audit (a jetstream.JetStream)"))
	}
	if strings.ContainsAny(c.KeyPrefix, "{}") {
		errs = append(errs, fmt.Errorf("KeyPrefix %q must not contain braces (keys use the employee as hash tag)", c.KeyPrefix))
	}
	if strings.ContainsAny(c.AuditSubjectPrefix, " *>") || strings.HasSuffix(c.AuditSubjectPrefix, ".") {
		errs = append(errs, fmt.Errorf("AuditSubjectPrefix %q is not a subject prefix", c.AuditSubjectPrefix))
	}
	if c.LeaseTTL < 300*time.Millisecond {
		errs = append(errs, fmt.Errorf("LeaseTTL %s is below 300ms", c.LeaseTTL))
	}
	return errors.Join(errs...)
}

// Handlers are the asynq handlers of the three task types. Create them with
// NewHandlers and wire them with Register.
type Handlers struct {
	cfg      Config
	dir      Directory
	keys     employeeKeys
	ids      identityMap
	audit    auditor
	classify classifier
}

// NewHandlers validates cfg (reporting every problem at once) and returns
// the handlers.
func NewHandlers(cfg Config) (*Handlers, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("jobs: invalid config: %w", err)
	}
	keys := employeeKeys{prefix: cfg.KeyPrefix}
	return &Handlers{
		cfg:  cfg,
		dir:  cfg.Directory,
		keys: keys,
		ids:  identityMap{rdb: cfg.Redis, key: keys.identity},
		audit: auditor{pub: cfg.Audit, prefix: cfg.AuditSubjectPrefix, source: cfg.AuditSource, timeout: cfg.AuditTimeout,
			shadow: cfg.Shadow},
		classify: classifier{now: cfg.NowFunc, burstWindow: cfg.BurstWindow},
	}, nil
}

// Register wires the middleware (per-task logger, outcome log and metrics,
// retry limit, "failed" audit) and the three handlers into mux.
func (h *Handlers) Register(mux *asynq.ServeMux) {
	mux.Use(h.Middleware)
	mux.HandleFunc(TypeUserCreate, h.HandleUserCreate)
	mux.HandleFunc(TypeMembershipSet, h.HandleMembershipSet)
	mux.HandleFunc(TypeUserClose, h.HandleUserClose)
}

// RetryDelayFunc is the asynq.Config.RetryDelayFunc of the configured retry
// policy.
func (h *Handlers) RetryDelayFunc(n int, err error, t *asynq.Task) time.Duration {
	return h.cfg.Retry.RetryDelay(n, err, t)
}

// RetryLimit is the configured retry limit; give tasks
// MaxRetryFor(RetryLimit()) (the intake's TaskOptions.MaxRetry).
func (h *Handlers) RetryLimit() int { return h.cfg.Retry.Limit }

// HandleUserCreate converges an employee to "user exists, active, with these
// memberships" (docusign:user:create).
func (h *Handlers) HandleUserCreate(ctx context.Context, t *asynq.Task) error {
	return h.process(ctx, t, TypeUserCreate)
}

// HandleMembershipSet converges memberships, names, title and email
// (docusign:membership:set); an unknown user is created.
func (h *Handlers) HandleMembershipSet(ctx context.Context, t *asynq.Task) error {
	return h.process(ctx, t, TypeMembershipSet)
}

// HandleUserClose closes the employee's memberships in the named, or all
// managed, accounts (docusign:user:close).
func (h *Handlers) HandleUserClose(ctx context.Context, t *asynq.Task) error {
	return h.process(ctx, t, TypeUserClose)
}

// errInvalidPayload marks a task that cannot be decoded or validated.
var errInvalidPayload = errors.New("jobs: invalid task")

// taskRefOf identifies the running task: from asynq's context when run by a
// server, else derived from the payload.
func taskRefOf(ctx context.Context, t *asynq.Task, p *Payload) AuditTaskRef {
	ref := AuditTaskRef{Type: t.Type()}
	if id, ok := asynq.GetTaskID(ctx); ok {
		ref.ID = id
	} else if p != nil {
		ref.ID = TaskID(p.EventSource, p.EventID, t.Type())
	}
	if q, ok := asynq.GetQueueName(ctx); ok {
		ref.Queue = q
	} else {
		ref.Queue = QueueFor(t.Type())
	}
	ref.Retried, _ = asynq.GetRetryCount(ctx)
	return ref
}

// priorityFor is the limiter priority of a queue's tasks.
func priorityFor(queue string) ratelimit.Priority {
	switch strings.TrimPrefix(queue, ShadowQueuePrefix) {
	case QueueCritical:
		return ratelimit.Critical
	case QueueLow:
		return ratelimit.Low
	}
	return ratelimit.Default
}

// process runs one task and classifies its error once.
func (h *Handlers) process(ctx context.Context, t *asynq.Task, want string) error {
	st := stateFrom(ctx)
	if st == nil {
		st = newTaskState()
		ctx = withState(ctx, st)
	}
	if t.Type() != want {
		return Permanent(ReasonInvalidPayload, fmt.Errorf("%w: task type %q given to the %s handler", errInvalidPayload, t.Type(), want))
	}
	p, err := DecodePayload(t)
	if err != nil {
		return Permanent(ReasonInvalidPayload, fmt.Errorf("%w: %w", errInvalidPayload, err))
	}
	st.payload = &p
	ref := taskRefOf(ctx, t, &p)
	ctx = ratelimit.WithPriority(ctx, priorityFor(ref.Queue))
	ctx = ratelimit.WithWaiterID(ctx, ref.ID)
	err = h.run(ctx, st, ref, p)
	if err == nil {
		return nil
	}
	if isIntegrationWide(err) {
		return h.pause(ctx, ref.Queue, err)
	}
	return h.classify.classify(err)
}

// pause pauses the task's queue (the integration is unusable: every task
// would fail the same way) and returns the come-back-later error.
func (h *Handlers) pause(ctx context.Context, queue string, cause error) error {
	h.cfg.Metrics.IntegrationPaused(queue)
	if h.cfg.Queues != nil {
		if err := h.cfg.Queues.PauseQueue(queue); err != nil && !strings.Contains(err.Error(), "already paused") {
			cause = fmt.Errorf("%w (pausing queue %q failed: %w)", cause, queue, err)
		}
	}
	return &IntegrationPausedError{Queue: queue, RetryIn: h.cfg.PausedRetryIn, Err: cause}
}

// run is the ordered part of a task: tombstone, lease, watermark, apply,
// record.
func (h *Handlers) run(ctx context.Context, st *taskState, ref AuditTaskRef, p Payload) error {
	emp := p.Employee.EmployeeID
	if h.cfg.Tombstones != nil {
		cancelled, err := h.cfg.Tombstones.Has(ctx, p.EventSource, p.EventID)
		if err != nil {
			return err
		}
		if cancelled {
			st.setOutcome(OutcomeCancelled)
			return h.audit.publish(ctx, h.audit.event(OutcomeCancelled, p, ref, h.cfg.NowFunc(), AuditData{Surface: h.dir.Surface()}))
		}
	}
	l, runCtx, err := acquireLease(ctx, h.cfg.Redis, h.keys.lease(emp), h.cfg.LeaseTTL)
	if err != nil {
		return err
	}
	if l == nil {
		return &LeaseTakenError{EmployeeID: emp, RetryIn: h.cfg.LeaseRetryIn}
	}
	defer l.release(ctx)
	ctx = runCtx
	err = h.runLeased(ctx, l, st, ref, p)
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, errLeaseLost) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

func (h *Handlers) runLeased(ctx context.Context, l *lease, st *taskState, ref AuditTaskRef, p Payload) error {
	emp := p.Employee.EmployeeID
	pendingKey := h.keys.pendingAudit(emp, ref.ID)
	raw, err := h.cfg.Redis.Get(ctx, pendingKey).Bytes()
	switch {
	case err == nil:
		rec, derr := decodePending(raw)
		if derr == nil {
			return h.complete(ctx, l, st, emp, pendingKey, rec)
		}
		// An unreadable record: forget it and converge again.
		if err := h.cfg.Redis.Del(ctx, pendingKey).Err(); err != nil {
			return fmt.Errorf("jobs: drop pending audit record: %w", err)
		}
	case !errors.Is(err, redis.Nil):
		return fmt.Errorf("jobs: read pending audit record: %w", err)
	}

	mine := watermarkOf(p, ref.ID)
	wm, err := readWatermark(ctx, h.cfg.Redis, h.keys.watermark(emp))
	if err != nil {
		return err
	}
	if wm != nil && mine.Compare(*wm) < 0 {
		st.setOutcome(OutcomeStale)
		h.cfg.Metrics.StaleSkipped(ref.Type)
		return h.audit.publish(ctx, h.audit.event(OutcomeStale, p, ref, h.cfg.NowFunc(), AuditData{Surface: h.dir.Surface(), Watermark: wm}))
	}

	m, err := mapAccounts(h.currentRules(), p, ref.Type)
	if err != nil {
		return err
	}
	res, err := h.apply(ctx, ref, p, m)
	if err != nil {
		return err
	}
	st.userID = res.identity.UserID
	res.data.Surface = h.dir.Surface()
	res.data.Calls = st.snapshotCalls()
	res.data.Shadow = h.cfg.Shadow
	res.data.Planned = st.snapshotPlanned()
	ev := h.audit.event(res.outcome, p, ref, h.cfg.NowFunc(), res.data)
	evRaw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("jobs: encode audit event: %w", err)
	}
	rec := pendingRecord{Event: evRaw, Outcome: res.outcome, ID: ev.ID, Watermark: mine}
	if res.identity.UserID != "" {
		rec.Identity = &res.identity
	}
	recRaw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("jobs: encode pending audit record: %w", err)
	}
	if err := h.cfg.Redis.Set(ctx, pendingKey, recRaw, h.cfg.PendingAuditTTL).Err(); err != nil {
		return fmt.Errorf("jobs: record outcome: %w", err)
	}
	return h.complete(ctx, l, st, emp, pendingKey, rec)
}

// complete finishes a recorded outcome: identity map, audit publication,
// watermark, then the record is dropped. Every step is idempotent, so a
// retry after any failure completes the same outcome.
func (h *Handlers) complete(ctx context.Context, l *lease, st *taskState, emp, pendingKey string, rec pendingRecord) error {
	if rec.Identity != nil {
		if err := h.ids.put(ctx, *rec.Identity); err != nil {
			return err
		}
		st.userID = rec.Identity.UserID
	}
	if err := h.audit.publishRaw(ctx, rec.Outcome, rec.ID, rec.Event); err != nil {
		return err
	}
	wmKey := h.keys.watermark(emp)
	cur, err := readWatermark(ctx, h.cfg.Redis, wmKey)
	if err != nil {
		return err
	}
	if cur == nil || rec.Watermark.Compare(*cur) > 0 {
		ok, err := l.setWatermark(ctx, wmKey, rec.Watermark)
		if err != nil {
			return err
		}
		if !ok {
			return errLeaseLost
		}
	}
	if err := h.cfg.Redis.Del(ctx, pendingKey).Err(); err != nil {
		return fmt.Errorf("jobs: drop pending audit record: %w", err)
	}
	st.setOutcome(rec.Outcome)
	return nil
}

// apply does what the task and the rules' decision ask: close a leaver,
// handle an employee out of scope, or converge to the desired memberships.
func (h *Handlers) apply(ctx context.Context, ref AuditTaskRef, p Payload, m mapping) (result, error) {
	var (
		res result
		err error
	)
	switch {
	case ref.Type == TypeUserClose:
		res, err = h.closeUser(ctx, ref, p)
	case m.rules && !m.decision.InScope:
		res, err = h.outOfScope(ctx, ref, p, m)
	default:
		p.Accounts = m.accounts
		res, err = h.converge(ctx, p)
	}
	if err != nil {
		return result{}, err
	}
	if m.rules {
		res.data.Rules = &AuditRules{Version: m.version, InScope: m.decision.InScope, ScopeReason: m.decision.ScopeReason,
			Matched: m.decision.Rules}
	}
	return res, nil
}

// outOfScope handles a joiner or mover outside the rules' scope: an employee
// the worker provisioned (an identity map entry) is closed in every managed
// account when the scope's on_exit is close, as a leaver would be; anyone
// else is left alone.
func (h *Handlers) outOfScope(ctx context.Context, ref AuditTaskRef, p Payload, m mapping) (result, error) {
	ident, err := h.ids.get(ctx, p.Employee.EmployeeID)
	if err != nil {
		return result{}, err
	}
	reason := "out of scope: " + m.decision.ScopeReason
	if ident == nil || m.onExit != rules.ExitClose {
		if ident != nil {
			reason += " (on_exit: ignore)"
		}
		return result{outcome: OutcomeOutOfScope, data: AuditData{Reason: reason}}, nil
	}
	p.Accounts = nil
	res, err := h.closeUser(ctx, ref, p)
	if err != nil {
		return result{}, err
	}
	res.data.Reason = reason + " (on_exit: close)"
	return res, nil
}

// result is what converge and closeUser report.
type result struct {
	outcome  string
	data     AuditData
	identity Identity
}

// accountIDs lists a payload's account ids.
func accountIDs(ms []Membership) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = addAccount(out, m.AccountID)
	}
	return out
}

// checkManaged refuses accounts outside Config.Accounts.
func (h *Handlers) checkManaged(accounts []string) error {
	for _, a := range accounts {
		if !containsFold(h.cfg.Accounts, a) {
			return Permanent(ReasonUnmanagedAccount, fmt.Errorf("jobs: account %s is not managed by this worker", a))
		}
	}
	return nil
}

// converge is the create and membership:set convergence: read the live
// state, diff, send only what differs.
func (h *Handlers) converge(ctx context.Context, p Payload) (result, error) {
	emp := p.Employee.EmployeeID
	accounts := accountIDs(p.Accounts)
	if err := h.checkManaged(accounts); err != nil {
		return result{}, err
	}
	ident, err := h.ids.get(ctx, emp)
	if err != nil {
		return result{}, err
	}
	desired, err := h.dir.Resolve(ctx, p.Accounts)
	if err != nil {
		return result{}, err
	}
	want := desiredState{Email: strings.TrimSpace(p.Employee.Email),
		Names:    Names{FirstName: p.Employee.FirstName, LastName: p.Employee.LastName},
		Language: p.Employee.Language}
	for _, d := range desired {
		d.JobTitle, d.Company = p.Employee.JobTitle, p.Employee.Company
		want.Accounts = append(want.Accounts, d)
	}
	var applied map[string]AppliedFields
	if ident != nil {
		applied = ident.Applied
	}
	var (
		live *LiveUser
		plan Plan
		done Applied
	)
	for round := 0; ; round++ {
		live, err = h.dir.Lookup(ctx, lookupFor(ident, want.Email), accounts)
		if err != nil {
			return result{}, err
		}
		if live != nil && ident != nil && !strings.EqualFold(live.ID, ident.UserID) {
			applied = nil // another user: what was applied to the old one says nothing
		}
		plan = buildPlan(want, live, applied)
		if !plan.Writes() {
			done = Applied{UserID: live.ID, SiteID: live.SiteID}
			break
		}
		done, err = h.dir.Apply(ctx, live, plan)
		if err != nil && errors.Is(err, ErrAlreadyExists) && round == 0 {
			continue
		}
		if err != nil {
			return result{}, err
		}
		break
	}
	res := result{identity: nextIdentity(ident, emp, h.dir.Surface(), live, plan, done, h.cfg.NowFunc())}
	settingsWritten, err := h.applySettings(ctx, &res.identity, live, done, p.Accounts)
	if err != nil {
		return result{}, err
	}
	switch {
	case done.Created:
		res.outcome = OutcomeCreated
	case len(done.Reactivated) > 0:
		res.outcome = OutcomeReactivated
	case done.wrote(), len(settingsWritten) > 0:
		res.outcome = OutcomeUpdated
	default:
		res.outcome = OutcomeUnchanged
	}
	res.data = AuditData{Before: summarize(live), After: project(live, plan, done), Settings: settingsWritten}
	for _, list := range [][]string{done.Added, done.Reactivated, done.Updated} {
		for _, a := range list {
			res.data.Accounts = addAccount(res.data.Accounts, a)
		}
	}
	return res, nil
}

// applySettings writes the user settings the rules ask for, per account,
// where they differ from those last sent (kept in the identity map entry
// id, which it updates), and returns the accounts written. Each costs one
// eSignature Users:update, on either surface.
func (h *Handlers) applySettings(ctx context.Context, id *Identity, live *LiveUser, done Applied, accounts []Membership) ([]string, error) {
	var written []string
	for _, m := range accounts {
		if len(m.Settings) == 0 {
			continue
		}
		key := strings.ToLower(m.AccountID)
		if maps.Equal(id.Settings[key], m.Settings) {
			continue
		}
		userID := done.AccountUserIDs[key]
		if lm := live.Membership(m.AccountID); userID == "" && lm != nil && lm.UserID != "" {
			userID = lm.UserID
		}
		if userID == "" {
			userID = done.UserID
		}
		if err := h.dir.ApplySettings(ctx, m.AccountID, userID, m.Settings); err != nil {
			return written, err
		}
		if id.Settings == nil {
			id.Settings = map[string]map[string]string{}
		}
		id.Settings[key] = maps.Clone(m.Settings)
		written = append(written, m.AccountID)
	}
	return written, nil
}

// closeUser closes the memberships in the named, or all managed, accounts.
// An unknown user, no membership or an already closed one is success. The
// mass-deprovisioning guard may hold it: before the look-ups when the guard
// is tripped, and before the write when this close would trip it.
func (h *Handlers) closeUser(ctx context.Context, ref AuditTaskRef, p Payload) (result, error) {
	if err := h.cfg.Guard.Check(ctx, ref.Queue, ref.ID); err != nil {
		return result{}, err //nolint:wrapcheck // a come-back-later error, classified as such
	}
	emp := p.Employee.EmployeeID
	accounts := accountIDs(p.Accounts)
	if err := h.checkManaged(accounts); err != nil {
		return result{}, err
	}
	if len(accounts) == 0 {
		accounts = h.cfg.Accounts
	}
	ident, err := h.ids.get(ctx, emp)
	if err != nil {
		return result{}, err
	}
	q := lookupFor(ident, strings.TrimSpace(p.Employee.Email))
	if q.UserID == "" && q.Email == "" && q.PriorEmail == "" {
		return result{outcome: OutcomeUnchanged, data: AuditData{Reason: "unknown employee: no identity map entry and no email"}}, nil
	}
	live, err := h.dir.Lookup(ctx, q, accounts)
	if err != nil {
		return result{}, err
	}
	if live == nil {
		return result{outcome: OutcomeUnchanged, data: AuditData{Reason: "no such DocuSign user"}}, nil
	}
	if slices.ContainsFunc(live.Memberships, func(m LiveMembership) bool {
		return containsFold(accounts, m.AccountID) && m.Status != StatusClosed
	}) {
		if _, err := h.cfg.Guard.Admit(ctx, ref.Queue, ref.ID); err != nil {
			return result{}, err //nolint:wrapcheck // a come-back-later (or rejected) error, classified as such
		}
	}
	closed, err := h.dir.Close(ctx, live, accounts)
	if err != nil {
		return result{}, err
	}
	after := *live
	after.Memberships = append([]LiveMembership(nil), live.Memberships...)
	for i := range after.Memberships {
		if containsFold(closed, after.Memberships[i].AccountID) {
			after.Memberships[i].Status = StatusClosed
		}
	}
	res := result{outcome: OutcomeUnchanged, data: AuditData{Before: summarize(live), After: summarize(&after), Accounts: closed}}
	if len(closed) > 0 {
		res.outcome = OutcomeClosed
	}
	res.identity = nextIdentity(ident, emp, h.dir.Surface(), live, Plan{Email: live.Email}, Applied{UserID: live.ID, SiteID: live.SiteID}, h.cfg.NowFunc())
	return res, nil
}
