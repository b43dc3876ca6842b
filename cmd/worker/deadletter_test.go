package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// TestWorkerDeadLetters: a joiner naming a group its account does not have fails permanently; the worker archives
// it and writes its durable dead-letter record (from the ErrorHandler, with DocuSign's reason), counts it, and
// shows the dead-letter stream's size in /metrics. A task archived behind the worker's back (as asynq's recoverer
// does) is recorded by the sweep.
func TestWorkerDeadLetters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.start(t, map[string]string{"WORKER_DEADLETTER_SWEEP_INTERVAL": "1s"})

	ev := f.joiner("evt-badgroup", "E-DL1", "dl1@example.com")
	ev["data"].(map[string]any)["accounts"] = []any{
		map[string]any{"account_id": acctNA2, "permission_profile": "DocuSign Sender", "groups": []string{"No Such Group"}},
	}
	r.publish(t, "hr.employee.joined", ev)
	id := jobs.TaskID(f.source, "evt-badgroup", jobs.TypeUserCreate)

	nc, err := nats.Connect(r.natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	record := func(taskID string) (jobs.DeadLetter, bool) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, events.DefaultDeadLetterStream)
		if err != nil {
			return jobs.DeadLetter{}, false
		}
		m, err := s.GetLastMsgForSubject(ctx, jobs.DeadLetterSubject(events.DefaultDeadLetterPrefix, jobs.TypeUserCreate, taskID))
		if err != nil {
			return jobs.DeadLetter{}, false
		}
		var dl jobs.DeadLetter
		require.NoError(t, json.Unmarshal(m.Data, &dl))
		return dl, true
	}
	var dl jobs.DeadLetter
	waitFor(t, 30*time.Second, "the archived task's dead-letter record", func() bool {
		var ok bool
		dl, ok = record(id)
		return ok
	})
	require.Equal(t, jobs.ReasonUnknownGroup, dl.Reason)
	require.Equal(t, jobs.RecordedByErrorHandler, dl.RecordedBy)
	require.Equal(t, "E-DL1", dl.EmployeeID)
	require.Equal(t, f.queue, dl.Queue)
	require.Contains(t, dl.Error, "No Such Group")
	// The ErrorHandler writes the record just before asynq archives the task.
	waitFor(t, 10*time.Second, "the task is archived", func() bool { return f.taskState(t, "evt-badgroup") == asynq.TaskStateArchived })
	require.Equal(t, 1.0, r.metric(t, "docusign_worker_deadletter_records_total",
		map[string]string{"reason": jobs.ReasonUnknownGroup, "recorded_by": jobs.RecordedByErrorHandler}))
	require.Equal(t, 1.0, r.metric(t, "docusign_worker_deadletter_stream_messages", nil))

	// Archived without the ErrorHandler: the sweep writes its record.
	insp := asynq.NewInspectorFromRedisClient(f.rdb)
	p := jobs.Payload{EventSource: f.source, EventID: "evt-swept", EventType: events.TypeJoined, EventTime: time.Now().UTC(),
		Employee: jobs.Employee{EmployeeID: "E-DL2", Email: "dl2@example.com"}, Accounts: []jobs.Membership{{AccountID: acctNA2}}}
	task, err := jobs.NewTask(jobs.TypeUserCreate, p, jobs.TaskOptions{Queue: f.queue})
	require.NoError(t, err)
	_, err = asynq.NewClientFromRedisClient(f.rdb).Enqueue(task, asynq.ProcessIn(time.Hour))
	require.NoError(t, err)
	swept := jobs.TaskID(f.source, "evt-swept", jobs.TypeUserCreate)
	require.NoError(t, insp.ArchiveTask(f.queue, swept))
	waitFor(t, 30*time.Second, "the sweep records the task archived behind the worker's back", func() bool {
		dl, ok := record(swept)
		return ok && dl.RecordedBy == jobs.RecordedBySweep
	})
}
