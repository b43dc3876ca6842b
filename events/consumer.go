package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/jobs"
)

// ErrAlreadyStarted is returned by Run on a Consumer that has already run.
var ErrAlreadyStarted = errors.New("events: consumer already started")

// Consumer is the intake: it consumes the HR stream through a durable pull
// consumer and turns each event into an asynq task. See the package
// documentation for the contract.
type Consumer struct {
	cfg           Config
	log           zerolog.Logger
	js            jetstream.JetStream
	b             Backends
	dec           *Decoder
	taskOpts      jobs.TaskOptions
	stats         *counters
	progressEvery time.Duration

	// intake buffers delivered messages for the preparing stage; work
	// hands prepared messages to the workers.
	intake   chan jetstream.Msg
	drained  chan struct{}
	work     chan *job
	inflight inflight

	// paused is set by the first worker that finds Redis unavailable; the
	// run loop then stops fetching until the Pinger succeeds.
	paused     atomic.Bool
	pauseCh    chan struct{}
	sawSuccess atomic.Bool
	flaps      int // consecutive pauses without a success; run loop only

	mu         sync.Mutex
	started    bool
	hardCancel context.CancelFunc
	stopCh     chan struct{}
	stopOnce   sync.Once
	quit       chan struct{}
	quitOnce   sync.Once
	done       chan struct{}
}

// New returns a Consumer. It checks the configuration and the backends but
// does no I/O; Run sets up the streams and the consumer.
func New(js jetstream.JetStream, b Backends, cfg Config) (*Consumer, error) {
	cfg.setDefaults()
	var errs []error
	if err := cfg.validate(); err != nil {
		errs = append(errs, err)
	}
	if js == nil {
		errs = append(errs, errors.New("no JetStream context"))
	}
	if b.Enqueuer == nil {
		errs = append(errs, errors.New("no Enqueuer"))
	}
	if b.Inspector == nil {
		errs = append(errs, errors.New("no Inspector"))
	}
	if b.Tombstones == nil {
		errs = append(errs, errors.New("no TombstoneStore"))
	}
	if b.Pinger == nil {
		errs = append(errs, errors.New("no Pinger"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("events: invalid config: %w", err)
	}
	var opts []DecoderOption
	if cfg.Rules {
		opts = append(opts, WithRules())
	}
	dec, err := NewDecoder(cfg.MaxEventBytes, opts...)
	if err != nil {
		return nil, err
	}
	minAck := cfg.AckWait
	for _, d := range cfg.BackOff {
		minAck = min(minAck, d)
	}
	return &Consumer{
		cfg: cfg,
		log: cfg.Logger,
		js:  js,
		b:   b,
		dec: dec,
		taskOpts: jobs.TaskOptions{Retention: cfg.Retention, MaxRetry: cfg.MaxRetry, Queue: cfg.Queue,
			QueuePrefix: cfg.QueuePrefix, Now: cfg.NowFunc},
		stats:         newCounters(),
		progressEvery: minAck / 2,
		intake:        make(chan jetstream.Msg, cfg.PullMaxMessages),
		drained:       make(chan struct{}),
		work:          make(chan *job),
		inflight:      inflight{msgs: make(map[jetstream.Msg]time.Time)},
		pauseCh:       make(chan struct{}, 1),
		stopCh:        make(chan struct{}),
		quit:          make(chan struct{}),
		done:          make(chan struct{}),
	}, nil
}

// Stats returns a snapshot of the counters.
func (c *Consumer) Stats() Stats { return c.stats.snapshot(c.paused.Load()) }

// EnsureStreams creates the HR and dead-letter streams, or updates them to
// cfg (defaults applied). Run calls it; tools that publish call it too.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("events: invalid config: %w", err)
	}
	_, err := ensureStreams(ctx, js, &cfg)
	return err
}

