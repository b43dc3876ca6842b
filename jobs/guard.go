package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Guard defaults.
const (
	// DefaultGuardWindow is the guard's sliding window.
	DefaultGuardWindow = time.Hour
	// DefaultGuardHoldRetryIn is when a held close checks again.
	DefaultGuardHoldRetryIn = time.Minute
	// DefaultGuardManagedUsersTTL is how long the number of managed users
	// is cached.
	DefaultGuardManagedUsersTTL = time.Minute
	// GuardDecisionTTL is how long the task ids released by an approval or
	// dropped by a rejection are remembered: a released close that comes
	// back within it is admitted without being counted, a rejected one is
	// archived.
	GuardDecisionTTL = 24 * time.Hour
	// guardHashTag is the Redis Cluster hash tag of the guard's keys.
	guardHashTag = "{close-guard}"
)

// Audit outcomes of the guard: the subjects are <audit prefix>.<outcome>.
const (
	// OutcomeCloseGuardTripped is published once per trip, by the worker.
	OutcomeCloseGuardTripped = "close_guard_tripped"
	// OutcomeCloseApproved is published per released close, by `enqueue
	// approve`.
	OutcomeCloseApproved = "close_approved"
	// OutcomeCloseRejected is published per dropped close, by `enqueue
	// reject`.
	OutcomeCloseRejected = "close_rejected"
)

// ReasonCloseRejected is the reason code of a rejected close that ran again
// (it was running while the operator rejected it): it is archived.
const ReasonCloseRejected = "close_rejected"

// ErrCloseRejected says an operator rejected this close (`enqueue reject`).
var ErrCloseRejected = errors.New("jobs: close rejected by an operator (mass-deprovisioning guard)")

// GuardKeyPrefix is the key prefix of the guard of a worker whose Redis key
// prefix (WORKER_REDIS_KEY_PREFIX) is redisKeyPrefix: the worker and
// `enqueue approve|reject|guard` both derive it from that variable.
func GuardKeyPrefix(redisKeyPrefix string) string { return redisKeyPrefix + "jobs:guard:" }

// GuardMetrics receives the guard's counters; implementations must be safe
// for concurrent use. Gauges (tripped, held tasks, closes in the window) are
// read with Guard.Status by a collector at scrape time.
type GuardMetrics interface {
	// GuardTripped counts a trip (the alert condition).
	GuardTripped()
	// CloseHeld counts a close held by Check or Admit (every attempt of a
	// held task counts again).
	CloseHeld()
}

// NopGuardMetrics is a GuardMetrics that does nothing.
type NopGuardMetrics struct{}

// GuardTripped does nothing.
func (NopGuardMetrics) GuardTripped() {}

// CloseHeld does nothing.
func (NopGuardMetrics) CloseHeld() {}

