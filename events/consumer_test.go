package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

func TestNewValidatesEverythingAtOnce(t *testing.T) {
	t.Parallel()

	_, err := events.New(nil, events.Backends{}, events.Config{
		Stream:           "HR",
		DeadLetterStream: "HR",
		Subjects:         []string{"deadletter.>", "hr..x"},
		MaxDeliver:       1,
		BackOff:          []time.Duration{time.Second, 2 * time.Second},
		AckWait:          5 * time.Second,
		Concurrency:      -1,
		Retention:        time.Hour,
		TombstoneTTL:     time.Minute,
	})
	require.Error(t, err)
	for _, want := range []string{
		"events: invalid config",
		`stream and dead-letter stream are both "HR"`,
		`subject "deadletter.>" overlaps the dead-letter subjects`,
		`subject "hr..x" is not a valid NATS subject`,
		"max deliver 1",
		"back-off has 2 entries, more than max deliver 1",
		"differs from back-off[0]",
		"concurrency -1",
		"tombstone TTL 1m0s is below retention 1h0m0s",
		"no JetStream context", "no Enqueuer", "no Inspector", "no TombstoneStore", "no Pinger",
	} {
		require.ErrorContains(t, err, want)
	}
}

func TestIntakeEndToEnd(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	b := setup(t, setupOpts{cfg: events.Config{MaxEventBytes: 2048}, logs: &logs})

	future := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	type published struct {
		id, taskType string
		seq          uint64
		body         []byte
		header       nats.Header
	}
	var good []published
	type bad struct {
		reason events.Reason
		body   []byte
		header nats.Header
		seq    uint64
	}
	var bads []bad
	addBad := func(r events.Reason, body []byte) {
		h := nats.Header{}
		h.Set("X-Trace", "trace-"+string(r))
		bads = append(bads, bad{reason: r, body: body, header: h, seq: b.publishID(t, body, h, "orig-"+string(r))})
	}

	joined := mustJSON(t, b.event("e1", events.TypeJoined, "E1"))
	good = append(good, published{id: "e1", taskType: jobs.TypeUserCreate, body: joined, seq: b.publish(t, joined, nil)})

	addBad(events.ReasonBadJSON, []byte(`{"specversion":"1.0","id":`))

	// A mover in binary mode.
	mover := b.event("e2", events.TypeUpdated, "E2")
	h, data := binaryMode(t, mover)
	good = append(good, published{id: "e2", taskType: jobs.TypeMembershipSet, body: data, header: h, seq: b.publish(t, data, h)})

	m := b.event("bad-email", events.TypeJoined, "E3")
	delete(dataOf(m), "email")
	addBad(events.ReasonMissingField, mustJSON(t, m))

	m = b.event("bad-type", events.TypeJoined, "E4")
	m["type"] = "hr.employee.promoted"
	addBad(events.ReasonUnknownType, mustJSON(t, m))

	left := mustJSON(t, b.event("e3", events.TypeLeft, "E5"))
	good = append(good, published{id: "e3", taskType: jobs.TypeUserClose, body: left, seq: b.publish(t, left, nil)})

	m = b.event("bad-types", events.TypeUpdated, "E6")
	dataOf(m)["first_name"] = 7
	addBad(events.ReasonSchema, mustJSON(t, m))

	m = b.event("bad-size", events.TypeJoined, "E7")
	dataOf(m)["attributes"] = map[string]any{"notes": strings.Repeat("x", 1000), "more": strings.Repeat("y", 1000)}
	addBad(events.ReasonOversized, mustJSON(t, m))

	m = b.event("bad-subject", events.TypeJoined, "E8")
	m["subject"] = "E9"
	addBad(events.ReasonSubjectMismatch, mustJSON(t, m))

	m = b.event("bad-accounts", events.TypeJoined, "E10")
	delete(dataOf(m), "accounts")
	addBad(events.ReasonNoAccounts, mustJSON(t, m))

	// A future-dated joiner: scheduled.
	m = b.event("e4", events.TypeJoined, "E11")
	dataOf(m)["effective_at"] = future.Format(time.RFC3339)
	scheduled := mustJSON(t, m)
	good = append(good, published{id: "e4", taskType: jobs.TypeUserCreate, body: scheduled, seq: b.publish(t, scheduled, nil)})

	testenv.WaitFor(t, 20*time.Second, "all events handled", func() bool {
		s := b.c.Stats()
		return s.Enqueued == uint64(len(good)) && totalDeadLettered(s) == uint64(len(bads))
	})
	testenv.WaitFor(t, 10*time.Second, "consumer settled", func() bool { return b.settled(t) })
	info := b.consumerInfo(t)
	require.Zero(t, info.NumRedelivered, "every message was handled on its first delivery")

	for _, g := range good {
		ti, err := b.taskInfo(t, b.queue, g.id, g.taskType)
		require.NoError(t, err, g.id)
		require.Equal(t, g.taskType, ti.Type)
		p, err := jobs.DecodePayload(asynq.NewTask(ti.Type, ti.Payload))
		require.NoError(t, err)
		require.Equal(t, b.source, p.EventSource)
		require.Equal(t, g.id, p.EventID)
		if g.id == "e4" {
			require.Equal(t, asynq.TaskStateScheduled, ti.State)
			require.True(t, future.Equal(ti.NextProcessAt), "next process at %v", ti.NextProcessAt)
		} else {
			require.Equal(t, asynq.TaskStatePending, ti.State)
		}
		require.Equal(t, jobs.DefaultRetention, ti.Retention)
	}
	ti, err := b.taskInfo(t, b.queue, "e2", jobs.TypeMembershipSet)
	require.NoError(t, err)
	p, err := jobs.DecodePayload(asynq.NewTask(ti.Type, ti.Payload))
	require.NoError(t, err)
	require.Equal(t, "E2@corp.example", p.Employee.Email)
	require.Equal(t, []jobs.Membership{{AccountID: "acct-1", PermissionProfile: "DocuSign Sender"}}, p.Accounts)

	dls := deadLetters(t, b.js)
	require.Len(t, dls, len(bads))
	bySeq := map[string]bad{}
	for _, bd := range bads {
		bySeq[strconv.FormatUint(bd.seq, 10)] = bd
	}
	for _, dl := range dls {
		bd, ok := bySeq[dl.Header.Get(events.HeaderStreamSeq)]
		require.True(t, ok, "dead letter with unknown stream seq %q", dl.Header.Get(events.HeaderStreamSeq))
		require.Equal(t, "deadletter.intake."+string(bd.reason), dl.Subject)
		require.Equal(t, string(bd.reason), dl.Header.Get(events.HeaderReason))
		require.NotEmpty(t, dl.Header.Get(events.HeaderMessage))
		require.Equal(t, bd.body, dl.Data, "raw bytes kept")
		require.Equal(t, "trace-"+string(bd.reason), dl.Header.Get("X-Trace"), "original headers kept")
		require.Equal(t, "orig-"+string(bd.reason), dl.Header.Get(events.HeaderOriginalMsgID))
		require.Equal(t, events.DefaultStream, dl.Header.Get(events.HeaderStream))
		require.Equal(t, "hr.employee.event", dl.Header.Get(events.HeaderSubject))
		require.Equal(t, events.DefaultDurable, dl.Header.Get(events.HeaderConsumer))
		require.Equal(t, "1", dl.Header.Get(events.HeaderDeliveries))
		require.Equal(t, events.DeadLetterMsgID(events.DefaultStream, bd.seq), dl.Header.Get(nats.MsgIdHdr))
		require.NotContains(t, dl.Header.Get(events.HeaderMessage), "@corp.example")

		// A replay rebuilds the original message.
		orig, err := events.OriginalMsg(dl)
		require.NoError(t, err)
		require.Equal(t, "hr.employee.event", orig.Subject)
		require.Equal(t, bd.body, orig.Data)
		require.Equal(t, "trace-"+string(bd.reason), orig.Header.Get("X-Trace"))
		require.Empty(t, orig.Header.Get(events.HeaderReason))
		require.Empty(t, orig.Header.Get(nats.MsgIdHdr))
	}

	s := b.c.Stats()
	require.Equal(t, uint64(2), s.Received[events.TypeJoined])
	require.Equal(t, uint64(1), s.Received[events.TypeUpdated])
	require.Equal(t, uint64(1), s.Received[events.TypeLeft])
	require.Equal(t, uint64(len(bads)), s.Received[events.ReceivedInvalid])
	for _, bd := range bads {
		require.Equal(t, uint64(1), s.DeadLettered[bd.reason], bd.reason)
	}
	require.Zero(t, s.Naked)
	require.Zero(t, s.Pauses)
	require.False(t, s.Paused)

	// Info and above: reasons and ids, never an email.
	require.Contains(t, logs.String(), `"reason":"missing_field"`)
	require.Contains(t, logs.String(), `"stream_seq"`)
	require.NotContains(t, logs.String(), "@corp.example")
}