func ensureStreams(ctx context.Context, js jetstream.JetStream, cfg *Config) (jetstream.Stream, error) {
	hr, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "HR employee events (CloudEvents), consumed by the DocuSign worker",
		Subjects:    cfg.Subjects,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		MaxAge:      cfg.StreamMaxAge,
		Duplicates:  cfg.Duplicates,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("events: create or update stream %s: %w", cfg.Stream, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.DeadLetterStream,
		Description: "Dead letters of the DocuSign worker: intake (raw events) and archived tasks",
		Subjects:    []string{cfg.DeadLetterPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		// A full stream refuses new records instead of dropping the oldest: the writers fail loudly and retry.
		Discard:    jetstream.DiscardNew,
		MaxMsgs:    cfg.DeadLetterMaxMsgs,
		MaxBytes:   cfg.DeadLetterMaxBytes,
		Storage:    jetstream.FileStorage,
		MaxAge:     cfg.DeadLetterMaxAge,
		Duplicates: cfg.Duplicates,
		Replicas:   cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("events: create or update stream %s: %w", cfg.DeadLetterStream, err)
	}
	return hr, nil
}

// setup creates or updates the streams and the durable consumer.
func (c *Consumer) setup(ctx context.Context) (jetstream.Stream, jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	hr, err := ensureStreams(ctx, c.js, &c.cfg)
	if err != nil {
		return nil, nil, err
	}
	cons, err := hr.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		Description:   "DocuSign worker intake: ack after enqueue",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		BackOff:       c.cfg.BackOff,
		MaxDeliver:    c.cfg.MaxDeliver,
		MaxAckPending: c.cfg.MaxAckPending,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("events: create or update consumer %s on %s: %w", c.cfg.Durable, c.cfg.Stream, err)
	}
	return hr, cons, nil
}

// Run sets up the streams and the durable consumer, then consumes until ctx
// is cancelled or Stop is called. It then drains: no new fetches, buffered
// and in-flight messages are finished (or handed back with NakWithDelay),
// and every goroutine it started has ended when it returns. It returns an
// error only when the setup fails (not when it is stopped during the setup).
func (c *Consumer) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return ErrAlreadyStarted
	}
	c.started = true
	// Work on messages outlives ctx so that a stop drains cleanly; Stop
	// cancels it when its own deadline passes.
	workCtx, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	c.hardCancel = hardCancel
	c.mu.Unlock()
	defer close(c.done)
	defer hardCancel()

	if c.stopping(ctx) {
		return nil
	}
	hr, cons, err := c.setup(ctx)
	if err != nil {
		if c.stopping(ctx) {
			return nil // stopped during the setup
		}
		return err
	}
	advisories := make(chan *nats.Msg, 256)
	sub, err := c.js.Conn().ChanQueueSubscribe(c.maxDeliveriesSubject(), c.cfg.Durable, advisories)
	if err != nil {
		return fmt.Errorf("events: subscribe to max-deliveries advisories: %w", err)
	}

	// Delivered messages go through one preparing goroutine (decode,
	// tombstone checks batched into one round trip) to the workers
	// (enqueue, cancel, dead letter, ack). On a stop the preparing stage
	// finishes what was delivered, then the workers finish and exit.
	var stage, workers, helpers sync.WaitGroup
	stage.Add(1)
	go func() {
		defer stage.Done()
		c.prepareLoop(workCtx)
	}()
	for range c.cfg.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			c.worker(workCtx)
		}()
	}
	helpersDone := make(chan struct{})
	helpers.Add(2)
	go func() {
		defer helpers.Done()
		c.keepInProgress(helpersDone)
	}()
	go func() {
		defer helpers.Done()
		c.advisoryLoop(workCtx, hr, advisories, helpersDone)
	}()

	c.log.Info().Str("stream", c.cfg.Stream).Str("consumer", c.cfg.Durable).
		Int("concurrency", c.cfg.Concurrency).Msg("events: intake started")
	c.consumeLoop(ctx, workCtx, cons)

	if err := sub.Unsubscribe(); err != nil {
		c.log.Debug().Err(err).Msg("events: unsubscribe advisories")
	}
	close(c.drained)
	stage.Wait()
	c.closeQuit()
	workers.Wait()
	close(helpersDone)
	helpers.Wait()
	c.log.Info().Msg("events: intake stopped")
	return nil
}

// Stop asks Run to drain and waits for it to return. When ctx ends first,
// work in flight is cancelled (its messages are handed back with
// NakWithDelay), Run is still waited for, and ctx's error is returned.
// Stop before Run makes Run return at once.
func (c *Consumer) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() { close(c.stopCh) })
	c.mu.Lock()
	started := c.started
	c.mu.Unlock()
	if !started {
		return nil
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
	}
	c.mu.Lock()
	c.hardCancel()
	c.mu.Unlock()
	c.closeQuit()
	<-c.done
	return fmt.Errorf("events: stop: %w", ctx.Err())
}

