package ratelimit_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// bigBurst makes the burst limit irrelevant in tests of the hourly budget.
func bigBurst(cfg ratelimit.Config) ratelimit.Config {
	cfg.DefaultBurstLimit = 1_000_000
	cfg.BurstReserve = -1
	return cfg
}

func TestConcurrencyNeverOverGrants(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	// Halfway through the window the line has released (1000 − 100) / 2.
	clk := testenv.NewClock(start.Add(30 * time.Second))
	cfg := bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 1000, Clock: clk})
	b := setup(t, cfg)
	cfg.KeyPrefix = b.prefix
	lims := []*ratelimit.Limiter{b.lim, newLimiter(t, cfg), newLimiter(t, cfg)}

	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			lim := lims[i%len(lims)]
			p := []ratelimit.Priority{ratelimit.Low, ratelimit.Default}[i%2]
			for {
				_, err := lim.TryAcquire(context.Background(), "acct", 1, p)
				if err != nil {
					if !ratelimit.IsRetry(err) {
						t.Errorf("unexpected error: %v", err)
					}
					return
				}
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(450), granted.Load())

	st, err := b.lim.State(context.Background(), "acct")
	require.NoError(t, err)
	require.Equal(t, 550, st.Remaining)
	require.Equal(t, 450, st.Granted)
	var perProcess int64
	for _, lim := range lims {
		perProcess += lim.Stats("acct").Granted
	}
	require.Equal(t, int64(450), perProcess)
}

func TestConcurrencyRealClockWait(t *testing.T) {
	t.Parallel()
	// Real Redis TIME, 16 goroutines on 3 clients waiting in place: in any
	// window the grants never exceed limit − reserve, and never pass the
	// pacing line by more than a token.
	cfg := bigBurst(ratelimit.Config{Window: 2 * time.Second, BurstWindow: time.Second, DefaultLimit: 100, MaxWait: 5 * time.Second})
	b := setup(t, cfg)
	cfg.KeyPrefix = b.prefix
	lims := []*ratelimit.Limiter{b.lim, newLimiter(t, cfg), newLimiter(t, cfg)}

	var mu sync.Mutex
	grants := map[int64][]time.Time{} // window end → grant times
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				g, err := lims[i%len(lims)].Wait(ctx, "acct", 1, ratelimit.Default)
				if err != nil {
					if in, ok := ratelimit.RetryIn(err); ok {
						_ = sleepCtx(ctx, in)
						continue
					}
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("unexpected error: %v", err)
					}
					return
				}
				mu.Lock()
				grants[g.WindowEnd.UnixMilli()] = append(grants[g.WindowEnd.UnixMilli()], g.At)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for end, ts := range grants {
		require.LessOrEqual(t, len(ts), 90, "window ending %d", end)
		start := time.UnixMilli(end).Add(-2 * time.Second)
		pace := ratelimit.Pace{AnchorAt: start, AnchorRemaining: 100, WindowEnd: time.UnixMilli(end), Reserve: 10}
		for _, at := range ts {
			released := 100 - pace.Floor(at)
			n := 0
			for _, other := range ts {
				if !other.After(at) {
					n++
				}
			}
			require.LessOrEqual(t, float64(n), released+1e-6, "grant at %s passes the line", at)
		}
		total += len(ts)
	}
	require.Positive(t, total)
}

// sleepCtx sleeps d or until ctx ends (used to honour a RetryIn in tests).
func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

func TestObserveSameWindow(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	tests := []struct {
		name          string
		observed      []int
		wantRemaining int
	}{
		{name: "lower remaining is taken", observed: []int{400}, wantRemaining: 400},
		{name: "higher remaining is ignored", observed: []int{400, 450}, wantRemaining: 400},
		{name: "lowest of several wins", observed: []int{500, 300, 350}, wantRemaining: 300},
		{name: "above the local view is ignored", observed: []int{700}, wantRemaining: 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testenv.NewClock(start.Add(10 * time.Second))
			b := setup(t, ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk})
			ctx := context.Background()
			for _, rem := range tt.observed {
				r, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{
					HasHourly: true, Limit: 600, Remaining: rem, Reset: start.Add(time.Minute),
				})
				require.NoError(t, err)
				require.True(t, r.HourlyApplied)
				require.False(t, r.NewWindow)
				clk.Advance(time.Second)
			}
			st, err := b.lim.State(ctx, "acct")
			require.NoError(t, err)
			require.Equal(t, tt.wantRemaining, st.Remaining)
			require.True(t, st.WindowObserved)
			require.Equal(t, start.Add(time.Minute), st.WindowEnd)
		})
	}
}