func TestIntakeQueuesPerTaskType(t *testing.T) {
	t.Parallel()
	// The real queues; the test's unique event source keeps its tasks apart.
	b := setup(t, setupOpts{realQueues: true})
	insp := b.redis.inspector
	t.Cleanup(func() {
		_ = insp.DeleteTask(jobs.QueueDefault, jobs.TaskID(b.source, "q1", jobs.TypeUserCreate))
		_ = insp.DeleteTask(jobs.QueueDefault, jobs.TaskID(b.source, "q2", jobs.TypeMembershipSet))
		_ = insp.DeleteTask(jobs.QueueCritical, jobs.TaskID(b.source, "q3", jobs.TypeUserClose))
	})
	b.publish(t, mustJSON(t, b.event("q1", events.TypeJoined, "E1")), nil)
	b.publish(t, mustJSON(t, b.event("q2", events.TypeUpdated, "E1")), nil)
	b.publish(t, mustJSON(t, b.event("q3", events.TypeLeft, "E1")), nil)
	testenv.WaitFor(t, 10*time.Second, "enqueued", func() bool { return b.c.Stats().Enqueued == 3 })

	for _, c := range []struct{ queue, id, taskType string }{
		{jobs.QueueDefault, "q1", jobs.TypeUserCreate},
		{jobs.QueueDefault, "q2", jobs.TypeMembershipSet},
		{jobs.QueueCritical, "q3", jobs.TypeUserClose},
	} {
		ti, err := b.taskInfo(t, c.queue, c.id, c.taskType)
		require.NoError(t, err, c.id)
		require.Equal(t, c.queue, ti.Queue)
		require.Equal(t, c.taskType, ti.Type)
	}

	// A cancellation finds the task on its type's queue.
	future := b.event("q4", events.TypeLeft, "E2")
	dataOf(future)["effective_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	t.Cleanup(func() { _ = insp.DeleteTask(jobs.QueueCritical, jobs.TaskID(b.source, "q4", jobs.TypeUserClose)) })
	b.publish(t, mustJSON(t, future), nil)
	testenv.WaitFor(t, 10*time.Second, "scheduled", func() bool { return b.c.Stats().Enqueued == 4 })
	cancel := b.event("q5", events.TypeCancelled, "E2")
	dataOf(cancel)["cancels"] = "q4"
	b.publish(t, mustJSON(t, cancel), nil)
	testenv.WaitFor(t, 10*time.Second, "cancelled", func() bool { return b.c.Stats().CancelledTasks == 1 })
	_, err := b.taskInfo(t, jobs.QueueCritical, "q4", jobs.TypeUserClose)
	require.ErrorIs(t, err, asynq.ErrTaskNotFound)
}

func TestIntakeDuplicateEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})

	body := mustJSON(t, b.event("dup-1", events.TypeJoined, "E1"))
	b.publishID(t, body, nil, "first")
	testenv.WaitFor(t, 10*time.Second, "first enqueue", func() bool { return b.c.Stats().Enqueued == 1 })

	// The same event (source+id) published again with a new Nats-Msg-Id,
	// e.g. by a retrying HR system after the duplicates window.
	b.publishID(t, body, nil, "second")
	testenv.WaitFor(t, 10*time.Second, "duplicate acked", func() bool { return b.c.Stats().Duplicates == 1 })
	testenv.WaitFor(t, 10*time.Second, "consumer settled", func() bool { return b.settled(t) })

	s := b.c.Stats()
	require.Equal(t, uint64(1), s.Enqueued)
	require.Equal(t, uint64(2), s.Received[events.TypeJoined])
	require.Zero(t, totalDeadLettered(s))

	// Within the duplicates window, the stream itself drops a repeat.
	ack, err := b.js.PublishMsg(context.Background(), &nats.Msg{Subject: "hr.employee.event", Data: body},
		jetstream.WithMsgID("first"))
	require.NoError(t, err)
	require.True(t, ack.Duplicate)

	tasks, err := b.redis.inspector.ListPendingTasks(b.queue)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Equal(t, jobs.TaskID(b.source, "dup-1", jobs.TypeUserCreate), tasks[0].ID)
}