func (c *Consumer) closeQuit() { c.quitOnce.Do(func() { close(c.quit) }) }

func (c *Consumer) stopping(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-c.stopCh:
		return true
	default:
		return false
	}
}

// sleep waits d, or returns false when the consumer is stopping.
func (c *Consumer) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-c.stopCh:
		return false
	case <-t.C:
		return true
	}
}

// consumeLoop fetches until stopping; it stops fetching while paused.
func (c *Consumer) consumeLoop(ctx, workCtx context.Context, cons jetstream.Consumer) {
	retry := c.cfg.ProbeInterval
	for {
		if c.stopping(ctx) {
			return
		}
		if c.paused.Load() && !c.awaitBackend(ctx, workCtx) {
			return
		}
		cc, err := cons.Consume(c.dispatch,
			jetstream.PullMaxMessages(c.cfg.PullMaxMessages),
			jetstream.ConsumeErrHandler(c.onConsumeError))
		if err != nil {
			c.log.Warn().Err(err).Dur("retry_in", retry).Msg("events: cannot consume; retrying")
			if !c.sleep(ctx, retry) {
				return
			}
			retry = min(2*retry, c.cfg.ProbeMaxInterval)
			cons = c.reacquire(ctx, cons)
			continue
		}
		retry = c.cfg.ProbeInterval
		select {
		case <-ctx.Done():
			c.drain(cc)
			return
		case <-c.stopCh:
			c.drain(cc)
			return
		case <-c.pauseCh:
			c.drain(cc)
		case <-cc.Closed():
			c.log.Warn().Msg("events: consuming ended unexpectedly; setting the consumer up again")
			if !c.sleep(ctx, retry) {
				return
			}
			cons = c.reacquire(ctx, cons)
		}
	}
}

// reacquire sets the streams and consumer up again (e.g. after the consumer
// was deleted), keeping the old handle when that fails.
func (c *Consumer) reacquire(ctx context.Context, old jetstream.Consumer) jetstream.Consumer {
	_, cons, err := c.setup(ctx)
	if err != nil {
		c.log.Warn().Err(err).Msg("events: set up consumer")
		return old
	}
	return cons
}

// drain stops fetching and waits until the buffered messages have been
// handed to the workers (or naked when paused).
func (c *Consumer) drain(cc jetstream.ConsumeContext) {
	cc.Drain()
	rounds := 1 + c.cfg.PullMaxMessages/c.cfg.Concurrency
	t := time.NewTimer(time.Duration(rounds+1) * c.cfg.OpTimeout)
	defer t.Stop()
	select {
	case <-cc.Closed():
	case <-t.C:
		c.log.Warn().Msg("events: draining the consumer timed out; unhandled messages will be redelivered")
		cc.Stop()
	}
}

func (c *Consumer) onConsumeError(_ jetstream.ConsumeContext, err error) {
	c.log.Debug().Err(err).Msg("events: consume")
}

// awaitBackend probes the Pinger with backoff until it succeeds (true) or
// the consumer is stopping (false).
func (c *Consumer) awaitBackend(ctx, workCtx context.Context) bool {
	select {
	case <-c.pauseCh:
	default:
	}
	if c.sawSuccess.Swap(false) {
		c.flaps = 0
	} else {
		c.flaps++
	}
	wait := c.cfg.ProbeInterval
	for range c.flaps {
		wait = min(2*wait, c.cfg.ProbeMaxInterval)
	}
	for {
		if !c.sleep(ctx, wait) {
			return false
		}
		pctx, cancel := context.WithTimeout(workCtx, c.cfg.OpTimeout)
		err := c.b.Pinger.Ping(pctx)
		cancel()
		if err == nil {
			c.paused.Store(false)
			c.log.Info().Msg("events: task backend healthy again; resuming intake")
			return true
		}
		c.log.Debug().Err(err).Dur("retry_in", wait).Msg("events: task backend still unavailable")
		wait = min(2*wait, c.cfg.ProbeMaxInterval)
	}
}

