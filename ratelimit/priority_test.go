package ratelimit_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// attempt is one acquire round trip seen on the wire.
type attempt struct {
	sent, replied time.Time
	rank          string // 0 critical, 1 default, 2 low
	waiter        string
	code          int64 // first value of the reply: 0 granted
}

// acquireRecorder is a go-redis hook that records every acquire-script call
// (the only script with three keys) with client-side send and reply times.
type acquireRecorder struct {
	mu       sync.Mutex
	attempts []attempt
}

func (r *acquireRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *acquireRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (r *acquireRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		// EVALSHA sha 3 key claims claims call, the call being the packed
		// configuration (7 values), the acquire values (7) and the waiter ID
		isAcquire := (cmd.Name() == "evalsha" || cmd.Name() == "eval") && len(args) == 7 && fmt.Sprint(args[2]) == "3"
		sent := time.Now()
		err := next(ctx, cmd)
		replied := time.Now()
		if !isAcquire || err != nil {
			return err
		}
		c, ok := cmd.(*redis.Cmd)
		if !ok {
			return err
		}
		reply, verr := c.Text() // packed float64 values, the reply code first
		if verr != nil || len(reply) < 8 {
			return err
		}
		code := int64(math.Float64frombits(binary.LittleEndian.Uint64([]byte(reply[:8]))))
		r.mu.Lock()
		call := fmt.Sprint(args[6]) // packed: configuration, then now, n, rank, …
		rank := math.Float64frombits(binary.LittleEndian.Uint64([]byte(call[9*8 : 10*8])))
		r.attempts = append(r.attempts, attempt{sent: sent, replied: replied,
			rank: fmt.Sprint(rank), waiter: call[14*8:], code: code})
		r.mu.Unlock()
		return err
	}
}

// TestPriorityMeasured runs critical and low waiters against scarce tokens
// on real Redis TIME, then checks from the recorded round trips that no low
// grant ran while a critical waiter held a claim (its first refusal had
// returned and its grant had not been sent yet), and that critical waits are
// shorter.
func TestPriorityMeasured(t *testing.T) {
	t.Parallel()
	// 50 tokens a second, no reserve, the burst limit out of the way.
	cfg := bigBurst(ratelimit.Config{Window: 10 * time.Second, BurstWindow: time.Second, DefaultLimit: 500, Reserve: -1, MaxWait: 10 * time.Second})
	rec := &acquireRecorder{}
	var lims []*ratelimit.Limiter
	prefix := ""
	for range 2 {
		rdb := redis.NewClient(testenv.RedisOptions(t))
		t.Cleanup(func() { _ = rdb.Close() })
		rdb.AddHook(rec)
		require.NoError(t, rdb.Ping(context.Background()).Err())
		if prefix == "" {
			prefix = testenv.Prefix(t, rdb)
		}
		cfg.KeyPrefix = prefix
		lim, err := ratelimit.New(rdb, cfg)
		require.NoError(t, err)
		lims = append(lims, lim)
	}
	// Spend what the window has released so far: from now on tokens are scarce.
	drain(t, lims[0], "acct", ratelimit.Low)
	rec.mu.Lock()
	rec.attempts = nil
	rec.mu.Unlock()

	const perWorker = 8
	type result struct {
		p    ratelimit.Priority
		wait time.Duration
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 8 {
		p := ratelimit.Critical
		if i%2 == 1 {
			p = ratelimit.Low
		}
		lim := lims[(i/2)%len(lims)] // each client serves both priorities
		wg.Go(func() {
			for range perWorker {
				began := time.Now()
				for {
					_, err := lim.Wait(ctx, "acct", 1, p)
					if err == nil {
						break
					}
					in, ok := ratelimit.RetryIn(err)
					if !ok {
						t.Errorf("%s: unexpected error: %v", p, err)
						return
					}
					if sleepCtx(ctx, in) != nil {
						t.Errorf("%s: test timed out", p)
						return
					}
				}
				mu.Lock()
				results = append(results, result{p: p, wait: time.Since(began)})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, results, 8*perWorker)

	// p95 of the waits per priority.
	p95 := func(p ratelimit.Priority) time.Duration {
		var ws []time.Duration
		for _, r := range results {
			if r.p == p {
				ws = append(ws, r.wait)
			}
		}
		slices.Sort(ws)
		return ws[(len(ws)*95+99)/100-1]
	}
	crit, low := p95(ratelimit.Critical), p95(ratelimit.Low)
	t.Logf("p95 wait: critical %s, low %s", crit, low)
	require.Less(t, crit, low)

	// Claim intervals of critical waiters: from the reply to their first
	// refusal to the sending of their grant.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	type interval struct{ from, to time.Time }
	firstRefusal := map[string]time.Time{}
	var claims []interval
	for _, a := range rec.attempts {
		if a.rank != "0" {
			continue
		}
		if a.code != 0 {
			if _, ok := firstRefusal[a.waiter]; !ok {
				firstRefusal[a.waiter] = a.replied
			}
			continue
		}
		if from, ok := firstRefusal[a.waiter]; ok {
			claims = append(claims, interval{from: from, to: a.sent})
			delete(firstRefusal, a.waiter)
		}
	}
	require.NotEmpty(t, claims, "critical waiters never had to wait: the test measured nothing")
	lowGrants, overlapping := 0, 0
	for _, a := range rec.attempts {
		if a.rank != "2" || a.code != 0 {
			continue
		}
		lowGrants++
		for _, c := range claims {
			require.False(t, c.from.Before(a.sent) && c.to.After(a.replied),
				"a low grant [%s, %s] ran while a critical waiter held its claim [%s, %s]",
				a.sent.Format(time.StampMicro), a.replied.Format(time.StampMicro),
				c.from.Format(time.StampMicro), c.to.Format(time.StampMicro))
		}
		if a.sent.Before(claims[len(claims)-1].to) {
			overlapping++
		}
	}
	require.Equal(t, 4*perWorker, lowGrants)
	t.Logf("%d critical claim intervals; %d low grants, %d of them before the last critical grant", len(claims), lowGrants, overlapping)
}

func TestPriorityParkedClaim(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	tests := []struct {
		name     string
		waiterID string
	}{
		{name: "grant with the same waiter ID clears the claim", waiterID: "task-1"},
		{name: "claim expires after RetryIn plus ParkedHold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testenv.NewClock(start.Add(30 * time.Second))
			// A token every 3 s: longer than MaxWait, so requests park.
			b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 20, Reserve: -1, Clock: clk}))
			drain(t, b.lim, "acct", ratelimit.Low)
			ctx := context.Background()
			critCtx := ctx
			if tt.waiterID != "" {
				critCtx = ratelimit.WithWaiterID(ctx, tt.waiterID)
			}

			_, err := b.lim.Wait(critCtx, "acct", 1, ratelimit.Critical)
			in, ok := ratelimit.RetryIn(err)
			require.True(t, ok, "got %v", err)
			require.Equal(t, 3*time.Second, in)

			// The token is there, but the parked critical job claims it.
			clk.Advance(in)
			_, err = b.lim.TryAcquire(ctx, "acct", 1, ratelimit.Low)
			var re *ratelimit.RetryError
			require.ErrorAs(t, err, &re)
			require.Equal(t, ratelimit.ReasonPriority, re.Reason)

			if tt.waiterID != "" {
				_, err = b.lim.Wait(critCtx, "acct", 1, ratelimit.Critical)
				require.NoError(t, err)
				clk.Advance(3 * time.Second)
				_, err = b.lim.TryAcquire(ctx, "acct", 1, ratelimit.Low)
				require.NoError(t, err, "the critical grant cleared its claim")
				return
			}
			// A job that never comes back: its claim lapses after
			// RetryIn + ParkedHold (5 s), measured from the refusal.
			clk.Advance(5*time.Second - time.Millisecond)
			_, err = b.lim.TryAcquire(ctx, "acct", 1, ratelimit.Low)
			require.True(t, ratelimit.IsRetry(err))
			clk.Advance(time.Millisecond)
			_, err = b.lim.TryAcquire(ctx, "acct", 1, ratelimit.Low)
			require.NoError(t, err)
		})
	}
}