func TestObserveNewWindowReplaces(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(59 * time.Second))
	b := setup(t, ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk})
	ctx := context.Background()
	_, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 20, Reset: start.Add(time.Minute)})
	require.NoError(t, err)

	// The server's clock is slightly ahead: a reply from its next window
	// arrives before the limiter's window ends.
	r, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{
		HasHourly: true, Limit: 900, Remaining: 880, Reset: start.Add(2 * time.Minute),
	})
	require.NoError(t, err)
	require.True(t, r.NewWindow)
	require.Equal(t, 880, r.State.Remaining)
	require.Equal(t, 900, r.State.Limit)
	require.Equal(t, 90, r.State.Reserve)
	require.Equal(t, start.Add(2*time.Minute), r.State.WindowEnd)
	require.Equal(t, 0, r.State.Granted)
}

func TestObserveOlderWindowIgnored(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(time.Minute + 5*time.Second))
	b := setup(t, ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk})
	ctx := context.Background()
	_, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 500, Reset: start.Add(2 * time.Minute)})
	require.NoError(t, err)

	// A late reply from the previous window.
	r, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 3, Reset: start.Add(time.Minute)})
	require.NoError(t, err)
	require.False(t, r.HourlyApplied)
	require.Equal(t, 500, r.State.Remaining)

	// Once a window is confirmed, an earlier reset still in the future is
	// older too.
	r, err = b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 3, Reset: start.Add(time.Minute + 30*time.Second)})
	require.NoError(t, err)
	require.False(t, r.HourlyApplied)
	require.Equal(t, 500, r.State.Remaining)
}

func TestObserveAdoptsServerWindowPhase(t *testing.T) {
	t.Parallel()
	// Until a reply confirms it, the window is a guess aligned to Window; a
	// reply with another reset moves the window there, and rollovers keep
	// that phase.
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(10 * time.Second))
	b := setup(t, ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk})
	ctx := context.Background()
	st, err := b.lim.State(ctx, "acct")
	require.NoError(t, err)
	require.False(t, st.WindowObserved)
	require.Equal(t, start.Add(time.Minute), st.WindowEnd)

	r, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 100, Reset: start.Add(30 * time.Second)})
	require.NoError(t, err)
	require.True(t, r.NewWindow)
	require.Equal(t, start.Add(30*time.Second), r.State.WindowEnd)

	clk.Set(start.Add(45 * time.Second))
	st, err = b.lim.State(ctx, "acct")
	require.NoError(t, err)
	require.Equal(t, start.Add(90*time.Second), st.WindowEnd)
	require.Equal(t, 600, st.Remaining)
}

func TestObserveBurst(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	tests := []struct {
		name        string
		at, sentAt  time.Duration // offsets from the window start
		wantApplied bool
		wantRem     int
	}{
		{name: "same burst window lowers", at: 7 * time.Second, sentAt: 6 * time.Second, wantApplied: true, wantRem: 30},
		{name: "request time unknown", at: 7 * time.Second, wantApplied: true, wantRem: 30},
		{name: "request from the previous burst window", at: 7 * time.Second, sentAt: 4999 * time.Millisecond, wantRem: 100},
		{name: "reply from the previous burst window", at: 4 * time.Second, wantRem: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testenv.NewClock(start.Add(8 * time.Second))
			b := setup(t, ratelimit.Config{Window: time.Minute, BurstWindow: 5 * time.Second, DefaultLimit: 600, DefaultBurstLimit: 100, Clock: clk})
			o := ratelimit.Observation{HasBurst: true, BurstLimit: 100, BurstRemaining: 30, At: start.Add(tt.at)}
			if tt.sentAt > 0 {
				o.SentAt = start.Add(tt.sentAt)
			}
			r, err := b.lim.Observe(context.Background(), "acct", o)
			require.NoError(t, err)
			require.Equal(t, tt.wantApplied, r.BurstApplied)
			require.Equal(t, tt.wantRem, r.State.BurstRemaining)
			require.Equal(t, start.Add(10*time.Second), r.State.BurstWindowEnd)
		})
	}
}