// GuardConfig configures NewGuard and NewGuardControl. Redis and KeyPrefix
// are required; NewGuard also needs MaxCloses or MaxPercent (with
// ManagedUsersFunc). Every other zero value means its default.
type GuardConfig struct {
	// Redis holds the guard's state (every operation is one Lua script).
	Redis redis.Scripter
	// KeyPrefix prefixes the guard's keys: GuardKeyPrefix(the worker's
	// Redis key prefix). It must not contain braces.
	KeyPrefix string
	// Window is the sliding window the closes are counted in (default
	// DefaultGuardWindow); an approval lasts as long by default.
	Window time.Duration
	// MaxCloses trips the guard when a close would make the closes in the
	// window exceed it; 0: no count limit.
	MaxCloses int
	// MaxPercent trips the guard when a close would make the closes in the
	// window exceed this percentage of the managed users (rounded down, at
	// least 1); 0: no percentage limit. With both limits the lower applies.
	MaxPercent float64
	// ManagedUsersFunc counts the users the worker manages (IdentityCounter
	// counts the identity map); needed with MaxPercent. Its result is
	// cached for ManagedUsersTTL; when it fails, the last value is used.
	ManagedUsersFunc func(ctx context.Context) (int, error)
	// ManagedUsersTTL is how long ManagedUsersFunc's result is cached
	// (default DefaultGuardManagedUsersTTL).
	ManagedUsersTTL time.Duration
	// HoldRetryIn is when a held close checks again (default
	// DefaultGuardHoldRetryIn): the CloseHeldError's RetryIn.
	HoldRetryIn time.Duration
	// Metrics receives the counters (default NopGuardMetrics).
	Metrics GuardMetrics
	// Logger logs a trip at error level with alert=true; the zero value
	// logs nothing.
	Logger zerolog.Logger
	// Audit, when set, receives the close_guard_tripped event of each trip
	// (a jetstream.JetStream). A failed publication is logged, not
	// returned: the trip and the hold stand.
	Audit AuditPublisher
	// AuditSubjectPrefix is the audit subject prefix (default
	// DefaultAuditSubjectPrefix).
	AuditSubjectPrefix string
	// AuditSource is the CloudEvents source (default DefaultAuditSource).
	AuditSource string
	// AuditTimeout bounds the publication (default DefaultAuditTimeout).
	AuditTimeout time.Duration
	// NowFunc replaces Redis TIME (tests only). The default, Redis TIME
	// read inside the scripts, gives every worker process and the CLI one
	// clock.
	NowFunc func() time.Time
}

