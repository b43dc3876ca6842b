package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

// countingDLMetrics records the dead-letter writer's counters.
type countingDLMetrics struct {
	mu       sync.Mutex
	recorded map[string]int // by RecordedBy
	failed   map[string]int // by cause
}

func (m *countingDLMetrics) DeadLetterRecorded(_, _, by string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recorded[by]++
}

func (m *countingDLMetrics) DeadLetterWriteFailed(cause string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failed[cause]++
}

func (m *countingDLMetrics) get(by, cause string) (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.recorded[by], m.failed[cause]
}

// deadLetterWorld is a dead-letter stream (created by the intake's
// EnsureStreams, as the worker does), a real Redis and asynq, and the writer.
type deadLetterWorld struct {
	js      jetstream.JetStream
	insp    *asynq.Inspector
	client  *asynq.Client
	queue   string
	writer  *jobs.DeadLetters
	metrics *countingDLMetrics
}

func newDeadLetterWorld(t *testing.T, maxMsgs int64) *deadLetterWorld {
	t.Helper()
	rdb := mustRedis(t)
	js := startNATS(t)
	require.NoError(t, events.EnsureStreams(t.Context(), js, events.Config{DeadLetterMaxMsgs: maxMsgs}))
	w := &deadLetterWorld{js: js, insp: asynq.NewInspectorFromRedisClient(rdb), client: asynq.NewClientFromRedisClient(rdb),
		queue: uniqueQueue(t, rdb), metrics: &countingDLMetrics{recorded: map[string]int{}, failed: map[string]int{}}}
	var err error
	w.writer, err = jobs.NewDeadLetters(jobs.DeadLetterConfig{Publisher: js, Redis: rdb, KeyPrefix: testenv.Prefix(t, rdb),
		Inspector: w.insp, Queues: []string{w.queue}, PageSize: 2, SweepInterval: 2 * time.Second, Metrics: w.metrics})
	require.NoError(t, err)
	return w
}

// records returns the dead-letter records on the stream, by task id (the
// latest one of each).
func (w *deadLetterWorld) records(t *testing.T) map[string]jobs.DeadLetter {
	t.Helper()
	s, err := w.js.Stream(t.Context(), events.DefaultDeadLetterStream)
	require.NoError(t, err)
	out := map[string]jobs.DeadLetter{}
	for seq := uint64(1); ; seq++ {
		msg, err := s.GetMsg(t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			info, ierr := s.Info(t.Context())
			require.NoError(t, ierr)
			if seq > info.State.LastSeq {
				return out
			}
			continue
		}
		require.NoError(t, err)
		var dl jobs.DeadLetter
		require.NoError(t, json.Unmarshal(msg.Data, &dl))
		require.Equal(t, jobs.DeadLetterSubject(events.DefaultDeadLetterPrefix, dl.TaskType, dl.TaskID), msg.Subject)
		out[dl.TaskID] = dl
	}
}

// enqueue enqueues a joiner task of employee id, scheduled far ahead so that
// nothing runs it.
func (w *deadLetterWorld) enqueue(t *testing.T, id string) (*asynq.Task, jobs.Payload) {
	t.Helper()
	p := jobs.Payload{EventSource: "hris-test", EventID: "evt-" + id, EventType: "hr.employee.joined",
		EventTime: time.Now().UTC().Truncate(time.Second), Employee: jobs.Employee{EmployeeID: id, Email: id + "@corp.example"},
		Accounts: []jobs.Membership{{AccountID: acctNA2, Groups: []string{"Sales"}}}}
	task, err := jobs.NewTask(jobs.TypeUserCreate, p, jobs.TaskOptions{Queue: w.queue, MaxRetry: 4})
	require.NoError(t, err)
	_, err = w.client.Enqueue(task, asynq.ProcessIn(time.Hour))
	require.NoError(t, err)
	return task, p
}

