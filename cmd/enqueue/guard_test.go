package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/jobs"
)

// trippedGuard trips the world's guard as the worker would: one close
// admitted (MaxCloses 1), then three real close tasks of the world's queue,
// waiting as retrying tasks do (asynq.ProcessIn), held: the first trips the
// guard at its write, the others at their pre-check. It returns the held
// task ids in order.
func trippedGuard(t *testing.T, w *world) []string {
	t.Helper()
	ctx := t.Context()
	g, err := jobs.NewGuard(jobs.GuardConfig{Redis: w.rdb, KeyPrefix: jobs.GuardKeyPrefix(w.env["WORKER_REDIS_KEY_PREFIX"]),
		MaxCloses: 1})
	require.NoError(t, err)
	res, err := g.Admit(ctx, w.queue, "close-admitted-earlier")
	require.NoError(t, err)
	require.True(t, res.Admitted)

	client := asynq.NewClientFromRedisClient(w.rdb)
	var ids []string
	for i := range 3 {
		p := jobs.Payload{EventSource: "hris-test", EventID: fmt.Sprintf("evt-leave-%d", i), EventType: "hr.employee.left",
			EventTime: time.Now().UTC(), Employee: jobs.Employee{EmployeeID: fmt.Sprintf("E%d", 100+i)}}
		task, err := jobs.NewTask(jobs.TypeUserClose, p, jobs.TaskOptions{Queue: w.queue})
		require.NoError(t, err)
		_, err = client.Enqueue(task, asynq.ProcessIn(time.Hour))
		require.NoError(t, err)
		id := jobs.TaskID(p.EventSource, p.EventID, jobs.TypeUserClose)
		ids = append(ids, id)
		if i == 0 {
			res, err = g.Admit(ctx, w.queue, id)
			require.True(t, res.Tripped)
		} else {
			err = g.Check(ctx, w.queue, id)
		}
		var held *jobs.CloseHeldError
		require.ErrorAs(t, err, &held)
	}
	_, err = jobs.EnsureAuditStream(ctx, w.js, jobs.AuditStreamConfig{})
	require.NoError(t, err)
	return ids
}

// guardAudits reads the guard decisions in the audit stream.
func guardAudits(t *testing.T, w *world) map[string]jobs.GuardAuditEvent {
	t.Helper()
	s, err := w.js.Stream(t.Context(), jobs.DefaultAuditStream)
	require.NoError(t, err)
	info, err := s.Info(t.Context())
	require.NoError(t, err)
	out := map[string]jobs.GuardAuditEvent{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		require.NoError(t, err)
		var ev jobs.GuardAuditEvent
		require.NoError(t, json.Unmarshal(m.Data, &ev))
		require.Equal(t, ev.Type, m.Subject)
		require.Equal(t, ev.ID, m.Header.Get(jetstream.MsgIDHeader))
		out[m.Header.Get(jetstream.MsgIDHeader)] = ev
	}
	return out
}