func TestIntakeCancellation(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	future := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)

	t.Run("after the event", func(t *testing.T) {
		leaver := b.event("leave-1", events.TypeLeft, "E1")
		dataOf(leaver)["effective_at"] = future
		body := mustJSON(t, leaver)
		b.publish(t, body, nil)
		testenv.WaitFor(t, 10*time.Second, "leaver scheduled", func() bool {
			ti, err := b.taskInfo(t, b.queue, "leave-1", jobs.TypeUserClose)
			return err == nil && ti.State == asynq.TaskStateScheduled
		})

		cancel := b.event("cancel-1", events.TypeCancelled, "E1")
		dataOf(cancel)["cancels"] = "leave-1"
		b.publish(t, mustJSON(t, cancel), nil)
		testenv.WaitFor(t, 10*time.Second, "scheduled task deleted", func() bool {
			_, err := b.taskInfo(t, b.queue, "leave-1", jobs.TypeUserClose)
			return errors.Is(err, asynq.ErrTaskNotFound)
		})
		has, err := b.redis.tombstones.Has(context.Background(), b.source, "leave-1")
		require.NoError(t, err)
		require.True(t, has)
		ttl, err := b.redis.rdb.TTL(context.Background(), b.redis.tombstones.Key(b.source, "leave-1")).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, jobs.DefaultRetention)
		require.Equal(t, uint64(1), b.c.Stats().CancelledTasks)

		// A redelivery (re-publication) of the cancelled event does not
		// resurrect it.
		b.publish(t, body, nil)
		testenv.WaitFor(t, 10*time.Second, "re-published event skipped", func() bool { return b.c.Stats().Cancelled == 1 })
		_, err = b.taskInfo(t, b.queue, "leave-1", jobs.TypeUserClose)
		require.ErrorIs(t, err, asynq.ErrTaskNotFound)
	})

	t.Run("before the event", func(t *testing.T) {
		cancel := b.event("cancel-2", events.TypeCancelled, "E2")
		dataOf(cancel)["cancels"] = "join-2"
		b.publish(t, mustJSON(t, cancel), nil)
		testenv.WaitFor(t, 10*time.Second, "tombstone written", func() bool {
			has, err := b.redis.tombstones.Has(context.Background(), b.source, "join-2")
			return err == nil && has
		})
		before := b.c.Stats()
		b.publish(t, mustJSON(t, b.event("join-2", events.TypeJoined, "E2")), nil)
		testenv.WaitFor(t, 10*time.Second, "cancelled event skipped", func() bool { return b.c.Stats().Cancelled == before.Cancelled+1 })
		_, err := b.taskInfo(t, b.queue, "join-2", jobs.TypeUserCreate)
		require.ErrorIs(t, err, asynq.ErrTaskNotFound)
		require.Equal(t, before.Enqueued, b.c.Stats().Enqueued)
	})

	testenv.WaitFor(t, 10*time.Second, "consumer settled", func() bool { return b.settled(t) })
	require.Zero(t, totalDeadLettered(b.c.Stats()))
}

