package main

import (
	"context"
	"encoding/json"

	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/jobs"
)

// archivedTask is a task asynq is archiving: its permanent failure or its last allowed retry.
type archivedTask struct {
	ID      string
	Type    string
	Queue   string
	Retried int
	// Reason is the jobs reason code (jobs.ReasonOf), jobs.ReasonRetryLimit when the error carries none.
	Reason  string
	Err     error
	Payload []byte
}

// deadLetterRecorder keeps a durable record of an archived task, because asynq trims its archive silently
// (10,000 tasks or 90 days per queue) and has no "archived" hook. asynq's ErrorHandler (worker.taskFailed) calls
// it; the durable implementation (a record on the dead-letter stream keyed by TaskID, plus a periodic sweep of
// the archive for tasks the recoverer archived without calling the ErrorHandler) replaces logDeadLetters.
type deadLetterRecorder interface {
	RecordArchived(ctx context.Context, a archivedTask) error
}

// logDeadLetters records archived tasks in the log only: the place holder until the dead-letter stream writer
// exists.
type logDeadLetters struct{ log zerolog.Logger }

func (d logDeadLetters) RecordArchived(_ context.Context, a archivedTask) error {
	ev := d.log.Warn().Str("task_id", a.ID).Str("task_type", a.Type).Str("queue", a.Queue).Int("retry", a.Retried).
		Str("reason", a.Reason)
	var p jobs.Payload
	if json.Unmarshal(a.Payload, &p) == nil {
		ev = ev.Str("event_id", p.EventID).Str("employee_id", p.Employee.EmployeeID)
	}
	if code, trace := jobs.DocuSignErrorDetails(a.Err); code != "" || trace != "" {
		ev = ev.Str("docusign_error_code", code).Str("docusign_trace_token", trace)
	}
	ev.Err(a.Err).Msg("task archived (kept in asynq's archive only; inspect or re-run it with the asynq CLI)")
	return nil
}