func TestGuardStatusAndApprove(t *testing.T) {
	t.Parallel()
	w := newWorld(t)

	code, out, errOut := w.cli(t, "", "guard", "status")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "close guard: not tripped")
	code, out, _ = w.cli(t, "", "approve", "--by", "alice")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "not tripped: nothing held, nothing to approve")

	ids := trippedGuard(t, w)
	code, out, errOut = w.cli(t, "", "guard", "status")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "close guard: TRIPPED")
	require.Contains(t, out, "by task "+ids[0]+" (2 closes in 1h0m0s, threshold 1)")
	require.Contains(t, out, "3 held closes:")
	require.Regexp(t, w.queue+`\s+`+ids[1]+`\s+E101\s+evt-leave-1\s+scheduled`, out)
	code, out, _ = w.cli(t, "", "guard", "status", "--json")
	require.Equal(t, exitOK, code)
	var rep guardReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.True(t, rep.Status.Tripped)
	require.Len(t, rep.Tasks, 3)

	// Who approves must be named ($USER is not set here).
	code, _, errOut = w.cli(t, "", "approve")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "--by")

	code, out, errOut = w.cli(t, "", "approve", "--by", "alice")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "approved by alice: 3 held closes released")
	require.Contains(t, out, "3 audit events published")
	for _, id := range ids {
		require.Regexp(t, id+`\s+E\d+\s+evt-leave-\d\s+released`, out)
		info, err := w.insp.GetTaskInfo(w.queue, id)
		require.NoError(t, err)
		require.Equal(t, asynq.TaskStatePending, info.State, "released closes run now")
	}
	audits := guardAudits(t, w)
	for i, id := range ids {
		ev, ok := audits[id+"."+jobs.OutcomeCloseApproved]
		require.True(t, ok, "close_approved of %s", id)
		require.Equal(t, "provisioning."+jobs.OutcomeCloseApproved, ev.Type)
		require.Equal(t, fmt.Sprintf("E%d", 100+i), ev.Subject)
		require.Equal(t, "alice", ev.Data.By)
		require.Equal(t, fmt.Sprintf("evt-leave-%d", i), ev.Data.Event.ID)
	}

	code, out, _ = w.cli(t, "", "guard", "status")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "close guard: not tripped")
	require.Contains(t, out, "by alice: closes are admitted uncounted")
	code, out, _ = w.cli(t, "", "approve", "--by", "alice")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "nothing to approve")
}

func TestGuardReject(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	code, out, _ := w.cli(t, "", "reject", "--by", "bob")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "not tripped: nothing held, nothing to reject")

	ids := trippedGuard(t, w)
	w.env["USER"] = "bob"
	code, out, errOut := w.cli(t, "", "reject", "--json")
	require.Equal(t, exitOK, code, errOut)
	var rep guardReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.True(t, rep.WasTripped)
	require.Equal(t, "bob", rep.By)
	require.Equal(t, 3, rep.Audited)
	require.Len(t, rep.Tasks, 3)
	for _, r := range rep.Tasks {
		require.Equal(t, heldDeleted, r.Result)
	}
	for i, id := range ids {
		_, err := w.insp.GetTaskInfo(w.queue, id)
		require.ErrorIs(t, err, asynq.ErrTaskNotFound, "rejected closes are deleted")
		ev, ok := guardAudits(t, w)[id+"."+jobs.OutcomeCloseRejected]
		require.True(t, ok, "close_rejected of %s", id)
		require.Equal(t, "provisioning."+jobs.OutcomeCloseRejected, ev.Type)
		require.Equal(t, fmt.Sprintf("E%d", 100+i), ev.Subject)
		require.Equal(t, jobs.AuditTaskRef{ID: id, Type: jobs.TypeUserClose, Queue: w.queue}, ev.Data.Task)
		require.Equal(t, "bob", ev.Data.By)
	}
	code, out, _ = w.cli(t, "", "guard", "status")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "not tripped")
	require.Contains(t, out, "last rejection:")
	require.Contains(t, out, "by bob")
	code, out, _ = w.cli(t, "", "reject")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "nothing to reject")
}

// TestGuardRejectWithoutNATS: the rejection is done and printed even when
// its audit events cannot be published, and the exit code says so.
func TestGuardRejectWithoutNATS(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := trippedGuard(t, w)
	w.env["WORKER_NATS_URL"] = "nats://127.0.0.1:1"
	code, out, errOut := w.cli(t, "", "reject", "--by", "bob")
	require.Equal(t, exitFailed, code)
	require.Contains(t, out, "rejected by bob: 3 held closes dropped")
	require.Contains(t, out, "0 audit events published")
	require.Contains(t, errOut, "rejected, but no close_rejected audit event was published")
	for _, id := range ids {
		require.Contains(t, out, id)
		_, err := w.insp.GetTaskInfo(w.queue, id)
		require.ErrorIs(t, err, asynq.ErrTaskNotFound)
	}
}
