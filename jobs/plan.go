package jobs

import (
	"context"
	"fmt"

	"github.com/jml-sync/docusign-worker/rules"
)

// PlanReport is what a task would do against DocuSign's live state, worked
// out by Handlers.Plan without writing anything: not to DocuSign, not to the
// identity map, the watermarks or the audit stream.
type PlanReport struct {
	TaskType string `json:"task_type"`
	TaskID   string `json:"task_id"`
	// Outcome is what the task would report: created, reactivated, updated,
	// closed, unchanged, out_of_scope, stale or cancelled.
	Outcome string `json:"outcome"`
	// Reason says why nothing would be done, when that is the case.
	Reason string `json:"reason,omitempty"`
	// Watermark is the newer event that makes this one stale.
	Watermark *Watermark `json:"watermark,omitempty"`
	// Rules is the rules' decision (absent without rules).
	Rules *AuditRules `json:"rules,omitempty"`
	// Accounts are the desired memberships after the rules.
	Accounts []Membership `json:"accounts,omitempty"`
	// Before and After picture the user now and as it would be.
	Before *UserSummary `json:"before,omitempty"`
	After  *UserSummary `json:"after,omitempty"`
	// Planned lists the writes a live run would send, in order; Settings the
	// accounts whose user settings they would write.
	Planned  []PlannedCall `json:"planned"`
	Settings []string      `json:"settings,omitempty"`
	// Lookups are the read calls the plan made (they took limiter tokens).
	Lookups []CallRecord `json:"lookups"`
}

// Plan works out what the task of type taskType for p would do now, with
// real look-ups and no writes: h must have been built over a dry-run
// directory (NewDryRunDirectory) and without a Guard. set overrides the
// rules in force (a proposed rules file); nil uses them.
func (h *Handlers) Plan(ctx context.Context, taskType string, p Payload, set *rules.Set) (PlanReport, error) {
	st := newTaskState()
	ctx = withState(ctx, st)
	ref := AuditTaskRef{ID: TaskID(p.EventSource, p.EventID, taskType), Type: taskType, Queue: QueueFor(taskType)}
	rep := PlanReport{TaskType: taskType, TaskID: ref.ID, Planned: []PlannedCall{}}
	finish := func() PlanReport {
		rep.Lookups = st.snapshotCalls()
		if planned := st.snapshotPlanned(); planned != nil {
			rep.Planned = planned
		}
		return rep
	}
	if err := p.Validate(taskType); err != nil {
		return rep, Permanent(ReasonInvalidPayload, fmt.Errorf("%w: %w", errInvalidPayload, err))
	}
	if h.cfg.Tombstones != nil {
		cancelled, err := h.cfg.Tombstones.Has(ctx, p.EventSource, p.EventID)
		if err != nil {
			return rep, err
		}
		if cancelled {
			rep.Outcome, rep.Reason = OutcomeCancelled, "a cancellation names this event"
			return finish(), nil
		}
	}
	wm, err := readWatermark(ctx, h.cfg.Redis, h.keys.watermark(p.Employee.EmployeeID))
	if err != nil {
		return rep, err
	}
	if mine := watermarkOf(p, ref.ID); wm != nil && mine.Compare(*wm) < 0 {
		rep.Outcome, rep.Watermark, rep.Reason = OutcomeStale, wm, "a newer event of the employee was applied"
		return finish(), nil
	}
	if set == nil {
		set = h.currentRules()
	}
	m, err := mapAccounts(set, p, taskType)
	if err != nil {
		return rep, err
	}
	res, err := h.apply(ctx, ref, p, m)
	if err != nil {
		return finish(), h.classify.classify(err)
	}
	rep.Outcome, rep.Reason, rep.Rules = res.outcome, res.data.Reason, res.data.Rules
	rep.Accounts, rep.Before, rep.After, rep.Settings = m.accounts, res.data.Before, res.data.After, res.data.Settings
	if taskType == TypeUserClose {
		rep.Accounts = p.Accounts
	}
	return finish(), nil
}
