package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

// guardMetrics counts what the guard reports.
type guardMetrics struct {
	tripped, held atomic.Int64
}

func (m *guardMetrics) GuardTripped() { m.tripped.Add(1) }
func (m *guardMetrics) CloseHeld()    { m.held.Add(1) }

// guardBundle is one guard test's setup.
type guardBundle struct {
	rdb     *redis.Client
	guard   *jobs.Guard
	ctl     *jobs.GuardControl
	clock   *testenv.Clock
	metrics *guardMetrics
	cfg     jobs.GuardConfig
}

// setupGuard builds a guard on the test's Redis under a key prefix of its
// own. The clock is injected unless cfg.NowFunc is set to nil by realTime.
func setupGuard(t *testing.T, cfg jobs.GuardConfig, realTime bool) *guardBundle {
	t.Helper()
	rdb := mustRedis(t)
	b := &guardBundle{rdb: rdb, clock: testenv.NewClock(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)), metrics: &guardMetrics{}}
	cfg.Redis = rdb
	cfg.KeyPrefix = jobs.GuardKeyPrefix(testenv.Prefix(t, rdb))
	cfg.Metrics = b.metrics
	if !realTime {
		cfg.NowFunc = b.clock.Now
	}
	g, err := jobs.NewGuard(cfg)
	require.NoError(t, err)
	ctl, err := jobs.NewGuardControl(cfg)
	require.NoError(t, err)
	b.guard, b.ctl, b.cfg = g, ctl, cfg
	return b
}

func closeID(i int) string { return fmt.Sprintf("close-%02d", i) }

// admit admits close i and requires it admitted and counted.
func (b *guardBundle) admit(t *testing.T, i int) jobs.AdmitResult {
	t.Helper()
	res, err := b.guard.Admit(t.Context(), jobs.QueueCritical, closeID(i))
	require.NoError(t, err, "close %d", i)
	require.True(t, res.Admitted, "close %d", i)
	return res
}

// requireHeld requires err to be a hold of close i.
func requireHeld(t *testing.T, err error, i int) *jobs.CloseHeldError {
	t.Helper()
	var held *jobs.CloseHeldError
	require.ErrorAs(t, err, &held, "close %d", i)
	require.Equal(t, closeID(i), held.TaskID)
	require.False(t, jobs.IsFailure(err), "a hold spends no retry")
	return held
}

func TestGuardConfigValidation(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	count := func(context.Context) (int, error) { return 10, nil }
	tests := []struct {
		name string
		cfg  jobs.GuardConfig
		want []string // substrings of the error; none: valid
	}{
		{name: "count limit", cfg: jobs.GuardConfig{Redis: rdb, KeyPrefix: "p:", MaxCloses: 3}},
		{name: "percent limit", cfg: jobs.GuardConfig{Redis: rdb, KeyPrefix: "p:", MaxPercent: 5, ManagedUsersFunc: count}},
		{name: "no limit", cfg: jobs.GuardConfig{Redis: rdb, KeyPrefix: "p:"}, want: []string{"neither MaxCloses nor MaxPercent"}},
		{name: "percent without count", cfg: jobs.GuardConfig{Redis: rdb, KeyPrefix: "p:", MaxPercent: 5},
			want: []string{"MaxPercent needs ManagedUsersFunc"}},
		{name: "everything wrong at once", cfg: jobs.GuardConfig{KeyPrefix: "a{b}:", MaxCloses: -1, MaxPercent: 101,
			ManagedUsersFunc: count},
			want: []string{"missing Redis", "braces", "MaxCloses -1 is negative", "MaxPercent 101 is not in [0, 100]"}},
		{name: "missing prefix", cfg: jobs.GuardConfig{Redis: rdb, MaxCloses: 1}, want: []string{"missing KeyPrefix"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := jobs.NewGuard(tt.cfg)
			if len(tt.want) == 0 {
				require.NoError(t, err)
				require.NotNil(t, g)
				return
			}
			require.Error(t, err)
			require.Nil(t, g)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}

	// The control needs no thresholds.
	_, err := jobs.NewGuardControl(jobs.GuardConfig{Redis: rdb, KeyPrefix: "p:"})
	require.NoError(t, err)
	_, err = jobs.NewGuardControl(jobs.GuardConfig{Redis: rdb})
	require.ErrorContains(t, err, "missing KeyPrefix")
}

func TestGuardHeldErrorIsNotAFailure(t *testing.T) {
	t.Parallel()
	held := &jobs.CloseHeldError{TaskID: "t1", RetryIn: 42 * time.Second, Count: 4, Threshold: 3}
	rejected := jobs.Permanent(jobs.ReasonCloseRejected, jobs.ErrCloseRejected)
	tests := []struct {
		name      string
		err       error
		isFailure bool
		delay     time.Duration // -1: backoff, not checked
	}{
		{name: "held", err: held, isFailure: false, delay: 42 * time.Second},
		{name: "held, wrapped", err: fmt.Errorf("close E1: %w", held), isFailure: false, delay: 42 * time.Second},
		{name: "rejected", err: rejected, isFailure: true, delay: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.isFailure, jobs.IsFailure(tt.err))
			if tt.delay >= 0 {
				require.Equal(t, tt.delay, jobs.RetryDelayFunc(3, tt.err, nil))
			}
		})
	}
	require.ErrorIs(t, rejected, asynq.SkipRetry, "a rejected close that runs again is archived")
	require.Equal(t, jobs.ReasonCloseRejected, jobs.ReasonOf(rejected))
	require.Contains(t, held.Error(), "enqueue approve")
}

