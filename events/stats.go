package events

import "sync/atomic"

// ReceivedInvalid is the Stats.Received key of messages that did not decode.
const ReceivedInvalid = "invalid"

// Stats is a snapshot of the intake's counters (monotonic since New) and
// state. The worker binary exports it as metrics.
type Stats struct {
	// Received counts messages by event type; ReceivedInvalid for those
	// that did not decode.
	Received map[string]uint64
	// Enqueued counts tasks enqueued.
	Enqueued uint64
	// Duplicates counts events whose task already existed (redelivered or
	// re-published), acknowledged without a new task.
	Duplicates uint64
	// DeadLettered counts dead letters written, by reason.
	DeadLettered map[Reason]uint64
	// Cancelled counts events acknowledged without a task because a
	// cancellation's tombstone names them.
	Cancelled uint64
	// CancelledTasks counts waiting tasks deleted by cancellations;
	// CancelTooLate counts cancellations whose task had already started,
	// finished or been archived.
	CancelledTasks uint64
	CancelTooLate  uint64
	// Naked counts messages handed back with NakWithDelay (Redis or the
	// dead-letter stream unavailable, or intake paused).
	Naked uint64
	// Pauses counts the times intake stopped fetching because Redis was
	// unavailable; Paused is whether it is stopped now.
	Pauses uint64
	Paused bool
}

// receivedKeys are the keys of Stats.Received, in counters.received order.
func receivedKeys() [5]string {
	return [5]string{TypeJoined, TypeUpdated, TypeLeft, TypeCancelled, ReceivedInvalid}
}

type counters struct {
	received       [5]atomic.Uint64
	enqueued       atomic.Uint64
	duplicates     atomic.Uint64
	cancelled      atomic.Uint64
	cancelledTasks atomic.Uint64
	cancelTooLate  atomic.Uint64
	naked          atomic.Uint64
	pauses         atomic.Uint64
	// deadLettered is filled for every reason at construction and never
	// written again, so reading it needs no lock.
	deadLettered map[Reason]*atomic.Uint64
}

func newCounters() *counters {
	c := &counters{deadLettered: make(map[Reason]*atomic.Uint64)}
	for _, r := range Reasons() {
		c.deadLettered[r] = new(atomic.Uint64)
	}
	return c
}

func (c *counters) receive(eventType string) {
	keys := receivedKeys()
	for i, t := range keys {
		if t == eventType {
			c.received[i].Add(1)
			return
		}
	}
	c.received[len(keys)-1].Add(1)
}

func (c *counters) deadLetter(r Reason) {
	if n, ok := c.deadLettered[r]; ok {
		n.Add(1)
	}
}

func (c *counters) snapshot(paused bool) Stats {
	s := Stats{
		Received:       make(map[string]uint64, len(c.received)),
		Enqueued:       c.enqueued.Load(),
		Duplicates:     c.duplicates.Load(),
		DeadLettered:   make(map[Reason]uint64, len(c.deadLettered)),
		Cancelled:      c.cancelled.Load(),
		CancelledTasks: c.cancelledTasks.Load(),
		CancelTooLate:  c.cancelTooLate.Load(),
		Naked:          c.naked.Load(),
		Pauses:         c.pauses.Load(),
		Paused:         paused,
	}
	for i, t := range receivedKeys() {
		s.Received[t] = c.received[i].Load()
	}
	for r, n := range c.deadLettered {
		s.DeadLettered[r] = n.Load()
	}
	return s
}