func (c *GuardConfig) setDefaults() {
	if c.Window <= 0 {
		c.Window = DefaultGuardWindow
	}
	if c.ManagedUsersTTL <= 0 {
		c.ManagedUsersTTL = DefaultGuardManagedUsersTTL
	}
	if c.HoldRetryIn <= 0 {
		c.HoldRetryIn = DefaultGuardHoldRetryIn
	}
	if c.Metrics == nil {
		c.Metrics = NopGuardMetrics{}
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
}

// validateStore checks what both the guard and its control need.
func (c *GuardConfig) validateStore() []error {
	var errs []error
	if c.Redis == nil {
		errs = append(errs, errors.New("missing Redis"))
	}
	if c.KeyPrefix == "" {
		errs = append(errs, errors.New("missing KeyPrefix (jobs.GuardKeyPrefix of the worker's Redis key prefix)"))
	}
	if strings.ContainsAny(c.KeyPrefix, "{}") {
		errs = append(errs, fmt.Errorf("KeyPrefix %q must not contain braces (the keys use %s as hash tag)", c.KeyPrefix, guardHashTag))
	}
	if c.Window < time.Millisecond {
		errs = append(errs, fmt.Errorf("window %s is below 1ms", c.Window))
	}
	return errs
}

func (c *GuardConfig) validate() error {
	errs := c.validateStore()
	if c.MaxCloses < 0 {
		errs = append(errs, fmt.Errorf("MaxCloses %d is negative", c.MaxCloses))
	}
	if c.MaxPercent < 0 || c.MaxPercent > 100 || math.IsNaN(c.MaxPercent) {
		errs = append(errs, fmt.Errorf("MaxPercent %v is not in [0, 100]", c.MaxPercent))
	}
	if c.MaxCloses <= 0 && !(c.MaxPercent > 0) {
		errs = append(errs, errors.New("neither MaxCloses nor MaxPercent is set (a disabled guard is a nil *Guard)"))
	}
	if c.MaxPercent > 0 && c.ManagedUsersFunc == nil {
		errs = append(errs, errors.New("MaxPercent needs ManagedUsersFunc (e.g. jobs.IdentityCounter)"))
	}
	if strings.ContainsAny(c.AuditSubjectPrefix, " *>") || strings.HasSuffix(c.AuditSubjectPrefix, ".") {
		errs = append(errs, fmt.Errorf("AuditSubjectPrefix %q is not a subject prefix", c.AuditSubjectPrefix))
	}
	return errors.Join(errs...)
}

// CloseHeldError says the mass-deprovisioning guard holds this close: the
// task comes back after RetryIn without spending a retry (IsFailure is
// false for it and RetryDelayFunc returns RetryIn) until an operator
// approves or rejects.
type CloseHeldError struct {
	// TaskID is the held close task.
	TaskID string
	// RetryIn is when to check again.
	RetryIn time.Duration
	// Count is the number of closes in the window (with this one when it
	// tripped the guard).
	Count int
	// Threshold is the threshold the guard tripped at.
	Threshold int
}

// Error describes the hold and what ends it.
func (e *CloseHeldError) Error() string {
	return fmt.Sprintf("jobs: close %s held by the mass-deprovisioning guard (%d closes in the window, threshold %d): "+
		"waiting for `enqueue approve` or `enqueue reject`, retry in %s", e.TaskID, e.Count, e.Threshold, e.RetryIn)
}

// HeldTask is a close task held by the guard.
type HeldTask struct {
	Queue  string `json:"queue"`
	TaskID string `json:"task_id"`
}

// AdmitResult is what Admit decided.
type AdmitResult struct {
	// Admitted: write the close. False: held (the error is a
	// *CloseHeldError).
	Admitted bool
	// Tripped: this call tripped the guard (and is held).
	Tripped bool
	// Counted: the close was counted in the window now (false for a retry
	// of an admitted close, or under an approval).
	Counted bool
	// Approved: admitted under an operator's approval.
	Approved bool
	// Count is the number of closes in the window (with this one when
	// counted or when it tripped the guard).
	Count int
	// Threshold is the threshold applied (that of the trip while tripped).
	Threshold int
}

// guardKeys names the guard's keys.
type guardKeys struct {
	prefix string
}

// all returns the keys every script takes, in its order (guard_lua.go).
func (k guardKeys) all() []string {
	t := k.prefix + guardHashTag + ":"
	return []string{t + "state", t + "closes", t + "held", t + "approved", t + "rejected"}
}

// guardStore runs the scripts.
type guardStore struct {
	rdb    redis.Scripter
	keys   []string
	window time.Duration
	now    func() time.Time
}

func newGuardStore(cfg GuardConfig) guardStore {
	return guardStore{rdb: cfg.Redis, keys: guardKeys{prefix: cfg.KeyPrefix}.all(), window: cfg.Window, now: cfg.NowFunc}
}

// run runs script with the common arguments (now, decision TTL) and args,
// and returns its reply, which has at least min values.
func (s guardStore) run(ctx context.Context, script *redis.Script, minLen int, args ...any) ([]string, error) {
	var now int64
	if s.now != nil {
		now = s.now().UnixMilli()
	}
	all := append([]any{now, GuardDecisionTTL.Milliseconds()}, args...)
	reply, err := script.Run(ctx, s.rdb, s.keys, all...).StringSlice()
	if err != nil {
		return nil, err //nolint:wrapcheck // wrapped by the callers with the operation
	}
	if len(reply) < minLen {
		return nil, fmt.Errorf("guard script replied %d values, want at least %d", len(reply), minLen)
	}
	return reply, nil
}

// heldPairs decodes id, queue pairs, sorted by queue then id.
func heldPairs(flat []string) []HeldTask {
	out := make([]HeldTask, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		out = append(out, HeldTask{TaskID: flat[i], Queue: flat[i+1]})
	}
	slices.SortFunc(out, func(a, b HeldTask) int {
		if c := strings.Compare(a.Queue, b.Queue); c != 0 {
			return c
		}
		return strings.Compare(a.TaskID, b.TaskID)
	})
	return out
}

// replyInt parses an integer reply value.
func replyInt(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("guard script replied %q, want an integer", v)
	}
	return n, nil
}