func TestPriorityEqualDoesNotBlock(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(30 * time.Second))
	b := setup(t, bigBurst(ratelimit.Config{Window: time.Minute, DefaultLimit: 20, Reserve: -1, Clock: clk}))
	drain(t, b.lim, "acct", ratelimit.Critical)
	_, err := b.lim.TryAcquire(context.Background(), "acct", 1, ratelimit.Critical)
	require.True(t, ratelimit.IsRetry(err))
	clk.Advance(3 * time.Second)
	// A claim only holds back lower priorities: another critical request
	// competes on equal terms, and a default claim does not block critical.
	_, err = b.lim.TryAcquire(context.Background(), "acct", 1, ratelimit.Default)
	var re *ratelimit.RetryError
	require.ErrorAs(t, err, &re)
	require.Equal(t, ratelimit.ReasonPriority, re.Reason)
	_, err = b.lim.TryAcquire(context.Background(), "acct", 1, ratelimit.Critical)
	require.NoError(t, err)
}

func TestContextPriority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  context.Context
		want ratelimit.Priority
	}{
		{name: "unset is default", ctx: context.Background(), want: ratelimit.Default},
		{name: "critical", ctx: ratelimit.WithPriority(context.Background(), ratelimit.Critical), want: ratelimit.Critical},
		{name: "low", ctx: ratelimit.WithPriority(context.Background(), ratelimit.Low), want: ratelimit.Low},
		{name: "invalid falls back to default", ctx: ratelimit.WithPriority(context.Background(), ratelimit.Priority(9)), want: ratelimit.Default},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, ratelimit.PriorityFrom(tt.ctx))
		})
	}
}

func TestParsePriority(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    ratelimit.Priority
		wantErr bool
	}{
		{name: "critical", in: "critical", want: ratelimit.Critical},
		{name: "default", in: "default", want: ratelimit.Default},
		{name: "empty", in: "", want: ratelimit.Default},
		{name: "low", in: "low", want: ratelimit.Low},
		{name: "unknown", in: "urgent", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ratelimit.ParsePriority(tt.in)
			if tt.wantErr {
				require.ErrorContains(t, err, `unknown priority "urgent"`)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			if tt.in != "" {
				require.Equal(t, tt.in, got.String())
			}
		})
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
}