func TestGuardNilAdmitsEverything(t *testing.T) {
	t.Parallel()
	var g *jobs.Guard
	require.NoError(t, g.Check(t.Context(), jobs.QueueCritical, "t1"))
	res, err := g.Admit(t.Context(), jobs.QueueCritical, "t1")
	require.NoError(t, err)
	require.True(t, res.Admitted)
	st, err := g.Status(t.Context())
	require.NoError(t, err)
	require.False(t, st.Tripped)
}

// TestGuardTripsAtThresholdNotBelow: with MaxCloses n, n closes in the
// window are admitted and none is held; the close after them trips the
// guard.
func TestGuardTripsAtThresholdNotBelow(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 10} {
		t.Run(fmt.Sprintf("max %d", n), func(t *testing.T) {
			t.Parallel()
			b := setupGuard(t, jobs.GuardConfig{MaxCloses: n}, false)
			for i := 1; i <= n; i++ {
				require.NoError(t, b.guard.Check(t.Context(), jobs.QueueCritical, closeID(i)))
				res := b.admit(t, i)
				require.Equal(t, jobs.AdmitResult{Admitted: true, Counted: true, Count: i, Threshold: n}, res)
				b.clock.Advance(time.Minute)
			}
			st, err := b.ctl.Status(t.Context())
			require.NoError(t, err)
			require.False(t, st.Tripped)
			require.Equal(t, n, st.Count)
			require.Empty(t, st.Held)
			require.Zero(t, b.metrics.held.Load(), "nothing below the threshold is held")

			res, err := b.guard.Admit(t.Context(), jobs.QueueCritical, closeID(n+1))
			held := requireHeld(t, err, n+1)
			require.Equal(t, jobs.AdmitResult{Tripped: true, Count: n + 1, Threshold: n}, res)
			require.Equal(t, jobs.DefaultGuardHoldRetryIn, held.RetryIn)
			require.Equal(t, n+1, held.Count)
			require.Equal(t, int64(1), b.metrics.tripped.Load())
		})
	}
}