func TestRateLimitedHourly(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(30 * time.Second))
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk}))
	ctx := context.Background()

	_, err := b.lim.TryAcquire(ctx, "acct", 1, ratelimit.Critical)
	require.NoError(t, err)
	require.NoError(t, b.lim.ObserveRateLimited(ctx, "acct", ratelimit.Hourly, start.Add(time.Minute)))

	_, err = b.lim.TryAcquire(ctx, "acct", 1, ratelimit.Critical)
	var re *ratelimit.RetryError
	require.ErrorAs(t, err, &re)
	require.Equal(t, ratelimit.ReasonHourly, re.Reason)
	// The next window's first token: its end plus one paced interval
	// (60 s / 540 tokens, rounded up to the millisecond).
	require.Equal(t, 30*time.Second+112*time.Millisecond, re.RetryIn)

	// A reply in the same window cannot lift the block.
	clk.Advance(10 * time.Second)
	_, err = b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 300, Reset: start.Add(time.Minute)})
	require.NoError(t, err)
	n, re := drain(t, b.lim, "acct", ratelimit.Critical)
	require.Zero(t, n)
	require.Equal(t, ratelimit.ReasonHourly, re.Reason)

	clk.Set(start.Add(time.Minute + 30*time.Second))
	n, _ = drain(t, b.lim, "acct", ratelimit.Critical)
	require.Equal(t, 270, n)
	require.Equal(t, int64(1), b.lim.Stats("acct").ThrottledHourly)
}

func TestRateLimitedBurst(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(50*time.Second + 1500*time.Millisecond))
	b := setup(t, ratelimit.Config{Window: time.Minute, BurstWindow: 5 * time.Second, DefaultLimit: 6000, DefaultBurstLimit: 100, Clock: clk})
	ctx := context.Background()
	require.NoError(t, b.lim.ObserveRateLimited(ctx, "acct", ratelimit.Burst, time.Time{}))

	_, err := b.lim.TryAcquire(ctx, "acct", 1, ratelimit.Default)
	var re *ratelimit.RetryError
	require.ErrorAs(t, err, &re)
	require.Equal(t, ratelimit.ReasonBurst, re.Reason)
	require.Equal(t, 3500*time.Millisecond, re.RetryIn)

	clk.Set(start.Add(55 * time.Second))
	n, _ := drain(t, b.lim, "acct", ratelimit.Default)
	require.Equal(t, 90, n, "a fresh burst window minus the 10 % burst reserve")
	require.Equal(t, int64(1), b.lim.Stats("acct").ThrottledBurst)
}

func TestReserveRespected(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	tests := []struct {
		name        string
		reserve     float64
		wantReserve int
	}{
		{name: "default 10 %", reserve: 0, wantReserve: 60},
		{name: "25 %", reserve: 0.25, wantReserve: 150},
		{name: "none", reserve: -1, wantReserve: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testenv.NewClock(start.Add(6 * time.Second))
			b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Reserve: tt.reserve, Clock: clk}))
			ctx := context.Background()
			// Other integrations spent 300 by the time of this reply.
			r, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 300, Reset: start.Add(time.Minute)})
			require.NoError(t, err)
			require.Equal(t, tt.wantReserve, r.State.Reserve)

			// At the last millisecond of the window all but the reserve is out.
			clk.Set(start.Add(time.Minute - time.Millisecond))
			n, re := drain(t, b.lim, "acct", ratelimit.Low)
			require.Equal(t, 300-tt.wantReserve-1, n)
			require.Equal(t, ratelimit.ReasonHourly, re.Reason)
			st, err := b.lim.State(ctx, "acct")
			require.NoError(t, err)
			require.GreaterOrEqual(t, st.Remaining, tt.wantReserve)
		})
	}
}

