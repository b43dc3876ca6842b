package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"

	"github.com/jml-sync/docusign-worker/jobs"
)

// Results of a held close after approve or reject.
const (
	heldReleased = "released"      // approve: moved to pending, runs now
	heldDeleted  = "deleted"       // reject: removed from its queue
	heldGone     = "gone"          // no longer in its queue
	heldRunning  = "running"       // active now: approve lets it pass; reject archives it when it runs again
	heldPending  = "pending"       // approve: already due
	heldDone     = "done"          // completed (e.g. cancelled by its HR event) and retained
	heldLater    = "at next retry" // approve: could not be moved; passes when it comes back
)

// heldRow is one held close as the CLI shows it.
type heldRow struct {
	Queue      string `json:"queue"`
	TaskID     string `json:"task_id"`
	EmployeeID string `json:"employee_id,omitempty"`
	EventID    string `json:"event_id,omitempty"`
	State      string `json:"state,omitempty"`
	Result     string `json:"result,omitempty"`
	Error      string `json:"error,omitempty"`

	payload *jobs.Payload
}

// guardReport is what approve, reject and guard status print with --json.
type guardReport struct {
	Action        string            `json:"action,omitempty"`
	WasTripped    bool              `json:"was_tripped"`
	By            string            `json:"by,omitempty"`
	At            time.Time         `json:"at,omitzero"`
	ApprovedUntil time.Time         `json:"approved_until,omitzero"`
	Tasks         []heldRow         `json:"tasks"`
	Audited       int               `json:"audit_events_published"`
	Status        *jobs.GuardStatus `json:"status,omitempty"`
}

// guardOpts are the flags of approve and reject.
type guardOpts struct {
	by, auditPrefix, auditSource string
	asJSON                       bool
}

func (e *env) guardFlags(name string, o *guardOpts) *flag.FlagSet {
	fs := e.flags(name, true, true)
	fs.StringVar(&o.by, "by", e.getenv("USER"), "who decides, for the audit record (default $USER)")
	fs.StringVar(&o.auditPrefix, "audit-prefix", e.setting("WORKER_AUDIT_PREFIX", jobs.DefaultAuditSubjectPrefix),
		"subject prefix of audit events (WORKER_AUDIT_PREFIX)")
	fs.StringVar(&o.auditSource, "audit-source", e.setting("WORKER_AUDIT_SOURCE", jobs.DefaultAuditSource),
		"CloudEvents source of audit events (WORKER_AUDIT_SOURCE)")
	fs.BoolVar(&o.asJSON, "json", false, "print JSON")
	return fs
}

// guardControl opens the worker's guard: its key prefix is derived from
// WORKER_REDIS_KEY_PREFIX as the worker derives it.
func (e *env) guardControl(ctx context.Context) (*jobs.GuardControl, error) {
	rdb, err := e.redis(ctx)
	if err != nil {
		return nil, err
	}
	ctl, err := jobs.NewGuardControl(jobs.GuardConfig{Redis: rdb, KeyPrefix: jobs.GuardKeyPrefix(e.redisKeyPrefix)})
	if err != nil {
		return nil, usageErr("%w", err)
	}
	return ctl, nil
}

const guardHelp = `The mass-deprovisioning guard holds every close once the closes in its window
would pass the worker's threshold. Held closes wait in their queue (retry
state) until an operator decides:

  enqueue guard status           what is held, since when, and why
  enqueue approve --by NAME      run the held closes now; closes in the next
                                 window (or --for) are admitted uncounted
  enqueue reject --by NAME       delete the held closes (audited: close_rejected)`

// runApprove is `enqueue approve`.
func runApprove(ctx context.Context, e *env, args []string) error {
	var o guardOpts
	fs := e.guardFlags("approve", &o)
	d := fs.Duration("for", 0, "how long closes are admitted uncounted (default: the worker's window)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: enqueue approve [--by NAME] [--for DURATION] [--json]\n\n"+guardHelp+"\n\n")
		fs.PrintDefaults()
	}
	if err := parseGuardArgs(fs, args, &o); err != nil {
		return err
	}
	if *d < 0 {
		return usageErr("--for %s is negative", *d)
	}
	ctl, err := e.guardControl(ctx)
	if err != nil {
		return err
	}
	dec, err := ctl.Approve(ctx, o.by, *d)
	if err != nil {
		return failed("%w", err)
	}
	rep := guardReport{Action: "approve", WasTripped: dec.WasTripped, By: o.by, At: dec.At, ApprovedUntil: dec.ApprovedUntil,
		Tasks: []heldRow{}}
	if !dec.WasTripped {
		if o.asJSON {
			return writeJSON(e, rep)
		}
		fmt.Fprintln(e.s.out, "the close guard is not tripped: nothing held, nothing to approve")
		return nil
	}
	rep.Tasks = e.describeHeld(dec.Tasks)
	for i := range rep.Tasks {
		e.release(&rep.Tasks[i])
	}
	var auditErr error
	rep.Audited, auditErr = e.auditDecision(ctx, o, jobs.OutcomeCloseApproved, rep.Tasks, dec.At)
	if err := printDecision(e, o, rep); err != nil {
		return err
	}
	if auditErr != nil {
		return failed("approved, but %w", auditErr)
	}
	return nil
}