func TestGuardHoldsWhileTripped(t *testing.T) {
	t.Parallel()
	b := setupGuard(t, jobs.GuardConfig{MaxCloses: 3, HoldRetryIn: 30 * time.Second}, false)
	ctx := t.Context()
	for i := 1; i <= 3; i++ {
		b.admit(t, i)
	}
	res, err := b.guard.Admit(ctx, jobs.QueueCritical, closeID(4))
	requireHeld(t, err, 4)
	require.True(t, res.Tripped)

	// A fifth close is held by Admit without tripping again, a sixth by the
	// pre-check, before any look-up; neither is counted.
	res, err = b.guard.Admit(ctx, jobs.QueueCritical, closeID(5))
	held := requireHeld(t, err, 5)
	require.False(t, res.Tripped)
	require.Equal(t, 3, held.Threshold)
	require.Equal(t, 30*time.Second, jobs.RetryDelayFunc(0, err, nil))
	err = b.guard.Check(ctx, "other-queue", closeID(6))
	held = requireHeld(t, err, 6)
	require.Equal(t, 3, held.Count)
	require.Equal(t, 3, held.Threshold)
	// A held close checking again stays held, once in the list.
	requireHeld(t, b.guard.Check(ctx, jobs.QueueCritical, closeID(4)), 4)

	// A retry of an admitted close passes both.
	require.NoError(t, b.guard.Check(ctx, jobs.QueueCritical, closeID(2)))
	res, err = b.guard.Admit(ctx, jobs.QueueCritical, closeID(2))
	require.NoError(t, err)
	require.Equal(t, jobs.AdmitResult{Admitted: true, Count: 3, Threshold: 3}, res)

	st, err := b.ctl.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Tripped)
	require.Equal(t, b.clock.Now(), st.TrippedAt)
	require.Equal(t, closeID(4), st.TrippedBy)
	require.Equal(t, 4, st.TrippedCount)
	require.Equal(t, 3, st.Threshold)
	require.Equal(t, 3, st.Limit)
	require.Equal(t, 3, st.Count)
	require.Equal(t, time.Hour, st.Window)
	require.Equal(t, []jobs.HeldTask{{Queue: jobs.QueueCritical, TaskID: closeID(4)}, {Queue: jobs.QueueCritical,
		TaskID: closeID(5)}, {Queue: "other-queue", TaskID: closeID(6)}}, st.Held)
	require.Equal(t, int64(1), b.metrics.tripped.Load())
	require.Equal(t, int64(4), b.metrics.held.Load())

	// Time alone does not clear a trip: the window empties, closes stay held.
	b.clock.Advance(2 * time.Hour)
	requireHeld(t, b.guard.Check(ctx, jobs.QueueCritical, closeID(7)), 7)
}

// TestGuardWindowSlides: closes older than the window no longer count, so
// a steady trickle of leavers below the threshold is never held.
func TestGuardWindowSlides(t *testing.T) {
	t.Parallel()
	b := setupGuard(t, jobs.GuardConfig{MaxCloses: 3, Window: time.Hour}, false)
	// Three closes 20 minutes apart, then one every 20 minutes for 10
	// hours: never more than three in an hour.
	for i := 1; i <= 30; i++ {
		require.NoError(t, b.guard.Check(t.Context(), jobs.QueueCritical, closeID(i)))
		res := b.admit(t, i)
		require.True(t, res.Counted)
		require.LessOrEqual(t, res.Count, 3)
		b.clock.Advance(20 * time.Minute)
	}
	require.Zero(t, b.metrics.held.Load())

	// Three within an hour again, then a fourth trips; one hour after the
	// first, it would have been admitted.
	b.clock.Advance(time.Hour)
	for i := 31; i <= 33; i++ {
		b.admit(t, i)
		b.clock.Advance(10 * time.Minute)
	}
	b.clock.Advance(29*time.Minute + 59*time.Second) // 59:59 after close 31
	_, err := b.guard.Admit(t.Context(), jobs.QueueCritical, closeID(34))
	requireHeld(t, err, 34)

	b2 := setupGuard(t, jobs.GuardConfig{MaxCloses: 3, Window: time.Hour}, false)
	for i := 31; i <= 33; i++ {
		b2.admit(t, i)
		b2.clock.Advance(10 * time.Minute)
	}
	b2.clock.Advance(30 * time.Minute) // 1:00:00 after close 31: it left the window
	res := b2.admit(t, 34)
	require.Equal(t, 3, res.Count)
}

