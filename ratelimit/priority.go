package ratelimit

import (
	"context"
	"fmt"
)

// Priority orders requests when tokens are scarce. The zero value is Default.
type Priority int

// Priorities, highest first. Leavers run Critical, joiners and movers
// Default, backfills Low.
const (
	Critical Priority = 1
	Default  Priority = 0
	Low      Priority = -1
)

// rank is the priority's index in the scripts: 0 critical, 1 default, 2 low.
func (p Priority) rank() int { return 1 - int(p) }

// valid reports whether p is one of the three priorities.
func (p Priority) valid() bool { return p >= Low && p <= Critical }

// String returns "critical", "default" or "low" (the asynq queue names).
func (p Priority) String() string {
	switch p {
	case Critical:
		return "critical"
	case Default:
		return "default"
	case Low:
		return "low"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// ParsePriority parses "critical", "default" or "low".
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "critical":
		return Critical, nil
	case "default", "":
		return Default, nil
	case "low":
		return Low, nil
	}
	return Default, fmt.Errorf("ratelimit: unknown priority %q (want critical, default or low)", s)
}

// LimitKind names the DocuSign limit a throttled reply hit.
type LimitKind int

const (
	// Hourly is the hourly limit (HOURLY_APIINVOCATION_LIMIT_EXCEEDED).
	Hourly LimitKind = iota + 1
	// Burst is the burst limit (BURST_APIINVOCATION_LIMIT_EXCEEDED).
	Burst
)

// String returns "hourly" or "burst".
func (k LimitKind) String() string {
	switch k {
	case Hourly:
		return "hourly"
	case Burst:
		return "burst"
	}
	return fmt.Sprintf("LimitKind(%d)", int(k))
}

type ctxKey int

const (
	priorityKey ctxKey = iota + 1
	waiterIDKey
)

// WithPriority returns a context carrying p, for a client hook that takes
// tokens with PriorityFrom(ctx) on behalf of the job that set it.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey, p)
}

// PriorityFrom returns the priority set by WithPriority, or Default.
func PriorityFrom(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey).(Priority); ok && p.valid() {
		return p
	}
	return Default
}

// WithWaiterID returns a context naming the waiter (for instance the asynq
// task ID), so a job parked by a *RetryError reclaims the same priority claim
// when it comes back and its grant clears that claim at once. Without it
// every Wait call is a new waiter.
func WithWaiterID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, waiterIDKey, id)
}

// waiterIDFrom returns the waiter ID set by WithWaiterID, or "".
func waiterIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(waiterIDKey).(string)
	return id
}