// TestIntakeRedisOutage kills the test's own redis-server in the middle of a
// run: intake pauses (no fetching while Redis is down, so MaxDeliver is not
// burned), nothing is dead-lettered, and every event is enqueued once Redis
// is back.
func TestIntakeRedisOutage(t *testing.T) {
	t.Parallel()
	srv := startRedisServer(t)
	rdb := redis.NewClient(&redis.Options{
		Addr: srv.addr(), DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
	})
	t.Cleanup(func() { _ = rdb.Close() })

	const nakDelay = 200 * time.Millisecond
	b := setup(t, setupOpts{redis: rdb, cfg: events.Config{
		// Without the pause, MaxDeliver 3 at a 200 ms nak delay would be
		// spent within a second of the outage.
		MaxDeliver:       3,
		AckWait:          5 * time.Second,
		NakDelay:         nakDelay,
		OpTimeout:        time.Second,
		ProbeInterval:    50 * time.Millisecond,
		ProbeMaxInterval: 200 * time.Millisecond,
		Concurrency:      4,
	}})
	var advisories atomic.Int32
	sub, err := b.nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>", func(*nats.Msg) { advisories.Add(1) })
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	// Naks per stream sequence, from the server's advisories.
	var nakMu sync.Mutex
	naks := map[uint64]int{}
	nakSub, err := b.nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.>", func(m *nats.Msg) {
		var adv struct {
			StreamSeq uint64 `json:"stream_seq"`
		}
		if json.Unmarshal(m.Data, &adv) == nil {
			nakMu.Lock()
			naks[adv.StreamSeq]++
			nakMu.Unlock()
		}
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = nakSub.Unsubscribe() })

	publish := func(from, to int) {
		for i := from; i < to; i++ {
			id := "out-" + strconv.Itoa(i)
			b.publish(t, mustJSON(t, b.event(id, events.TypeJoined, "E"+strconv.Itoa(i))), nil)
		}
	}
	publish(0, 20)
	testenv.WaitFor(t, 10*time.Second, "first batch enqueued", func() bool { return b.c.Stats().Enqueued == 20 })

	srv.kill(t)
	publish(20, 50)
	testenv.WaitFor(t, 10*time.Second, "intake paused", func() bool { return b.c.Stats().Paused })

	// While Redis is down, the consumer fetches nothing: over an outage of
	// many nak delays, deliveries grow by no more than what the last pull
	// request had under way when intake paused.
	base := b.consumerInfo(t).Delivered.Consumer
	window := time.After(15 * nakDelay)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