// replyInts parses integer reply values.
func replyInts(vs ...string) ([]int64, error) {
	out := make([]int64, len(vs))
	for i, v := range vs {
		n, err := replyInt(v)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// msTime is a script's millisecond time; zero for 0.
func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Guard is the mass-deprovisioning guard (Entra's "accidental deletions"
// threshold, Okta's import safeguards). It counts the closes the worker
// writes in a sliding window; when one more would pass the threshold
// (MaxCloses, or MaxPercent of the managed users) it trips: every close is
// held (a *CloseHeldError, which spends no retry) until an operator runs
// `enqueue approve` (the held closes run, and closes are admitted
// uncounted until the approval ends: one window by default) or `enqueue
// reject` (the held closes are deleted and audited). A trip is logged with
// alert=true, counted (GuardMetrics.GuardTripped) and audited
// (close_guard_tripped). Below the threshold nothing is held or delayed.
//
// A close task calls Check before its DocuSign look-ups (a tripped guard
// holds it at once, spending no DocuSign budget) and Admit right before the
// write of a close that will close at least one membership. A close that
// closes nothing (unknown user, already closed) is never counted.
//
// State lives in Redis under GuardConfig.KeyPrefix, every operation one Lua
// script, so every worker process shares one guard; the keys share the
// hash tag {close-guard}:
//
//	<prefix>{close-guard}:state     HASH  while tripped: tripped_at, threshold, count, tripped_task;
//	                                      window_ms and limit as of the last Admit; approved_until,
//	                                      approved_at, approved_by; rejected_at, rejected_by
//	<prefix>{close-guard}:closes    ZSET  task id → ms of its admission, trimmed to the window
//	<prefix>{close-guard}:held      HASH  task id → queue, while tripped
//	<prefix>{close-guard}:approved  ZSET  task id → ms: released by an approval or admitted during one
//	<prefix>{close-guard}:rejected  ZSET  task id → ms: dropped by a rejection
//
// Approved and rejected ids are remembered for GuardDecisionTTL. After a
// rejection the window keeps its closes, so the next close in it trips the
// guard again: an HR mistake still flowing in is held again, not admitted.
//
// A nil *Guard is a disabled guard: Check and Admit admit everything and
// Status reports nothing.
type Guard struct {
	cfg   GuardConfig
	store guardStore

	mu        sync.Mutex
	managed   int
	managedAt time.Time
	managedOK bool
}

// NewGuard validates cfg (every problem at once) and returns the guard.
func NewGuard(cfg GuardConfig) (*Guard, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("jobs: invalid guard config: %w", err)
	}
	return &Guard{cfg: cfg, store: newGuardStore(cfg)}, nil
}

// Check is the cheap pre-check of a close task (queue, taskID), before its
// DocuSign look-ups: while the guard is tripped it holds the close at once
// (a *CloseHeldError) without counting it. A close admitted earlier (a
// retry) or released by an approval passes; a rejected one returns a
// *PermanentError (ReasonCloseRejected) so that it is archived.
func (g *Guard) Check(ctx context.Context, queue, taskID string) error {
	if g == nil {
		return nil
	}
	reply, err := g.store.run(ctx, guardCheckScript, 3, taskID, queue)
	if err != nil {
		return fmt.Errorf("jobs: guard check: %w", err)
	}
	switch reply[0] {
	case guardCodePass:
		return nil
	case guardCodeRejected:
		return Permanent(ReasonCloseRejected, fmt.Errorf("%w: task %s", ErrCloseRejected, taskID))
	case guardCodeHeld:
		n, err := replyInts(reply[1], reply[2])
		if err != nil {
			return fmt.Errorf("jobs: guard check: %w", err)
		}
		g.cfg.Metrics.CloseHeld()
		return &CloseHeldError{TaskID: taskID, RetryIn: g.cfg.HoldRetryIn, Count: int(n[0]), Threshold: int(n[1])}
	}
	return fmt.Errorf("jobs: guard check: unknown reply %q", reply[0])
}

// Admit is called right before the DocuSign write of a close that will
// close at least one membership. In one script: a close admitted before (a
// retry) or released by an approval is admitted again, uncounted; under an
// approval the close is admitted uncounted; while tripped it is held; else
// it is counted in the window, unless that would exceed the threshold, in
// which case this call trips the guard (Tripped) and is held. A held close
// returns a *CloseHeldError with the result; a rejected one a
// *PermanentError (ReasonCloseRejected).
func (g *Guard) Admit(ctx context.Context, queue, taskID string) (AdmitResult, error) {
	if g == nil {
		return AdmitResult{Admitted: true}, nil
	}
	threshold, err := g.threshold(ctx)
	if err != nil {
		return AdmitResult{}, err
	}
	reply, err := g.store.run(ctx, guardAdmitScript, 4, g.cfg.Window.Milliseconds(), threshold, taskID, queue)
	if err != nil {
		return AdmitResult{}, fmt.Errorf("jobs: guard admit: %w", err)
	}
	n, err := replyInts(reply[1], reply[2], reply[3])
	if err != nil {
		return AdmitResult{}, fmt.Errorf("jobs: guard admit: %w", err)
	}
	res := AdmitResult{Count: int(n[0]), Threshold: int(n[1])}
	switch reply[0] {
	case guardCodeAdmitted:
		res.Admitted, res.Counted = true, true
		return res, nil
	case guardCodeAgain:
		res.Admitted = true
		return res, nil
	case guardCodeApproved:
		res.Admitted, res.Approved = true, true
		return res, nil
	case guardCodeRejected:
		return res, Permanent(ReasonCloseRejected, fmt.Errorf("%w: task %s", ErrCloseRejected, taskID))
	case guardCodeTripped:
		res.Tripped = true
		g.tripped(ctx, queue, taskID, res, msTime(n[2]))
		fallthrough
	case guardCodeHeld:
		g.cfg.Metrics.CloseHeld()
		return res, &CloseHeldError{TaskID: taskID, RetryIn: g.cfg.HoldRetryIn, Count: res.Count, Threshold: res.Threshold}
	}
	return AdmitResult{}, fmt.Errorf("jobs: guard admit: unknown reply %q", reply[0])
}

// tripped alerts: log, metric, audit event.
func (g *Guard) tripped(ctx context.Context, queue, taskID string, res AdmitResult, at time.Time) {
	g.cfg.Metrics.GuardTripped()
	g.cfg.Logger.Error().Bool("alert", true).Str("task_id", taskID).Str("queue", queue).Int("count", res.Count).
		Int("threshold", res.Threshold).Dur("window", g.cfg.Window).
		Msg("mass-deprovisioning guard tripped: closes are held until `enqueue approve` or `enqueue reject`")
	if g.cfg.Audit == nil {
		return
	}
	ev := GuardAuditEvent{SpecVersion: "1.0", Type: g.cfg.AuditSubjectPrefix + "." + OutcomeCloseGuardTripped,
		Source: g.cfg.AuditSource, ID: fmt.Sprintf("close-guard.%d.%s", at.UnixMilli(), OutcomeCloseGuardTripped),
		Subject: "close-guard", Time: at, DataContentType: "application/json",
		Data: GuardAuditData{Outcome: OutcomeCloseGuardTripped, Count: res.Count, Threshold: res.Threshold,
			WindowSeconds: g.cfg.Window.Seconds(), TrippedAt: at,
			Task: AuditTaskRef{ID: taskID, Type: TypeUserClose, Queue: queue}}}
	pubCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.AuditTimeout)
	defer cancel()
	if err := PublishGuardAudit(pubCtx, g.cfg.Audit, ev); err != nil {
		g.cfg.Logger.Error().Bool("alert", true).Err(err).Str("task_id", taskID).
			Msg("mass-deprovisioning guard tripped but its audit event was not published")
	}
}

// threshold is the number of closes the window may hold: the lower of
// MaxCloses and MaxPercent of the managed users (rounded down, at least 1).
func (g *Guard) threshold(ctx context.Context) (int, error) {
	t := math.MaxInt32
	if g.cfg.MaxCloses > 0 {
		t = g.cfg.MaxCloses
	}
	if g.cfg.MaxPercent > 0 {
		n, err := g.managedUsers(ctx)
		if err != nil {
			return 0, err
		}
		p := max(int(math.Floor(g.cfg.MaxPercent*float64(n)/100+1e-9)), 1)
		t = min(t, p)
	}
	return t, nil
}

// managedUsers returns ManagedUsersFunc's cached result.
func (g *Guard) managedUsers(ctx context.Context) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	if g.managedOK && now.Sub(g.managedAt) < g.cfg.ManagedUsersTTL {
		return g.managed, nil
	}
	n, err := g.cfg.ManagedUsersFunc(ctx)
	if err != nil {
		if g.managedOK {
			return g.managed, nil
		}
		return 0, fmt.Errorf("jobs: guard: count managed users: %w", err)
	}
	g.managed, g.managedAt, g.managedOK = max(n, 0), now, true
	return g.managed, nil
}