func TestPacingSpreadsGrants(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start)
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk}))
	// Step through the window in hundredths, taking everything allowed: the
	// 540 releasable tokens come out evenly, 5.4 per step, none ahead.
	total := 0
	for k := range 100 {
		clk.Set(start.Add(time.Duration(k) * 600 * time.Millisecond))
		n, _ := drain(t, b.lim, "acct", ratelimit.Default)
		total += n
		require.Equal(t, 540*k/100, total, "cumulative grants at step %d", k)
	}
	clk.Set(start.Add(time.Minute - time.Millisecond))
	n, _ := drain(t, b.lim, "acct", ratelimit.Default)
	require.Equal(t, 539, total+n)
}

func TestPacingReDrawnAfterForeignSpend(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(20 * time.Second))
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk}))
	ctx := context.Background()
	// Other integrations spent 400 in the first third: the 140 left above the
	// reserve are spread over the 40 s left, not withheld until the line
	// catches up.
	r, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 200, Reset: start.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, start.Add(20*time.Second), r.State.Pace.AnchorAt)
	require.Equal(t, 200, r.State.Pace.AnchorRemaining)
	require.InDelta(t, 3.5, r.State.Pace.Rate(), 1e-9)

	clk.Set(start.Add(40 * time.Second))
	n, _ := drain(t, b.lim, "acct", ratelimit.Default)
	require.Equal(t, 70, n)

	// Idle time is kept as credit: an observation at or above the line does
	// not re-draw it.
	clk.Set(start.Add(50 * time.Second))
	r, err = b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 128, Reset: start.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, start.Add(20*time.Second), r.State.Pace.AnchorAt)
	n, _ = drain(t, b.lim, "acct", ratelimit.Default)
	require.Equal(t, 33, n)
}

func TestBurstNeverExceeded(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(40 * time.Second))
	b := setup(t, ratelimit.Config{Window: time.Minute, BurstWindow: 5 * time.Second, DefaultLimit: 100_000, DefaultBurstLimit: 20, Clock: clk})
	ctx := context.Background()
	for w := range 3 {
		bs := start.Add(40*time.Second + time.Duration(w)*5*time.Second)
		clk.Set(bs)
		n, re := drain(t, b.lim, "acct", ratelimit.Default)
		require.Equal(t, 18, n, "burst window %d: 20 minus the 2-call burst reserve", w)
		require.Equal(t, ratelimit.ReasonBurst, re.Reason)
		require.Equal(t, 5*time.Second, re.RetryIn)
		clk.Set(bs.Add(4 * time.Second))
		n, _ = drain(t, b.lim, "acct", ratelimit.Default)
		require.Zero(t, n)
	}

	// Other integrations' calls lower the current burst window.
	clk.Set(start.Add(65 * time.Second))
	_, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasBurst: true, BurstLimit: 20, BurstRemaining: 7})
	require.NoError(t, err)
	n, _ := drain(t, b.lim, "acct", ratelimit.Default)
	require.Equal(t, 5, n)
}

func TestScriptMatchesPaceMath(t *testing.T) {
	t.Parallel()
	// The Lua decisions and retry times equal Pace's, for random states.
	rng := rand.New(rand.NewPCG(4, 2))
	start := windowStart(time.Minute)
	for i := range 60 {
		obsAt := start.Add(time.Duration(rng.IntN(59_000)) * time.Millisecond)
		remaining := 60 + rng.IntN(541)
		askAt := obsAt.Add(time.Duration(rng.IntN(int(start.Add(time.Minute).Sub(obsAt).Milliseconds()))) * time.Millisecond)
		n := 1 + rng.IntN(5)

		clk := testenv.NewClock(obsAt)
		b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk}))
		ctx := context.Background()
		r, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: remaining, Reset: start.Add(time.Minute)})
		require.NoError(t, err)
		st := r.State
		clk.Set(askAt)
		_, err = b.lim.TryAcquire(ctx, "acct", n, ratelimit.Default)

		ready, ok := st.Pace.ReadyAt(askAt, st.Remaining, n)
		if ok && ready.Equal(askAt) {
			require.NoError(t, err, "case %d: %+v at %s n=%d", i, st.Pace, askAt, n)
			continue
		}
		var re *ratelimit.RetryError
		require.ErrorAs(t, err, &re, "case %d", i)
		if ok {
			require.Equal(t, ratelimit.ReasonPaced, re.Reason, "case %d", i)
			require.Equal(t, ready.Sub(askAt), re.RetryIn, "case %d", i)
		} else {
			require.Equal(t, ratelimit.ReasonHourly, re.Reason, "case %d", i)
		}
	}
}