observe:
	for {
		select {
		case <-window:
			break observe
		case <-tick.C:
			require.LessOrEqual(t, b.consumerInfo(t).Delivered.Consumer, base+uint64(b.cfg.Concurrency),
				"fetching while Redis is down")
			require.True(t, b.c.Stats().Paused)
		}
	}

	srv.start(t)
	testenv.WaitFor(t, 20*time.Second, "every event enqueued", func() bool {
		s := b.c.Stats()
		return s.Enqueued+s.Duplicates == 50 && !s.Paused
	})
	testenv.WaitFor(t, 10*time.Second, "consumer settled", func() bool { return b.settled(t) })

	for i := range 50 {
		_, err := b.taskInfo(t, b.queue, "out-"+strconv.Itoa(i), jobs.TypeUserCreate)
		require.NoError(t, err, "task out-%d", i)
	}
	s := b.c.Stats()
	require.GreaterOrEqual(t, s.Pauses, uint64(1))
	require.Zero(t, totalDeadLettered(s))
	require.Empty(t, deadLetters(t, b.js))
	require.Zero(t, advisories.Load(), "no message reached MaxDeliver")
	nakMu.Lock()
	defer nakMu.Unlock()
	require.NotEmpty(t, naks, "messages in flight were handed back")
	for seq, n := range naks {
		require.LessOrEqual(t, uint64(n), s.Pauses, "stream seq %d handed back more than once per pause", seq)
	}
	t.Logf("outage: pauses=%d naked=%d redelivered=%d", s.Pauses, s.Naked, b.consumerInfo(t).NumRedelivered)
}