// Status reads the guard's state (see GuardStatus); a nil guard reports a
// zero status.
func (g *Guard) Status(ctx context.Context) (GuardStatus, error) {
	if g == nil {
		return GuardStatus{}, nil
	}
	return status(ctx, g.store)
}

// GuardStatus is the guard's state.
type GuardStatus struct {
	// Tripped: closes are held.
	Tripped bool `json:"tripped"`
	// TrippedAt, TrippedBy (the close that tripped it), TrippedCount and
	// Threshold describe the trip.
	TrippedAt    time.Time `json:"tripped_at,omitzero"`
	TrippedBy    string    `json:"tripped_by,omitempty"`
	TrippedCount int       `json:"tripped_count,omitempty"`
	Threshold    int       `json:"threshold,omitempty"`
	// Limit is the threshold the worker applied at its last Admit (0:
	// unknown).
	Limit int `json:"limit,omitempty"`
	// Count is the number of closes counted in the window now.
	Count int `json:"count"`
	// Window is the worker's window (as of its last Admit).
	Window time.Duration `json:"window"`
	// Held are the held closes.
	Held []HeldTask `json:"held"`
	// ApprovedUntil, ApprovedAt and ApprovedBy describe the last approval.
	ApprovedUntil time.Time `json:"approved_until,omitzero"`
	ApprovedAt    time.Time `json:"approved_at,omitzero"`
	ApprovedBy    string    `json:"approved_by,omitempty"`
	// RejectedAt and RejectedBy describe the last rejection.
	RejectedAt time.Time `json:"rejected_at,omitzero"`
	RejectedBy string    `json:"rejected_by,omitempty"`
	// Now is the guard's clock (Redis TIME) when read.
	Now time.Time `json:"now"`
}