func TestForeignEstimate(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(30 * time.Second))
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk}))
	ctx := context.Background()
	obs := func(rem int) ratelimit.State {
		r, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: rem, Reset: start.Add(time.Minute)})
		require.NoError(t, err)
		return r.State
	}
	take := func(n int) {
		for range n {
			_, err := b.lim.TryAcquire(ctx, "acct", 1, ratelimit.Default)
			require.NoError(t, err)
		}
	}
	take(10)
	require.Equal(t, 25, obs(600-10-25).Foreign)
	take(5)
	require.Equal(t, 32, obs(600-15-32).Foreign)
	require.Equal(t, 32, obs(600-15-20).Foreign, "a stale, higher reply changes nothing")
	require.Equal(t, 32, b.lim.Stats("acct").Foreign)

	clk.Set(start.Add(time.Minute + time.Second))
	st, err := b.lim.State(ctx, "acct")
	require.NoError(t, err)
	require.Zero(t, st.Foreign)
}

func TestWindowRollover(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Hour)
	clk := testenv.NewClock(start.Add(20 * time.Minute))
	b := setup(t, ratelimit.Config{Clock: clk}) // defaults: 3000/h, aligned to the hour
	ctx := context.Background()
	st, err := b.lim.State(ctx, "acct")
	require.NoError(t, err)
	require.Equal(t, start.Add(time.Hour), st.WindowEnd)
	require.Equal(t, 3000, st.Limit)
	require.Equal(t, 300, st.Reserve)
	require.Equal(t, 500, st.BurstLimit)
	require.InDelta(t, 900, st.Available(), 1e-9)

	clk.Set(start.Add(time.Hour - time.Millisecond))
	n, _ := drain(t, b.lim, "acct", ratelimit.Default)
	require.Equal(t, 450, n, "the burst limit minus its reserve")

	clk.Set(start.Add(time.Hour + 6*time.Minute))
	st, err = b.lim.State(ctx, "acct")
	require.NoError(t, err)
	require.Equal(t, start.Add(2*time.Hour), st.WindowEnd)
	require.Equal(t, 3000, st.Remaining)
	require.InDelta(t, 270, st.Available(), 1e-9)
}

func TestWaitInPlace(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(30 * time.Second))
	// 100 tokens a second: the next token is near, so Wait sleeps in place,
	// retrying until the test moves the clock on.
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 6000, Reserve: -1, Clock: clk}))
	drain(t, b.lim, "acct", ratelimit.Low)

	type result struct {
		g   ratelimit.Grant
		err error
	}
	done := make(chan result, 1)
	go func() {
		g, err := b.lim.Wait(context.Background(), "acct", 1, ratelimit.Critical)
		done <- result{g, err}
	}()
	claims := b.prefix + "{acct}:claims:critical"
	waitFor(t, 2*time.Second, "the waiter's claim", func() bool {
		return b.rdb.ZCard(context.Background(), claims).Val() == 1
	})
	clk.Advance(time.Second)
	var r result
	select {
	case r = <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Wait did not take the released token")
	}
	require.NoError(t, r.err)
	require.GreaterOrEqual(t, r.g.Attempts, 2)
	require.Positive(t, r.g.Waited)
	require.Equal(t, start.Add(31*time.Second), r.g.At)
	require.Zero(t, b.rdb.ZCard(context.Background(), claims).Val(), "the grant cleared the claim")
	st := b.lim.Stats("acct")
	require.Equal(t, int64(1), st.Waits)
	require.Equal(t, r.g.Waited, st.LastWait)
	require.Equal(t, int64(1), st.ByPriority[ratelimit.Critical].Waits)
}