// TestIntakeMaxDeliveries: a message that is never acknowledged reaches
// MaxDeliver; the advisory makes the intake dead-letter it.
func TestIntakeMaxDeliveries(t *testing.T) {
	t.Parallel()
	var fe *failingEnqueuer
	b := setup(t, setupOpts{
		cfg: events.Config{MaxDeliver: 2, AckWait: 5 * time.Second, NakDelay: 50 * time.Millisecond,
			ProbeInterval: 10 * time.Millisecond, ProbeMaxInterval: 50 * time.Millisecond},
		backends: func(be events.Backends) events.Backends {
			fe = &failingEnqueuer{next: be.Enqueuer, fail: func(task *asynq.Task) error {
				if p, _ := jobs.DecodePayload(task); p.EventID == "poison" {
					return errors.New("backend refused the task")
				}
				return nil
			}}
			be.Enqueuer = fe
			return be
		},
	})

	poison := mustJSON(t, b.event("poison", events.TypeJoined, "E1"))
	h := nats.Header{}
	h.Set("X-Trace", "p")
	seq := b.publish(t, poison, h)
	testenv.WaitFor(t, 20*time.Second, "poison dead-lettered", func() bool {
		return b.c.Stats().DeadLettered[events.ReasonMaxDeliveries] == 1
	})

	// Intake goes on with the next events. (Events in flight while a
	// failure pauses intake are handed back too, each pause costing them a
	// delivery: with MaxDeliver 2 they would be dead-lettered as well.)
	for i := range 3 {
		b.publish(t, mustJSON(t, b.event("ok-"+strconv.Itoa(i), events.TypeJoined, "E2")), nil)
	}
	testenv.WaitFor(t, 10*time.Second, "good events enqueued", func() bool { return b.c.Stats().Enqueued == 3 })

	dls := deadLetters(t, b.js)
	require.Len(t, dls, 1)
	dl := dls[0]
	require.Equal(t, "deadletter.intake.max_deliveries", dl.Subject)
	require.Equal(t, string(events.ReasonMaxDeliveries), dl.Header.Get(events.HeaderReason))
	require.Equal(t, strconv.FormatUint(seq, 10), dl.Header.Get(events.HeaderStreamSeq))
	require.Equal(t, "2", dl.Header.Get(events.HeaderDeliveries))
	require.Equal(t, "p", dl.Header.Get("X-Trace"))
	require.Equal(t, poison, dl.Data)
	require.Equal(t, 2, fe.callsFor(jobs.TaskID(b.source, "poison", jobs.TypeUserCreate)))
}

// TestIntakeDeadLetterUnavailable: when the dead letter cannot be written,
// the invalid message is handed back, not terminated; it is dead-lettered
// once the stream is back.
func TestIntakeDeadLetterUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{cfg: events.Config{NakDelay: 100 * time.Millisecond, MaxDeliver: 100}})
	require.NoError(t, b.js.DeleteStream(context.Background(), events.DefaultDeadLetterStream))

	body := []byte(`not json`)
	b.publish(t, body, nil)
	testenv.WaitFor(t, 10*time.Second, "handed back twice", func() bool { return b.c.Stats().Naked >= 2 })
	require.Equal(t, 1, b.consumerInfo(t).NumAckPending+int(b.consumerInfo(t).NumPending), "not terminated")
	require.Zero(t, totalDeadLettered(b.c.Stats()))

	require.NoError(t, events.EnsureStreams(context.Background(), b.js, b.cfg))
	testenv.WaitFor(t, 10*time.Second, "dead-lettered", func() bool { return b.c.Stats().DeadLettered[events.ReasonBadJSON] == 1 })
	testenv.WaitFor(t, 10*time.Second, "consumer settled", func() bool { return b.settled(t) })
	dls := deadLetters(t, b.js)
	require.Len(t, dls, 1)
	require.Equal(t, body, dls[0].Data)
	n, err := strconv.Atoi(dls[0].Header.Get(events.HeaderDeliveries))
	require.NoError(t, err)
	require.Greater(t, n, 1)
}