// TestGuardRedisTime uses Redis TIME (no injected clock) and a one-second
// window.
func TestGuardRedisTime(t *testing.T) {
	t.Parallel()
	b := setupGuard(t, jobs.GuardConfig{MaxCloses: 2, Window: time.Second}, true)
	ctx := t.Context()
	b.admit(t, 1)
	b.admit(t, 2)
	_, err := b.guard.Admit(ctx, jobs.QueueCritical, closeID(3))
	requireHeld(t, err, 3)
	st, err := b.ctl.Status(ctx)
	require.NoError(t, err)
	require.True(t, st.Tripped)
	require.WithinDuration(t, time.Now(), st.Now, 5*time.Second, "the guard's clock is Redis TIME")

	dec, err := b.ctl.Reject(ctx, "ops")
	require.NoError(t, err)
	require.Equal(t, []jobs.HeldTask{{Queue: jobs.QueueCritical, TaskID: closeID(3)}}, dec.Tasks)
	testenv.WaitFor(t, 5*time.Second, "the window to empty", func() bool {
		st, err := b.ctl.Status(ctx)
		return err == nil && st.Count == 0
	})
	res := b.admit(t, 4)
	require.Equal(t, 1, res.Count)
	res = b.admit(t, 5)
	require.Equal(t, 2, res.Count)
}

func TestGuardRetryIsNotCountedTwice(t *testing.T) {
	t.Parallel()
	b := setupGuard(t, jobs.GuardConfig{MaxCloses: 2}, false)
	require.Equal(t, jobs.AdmitResult{Admitted: true, Counted: true, Count: 1, Threshold: 2}, b.admit(t, 1))
	for range 3 {
		b.clock.Advance(time.Minute)
		require.Equal(t, jobs.AdmitResult{Admitted: true, Count: 1, Threshold: 2}, b.admit(t, 1))
	}
	require.Equal(t, jobs.AdmitResult{Admitted: true, Counted: true, Count: 2, Threshold: 2}, b.admit(t, 2))
	require.False(t, b.admit(t, 1).Counted)
	_, err := b.guard.Admit(t.Context(), jobs.QueueCritical, closeID(3))
	requireHeld(t, err, 3)
}

func TestGuardMaxPercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cfg       jobs.GuardConfig
		threshold int
	}{
		{name: "10% of 20", cfg: jobs.GuardConfig{MaxPercent: 10}, threshold: 2},
		{name: "the lower of both limits", cfg: jobs.GuardConfig{MaxPercent: 10, MaxCloses: 5}, threshold: 2},
		{name: "count limit lower", cfg: jobs.GuardConfig{MaxPercent: 50, MaxCloses: 4}, threshold: 4},
		{name: "at least one", cfg: jobs.GuardConfig{MaxPercent: 1}, threshold: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			tt.cfg.ManagedUsersFunc = func(context.Context) (int, error) {
				calls.Add(1)
				return 20, nil
			}
			b := setupGuard(t, tt.cfg, false)
			for i := 1; i <= tt.threshold; i++ {
				require.Equal(t, tt.threshold, b.admit(t, i).Threshold)
			}
			res, err := b.guard.Admit(t.Context(), jobs.QueueCritical, closeID(tt.threshold+1))
			requireHeld(t, err, tt.threshold+1)
			require.True(t, res.Tripped)
			require.Equal(t, tt.threshold, res.Threshold)
			require.Equal(t, int64(1), calls.Load(), "the count is cached")
		})
	}

	// A failing count: an error (a transient failure) until a first count;
	// then the last count is used.
	fail := atomic.Bool{}
	fail.Store(true)
	b := setupGuard(t, jobs.GuardConfig{MaxPercent: 10, ManagedUsersTTL: time.Nanosecond,
		ManagedUsersFunc: func(context.Context) (int, error) {
			if fail.Load() {
				return 0, errors.New("redis down")
			}
			return 20, nil
		}}, false)
	_, err := b.guard.Admit(t.Context(), jobs.QueueCritical, closeID(1))
	require.ErrorContains(t, err, "count managed users")
	require.True(t, jobs.IsFailure(err))
	fail.Store(false)
	b.admit(t, 1)
	fail.Store(true)
	require.Equal(t, 2, b.admit(t, 2).Threshold)
}