// runReject is `enqueue reject`.
func runReject(ctx context.Context, e *env, args []string) error {
	var o guardOpts
	fs := e.guardFlags("reject", &o)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: enqueue reject [--by NAME] [--json]\n\n"+guardHelp+"\n\n")
		fs.PrintDefaults()
	}
	if err := parseGuardArgs(fs, args, &o); err != nil {
		return err
	}
	ctl, err := e.guardControl(ctx)
	if err != nil {
		return err
	}
	dec, err := ctl.Reject(ctx, o.by)
	if err != nil {
		return failed("%w", err)
	}
	rep := guardReport{Action: "reject", WasTripped: dec.WasTripped, By: o.by, At: dec.At, Tasks: []heldRow{}}
	if !dec.WasTripped {
		if o.asJSON {
			return writeJSON(e, rep)
		}
		fmt.Fprintln(e.s.out, "the close guard is not tripped: nothing held, nothing to reject")
		return nil
	}
	// Read the payloads first: the audit events name the employees.
	rep.Tasks = e.describeHeld(dec.Tasks)
	for i := range rep.Tasks {
		e.drop(&rep.Tasks[i])
	}
	var auditErr error
	rep.Audited, auditErr = e.auditDecision(ctx, o, jobs.OutcomeCloseRejected, rep.Tasks, dec.At)
	if err := printDecision(e, o, rep); err != nil {
		return err
	}
	if auditErr != nil {
		return failed("rejected, but %w", auditErr)
	}
	return nil
}

// parseGuardArgs parses approve's and reject's flags; they take no
// positional arguments and need --by.
func parseGuardArgs(fs *flag.FlagSet, args []string, o *guardOpts) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("unexpected argument %q (%s takes flags only)", pos[0], fs.Name())
	}
	if o.by == "" {
		return usageErr("--by: name who decides, for the audit record ($USER is not set)")
	}
	return nil
}

// runGuard is `enqueue guard status`.
func runGuard(ctx context.Context, e *env, args []string) error {
	fs := e.flags("guard", true, false)
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: enqueue guard status [--json]\n\n"+guardHelp+"\n\n")
		fs.PrintDefaults()
	}
	if len(args) == 0 {
		fs.Usage()
		return usageErr("name a sub-command: status")
	}
	if args[0] == "-h" || args[0] == "--help" {
		fs.Usage()
		return flag.ErrHelp
	}
	if args[0] != "status" {
		return usageErr("unknown sub-command %q: use status", args[0])
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErr("guard status takes no arguments")
	}
	ctl, err := e.guardControl(ctx)
	if err != nil {
		return err
	}
	st, err := ctl.Status(ctx)
	if err != nil {
		return failed("%w", err)
	}
	rows := e.describeHeld(st.Held)
	if *asJSON {
		return writeJSON(e, guardReport{WasTripped: st.Tripped, Tasks: rows, Status: &st})
	}
	w := e.s.out
	if st.Tripped {
		fmt.Fprintf(w, "close guard: TRIPPED at %s by task %s (%d closes in %s, threshold %d)\n",
			st.TrippedAt.Format(time.RFC3339), st.TrippedBy, st.TrippedCount, st.Window, st.Threshold)
	} else {
		fmt.Fprintln(w, "close guard: not tripped")
	}
	limit := "unknown (no close admitted yet)"
	if st.Limit > 0 {
		limit = fmt.Sprint(st.Limit)
	}
	fmt.Fprintf(w, "closes counted in the window: %d (window %s, threshold %s)\n", st.Count, st.Window, limit)
	if st.Approved() {
		fmt.Fprintf(w, "approved until %s by %s: closes are admitted uncounted\n", st.ApprovedUntil.Format(time.RFC3339), st.ApprovedBy)
	} else if !st.ApprovedAt.IsZero() {
		fmt.Fprintf(w, "last approval: %s by %s (ended %s)\n", st.ApprovedAt.Format(time.RFC3339), st.ApprovedBy,
			st.ApprovedUntil.Format(time.RFC3339))
	}
	if !st.RejectedAt.IsZero() {
		fmt.Fprintf(w, "last rejection: %s by %s\n", st.RejectedAt.Format(time.RFC3339), st.RejectedBy)
	}
	if len(rows) > 0 {
		fmt.Fprintf(w, "\n%d held closes:\n", len(rows))
		if err := printHeld(e, rows, false); err != nil {
			return err
		}
		fmt.Fprintln(w, "\nenqueue approve --by NAME runs them now; enqueue reject --by NAME deletes them.")
	}
	return nil
}