// Approved reports whether an approval is running.
func (s GuardStatus) Approved() bool { return s.ApprovedUntil.After(s.Now) }

// guardStatusLen is the number of values before the held pairs in the
// status reply: now, count, window, then ten state fields.
const guardStatusLen = 13

func status(ctx context.Context, s guardStore) (GuardStatus, error) {
	reply, err := s.run(ctx, guardStatusScript, guardStatusLen, s.window.Milliseconds())
	if err != nil {
		return GuardStatus{}, fmt.Errorf("jobs: guard status: %w", err)
	}
	// now, count, window, tripped_at, threshold, count at trip, tripped_task, limit, approved_until,
	// approved_at, approved_by, rejected_at, rejected_by
	n, err := replyInts(reply[0], reply[1], reply[2], reply[3], reply[4], reply[5], reply[7], reply[8], reply[9],
		reply[11])
	if err != nil {
		return GuardStatus{}, fmt.Errorf("jobs: guard status: %w", err)
	}
	st := GuardStatus{Now: msTime(n[0]), Count: int(n[1]), Window: time.Duration(n[2]) * time.Millisecond,
		Tripped: n[3] != 0, TrippedAt: msTime(n[3]), Threshold: int(n[4]), TrippedCount: int(n[5]),
		TrippedBy: reply[6], Limit: int(n[6]), ApprovedUntil: msTime(n[7]), ApprovedAt: msTime(n[8]),
		ApprovedBy: reply[10], RejectedAt: msTime(n[9]), RejectedBy: reply[12], Held: heldPairs(reply[guardStatusLen:])}
	return st, nil
}

