package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
)

// peekPayload decodes a task's payload without validating it, for log
// fields; nil when it does not decode.
func peekPayload(t *asynq.Task) *Payload {
	var p Payload
	if json.Unmarshal(t.Payload(), &p) != nil {
		return nil
	}
	return &p
}

// Middleware is the job boundary, for asynq's ServeMux.Use (Register wires
// it): it gives each task a zerolog logger (task_id, task_type, queue,
// retry, event_id, employee_id) reachable through zerolog.Ctx, enforces the
// retry limit (RetryLimitMiddleware), publishes the "failed" audit event
// when the task is about to be archived, counts the result in Metrics and
// logs the outcome once. Below it errors are returned, never logged.
func (h *Handlers) Middleware(next asynq.Handler) asynq.Handler {
	inner := RetryLimitMiddleware(h.cfg.Retry.Limit)(next)
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		st := newTaskState()
		p := peekPayload(t)
		ref := taskRefOf(ctx, t, p)
		lc := h.cfg.Logger.With().Str("task_id", ref.ID).Str("task_type", t.Type()).Str("queue", ref.Queue).
			Int("retry", ref.Retried)
		if p != nil {
			lc = lc.Str("event_id", p.EventID).Str("employee_id", p.Employee.EmployeeID)
		}
		logger := lc.Logger()
		ctx = logger.WithContext(withState(ctx, st))

		err := inner.ProcessTask(ctx, t)
		if errors.Is(err, asynq.SkipRetry) {
			st.audit = h.publishFailed(ctx, st, t, ref, p, err)
		}
		result := h.logOutcome(logger, st, p, err, time.Since(start))
		h.cfg.Metrics.TaskFinished(t.Type(), ref.Queue, result)
		if err == nil {
			if kind := applyKind(result); kind != "" && p != nil {
				h.cfg.Metrics.TimeToApply(kind, h.cfg.NowFunc().Sub(p.Effective()))
			}
			writeResult(t, st, result)
		}
		return err
	})
}

// TaskResult is what a completed task writes as its asynq result (shown by
// the dashboard and `enqueue employee --wait`).
type TaskResult struct {
	Outcome        string `json:"outcome"`
	DocuSignUserID string `json:"docusign_user_id,omitempty"`
	Calls          int    `json:"docusign_calls"`
	Writes         int    `json:"docusign_writes"`
}

// writeResult stores the task's result; a task run outside an asynq server
// has no result writer.
func writeResult(t *asynq.Task, st *taskState, outcome string) {
	w := t.ResultWriter()
	if w == nil {
		return
	}
	calls, writes := st.counts()
	raw, err := json.Marshal(TaskResult{Outcome: outcome, DocuSignUserID: st.userID, Calls: calls, Writes: writes})
	if err != nil {
		return
	}
	_, _ = w.Write(raw) // best effort: the audit event is the durable record
}

// applyKind tells whether an outcome changed DocuSign: "provision",
// "revoke" or "".
func applyKind(outcome string) string {
	switch outcome {
	case OutcomeCreated, OutcomeReactivated, OutcomeUpdated:
		return "provision"
	case OutcomeClosed:
		return "revoke"
	}
	return ""
}

// publishFailed publishes the "failed" audit event of a task about to be
// archived. Its failure is logged but does not keep the task alive: the
// archive (and the dead-letter record written from it) is the durable trace.
func (h *Handlers) publishFailed(ctx context.Context, st *taskState, t *asynq.Task, ref AuditTaskRef, p *Payload, cause error) error {
	var pl Payload
	if p != nil {
		pl = *p
	}
	if ref.ID == "" {
		return errors.New("jobs: no task id for the failed audit event")
	}
	code, _ := DocuSignErrorDetails(cause)
	data := AuditData{Surface: h.dir.Surface(), Reason: ReasonOf(cause), Error: cause.Error(), DocuSignErrorCode: code,
		Calls: st.snapshotCalls()}
	return h.audit.publish(context.WithoutCancel(ctx), h.audit.event(OutcomeFailed, pl, ref, h.cfg.NowFunc(), data))
}

// logOutcome logs the task's result once and returns its metrics label.
func (h *Handlers) logOutcome(logger zerolog.Logger, st *taskState, p *Payload, err error, took time.Duration) string {
	calls, writes := st.counts()
	var ev *zerolog.Event
	var result string
	class := classOf(err)
	switch class {
	case classNone:
		result = st.getOutcome()
		ev = logger.Info()
	case classRateLimited:
		result = "rate_limited"
		ev = logger.Info()
	case classLeaseTaken:
		result = "lease_taken"
		ev = logger.Debug()
	case classPaused:
		result = "integration_paused"
		ev = logger.Error().Bool("alert", true)
	case classPermanent:
		result = OutcomeFailed
		ev = logger.Error().Str("reason", ReasonOf(err))
		if st.audit != nil {
			ev = ev.AnErr("audit_error", st.audit)
		}
	default:
		result = "retry"
		ev = logger.Warn()
	}
	if !ev.Enabled() {
		return result
	}
	ev = ev.Str("result", result).Int("docusign_calls", calls).Int("docusign_writes", writes).Dur("took", took)
	if st.userID != "" {
		ev = ev.Str("docusign_user_id", st.userID)
	}
	if p != nil && logger.GetLevel() <= zerolog.DebugLevel && p.Employee.Email != "" {
		ev = ev.Str("email", p.Employee.Email)
	}
	var retryIn time.Duration
	var (
		rl *RateLimitedError
		lt *LeaseTakenError
		ip *IntegrationPausedError
	)
	switch {
	case errors.As(err, &rl):
		retryIn = rl.RetryIn
	case errors.As(err, &lt):
		retryIn = lt.RetryIn
	case errors.As(err, &ip):
		retryIn = ip.RetryIn
	}
	if retryIn > 0 {
		ev = ev.Dur("retry_in", retryIn)
	}
	if code, trace := DocuSignErrorDetails(err); code != "" || trace != "" {
		ev = ev.Str("docusign_error_code", code).Str("docusign_trace_token", trace)
	}
	if err != nil {
		ev = ev.Err(err)
	}
	switch class {
	case classNone:
		ev.Msg("task done")
	case classPaused:
		ev.Msg("DocuSign integration unusable: queue paused; fix consent or key, then resume the queue")
	case classPermanent:
		ev.Msg("task failed permanently, archived")
	default:
		ev.Msg("task comes back later")
	}
	return result
}