func TestWaitReturnsRetryError(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(30 * time.Second))
	// 20 per minute without reserve: a token every 3 s, more than MaxWait.
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 20, Reserve: -1, Clock: clk}))
	ctx := context.Background()
	n, _ := drain(t, b.lim, "acct", ratelimit.Default)
	require.Equal(t, 10, n)
	parked := b.lim.Stats("acct").Parked

	began := time.Now()
	_, err := b.lim.Wait(ctx, "acct", 1, ratelimit.Default)
	require.Less(t, time.Since(began), time.Second, "a long wait is not slept")
	require.True(t, ratelimit.IsRetry(err))
	in, ok := ratelimit.RetryIn(err)
	require.True(t, ok)
	require.Equal(t, 3*time.Second, in)
	require.ErrorContains(t, err, `default budget "acct": paced, retry in 3s`)
	require.Equal(t, parked+1, b.lim.Stats("acct").Parked)
}

func TestWaitRespectsDeadline(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(30 * time.Second))
	// A token every 600 ms: within MaxWait, but not within the deadline.
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 100, Reserve: -1, Clock: clk}))
	drain(t, b.lim, "acct", ratelimit.Default)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := b.lim.Wait(ctx, "acct", 1, ratelimit.Default)
	require.Less(t, time.Since(began), 150*time.Millisecond)
	in, ok := ratelimit.RetryIn(err)
	require.True(t, ok, "got %v", err)
	require.Equal(t, 600*time.Millisecond, in)
}

func TestCancellation(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	// The clock stands still: the token never comes, Wait sleeps in place.
	clk := testenv.NewClock(start.Add(30 * time.Second))
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 100, Reserve: -1, MaxWait: time.Minute, Clock: clk}))
	drain(t, b.lim, "acct", ratelimit.Low)
	claims := b.prefix + "{acct}:claims:critical"

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.lim.Wait(ctx, "acct", 1, ratelimit.Critical)
		errc <- err
	}()
	waitFor(t, 2*time.Second, "the waiter's claim", func() bool {
		return b.rdb.ZCard(context.Background(), claims).Val() == 1
	})
	began := time.Now()
	cancel()
	select {
	case err := <-errc:
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorContains(t, err, `ratelimit: wait for "acct"`)
	case <-time.After(2 * time.Second):
		t.Fatal("Wait ignored the cancellation")
	}
	require.Less(t, time.Since(began), time.Second)
	require.Zero(t, b.rdb.ZCard(context.Background(), claims).Val(), "the claim was withdrawn")
}

func TestRedisUnavailable(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	tests := []struct {
		name     string
		failOpen bool
		// ctx is the caller's context: each kind takes its own path to the
		// round trip's deadline (see startCall).
		ctx func(t *testing.T) context.Context
	}{
		{name: "fail closed"},
		{name: "fail open", failOpen: true},
		{name: "fail closed, cancellable context", ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			return ctx
		}},
		{name: "fail closed, context with a later deadline", ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			t.Cleanup(cancel)
			return ctx
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { _ = rdb.Close() })
			lim, err := ratelimit.New(rdb, ratelimit.Config{FailOpen: tt.failOpen})
			require.NoError(t, err)
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx(t)
			}

			began := time.Now()
			g, err := lim.Wait(ctx, "acct", 1, ratelimit.Critical)
			require.Less(t, time.Since(began), 1500*time.Millisecond, "Config.Timeout (1 s) bounds the round trip")
			st := lim.Stats("acct")
			require.Equal(t, int64(1), st.Unavailable)
			if tt.failOpen {
				require.NoError(t, err)
				require.True(t, g.FailOpen)
				require.Equal(t, int64(1), st.FailOpenGrants)
			} else {
				require.ErrorIs(t, err, ratelimit.ErrUnavailable)
				require.False(t, ratelimit.IsRetry(err))
				require.ErrorContains(t, err, "ratelimit: redis unavailable: acquire acct: no reply within 1s: context deadline exceeded")
				require.ErrorContains(t, err, "DocuSign calls are held until Redis is back")
			}

			_, err = lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 10, Remaining: 5})
			require.ErrorIs(t, err, ratelimit.ErrUnavailable)
		})
	}
}

func TestRequestTooLarge(t *testing.T) {
	t.Parallel()
	b := setup(t, ratelimit.Config{Window: time.Minute, DefaultLimit: 600, DefaultBurstLimit: 100})
	_, err := b.lim.Wait(context.Background(), "acct", 91, ratelimit.Default)
	require.ErrorIs(t, err, ratelimit.ErrTooLarge)
	require.False(t, ratelimit.IsRetry(err))
}