// GuardControl is the operator's side of the guard (`enqueue approve`,
// `enqueue reject`, `enqueue guard status`): it needs only the guard's
// Redis and key prefix, not its thresholds.
type GuardControl struct {
	store guardStore
}

// NewGuardControl returns the control of the guard stored under
// cfg.KeyPrefix. Only Redis, KeyPrefix, Window (the approval's length when
// the worker has stored none) and NowFunc are used.
func NewGuardControl(cfg GuardConfig) (*GuardControl, error) {
	cfg.setDefaults()
	if err := errors.Join(cfg.validateStore()...); err != nil {
		return nil, fmt.Errorf("jobs: invalid guard config: %w", err)
	}
	return &GuardControl{store: newGuardStore(cfg)}, nil
}

// Status reads the guard's state.
func (c *GuardControl) Status(ctx context.Context) (GuardStatus, error) { return status(ctx, c.store) }

// GuardDecision is the result of Approve or Reject.
type GuardDecision struct {
	// WasTripped: there was a trip to decide on; false: nothing was done.
	WasTripped bool
	// Tasks are the closes released (approve) or dropped (reject).
	Tasks []HeldTask
	// At is when the decision was stored (the guard's clock).
	At time.Time
	// ApprovedUntil is the end of the approval (approve only).
	ApprovedUntil time.Time
}

// Approve clears a trip: the held closes are released (the caller runs
// them now, e.g. asynq Inspector.RunTask; they pass whenever they come
// back) and closes are admitted without being counted for d (d <= 0: the
// worker's window). by names the operator. When the guard is not tripped
// nothing changes and WasTripped is false.
func (c *GuardControl) Approve(ctx context.Context, by string, d time.Duration) (GuardDecision, error) {
	reply, err := c.store.run(ctx, guardApproveScript, 3, max(d.Milliseconds(), 0), by, c.store.window.Milliseconds())
	if err != nil {
		return GuardDecision{}, fmt.Errorf("jobs: guard approve: %w", err)
	}
	n, err := replyInts(reply[1], reply[2])
	if err != nil {
		return GuardDecision{}, fmt.Errorf("jobs: guard approve: %w", err)
	}
	dec := GuardDecision{At: msTime(n[0])}
	switch reply[0] {
	case guardCodeNotTrip:
		return dec, nil
	case guardCodeDone:
		dec.WasTripped, dec.ApprovedUntil, dec.Tasks = true, msTime(n[1]), heldPairs(reply[3:])
		return dec, nil
	}
	return GuardDecision{}, fmt.Errorf("jobs: guard approve: unknown reply %q", reply[0])
}

// Reject clears a trip and drops the held closes: the caller deletes them
// (asynq Inspector.DeleteTask) and audits them (NewGuardDecisionEvent);
// one that still runs (it was active) is archived with ReasonCloseRejected.
// by names the operator. When the guard is not tripped nothing changes and
// WasTripped is false.
func (c *GuardControl) Reject(ctx context.Context, by string) (GuardDecision, error) {
	reply, err := c.store.run(ctx, guardRejectScript, 2, by)
	if err != nil {
		return GuardDecision{}, fmt.Errorf("jobs: guard reject: %w", err)
	}
	at, err := replyInt(reply[1])
	if err != nil {
		return GuardDecision{}, fmt.Errorf("jobs: guard reject: %w", err)
	}
	dec := GuardDecision{At: msTime(at)}
	switch reply[0] {
	case guardCodeNotTrip:
		return dec, nil
	case guardCodeDone:
		dec.WasTripped, dec.Tasks = true, heldPairs(reply[2:])
		return dec, nil
	}
	return GuardDecision{}, fmt.Errorf("jobs: guard reject: unknown reply %q", reply[0])
}