// TestDeadLetterRecordSweepReplay follows archived tasks from the
// ErrorHandler's record, through the sweep that finds a task archived without
// the ErrorHandler (as asynq's recoverer does), to a replay with a fresh retry
// count that is idempotent and works after asynq has dropped the archived
// task.
func TestDeadLetterRecordSweepReplay(t *testing.T) {
	t.Parallel()
	w := newDeadLetterWorld(t, 0)
	ctx := t.Context()

	// A: failed permanently on DocuSign's reply; the ErrorHandler records it,
	// then asynq archives it.
	taskA, pA := w.enqueue(t, "A")
	idA := jobs.TaskID(pA.EventSource, pA.EventID, jobs.TypeUserCreate)
	cause := jobs.Permanent(jobs.ReasonUserLacksPermissions, &docusign.APIError{StatusCode: 400,
		ErrorCode: docusign.CodeUserLacksPermissions, Message: "This user lacks sufficient permissions.", TraceToken: "trace-A"})
	dlA := jobs.NewDeadLetter(jobs.ArchivedRun{TaskID: idA, TaskType: taskA.Type(), Queue: w.queue, Retried: 2, MaxRetry: 4,
		Payload: taskA.Payload(), Err: cause}, time.Now())
	require.NoError(t, w.writer.Record(ctx, dlA))
	require.NoError(t, w.insp.ArchiveTask(w.queue, idA))

	// B, C: archived without the ErrorHandler seeing them.
	_, pB := w.enqueue(t, "B")
	idB := jobs.TaskID(pB.EventSource, pB.EventID, jobs.TypeUserCreate)
	require.NoError(t, w.insp.ArchiveTask(w.queue, idB))
	_, pC := w.enqueue(t, "C")
	idC := jobs.TaskID(pC.EventSource, pC.EventID, jobs.TypeUserCreate)
	require.NoError(t, w.insp.ArchiveTask(w.queue, idC))

	res, err := w.writer.Sweep(ctx, true)
	require.NoError(t, err)
	require.Equal(t, 2, res.Recorded, "the sweep records B and C, not A again")
	require.Equal(t, 3, res.Archived[w.queue])
	byHandler, _ := w.metrics.get(jobs.RecordedByErrorHandler, "")
	bySweep, _ := w.metrics.get(jobs.RecordedBySweep, "")
	require.Equal(t, 1, byHandler)
	require.Equal(t, 2, bySweep)

	recs := w.records(t)
	require.Len(t, recs, 3)
	a := recs[idA]
	require.Equal(t, jobs.ReasonUserLacksPermissions, a.Reason)
	require.Equal(t, docusign.CodeUserLacksPermissions, a.DocuSignErrorCode)
	require.Equal(t, "This user lacks sufficient permissions.", a.DocuSignMessage)
	require.Equal(t, "trace-A", a.TraceToken)
	require.Equal(t, 2, a.Retried)
	require.Equal(t, 4, a.MaxRetry)
	require.Equal(t, "evt-A", a.EventID)
	require.Equal(t, "A", a.EmployeeID)
	require.Equal(t, jobs.RecordedByErrorHandler, a.RecordedBy)
	require.JSONEq(t, string(taskA.Payload()), string(a.Payload))
	b := recs[idB]
	require.Equal(t, jobs.RecordedBySweep, b.RecordedBy)
	require.Equal(t, jobs.ReasonArchivedManually, b.Reason, "archived without an error")
	require.Equal(t, w.queue, b.Queue)

	// A second sweep, full or not, writes nothing new.
	for _, full := range []bool{false, true} {
		time.Sleep(1100 * time.Millisecond) // the sweep lock lives a second
		res, err = w.writer.Sweep(ctx, full)
		require.NoError(t, err)
		require.False(t, res.Skipped)
		require.Zero(t, res.Recorded, "full=%v", full)
	}

	// An incremental sweep finds a newly archived task.
	_, pD := w.enqueue(t, "D")
	idD := jobs.TaskID(pD.EventSource, pD.EventID, jobs.TypeUserCreate)
	require.NoError(t, w.insp.ArchiveTask(w.queue, idD))
	time.Sleep(1100 * time.Millisecond)
	res, err = w.writer.Sweep(ctx, false)
	require.NoError(t, err)
	require.Equal(t, 1, res.Recorded)
	require.Contains(t, w.records(t), idD)

	// Replay A: a fresh retry count, the payload's replay counter, same id.
	out, err := jobs.ReplayDeadLetter(ctx, w.insp, w.client, a, jobs.TaskOptions{})
	require.NoError(t, err)
	require.Equal(t, jobs.ReplayEnqueued, out)
	info, err := w.insp.GetTaskInfo(w.queue, idA)
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStatePending, info.State)
	require.Zero(t, info.Retried)
	require.Equal(t, 4, info.MaxRetry)
	var replayed jobs.Payload
	require.NoError(t, json.Unmarshal(info.Payload, &replayed))
	require.Equal(t, 1, replayed.Replays)
	require.Equal(t, pA.Employee, replayed.Employee)

	// Replaying again changes nothing.
	out, err = jobs.ReplayDeadLetter(ctx, w.insp, w.client, a, jobs.TaskOptions{})
	require.NoError(t, err)
	require.Equal(t, jobs.ReplayAlreadyQueued, out)

	// B after asynq dropped it from its archive: the record is enough.
	require.NoError(t, w.insp.DeleteTask(w.queue, idB))
	out, err = jobs.ReplayDeadLetter(ctx, w.insp, w.client, b, jobs.TaskOptions{})
	require.NoError(t, err)
	require.Equal(t, jobs.ReplayEnqueued, out)

	// A replayed task archived again gets a new record (its replay count is
	// part of the record's identity).
	require.NoError(t, w.insp.ArchiveTask(w.queue, idA))
	time.Sleep(1100 * time.Millisecond)
	res, err = w.writer.Sweep(ctx, false)
	require.NoError(t, err)
	require.Equal(t, 1, res.Recorded)
	require.Equal(t, 1, w.records(t)[idA].Replays)
}

