package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lua scripts of the employee lease and watermark. Every key of one
// employee shares the hash tag {emp:<id>}, so they work on Redis Cluster.
var (
	// renewLeaseScript extends the lease if this token still holds it.
	renewLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)
	// releaseLeaseScript deletes the lease if this token still holds it.
	releaseLeaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
	// setWatermarkScript writes the watermark if this token still holds the
	// lease (every writer of an employee's watermark holds its lease, so the
	// value read under the lease is still current).
	setWatermarkScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0`)
)

// Watermark is the last event successfully applied to an employee.
//
// Events are ordered by effective time (effective_at, else time); equal
// effective times are ordered by the event's time (when HR recorded it),
// then by source and id in byte order, so every worker decides ties the
// same way. An event equal to the watermark (the same event, retried or
// replayed) is not stale: applying it again converges to the same state.
type Watermark struct {
	Effective time.Time `json:"effective"`
	EventTime time.Time `json:"event_time"`
	Source    string    `json:"source"`
	ID        string    `json:"id"`
	// TaskID is the task that applied the event.
	TaskID string `json:"task_id"`
}

// watermarkOf is the position of a payload's event.
func watermarkOf(p Payload, taskID string) Watermark {
	return Watermark{Effective: p.Effective().UTC(), EventTime: p.EventTime.UTC(), Source: p.EventSource, ID: p.EventID,
		TaskID: taskID}
}

// Compare orders two watermarks: -1 when w is older than o, 0 for the same
// position, +1 when newer.
func (w Watermark) Compare(o Watermark) int {
	if c := w.Effective.Compare(o.Effective); c != 0 {
		return c
	}
	if c := w.EventTime.Compare(o.EventTime); c != 0 {
		return c
	}
	if c := strings.Compare(w.Source, o.Source); c != 0 {
		return c
	}
	return strings.Compare(w.ID, o.ID)
}

// employeeKeys names an employee's Redis keys.
type employeeKeys struct {
	prefix string
}

func (k employeeKeys) tag(employeeID string) string { return k.prefix + "{emp:" + employeeID + "}" }

func (k employeeKeys) lease(employeeID string) string     { return k.tag(employeeID) + ":lease" }
func (k employeeKeys) watermark(employeeID string) string { return k.tag(employeeID) + ":watermark" }
func (k employeeKeys) identity(employeeID string) string  { return k.tag(employeeID) + ":identity" }

// pendingAudit names the key holding a task's audit record between its
// DocuSign writes and a successful publish.
func (k employeeKeys) pendingAudit(employeeID, taskID string) string {
	return k.tag(employeeID) + ":audit:" + taskID
}

// readWatermark returns the employee's watermark, or nil.
func readWatermark(ctx context.Context, rdb Rediser, key string) (*Watermark, error) {
	raw, err := rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jobs: read watermark: %w", err)
	}
	var w Watermark
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("jobs: decode watermark: %w", err)
	}
	return &w, nil
}

// lease is an employee's exclusive lease, held by one job at a time and
// renewed in the background while the job runs.
type lease struct {
	rdb    Rediser
	key    string
	token  string
	ttl    time.Duration
	cancel context.CancelCauseFunc
	stop   chan struct{}
	wg     sync.WaitGroup
}

// acquireLease takes the employee's lease with SET NX PX. It returns
// (nil, nil) when another job holds it. The returned context is cancelled
// with errLeaseLost if the lease cannot be renewed.
func acquireLease(ctx context.Context, rdb Rediser, key string, ttl time.Duration) (*lease, context.Context, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return nil, ctx, fmt.Errorf("jobs: lease token: %w", err)
	}
	token := hex.EncodeToString(b)
	ok, err := rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil {
		return nil, ctx, fmt.Errorf("jobs: take employee lease: %w", err)
	}
	if !ok {
		return nil, ctx, nil
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	l := &lease{rdb: rdb, key: key, token: token, ttl: ttl, cancel: cancel, stop: make(chan struct{})}
	l.wg.Add(1)
	go l.renew(runCtx)
	return l, runCtx, nil
}

// renew extends the lease every third of its TTL; when that fails the job's
// context is cancelled (another job may take the lease after it expires).
func (l *lease) renew(ctx context.Context) {
	defer l.wg.Done()
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		callCtx, cancel := context.WithTimeout(ctx, l.ttl/3)
		n, err := renewLeaseScript.Run(callCtx, l.rdb, []string{l.key}, l.token, l.ttl.Milliseconds()).Int()
		cancel()
		if err == nil && n == 1 {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("lease taken over")
		}
		l.cancel(fmt.Errorf("%w: %w", errLeaseLost, err))
		return
	}
}

// setWatermark writes w if the lease is still held; false means it was lost.
func (l *lease) setWatermark(ctx context.Context, key string, w Watermark) (bool, error) {
	raw, err := json.Marshal(w)
	if err != nil {
		return false, fmt.Errorf("jobs: encode watermark: %w", err)
	}
	n, err := setWatermarkScript.Run(ctx, l.rdb, []string{l.key, key}, l.token, raw).Int()
	if err != nil {
		return false, fmt.Errorf("jobs: write watermark: %w", err)
	}
	return n == 1, nil
}

// release stops the renewal and deletes the lease if still held. It runs
// even when ctx is cancelled.
func (l *lease) release(ctx context.Context) {
	close(l.stop)
	l.wg.Wait()
	l.cancel(nil)
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = releaseLeaseScript.Run(callCtx, l.rdb, []string{l.key}, l.token).Err()
}