// describeHeld reads the held tasks' state and payload from asynq; a task
// no longer in its queue is "gone".
func (e *env) describeHeld(tasks []jobs.HeldTask) []heldRow {
	rows := make([]heldRow, 0, len(tasks))
	for _, t := range tasks {
		r := heldRow{Queue: t.Queue, TaskID: t.TaskID}
		info, err := e.insp.GetTaskInfo(t.Queue, t.TaskID)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			r.State = heldGone
		case err != nil:
			r.Error = err.Error()
		default:
			r.State = info.State.String()
			if p, err := jobs.DecodePayload(asynq.NewTask(info.Type, info.Payload)); err == nil {
				r.payload, r.EmployeeID, r.EventID = &p, p.Employee.EmployeeID, p.EventID
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// release runs an approved close now.
func (e *env) release(r *heldRow) {
	switch r.State {
	case heldGone:
		r.Result = heldGone
		return
	case asynq.TaskStateActive.String():
		r.Result = heldRunning
		return
	case asynq.TaskStatePending.String():
		r.Result = heldPending
		return
	case asynq.TaskStateCompleted.String():
		r.Result = heldDone
		return
	}
	err := e.insp.RunTask(r.Queue, r.TaskID)
	switch {
	case err == nil:
		r.Result = heldReleased
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		r.Result = heldGone
	default:
		r.Result, r.Error = heldLater, err.Error()
	}
}

// drop deletes a rejected close.
func (e *env) drop(r *heldRow) {
	switch r.State {
	case heldGone:
		r.Result = heldGone
		return
	case asynq.TaskStateActive.String():
		r.Result = heldRunning // the guard archives it (close_rejected) when it runs again
		return
	case asynq.TaskStateCompleted.String():
		r.Result = heldDone
		return
	}
	err := e.insp.DeleteTask(r.Queue, r.TaskID)
	switch {
	case err == nil:
		r.Result = heldDeleted
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		r.Result = heldGone
	default:
		r.Result, r.Error = heldRunning, err.Error()
	}
}

// auditDecision publishes one close_approved or close_rejected event per
// task to the audit stream; it returns how many were stored and an error
// when NATS or the stream refused any.
func (e *env) auditDecision(ctx context.Context, o guardOpts, outcome string, rows []heldRow, at time.Time) (int, error) {
	js, err := e.jetStream()
	if err != nil {
		return 0, fmt.Errorf("no %s audit event was published: %w", outcome, err)
	}
	n := 0
	var errs []error
	for _, r := range rows {
		ev := jobs.NewGuardDecisionEvent(outcome, o.auditPrefix, o.auditSource, jobs.HeldTask{Queue: r.Queue, TaskID: r.TaskID},
			r.payload, o.by, at)
		pctx, cancel := context.WithTimeout(ctx, e.timeout)
		err := jobs.PublishGuardAudit(pctx, js, ev)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("task %s: %w", r.TaskID, err))
			continue
		}
		n++
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("%d of %d %s audit events were not published (is the worker's audit stream there?): %w",
			len(errs), len(rows), outcome, errors.Join(errs...))
	}
	return n, nil
}

// printDecision prints the outcome of approve or reject.
func printDecision(e *env, o guardOpts, rep guardReport) error {
	if o.asJSON {
		return writeJSON(e, rep)
	}
	w := e.s.out
	if rep.Action == "approve" {
		fmt.Fprintf(w, "approved by %s: %d held closes released; closes are admitted uncounted until %s\n", rep.By,
			len(rep.Tasks), rep.ApprovedUntil.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "rejected by %s: %d held closes dropped\n", rep.By, len(rep.Tasks))
	}
	if err := printHeld(e, rep.Tasks, true); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d audit events published\n", rep.Audited)
	return nil
}

// printHeld prints held closes as a table.
func printHeld(e *env, rows []heldRow, withResult bool) error {
	tw := tabwriter.NewWriter(e.s.out, 0, 4, 2, ' ', 0)
	if withResult {
		fmt.Fprintln(tw, "QUEUE\tTASK ID\tEMPLOYEE\tEVENT\tRESULT")
	} else {
		fmt.Fprintln(tw, "QUEUE\tTASK ID\tEMPLOYEE\tEVENT\tSTATE")
	}
	for _, r := range rows {
		last := r.State
		if withResult {
			last = r.Result
		}
		if r.Error != "" {
			last += " (" + clip(r.Error, 60) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Queue, r.TaskID, orDash(r.EmployeeID), orDash(r.EventID), orDash(last))
	}
	return tw.Flush() //nolint:wrapcheck // stdout
}