// GuardAuditEvent is a guard audit CloudEvent (structured JSON mode):
// close_guard_tripped (subject "close-guard"), close_approved and
// close_rejected (subject the employee id).
type GuardAuditEvent struct {
	SpecVersion     string         `json:"specversion"`
	Type            string         `json:"type"`
	Source          string         `json:"source"`
	ID              string         `json:"id"`
	Subject         string         `json:"subject"`
	Time            time.Time      `json:"time"`
	DataContentType string         `json:"datacontenttype"`
	Data            GuardAuditData `json:"data"`
}

// GuardAuditData is the data of a GuardAuditEvent.
type GuardAuditData struct {
	Outcome string `json:"outcome"`
	// By is the operator who approved or rejected.
	By string `json:"by,omitempty"`
	// Count, Threshold, WindowSeconds and TrippedAt describe a trip.
	Count         int       `json:"count,omitempty"`
	Threshold     int       `json:"threshold,omitempty"`
	WindowSeconds float64   `json:"window_seconds,omitempty"`
	TrippedAt     time.Time `json:"tripped_at,omitzero"`
	// Task is the close that tripped the guard, or the one approved or
	// rejected.
	Task AuditTaskRef `json:"task"`
	// Event is the HR event of an approved or rejected close, when known.
	Event *AuditEventRef `json:"event,omitempty"`
}

// NewGuardDecisionEvent builds the close_approved or close_rejected audit
// event of one held close; p is its payload (nil when unknown). Its id,
// also the Nats-Msg-Id, is AuditMsgID(task id, outcome).
func NewGuardDecisionEvent(outcome, subjectPrefix, source string, task HeldTask, p *Payload, by string,
	at time.Time,
) GuardAuditEvent {
	if subjectPrefix == "" {
		subjectPrefix = DefaultAuditSubjectPrefix
	}
	if source == "" {
		source = DefaultAuditSource
	}
	data := GuardAuditData{Outcome: outcome, By: by, Task: AuditTaskRef{ID: task.TaskID, Type: TypeUserClose, Queue: task.Queue}}
	subject := ""
	if p != nil {
		subject = p.Employee.EmployeeID
		data.Event = &AuditEventRef{ID: p.EventID, Source: p.EventSource, Type: p.EventType, Time: p.EventTime,
			EffectiveAt: p.EffectiveAt}
	}
	return GuardAuditEvent{SpecVersion: "1.0", Type: subjectPrefix + "." + outcome, Source: source,
		ID: AuditMsgID(task.TaskID, outcome), Subject: subject, Time: at.UTC(), DataContentType: "application/json", Data: data}
}

// PublishGuardAudit publishes ev on its type (the subject) with its id as
// Nats-Msg-Id; a duplicate is success.
func PublishGuardAudit(ctx context.Context, pub AuditPublisher, ev GuardAuditEvent) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("jobs: encode %s audit event: %w", ev.Data.Outcome, err)
	}
	if _, err := pub.Publish(ctx, ev.Type, raw, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("jobs: publish %s audit event: %w", ev.Data.Outcome, err)
	}
	return nil
}

// keyScanner is the part of go-redis IdentityCounter uses.
type keyScanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd
}

// IdentityCounter returns a GuardConfig.ManagedUsersFunc that counts the
// identity-map entries under the handlers' key prefix (Config.KeyPrefix)
// with SCAN. The map keeps leavers' entries (for rehires), so the count is
// every employee the worker ever provisioned. On Redis Cluster pass a
// client of one node per call or count otherwise: SCAN covers one node.
func IdentityCounter(rdb keyScanner, keyPrefix string) func(ctx context.Context) (int, error) {
	if keyPrefix == "" {
		keyPrefix = DefaultKeyPrefix
	}
	pattern := employeeKeys{prefix: globEscape(keyPrefix)}.identity("*")
	return func(ctx context.Context) (int, error) {
		n := 0
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		if err := iter.Err(); err != nil {
			return 0, fmt.Errorf("jobs: count identity map entries: %w", err)
		}
		return n, nil
	}
}

// globEscape escapes Redis glob metacharacters.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