// scriptCalls records the packed argument (ARGV[1]: configuration, then the
// call) of every script a client runs successfully, with its number of
// float64 values: 14 for the acquire script (three keys; the waiter ID
// follows), 18 for the observe script (one key).
type scriptCalls struct {
	mu    sync.Mutex
	calls []scriptCall
}

type scriptCall struct {
	argv   string
	values int
}

func (s *scriptCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (s *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd) // an EVALSHA refused with NOSCRIPT is sent again as EVAL
		// EVALSHA sha numkeys key… ARGV[1]
		if args := cmd.Args(); err == nil && (cmd.Name() == "evalsha" || cmd.Name() == "eval") {
			if nk, ok := args[2].(int); ok && len(args) == 4+nk {
				if argv, ok := args[3+nk].(string); ok {
					values := 18
					if nk == 3 {
						values = 14
					}
					s.mu.Lock()
					s.calls = append(s.calls, scriptCall{argv: argv, values: values})
					s.mu.Unlock()
				}
			}
		}
		return err
	}
}

// take returns the calls recorded so far and forgets them.
func (s *scriptCalls) take() []scriptCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}

// callValue is the i-th float64 of a packed script argument.
func callValue(call string, i int) float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64([]byte(call[8*i : 8*i+8])))
}

// nowSlot is the index of the call's time (ms; 0 = Redis TIME) in a packed
// script argument: after the seven configuration values.
const nowSlot = 7

// TestRedisTimeIsTheClock checks that without Config.Clock the client sends
// no time at all, so the scripts must take it from Redis TIME: a Redis script
// has no other clock (no os library; checked below). A limiter that sent its
// own clock fails the argument checks even though both clocks agree on this
// machine. The injected clock shows that the checks look at the right value:
// its time is sent and then is the state's time.
func TestRedisTimeIsTheClock(t *testing.T) {
	t.Parallel()
	b := setup(t, ratelimit.Config{})
	rec := &scriptCalls{}
	b.rdb.AddHook(rec)
	ctx := context.Background()

	// The premise: a script cannot read the clock but through redis.call('TIME').
	require.Error(t, b.rdb.Eval(ctx, "return os.time()", nil).Err(), "Redis Lua has a clock of its own now")

	g, err := b.lim.Wait(ctx, "acct", 1, ratelimit.Default)
	require.NoError(t, err)
	st, err := b.lim.State(ctx, "acct")
	require.NoError(t, err)
	calls := rec.take()
	require.Len(t, calls, 2, "one acquire and one state script")
	now := float64(time.Now().UnixMilli())
	for _, call := range calls {
		require.Zero(t, callValue(call.argv, nowSlot), "the client sent its time")
		// Not in another slot either, in seconds, milliseconds or microseconds.
		for i := range call.values {
			v := callValue(call.argv, i)
			for _, unit := range []float64{1e-3, 1, 1e3} {
				require.Greater(t, math.Abs(v-now*unit), 86400e3*unit, "value %d of the call is the client's time", i)
			}
		}
	}
	// Some clock was read, and it is wall time: Redis TIME.
	require.WithinDuration(t, time.Now(), st.Now, 2*time.Second)
	require.WithinDuration(t, time.Now(), g.At, 2*time.Second)
	require.Equal(t, st.Now.Truncate(time.Hour).Add(time.Hour).UnixMilli(), st.WindowEnd.UnixMilli())

	// The control: an injected clock (March 2027) is sent and becomes the
	// state's time.
	clk := testenv.NewClock(windowStart(time.Hour).Add(90 * time.Second))
	lim, err := ratelimit.New(b.rdb, ratelimit.Config{KeyPrefix: b.prefix + "clock:", Clock: clk})
	require.NoError(t, err)
	_, err = lim.Wait(ctx, "acct", 1, ratelimit.Default)
	require.NoError(t, err)
	st, err = lim.State(ctx, "acct")
	require.NoError(t, err)
	calls = rec.take()
	require.Len(t, calls, 2)
	for _, call := range calls {
		require.Equal(t, float64(clk.Now().UnixMilli()), callValue(call.argv, nowSlot))
	}
	require.Equal(t, clk.Now(), st.Now)
}