func TestGuardApprove(t *testing.T) {
	t.Parallel()
	b := setupGuard(t, jobs.GuardConfig{MaxCloses: 2, Window: time.Hour}, false)
	ctx := t.Context()

	dec, err := b.ctl.Approve(ctx, "alice", 0)
	require.NoError(t, err)
	require.False(t, dec.WasTripped, "nothing to approve")
	require.Empty(t, dec.Tasks)

	b.admit(t, 1)
	b.admit(t, 2)
	_, err = b.guard.Admit(ctx, jobs.QueueCritical, closeID(3))
	requireHeld(t, err, 3)
	requireHeld(t, b.guard.Check(ctx, jobs.QueueCritical, closeID(4)), 4)
	b.clock.Advance(time.Minute)

	dec, err = b.ctl.Approve(ctx, "alice", 0)
	require.NoError(t, err)
	require.True(t, dec.WasTripped)
	require.Equal(t, []jobs.HeldTask{{Queue: jobs.QueueCritical, TaskID: closeID(3)}, {Queue: jobs.QueueCritical,
		TaskID: closeID(4)}}, dec.Tasks)
	require.Equal(t, b.clock.Now(), dec.At)
	require.Equal(t, b.clock.Now().Add(time.Hour), dec.ApprovedUntil, "an approval lasts the worker's window")

	st, err := b.ctl.Status(ctx)
	require.NoError(t, err)
	require.False(t, st.Tripped)
	require.True(t, st.Approved())
	require.Equal(t, "alice", st.ApprovedBy)
	require.Equal(t, dec.ApprovedUntil, st.ApprovedUntil)
	require.Empty(t, st.Held)

	// The released closes pass; new closes are admitted, uncounted, until
	// the approval ends.
	for _, i := range []int{3, 4} {
		require.NoError(t, b.guard.Check(ctx, jobs.QueueCritical, closeID(i)))
		res := b.admit(t, i)
		require.False(t, res.Counted)
	}
	for i := 5; i <= 20; i++ {
		require.NoError(t, b.guard.Check(ctx, jobs.QueueCritical, closeID(i)))
		res := b.admit(t, i)
		require.True(t, res.Approved)
		require.False(t, res.Counted)
		require.Equal(t, 2, res.Count)
	}

	// After the approval, counting starts afresh; a close admitted during
	// the approval that comes back is still not counted.
	b.clock.Advance(time.Hour)
	st, err = b.ctl.Status(ctx)
	require.NoError(t, err)
	require.False(t, st.Approved())
	require.Zero(t, st.Count)
	require.False(t, b.admit(t, 7).Counted)
	require.True(t, b.admit(t, 21).Counted)
	require.True(t, b.admit(t, 22).Counted)
	_, err = b.guard.Admit(ctx, jobs.QueueCritical, closeID(23))
	requireHeld(t, err, 23)

	// An explicit length.
	dec, err = b.ctl.Approve(ctx, "bob", 10*time.Minute)
	require.NoError(t, err)
	require.Equal(t, b.clock.Now().Add(10*time.Minute), dec.ApprovedUntil)
}

func TestGuardReject(t *testing.T) {
	t.Parallel()
	b := setupGuard(t, jobs.GuardConfig{MaxCloses: 2}, false)
	ctx := t.Context()

	dec, err := b.ctl.Reject(ctx, "bob")
	require.NoError(t, err)
	require.False(t, dec.WasTripped, "nothing to reject")

	b.admit(t, 1)
	b.admit(t, 2)
	for i := 3; i <= 5; i++ {
		_, err = b.guard.Admit(ctx, "q"+fmt.Sprint(6-i), closeID(i))
		requireHeld(t, err, i)
	}
	dec, err = b.ctl.Reject(ctx, "bob")
	require.NoError(t, err)
	require.True(t, dec.WasTripped)
	require.Equal(t, []jobs.HeldTask{{Queue: "q1", TaskID: closeID(5)}, {Queue: "q2", TaskID: closeID(4)},
		{Queue: "q3", TaskID: closeID(3)}}, dec.Tasks)

	st, err := b.ctl.Status(ctx)
	require.NoError(t, err)
	require.False(t, st.Tripped)
	require.Empty(t, st.Held)
	require.Equal(t, "bob", st.RejectedBy)
	require.Equal(t, b.clock.Now(), st.RejectedAt)

	// A rejected close that still runs is archived, at the pre-check or at
	// the write.
	err = b.guard.Check(ctx, "q3", closeID(3))
	require.ErrorIs(t, err, jobs.ErrCloseRejected)
	require.ErrorIs(t, err, asynq.SkipRetry)
	require.Equal(t, jobs.ReasonCloseRejected, jobs.ReasonOf(err))
	_, err = b.guard.Admit(ctx, "q3", closeID(3))
	require.ErrorIs(t, err, jobs.ErrCloseRejected)

	// The window keeps its closes: the next close trips the guard again.
	_, err = b.guard.Admit(ctx, jobs.QueueCritical, closeID(6))
	requireHeld(t, err, 6)
	require.Equal(t, int64(2), b.metrics.tripped.Load())
}

