package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultTombstonePrefix is the default key prefix of cancellation
// tombstones.
const DefaultTombstonePrefix = "docusign-worker:tombstone:"

// tombstoneRediser is the part of go-redis the tombstones use
// (*redis.Client, *redis.ClusterClient and redis.UniversalClient have it).
type tombstoneRediser interface {
	Set(ctx context.Context, key string, value any, expiration time.Duration) *redis.StatusCmd
	Exists(ctx context.Context, keys ...string) *redis.IntCmd
	Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error)
}

// EventRef names an event: its CloudEvents source and id.
type EventRef struct {
	Source string
	ID     string
}

// Tombstones records cancelled events in Redis: an event named by an
// hr.employee.cancelled event is never enqueued nor applied while its
// tombstone lives, so a cancellation that arrives before its event, or a
// redelivery of the cancelled event, does not resurrect it. The intake and
// the handlers both check it.
type Tombstones struct {
	rdb    tombstoneRediser
	prefix string
}

// NewTombstones returns tombstones stored under prefix
// (DefaultTombstonePrefix when empty). Shadow mode uses its own prefix.
func NewTombstones(rdb tombstoneRediser, prefix string) *Tombstones {
	if prefix == "" {
		prefix = DefaultTombstonePrefix
	}
	return &Tombstones{rdb: rdb, prefix: prefix}
}

// Key returns the Redis key of the tombstone of event (source, id): the
// prefix and the hex SHA-256 of source NUL id.
func (t *Tombstones) Key(source, id string) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return t.prefix + hex.EncodeToString(h.Sum(nil))
}

// Put records that event (source, id) is cancelled, for ttl. The TTL must
// be at least the tasks' Retention, so that the tombstone outlives every
// TaskID that could still deduplicate the event. Putting it again renews it.
func (t *Tombstones) Put(ctx context.Context, source, id string, ttl time.Duration) error {
	if source == "" || id == "" {
		return errors.New("jobs: tombstone needs a source and an id")
	}
	if ttl <= 0 {
		return fmt.Errorf("jobs: tombstone TTL %v is not positive", ttl)
	}
	if err := t.rdb.Set(ctx, t.Key(source, id), "1", ttl).Err(); err != nil {
		return fmt.Errorf("jobs: put tombstone: %w", err)
	}
	return nil
}

// Has reports whether event (source, id) is cancelled.
func (t *Tombstones) Has(ctx context.Context, source, id string) (bool, error) {
	n, err := t.rdb.Exists(ctx, t.Key(source, id)).Result()
	if err != nil {
		return false, fmt.Errorf("jobs: check tombstone: %w", err)
	}
	return n > 0, nil
}

// HasMany reports, for each event, whether it is cancelled, in one round
// trip (a pipeline, which also works on Redis Cluster).
func (t *Tombstones) HasMany(ctx context.Context, refs ...EventRef) ([]bool, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if len(refs) == 1 {
		has, err := t.Has(ctx, refs[0].Source, refs[0].ID)
		if err != nil {
			return nil, err
		}
		return []bool{has}, nil
	}
	cmds := make([]*redis.IntCmd, len(refs))
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range refs {
			cmds[i] = p.Exists(ctx, t.Key(r.Source, r.ID))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: check tombstones: %w", err)
	}
	out := make([]bool, len(refs))
	for i, c := range cmds {
		out[i] = c.Val() > 0
	}
	return out, nil
}