// pause marks the backend unavailable; the first caller wakes the run loop.
func (c *Consumer) pause(err error) {
	if !c.paused.CompareAndSwap(false, true) {
		return
	}
	c.stats.pauses.Add(1)
	c.log.Warn().Err(err).Msg("events: task backend unavailable; intake paused until it answers")
	select {
	case c.pauseCh <- struct{}{}:
	default:
	}
}

// dispatch is the Consume callback: it hands the message to the preparing
// stage.
func (c *Consumer) dispatch(m jetstream.Msg) {
	if c.paused.Load() {
		c.nak(m)
		return
	}
	c.inflight.add(m)
	select {
	case c.intake <- m:
	case <-c.quit:
		c.inflight.remove(m)
		c.nak(m)
	}
}

// job is a delivered message, prepared for a worker.
type job struct {
	m          jetstream.Msg
	seq        uint64
	delivered  uint64
	ev         *Event
	invalid    *DecodeError // dead-letter it
	checkErr   error        // the tombstone check failed: backend down
	tombstoned bool
	handBack   bool // intake paused: NakWithDelay
}

// prepareLoop decodes what was delivered and checks the tombstones of a
// whole batch in one round trip: whatever arrived while the previous batch
// was being prepared or waiting for workers.
func (c *Consumer) prepareLoop(ctx context.Context) {
	batch := make([]jetstream.Msg, 0, cap(c.intake)+1)
	for {
		batch = batch[:0]
		select {
		case m := <-c.intake:
			batch = append(batch, m)
		case <-c.drained:
			// Consuming has stopped: finish what was delivered.
			for {
				select {
				case m := <-c.intake:
					if !c.handOut(c.prepare(ctx, []jetstream.Msg{m})) {
						return
					}
				default:
					return
				}
			}
		case <-c.quit:
			return
		}
	collect:
		for len(batch) < cap(batch) {
			select {
			case m := <-c.intake:
				batch = append(batch, m)
			default:
				break collect
			}
		}
		if !c.handOut(c.prepare(ctx, batch)) {
			return
		}
	}
}

// handOut gives jobs to the workers; on a hard stop it hands the rest back
// to the server and reports false.
func (c *Consumer) handOut(jobs []*job) bool {
	for i, j := range jobs {
		select {
		case c.work <- j:
		case <-c.quit:
			for _, rest := range jobs[i:] {
				c.inflight.remove(rest.m)
				c.nak(rest.m)
			}
			return false
		}
	}
	return true
}

// prepare decodes a batch and checks its tombstones in one round trip.
func (c *Consumer) prepare(ctx context.Context, batch []jetstream.Msg) []*job {
	out := make([]*job, len(batch))
	var refs []jobs.EventRef
	var valid []*job
	for i, m := range batch {
		j := &job{m: m}
		out[i] = j
		if c.paused.Load() {
			j.handBack = true
			continue
		}
		if meta, err := m.Metadata(); err == nil {
			j.seq, j.delivered = meta.Sequence.Stream, meta.NumDelivered
		}
		ev, err := c.dec.Decode(m.Headers(), m.Data())
		if err != nil {
			c.stats.receive(ReceivedInvalid)
			if !errors.As(err, &j.invalid) {
				j.invalid = &DecodeError{Reason: ReasonSchema, Message: err.Error()}
			}
			continue
		}
		c.stats.receive(ev.Type)
		j.ev = ev
		refs = append(refs, jobs.EventRef{Source: ev.Source, ID: ev.ID})
		valid = append(valid, j)
	}
	if len(refs) == 0 {
		return out
	}
	octx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	has, err := c.b.Tombstones.HasMany(octx, refs...)
	cancel()
	if err == nil && len(has) != len(refs) {
		err = fmt.Errorf("events: tombstone store answered %d of %d checks", len(has), len(refs))
	}
	for i, j := range valid {
		if err != nil {
			j.checkErr = err
			continue
		}
		j.tombstoned = has[i]
	}
	return out
}

func (c *Consumer) worker(ctx context.Context) {
	for {
		select {
		case j := <-c.work:
			c.handle(ctx, j)
			c.inflight.remove(j.m)
		case <-c.quit:
			return
		}
	}
}

func (c *Consumer) nak(m jetstream.Msg) {
	c.stats.naked.Add(1)
	if err := m.NakWithDelay(c.cfg.NakDelay); err != nil {
		c.log.Debug().Err(err).Msg("events: nak")
	}
}

