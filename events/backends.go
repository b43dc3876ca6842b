package events

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/jml-sync/docusign-worker/jobs"
)

// Enqueuer enqueues tasks; *asynq.Client implements it.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Inspector finds and deletes the tasks a cancellation names;
// *asynq.Inspector implements it.
type Inspector interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	DeleteTask(queue, id string) error
}

// TombstoneStore records cancelled events; *jobs.Tombstones implements it.
// HasMany answers several checks in one round trip.
type TombstoneStore interface {
	Put(ctx context.Context, source, id string, ttl time.Duration) error
	HasMany(ctx context.Context, refs ...jobs.EventRef) ([]bool, error)
}

// Pinger reports whether the task backend (Redis) is healthy again after a
// failure. A probe that writes (SET with a short TTL) also catches a Redis
// that answers PING but refuses writes.
type Pinger interface {
	Ping(ctx context.Context) error
}

// PingFunc adapts a function to Pinger, e.g.
// events.PingFunc(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }).
type PingFunc func(ctx context.Context) error

// Ping calls f.
func (f PingFunc) Ping(ctx context.Context) error { return f(ctx) }

// Backends are the Redis-side dependencies of a Consumer. All are required.
type Backends struct {
	Enqueuer   Enqueuer
	Inspector  Inspector
	Tombstones TombstoneStore
	Pinger     Pinger
}
