// Package events is the worker's intake: it consumes HR events (CloudEvents
// 1.0) from NATS JetStream and turns each into an asynq task, with the
// deterministic TaskID of package jobs.
//
// # Streams and consumer
//
// [Consumer.Run] creates or updates, with file storage and a Nats-Msg-Id
// duplicates window:
//
//   - the HR stream (default "HR", subjects "hr.employee.>", MaxAge 30 days);
//   - the dead-letter stream (default "DEADLETTER", subjects "deadletter.>",
//     MaxAge 1 year): intake dead letters on deadletter.intake.<reason>,
//     archived tasks (written by the jobs side) on deadletter.task.<type>.<task id>;
//   - a durable pull consumer on HR (default "provisioner") with explicit
//     acks, AckWait, MaxDeliver, optional BackOff and MaxAckPending.
//
// Messages are fetched with Consume (buffer Config.PullMaxMessages), go
// through one preparing goroutine that decodes them and checks the
// cancellation tombstones of everything that arrived meanwhile in one Redis
// round trip, and are then handled by Config.Concurrency workers (enqueue,
// cancel, dead letter, ack). Several worker processes may share the durable
// consumer.
//
// # Event contract
//
// Structured mode (a body of Content-Type application/cloudevents+json, or
// a JSON body without ce-* headers) and binary mode (ce-specversion, ce-id,
// ce-source, ce-type, ce-subject, ce-time, optional ce-datacontenttype or
// Content-Type headers, the data as body) are both accepted. Events are
// validated against the JSON Schema events/schema/hr-event.schema.json
// (embedded; [SchemaJSON]) and the rules it cannot express: subject equals
// data.employee_id; joined and updated events need data.accounts while no
// rules file exists ("no accounts and no rules"); a cancellation cannot name
// itself. Bodies over Config.MaxEventBytes (64 KiB) are rejected unread. A
// hand-written fast path accepts the ordinary valid event without running
// the schema validator; it is tested never to accept what the schema
// rejects, and every rejection is decided and explained by the schema.
//
// Mapping: hr.employee.joined → jobs.TypeUserCreate, hr.employee.updated →
// jobs.TypeMembershipSet, hr.employee.left → jobs.TypeUserClose (no accounts:
// every managed account), hr.employee.cancelled → a cancellation (below).
// Tasks go to jobs.QueueFor(type) unless Config.Queue overrides it.
//
// # What is acknowledged when
//
//	outcome                                  action on the message
//	task enqueued                            Ack, after EnqueueContext returned
//	task already exists (ErrTaskIDConflict)  Ack (duplicate: redelivered or re-published event)
//	event cancelled (tombstone present)      Ack, no task
//	cancellation applied                     Ack, after the tombstone is written and waiting tasks deleted
//	invalid event                            dead letter written (stream ack awaited), then TermWithReason(reason)
//	dead letter cannot be written            NakWithDelay(NakDelay): nothing is lost
//	Redis unavailable (any other error)      NakWithDelay(NakDelay), and intake pauses
//	delivered while intake is paused         NakWithDelay(NakDelay)
//	enqueue slower than half the AckWait     InProgress, repeated, until one of the above
//	delivered MaxDeliver times               dead letter with reason max_deliveries (from the advisory)
//
// An invalid event never blocks the others: it is dead-lettered and
// terminated on its first delivery.
//
// # Dead letters
//
// An intake dead letter is the original message's raw bytes, published to
// <prefix>.intake.<reason> (default deadletter.intake.<reason>) with the
// original headers (except the server-interpreted Nats-* ones) and:
//
//	Deadletter-Reason           the Reason code (bad_json, schema, missing_field, ...)
//	Deadletter-Message          which fields are wrong and how to fix them (never an email)
//	Deadletter-Stream           HR stream name
//	Deadletter-Stream-Seq       the original's stream sequence
//	Deadletter-Subject          the subject it was published on
//	Deadletter-Consumer         the durable consumer
//	Deadletter-Deliveries       deliveries so far
//	Deadletter-Time             when (RFC 3339, UTC)
//	Deadletter-Original-Msg-Id  the original Nats-Msg-Id, if any
//	Nats-Msg-Id                 intake:<stream>:<seq> ([DeadLetterMsgID])
//
// The Nats-Msg-Id makes writing the same dead letter twice (a Term that was
// lost, or two workers seeing one advisory) store it once within the
// duplicates window. To replay one, rebuild the message with [OriginalMsg],
// fix it if needed, and publish it to the HR subject with a new
// Nats-Msg-Id; if its event was already enqueued the TaskID deduplicates
// it.
//
// Messages that reach MaxDeliver are announced by the server on
// $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>; one
// worker (queue subscription) fetches the message by its stream sequence
// and dead-letters it with reason max_deliveries. Advisories are core NATS
// messages: one sent while no worker runs is missed, and the message then
// stays in the HR stream (not lost; visible with `nats consumer info`)
// until MaxAge.
//
// # Cancellation
//
// hr.employee.cancelled with data.cancels = id (same source) writes a
// tombstone (jobs.Tombstones, TTL Config.TombstoneTTL, at least the tasks'
// Retention) and then deletes the named event's waiting tasks (pending,
// scheduled, retry) of every task type through asynq's Inspector. A task
// already running, completed or archived is left alone and counted as
// "too late". The intake checks the tombstone of every event before
// enqueueing it, so a cancellation that arrives first, or a redelivery or
// re-publication of the cancelled event, does not resurrect it. That check
// cannot close the race with a cancellation handled at the same moment by
// another worker; the handlers check the tombstone again before applying a
// task, which is the guarantee.
//
// # Redis outages and the MaxDeliver arithmetic
//
// Every delivery counts toward MaxDeliver, including one that ends in
// NakWithDelay. A Nak per message during an outage would therefore spend
// MaxDeliver within MaxDeliver × NakDelay and dead-letter healthy events.
// Instead, the first Redis failure pauses intake: fetching stops (the
// Consume is drained), every message already delivered but not yet
// enqueued is handed back once with NakWithDelay, and nothing more is
// fetched until the Pinger answers (probed from ProbeInterval, doubling up
// to ProbeMaxInterval). So an outage costs each message caught in flight —
// delivered but not yet enqueued: at most Concurrency + 3 × PullMaxMessages
// + 1 (the client's buffer, the preparing stage's queue and batch), 33 with
// the defaults — exactly one delivery, however long it lasts, and costs the
// messages still in the stream nothing. A message is dead-lettered as
// max_deliveries only after MaxDeliver − 1 such pauses (or worker crashes)
// caught it in flight: with the default 10, nine separate outages.
//
// A backend that answers the Pinger but keeps failing enqueues (for example
// a Redis that answers PING but refuses writes) makes intake pause and
// resume in turn; each pause following a resume without a successful
// enqueue doubles the first probe wait, up to ProbeMaxInterval, so it does
// not spin: with the defaults (MaxDeliver 10, ProbeMaxInterval 30 s) the
// messages in flight are dead-lettered, replayable, after about five
// minutes. A probe that writes (SET with a TTL) avoids this.
//
// BackOff is off by default: nats-server 2.15 stretches a NakWithDelay on
// the n-th delivery by BackOff[n-1] − AckWait, which would delay the
// recovery after an outage by minutes.
//
// # Observability
//
// [Consumer.Stats] returns the counters (received by type, enqueued,
// duplicates, dead-lettered by reason, cancelled, handed back, pauses) for
// the worker's metrics. Logs (Config.Logger, zerolog; the zero value logs
// nothing) carry event_id, employee_id, stream_seq and reason; emails appear
// only at debug level.
package events