func TestStatsSnapshot(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(30 * time.Second))
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 600, Clock: clk}))
	ctx := context.Background()
	for _, p := range []ratelimit.Priority{ratelimit.Critical, ratelimit.Critical, ratelimit.Low} {
		_, err := b.lim.TryAcquire(ctx, "a", 2, p)
		require.NoError(t, err)
	}
	_, err := b.lim.TryAcquire(ctx, "b", 1, ratelimit.Default)
	require.NoError(t, err)

	snap := b.lim.Snapshot()
	require.Len(t, snap, 2)
	a := snap["a"]
	require.Equal(t, int64(6), a.Granted)
	require.Equal(t, int64(3), a.Grants)
	require.Equal(t, int64(3), a.Attempts)
	require.Equal(t, 594, a.Remaining)
	require.Equal(t, 600, a.Limit)
	require.Equal(t, 60, a.Reserve)
	require.Equal(t, start.Add(time.Minute), a.WindowEnd)
	require.Equal(t, int64(2), a.ByPriority[ratelimit.Critical].Grants)
	require.Equal(t, int64(1), a.ByPriority[ratelimit.Low].Grants)
	require.Equal(t, int64(1), snap["b"].Granted)
	require.Equal(t, "never-used", b.lim.Stats("never-used").Key)
}

func TestInvalidArguments(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	lim, err := ratelimit.New(rdb, ratelimit.Config{})
	require.NoError(t, err)
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
	}{
		{name: "empty key", call: func() error { _, err := lim.Wait(ctx, "", 1, ratelimit.Default); return err }},
		{name: "zero tokens", call: func() error { _, err := lim.TryAcquire(ctx, "a", 0, ratelimit.Default); return err }},
		{name: "unknown priority", call: func() error { _, err := lim.Wait(ctx, "a", 1, ratelimit.Priority(7)); return err }},
		{name: "negative remaining", call: func() error {
			_, err := lim.Observe(ctx, "a", ratelimit.Observation{HasHourly: true, Remaining: -1})
			return err
		}},
		{name: "unknown limit kind", call: func() error { return lim.ObserveRateLimited(ctx, "a", 0, time.Time{}) }},
		{name: "state of empty key", call: func() error { _, err := lim.State(ctx, ""); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.ErrorIs(t, tt.call(), ratelimit.ErrInvalid)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = rdb.Close() })
	_, err := ratelimit.New(rdb, ratelimit.Config{Window: time.Millisecond, Reserve: 2})
	require.ErrorContains(t, err, "ratelimit: invalid config: ")
	require.ErrorContains(t, err, "Window 1ms")
	require.ErrorContains(t, err, "Reserve 2")
	_, err = ratelimit.New(nil, ratelimit.Config{})
	require.Error(t, err)
}

// forgetfulRedis answers the first EVALSHA as a Redis whose script cache was
// flushed would (NOSCRIPT), and counts EVALs.
type forgetfulRedis struct {
	*redis.Client
	forgot atomic.Bool
	evals  atomic.Int32
}

func (c *forgetfulRedis) EvalSha(ctx context.Context, sha string, keys []string, args ...any) *redis.Cmd {
	if c.forgot.CompareAndSwap(false, true) {
		sha = "0000000000000000000000000000000000000000" // unknown to Redis: NOSCRIPT
	}
	return c.Client.EvalSha(ctx, sha, keys, args...)
}

func (c *forgetfulRedis) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	c.evals.Add(1)
	return c.Client.Eval(ctx, script, keys, args...)
}

func TestScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	b := setup(t, ratelimit.Config{})
	rdb := &forgetfulRedis{Client: b.rdb}
	lim, err := ratelimit.New(rdb, ratelimit.Config{KeyPrefix: b.prefix, Clock: testenv.NewClock(windowStart(time.Hour).Add(time.Minute))})
	require.NoError(t, err)
	_, err = lim.TryAcquire(context.Background(), "acct", 1, ratelimit.Default)
	require.NoError(t, err, "NOSCRIPT falls back to EVAL")
	require.Equal(t, int32(1), rdb.evals.Load())
	_, err = lim.TryAcquire(context.Background(), "acct", 1, ratelimit.Default)
	require.NoError(t, err)
	require.Equal(t, int32(1), rdb.evals.Load(), "then EVALSHA again")
}