// TestIntakeSlowEnqueue: an enqueue slower than AckWait is kept alive with
// InProgress, so the message is not redelivered.
func TestIntakeSlowEnqueue(t *testing.T) {
	t.Parallel()
	var fe *failingEnqueuer
	b := setup(t, setupOpts{
		cfg: events.Config{AckWait: time.Second, OpTimeout: 10 * time.Second},
		backends: func(be events.Backends) events.Backends {
			fe = &failingEnqueuer{next: be.Enqueuer, fail: func(*asynq.Task) error {
				// A slow backend: 2.5 ack waits.
				t := time.NewTimer(2500 * time.Millisecond)
				defer t.Stop()
				<-t.C
				return nil
			}}
			be.Enqueuer = fe
			return be
		},
	})
	b.publish(t, mustJSON(t, b.event("slow-1", events.TypeJoined, "E1")), nil)
	testenv.WaitFor(t, 15*time.Second, "enqueued", func() bool { return b.c.Stats().Enqueued == 1 })
	testenv.WaitFor(t, 5*time.Second, "consumer settled", func() bool { return b.settled(t) })
	require.Zero(t, b.consumerInfo(t).NumRedelivered)
	require.Equal(t, 1, fe.callsFor(jobs.TaskID(b.source, "slow-1", jobs.TypeUserCreate)))
	require.Zero(t, b.c.Stats().Duplicates)
}

func TestConsumerLifecycle(t *testing.T) {
	t.Parallel()

	t.Run("stop before run", func(t *testing.T) {
		t.Parallel()
		_, js := runJetStream(t)
		rb := newRedisBackends(t, nil, "unused:")
		c, err := events.New(js, rb.backends(), events.Config{})
		require.NoError(t, err)
		require.NoError(t, c.Stop(context.Background()))
		require.NoError(t, c.Run(context.Background()))
		require.ErrorIs(t, c.Run(context.Background()), events.ErrAlreadyStarted)
	})

	t.Run("run returns when its context ends", func(t *testing.T) {
		t.Parallel()
		_, js := runJetStream(t)
		rb := newRedisBackends(t, nil, "unused:")
		c, err := events.New(js, rb.backends(), events.Config{})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		testenv.WaitFor(t, 10*time.Second, "consumer created", func() bool {
			_, err := js.Consumer(context.Background(), events.DefaultStream, events.DefaultDurable)
			return err == nil
		})
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
		}
		require.NoError(t, c.Stop(context.Background()))
	})

	t.Run("stop deadline cancels work in flight", func(t *testing.T) {
		t.Parallel()
		entered := make(chan struct{}, 1)
		b := setup(t, setupOpts{backends: func(be events.Backends) events.Backends {
			be.Enqueuer = blockingEnqueuer{entered: entered}
			return be
		}})
		b.publish(t, mustJSON(t, b.event("block-1", events.TypeJoined, "E1")), nil)
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("enqueue not reached")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, b.c.Stop(ctx), context.DeadlineExceeded)
		// Handed back, not lost.
		require.GreaterOrEqual(t, b.c.Stats().Naked, uint64(1))
		require.Zero(t, b.c.Stats().Enqueued)
	})

	t.Run("setup error is returned", func(t *testing.T) {
		t.Parallel()
		nc, js := runJetStream(t)
		nc.Close()
		rb := newRedisBackends(t, nil, "unused:")
		c, err := events.New(js, rb.backends(), events.Config{OpTimeout: time.Second})
		require.NoError(t, err)
		require.ErrorContains(t, c.Run(context.Background()), "events: create or update stream HR")
	})
}

// blockingEnqueuer blocks until its context ends.
type blockingEnqueuer struct{ entered chan<- struct{} }

func (e blockingEnqueuer) EnqueueContext(ctx context.Context, _ *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	select {
	case e.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestDeadLetterHelpers(t *testing.T) {
	t.Parallel()
	require.Equal(t, "deadletter.intake.schema", events.DeadLetterSubject("deadletter", events.ReasonSchema))
	require.Equal(t, "intake:HR:42", events.DeadLetterMsgID("HR", 42))
	_, err := events.OriginalMsg(&jetstream.RawStreamMsg{Subject: "deadletter.intake.schema", Data: []byte("x")})
	require.ErrorContains(t, err, "not an intake dead letter")
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(events.Reasons()))
	require.Contains(t, buf.String(), "max_deliveries")
}