// TestGuardConcurrentAdmit: closes admitted at once by many workers never
// pass the threshold.
func TestGuardConcurrentAdmit(t *testing.T) {
	t.Parallel()
	b := setupGuard(t, jobs.GuardConfig{MaxCloses: 3}, true)
	var admitted, tripped, held atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := b.guard.Admit(context.Background(), jobs.QueueCritical, closeID(i))
			var he *jobs.CloseHeldError
			switch {
			case err == nil && res.Admitted:
				admitted.Add(1)
			case errors.As(err, &he):
				held.Add(1)
				if res.Tripped {
					tripped.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	require.Equal(t, int64(3), admitted.Load())
	require.Equal(t, int64(1), tripped.Load())
	require.Equal(t, int64(17), held.Load())
	st, err := b.ctl.Status(t.Context())
	require.NoError(t, err)
	require.Len(t, st.Held, 17)
	require.Equal(t, 3, st.Count)
}

// TestGuardTripAlerts: a trip is logged with alert=true and published once
// to the audit stream.
func TestGuardTripAlerts(t *testing.T) {
	t.Parallel()
	js := startNATS(t)
	stream, err := jobs.EnsureAuditStream(t.Context(), js, jobs.AuditStreamConfig{})
	require.NoError(t, err)
	var logs bytes.Buffer
	var mu sync.Mutex
	b := setupGuard(t, jobs.GuardConfig{MaxCloses: 1, Audit: js, AuditSource: "test-worker",
		Logger: zerolog.New(&lockedWriter{mu: &mu, w: &logs})}, false)
	b.admit(t, 1)
	_, err = b.guard.Admit(t.Context(), jobs.QueueCritical, closeID(2))
	requireHeld(t, err, 2)
	_, err = b.guard.Admit(t.Context(), jobs.QueueCritical, closeID(3))
	requireHeld(t, err, 3)

	mu.Lock()
	out := logs.String()
	mu.Unlock()
	require.Contains(t, out, `"alert":true`)
	require.Contains(t, out, "mass-deprovisioning guard tripped")
	require.Contains(t, out, `"task_id":"`+closeID(2)+`"`)

	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	require.Equal(t, uint64(1), info.State.Msgs, "one event per trip")
	msg, err := stream.GetMsg(t.Context(), info.State.FirstSeq)
	require.NoError(t, err)
	require.Equal(t, "provisioning."+jobs.OutcomeCloseGuardTripped, msg.Subject)
	var ev jobs.GuardAuditEvent
	require.NoError(t, json.Unmarshal(msg.Data, &ev))
	require.Equal(t, ev.ID, msg.Header.Get(jetstream.MsgIDHeader))
	require.Equal(t, "test-worker", ev.Source)
	require.Equal(t, jobs.GuardAuditData{Outcome: jobs.OutcomeCloseGuardTripped, Count: 2, Threshold: 1,
		WindowSeconds: 3600, TrippedAt: b.clock.Now(),
		Task: jobs.AuditTaskRef{ID: closeID(2), Type: jobs.TypeUserClose, Queue: jobs.QueueCritical}}, ev.Data)
}

// lockedWriter serialises writes to a buffer read by the test.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestGuardIdentityCounter(t *testing.T) {
	t.Parallel()
	rdb := mustRedis(t)
	base := testenv.Prefix(t, rdb)
	prefix := base + "we*ird[x]:jobs:"
	for _, k := range []string{"{emp:E1}:identity", "{emp:E2}:identity", "{emp:E3}:identity", "{emp:E1}:watermark"} {
		require.NoError(t, rdb.Set(t.Context(), prefix+k, "{}", time.Minute).Err())
	}
	// A key the unescaped pattern would match.
	require.NoError(t, rdb.Set(t.Context(), base+"weXXirdx:jobs:{emp:E9}:identity", "{}", time.Minute).Err())
	n, err := jobs.IdentityCounter(rdb, prefix)(t.Context())
	require.NoError(t, err)
	require.Equal(t, 3, n)
}