func (c *Consumer) ack(m jetstream.Msg) {
	if err := m.Ack(); err != nil {
		// The message comes back after AckWait and deduplicates.
		c.log.Warn().Err(err).Msg("events: ack")
	}
}

// handle applies the intake contract to one prepared message.
func (c *Consumer) handle(ctx context.Context, j *job) {
	m, ev := j.m, j.ev
	switch {
	case j.handBack || c.paused.Load():
		c.nak(m)
		return
	case j.invalid != nil:
		c.reject(ctx, m, j.seq, j.delivered, j.invalid, "")
		return
	case j.checkErr != nil:
		c.backendDown(ctx, m, j.checkErr)
		return
	case j.tombstoned:
		c.stats.cancelled.Add(1)
		c.ack(m)
		c.log.Info().Str("event_id", ev.ID).Str("employee_id", ev.Data.EmployeeID).Uint64("stream_seq", j.seq).
			Msg("events: event was cancelled; not enqueued")
		return
	}
	opCtx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	if ev.Type == TypeCancelled {
		c.applyCancel(opCtx, m, ev)
		return
	}
	task, err := ev.Task(c.taskOpts)
	if err != nil {
		c.reject(ctx, m, j.seq, j.delivered, &DecodeError{Reason: ReasonInvalidTask, Message: err.Error()}, ev.ID)
		return
	}
	_, err = c.b.Enqueuer.EnqueueContext(opCtx, task)
	switch {
	case err == nil:
		c.sawSuccess.Store(true)
		c.stats.enqueued.Add(1)
		c.ack(m)
		if e := c.log.Debug(); e.Enabled() {
			e.Str("event_id", ev.ID).Str("employee_id", ev.Data.EmployeeID).Str("email", ev.Data.Email).
				Str("task_type", task.Type()).Uint64("stream_seq", j.seq).Msg("events: enqueued")
		}
	case errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
		c.sawSuccess.Store(true)
		c.stats.duplicates.Add(1)
		c.ack(m)
		c.log.Info().Str("event_id", ev.ID).Str("employee_id", ev.Data.EmployeeID).Uint64("stream_seq", j.seq).
			Msg("events: duplicate event; task already enqueued")
	default:
		c.backendDown(ctx, m, err)
	}
}

// backendDown hands the message back and pauses intake, unless the
// failure is the hard stop's cancellation.
func (c *Consumer) backendDown(ctx context.Context, m jetstream.Msg, err error) {
	c.nak(m)
	if errors.Is(ctx.Err(), context.Canceled) {
		return
	}
	c.pause(err)
}

// reject dead-letters an invalid message, then terminates it. When the dead
// letter cannot be written the message is handed back instead: nothing is
// lost.
func (c *Consumer) reject(ctx context.Context, m jetstream.Msg, seq, delivered uint64, de *DecodeError, eventID string) {
	err := c.publishDeadLetter(ctx, deadLetterInfo{
		reason:     de.Reason,
		message:    de.Message,
		subject:    m.Subject(),
		seq:        seq,
		deliveries: delivered,
		header:     m.Headers(),
		data:       m.Data(),
	})
	if err != nil {
		c.log.Error().Err(err).Uint64("stream_seq", seq).Str("reason", string(de.Reason)).
			Msg("events: cannot write dead letter; message handed back")
		c.nak(m)
		return
	}
	if err := m.TermWithReason(string(de.Reason)); err != nil {
		// Redelivered later, it is dead-lettered again; the dead letter's
		// Nats-Msg-Id deduplicates it within the duplicates window.
		c.log.Warn().Err(err).Uint64("stream_seq", seq).Msg("events: term")
	}
	l := c.log.Warn().Uint64("stream_seq", seq).Str("reason", string(de.Reason)).Str("problem", de.Message)
	if eventID != "" {
		l = l.Str("event_id", eventID)
	}
	l.Msg("events: event dead-lettered")
}

