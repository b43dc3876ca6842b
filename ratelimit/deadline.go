package ratelimit

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlineSlots is how many shared deadlines one Config.Timeout is divided
// into: round trips that start within the same 1/deadlineSlots of Timeout
// share one deadline, so each is bounded by at most Timeout and at least
// Timeout·(1 − 1/deadlineSlots).
const deadlineSlots = 32

// sharedDeadline is a deadline shared by the round trips that start within
// one slot: one context (one runtime timer) for all of them.
type sharedDeadline struct {
	at     time.Time
	ctx    context.Context
	cancel context.CancelFunc // unused: the timer releases ctx at at
}

// deadlineCtx bounds a round trip whose caller's context can never be
// cancelled by a shared deadline; values still come from the caller's.
type deadlineCtx struct {
	context.Context // the caller's, for Value
	d               *sharedDeadline
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.d.at, true }
func (c deadlineCtx) Done() <-chan struct{}       { return c.d.ctx.Done() }
func (c deadlineCtx) Err() error                  { return c.d.ctx.Err() }

// deadlines hands out the shared deadlines of one Limiter.
type deadlines struct {
	timeout, slot time.Duration
	cur           atomic.Pointer[sharedDeadline]
}

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, slot: max(timeout/deadlineSlots, time.Nanosecond)}
}

// at returns the shared deadline for a round trip starting at now: the
// latest slot boundary not after now + timeout.
func (d *deadlines) at(now time.Time) *sharedDeadline {
	want := now.Add(d.timeout)
	if s := d.cur.Load(); s != nil && !s.at.After(want) && want.Sub(s.at) < d.slot {
		return s
	}
	at := want.Truncate(d.slot)
	ctx, cancel := context.WithDeadline(context.Background(), at)
	s := &sharedDeadline{at: at, ctx: ctx, cancel: cancel}
	d.cur.Store(s)
	return s
}

// startCall bounds one Redis round trip, starting at now, by Config.Timeout
// (none when it is negative). Call the returned cancel when the round trip
// ends.
//
// A context.WithTimeout per round trip costs more than the rest of the
// client's work: its runtime timer, and a connection deadline that moves on
// every call (the deadline is shorter than go-redis's ReadTimeout, so it
// becomes the socket's), about 7 µs per call on a 2-core machine. So round
// trips share deadlines (see deadlineSlots): a caller's context that can
// never be cancelled is wrapped without any timer of its own; a cancellable
// one gets a context.WithDeadline at the shared deadline, which leaves the
// socket deadline unchanged between calls; one whose own deadline comes
// first is used as it is.
func (l *Limiter) startCall(ctx context.Context, now time.Time) (context.Context, context.CancelFunc) {
	if l.cfg.Timeout < 0 {
		return ctx, func() {}
	}
	s := l.deadlines.at(now)
	if dl, ok := ctx.Deadline(); ok && !dl.After(s.at) {
		return ctx, func() {}
	}
	if ctx.Done() == nil {
		return deadlineCtx{Context: ctx, d: s}, func() {}
	}
	return context.WithDeadline(ctx, s.at)
}