// TestDeadLetterStreamFull: a full dead-letter stream refuses a record with
// ErrDeadLetterStreamFull (counted), keeps the old records, and the sweep
// writes the missing record once there is room.
func TestDeadLetterStreamFull(t *testing.T) {
	t.Parallel()
	w := newDeadLetterWorld(t, 1)
	ctx := t.Context()

	var ids []string
	for _, e := range []string{"F1", "F2"} {
		_, p := w.enqueue(t, e)
		id := jobs.TaskID(p.EventSource, p.EventID, jobs.TypeUserCreate)
		require.NoError(t, w.insp.ArchiveTask(w.queue, id))
		ids = append(ids, id)
	}
	_, err := w.writer.Sweep(ctx, true)
	require.ErrorIs(t, err, jobs.ErrDeadLetterStreamFull)
	require.ErrorContains(t, err, "WORKER_DEADLETTER_MAX_MSGS")
	_, full := w.metrics.get("", "stream_full")
	require.Equal(t, 1, full)
	require.Len(t, w.records(t), 1, "the stream kept its record and refused the new one")

	// Room again (an operator raised the limit): the next sweep catches up.
	s, err := w.js.Stream(ctx, events.DefaultDeadLetterStream)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	cfg.MaxMsgs = 10
	_, err = w.js.UpdateStream(ctx, cfg)
	require.NoError(t, err)
	time.Sleep(1100 * time.Millisecond)
	res, err := w.writer.Sweep(ctx, true)
	require.NoError(t, err)
	require.Equal(t, 1, res.Recorded)
	recs := w.records(t)
	require.Len(t, recs, 2)
	for _, id := range ids {
		require.Contains(t, recs, id)
	}
}

// TestArchiveListedOldestFirst pins the asynq behaviour the incremental
// sweep relies on: ListArchivedTasks pages an archive in archive order,
// oldest first, so the newest tasks are on the last page.
func TestArchiveListedOldestFirst(t *testing.T) {
	t.Parallel()
	w := newDeadLetterWorld(t, 0)
	var ids []string
	for _, e := range []string{"O1", "O2", "O3"} {
		_, p := w.enqueue(t, e)
		id := jobs.TaskID(p.EventSource, p.EventID, jobs.TypeUserCreate)
		require.NoError(t, w.insp.ArchiveTask(w.queue, id))
		ids = append(ids, id)
		time.Sleep(1100 * time.Millisecond) // asynq scores archived tasks in whole seconds
	}
	var got []string
	for page := 1; page <= 3; page++ {
		tasks, err := w.insp.ListArchivedTasks(w.queue, asynq.Page(page), asynq.PageSize(1))
		require.NoError(t, err)
		require.Len(t, tasks, 1)
		got = append(got, tasks[0].ID)
	}
	require.Equal(t, ids, got)
}

// TestDeadLetterSweepLock: of two workers sweeping at once, one sweeps.
func TestDeadLetterSweepLock(t *testing.T) {
	t.Parallel()
	w := newDeadLetterWorld(t, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	first, err := w.writer.Sweep(ctx, true)
	require.NoError(t, err)
	second, err := w.writer.Sweep(ctx, true)
	require.NoError(t, err)
	require.False(t, first.Skipped)
	require.True(t, second.Skipped)
}

// TestOurTasksThroughInspector: operators use asynq's Inspector (and
// asynqmon, built on it) on our tasks: it lists them with their type and a
// payload that decodes, and runs an archived one again.
func TestOurTasksThroughInspector(t *testing.T) {
	t.Parallel()
	w := newDeadLetterWorld(t, 0)
	task, p := w.enqueue(t, "I1")
	id := jobs.TaskID(p.EventSource, p.EventID, jobs.TypeUserCreate)
	require.NotContains(t, id, "-", "asynqmon cuts ids at '-'")

	listed, err := w.insp.ListScheduledTasks(w.queue)
	require.NoError(t, err)
	require.Len(t, listed, 1)
	require.Equal(t, id, listed[0].ID)
	require.Equal(t, jobs.TypeUserCreate, listed[0].Type)
	got, err := jobs.DecodePayload(asynq.NewTask(listed[0].Type, listed[0].Payload))
	require.NoError(t, err)
	require.Equal(t, p.Employee, got.Employee)
	require.JSONEq(t, string(task.Payload()), string(listed[0].Payload))

	require.NoError(t, w.insp.ArchiveTask(w.queue, id))
	archived, err := w.insp.ListArchivedTasks(w.queue)
	require.NoError(t, err)
	require.Len(t, archived, 1)
	require.Equal(t, id, archived[0].ID)
	require.NoError(t, w.insp.RunTask(w.queue, id))
	info, err := w.insp.GetTaskInfo(w.queue, id)
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStatePending, info.State)
}