// applyCancel handles hr.employee.cancelled: a tombstone for the named
// event, then its waiting tasks are deleted.
func (c *Consumer) applyCancel(ctx context.Context, m jetstream.Msg, ev *Event) {
	if err := c.b.Tombstones.Put(ctx, ev.Source, ev.Data.Cancels, c.cfg.TombstoneTTL); err != nil {
		c.backendDown(ctx, m, err)
		return
	}
	var deleted, tooLate int
	for _, tt := range []string{jobs.TypeUserCreate, jobs.TypeMembershipSet, jobs.TypeUserClose} {
		queue := c.cfg.Queue
		if queue == "" {
			queue = c.cfg.QueuePrefix + jobs.QueueFor(tt)
		}
		out, err := c.deleteTask(queue, jobs.TaskID(ev.Source, ev.Data.Cancels, tt))
		if err != nil {
			c.backendDown(ctx, m, err)
			return
		}
		switch out {
		case deleteDone:
			deleted++
		case deleteTooLate:
			tooLate++
		}
	}
	c.stats.cancelledTasks.Add(uint64(deleted))
	c.stats.cancelTooLate.Add(uint64(tooLate))
	c.sawSuccess.Store(true)
	c.ack(m)
	l := c.log.Info()
	if tooLate > 0 {
		l = c.log.Warn()
	}
	l.Str("event_id", ev.ID).Str("cancels", ev.Data.Cancels).Str("employee_id", ev.Data.EmployeeID).
		Int("deleted", deleted).Int("too_late", tooLate).Msg("events: cancellation applied")
}

type deleteOutcome int

const (
	deleteNotFound deleteOutcome = iota
	deleteDone
	deleteTooLate
)

// deleteTask deletes a task that has not run yet; a running, completed or
// archived task is left alone (the handlers check the tombstone too).
func (c *Consumer) deleteTask(queue, id string) (deleteOutcome, error) {
	state, found, err := c.taskState(queue, id)
	if err != nil || !found {
		return deleteNotFound, err
	}
	if started(state) {
		return deleteTooLate, nil
	}
	err = c.b.Inspector.DeleteTask(queue, id)
	switch {
	case err == nil:
		return deleteDone, nil
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return deleteNotFound, nil
	}
	// It may have started meanwhile.
	state, found, err2 := c.taskState(queue, id)
	if err2 == nil && found && started(state) {
		return deleteTooLate, nil
	}
	return deleteNotFound, fmt.Errorf("events: delete task %s in %s: %w", id, queue, err)
}

func (c *Consumer) taskState(queue, id string) (asynq.TaskState, bool, error) {
	info, err := c.b.Inspector.GetTaskInfo(queue, id)
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("events: get task %s in %s: %w", id, queue, err)
	}
	return info.State, true, nil
}

func started(s asynq.TaskState) bool {
	return s == asynq.TaskStateActive || s == asynq.TaskStateCompleted || s == asynq.TaskStateArchived
}

// advisoryLoop dead-letters messages that reached MaxDeliver.
func (c *Consumer) advisoryLoop(ctx context.Context, hr jetstream.Stream, ch <-chan *nats.Msg, done <-chan struct{}) {
	for {
		select {
		case m := <-ch:
			c.onMaxDeliveries(ctx, hr, m.Data)
		case <-done:
			for {
				select {
				case m := <-ch:
					c.onMaxDeliveries(ctx, hr, m.Data)
				default:
					return
				}
			}
		}
	}
}

// keepInProgress sends InProgress for messages held longer than half the
// ack wait (a slow enqueue), so the server does not redeliver them.
func (c *Consumer) keepInProgress(done <-chan struct{}) {
	t := time.NewTicker(max(c.progressEvery/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			c.inflight.touch(now, c.progressEvery, c.log)
		}
	}
}

// inflight tracks messages between delivery and ack, with the time of their
// delivery or last InProgress.
type inflight struct {
	mu   sync.Mutex
	msgs map[jetstream.Msg]time.Time
}

func (f *inflight) add(m jetstream.Msg) {
	f.mu.Lock()
	f.msgs[m] = time.Now()
	f.mu.Unlock()
}

func (f *inflight) remove(m jetstream.Msg) {
	f.mu.Lock()
	delete(f.msgs, m)
	f.mu.Unlock()
}

func (f *inflight) touch(now time.Time, every time.Duration, log zerolog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for m, last := range f.msgs {
		if now.Sub(last) < every {
			continue
		}
		if err := m.InProgress(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			log.Debug().Err(err).Msg("events: in progress")
		}
		f.msgs[m] = now
	}
}
