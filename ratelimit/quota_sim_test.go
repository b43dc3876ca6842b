package ratelimit_test

import (
	"container/heap"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// simServer counts calls the way DocuSign does: fixed, aligned hourly and
// burst windows shared by everyone on the account.
//
// It refuses a call over either limit, so the calls it accepts in a burst
// window never exceed the burst limit; what can go wrong shows as throttled
// calls, and as our own calls in a burst window going past what the limiter
// allows us (the burst limit minus the burst reserve), which nothing here
// caps: maxBurstOurs.
type simServer struct {
	window, burstWindow    time.Duration
	limit, burstLimit      int
	hourly, burst          map[int64]int // window start (ms) → calls counted
	burstOurs              map[int64]int // burst window start (ms) → our calls
	ours, foreign          map[int64]int // per hourly window: successful calls
	throttled              int
	maxBurst, maxBurstOurs int
}

func newSimServer(window, burstWindow time.Duration, limit, burstLimit int) *simServer {
	return &simServer{
		window: window, burstWindow: burstWindow, limit: limit, burstLimit: burstLimit,
		hourly: map[int64]int{}, burst: map[int64]int{}, burstOurs: map[int64]int{},
		ours: map[int64]int{}, foreign: map[int64]int{},
	}
}

// call serves one call at t and returns the headers of its reply, or ok=false
// for a 429.
func (s *simServer) call(t time.Time, ours bool) (ratelimit.Observation, bool) {
	ms := t.UnixMilli()
	w := ms - ms%s.window.Milliseconds()
	b := ms - ms%s.burstWindow.Milliseconds()
	if s.hourly[w] >= s.limit || s.burst[b] >= s.burstLimit {
		s.throttled++
		return ratelimit.Observation{}, false
	}
	s.hourly[w]++
	s.burst[b]++
	s.maxBurst = max(s.maxBurst, s.burst[b])
	if ours {
		s.ours[w]++
		s.burstOurs[b]++
		s.maxBurstOurs = max(s.maxBurstOurs, s.burstOurs[b])
	} else {
		s.foreign[w]++
	}
	return ratelimit.Observation{
		HasHourly: true, Limit: s.limit, Remaining: s.limit - s.hourly[w],
		Reset:    time.UnixMilli(w).Add(s.window).Truncate(time.Second),
		HasBurst: true, BurstLimit: s.burstLimit, BurstRemaining: s.burstLimit - s.burst[b],
	}, true
}

// simEvent is one step of the discrete-event simulation.
type simEvent struct {
	at   time.Time
	seq  int
	kind int // 0: a process tries to acquire; 1: a reply reaches a process; 2: a steady foreign call; 3: a burst foreign call
	proc int
	obs  ratelimit.Observation
	ok   bool
}

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].seq < q[j].seq
	}
	return q[i].at.Before(q[j].at)
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) } //nolint:forcetypeassert // heap of simEvent
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// TestQuotaSimulation replays the quota scenario of the load test in
// simulated time against the real scripts: three processes (three Redis
// clients) acquire as fast as the limiter allows, each call reaches the
// server 5 ms after its grant and its reply comes back 5 ms later and is
// observed; a foreign application spends 20 % of the limit at a steady rate.
// Limit 600 per 60 s window, burst 100 per 5 s, reserve 10 % (burst reserve
// 10 % too): 420 calls per window are ours to use. Three windows must use
// ≥ 97 % of that with no 429, and our calls in any burst window must stay
// within the burst limit minus the burst reserve (90). Variants: wrong
// defaults until the first reply, no foreign load, foreign load in bursts, 12
// workers with slow replies, and a burst limit of 30 that binds before the
// pacing does: there the burst allowance (27) must be reached, so the burst
// check is shown to measure something, and it bounds what is available.
func TestQuotaSimulation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		defaultLimit, defBurst int
		foreignEvery           time.Duration
		foreignBursts          int // calls at 10 s and 40 s into each window
		burst                  int // the account's burst limit; 0: 100
		procs                  int
		latency                time.Duration
		wantMin                float64
	}{
		{name: "defaults match the account", defaultLimit: 600, defBurst: 100, foreignEvery: 500 * time.Millisecond, procs: 3, latency: 5 * time.Millisecond, wantMin: 0.97},
		{name: "defaults too high until the first reply", defaultLimit: 3000, defBurst: 500, foreignEvery: 500 * time.Millisecond, procs: 3, latency: 5 * time.Millisecond, wantMin: 0.97},
		{name: "no foreign traffic", defaultLimit: 600, defBurst: 100, procs: 3, latency: 5 * time.Millisecond, wantMin: 0.97},
		{name: "foreign load in two bursts", defaultLimit: 600, defBurst: 100, foreignBursts: 60, procs: 3, latency: 5 * time.Millisecond, wantMin: 0.97},
		{name: "12 workers, slow replies", defaultLimit: 600, defBurst: 100, foreignEvery: 500 * time.Millisecond, procs: 12, latency: 150 * time.Millisecond, wantMin: 0.97},
		{name: "the burst limit binds", defaultLimit: 600, defBurst: 30, burst: 30, procs: 3, latency: 5 * time.Millisecond, wantMin: 0.97},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const (
				window      = time.Minute
				burstWindow = 5 * time.Second
				windows     = 3
			)
			burst := tt.burst
			if burst == 0 {
				burst = 100
			}
			// What the limiter lets us spend in one burst window (the
			// default burst reserve is 10 %), and so in one hourly window.
			burstAllowance := burst - burst/10
			perWindow := int(window/burstWindow) * burstAllowance
			start := windowStart(window)
			clk := testenv.NewClock(start)
			cfg := ratelimit.Config{
				Window: window, BurstWindow: burstWindow, DefaultLimit: tt.defaultLimit,
				DefaultBurstLimit: tt.defBurst, Clock: clk,
			}
			b := setup(t, cfg)
			cfg.KeyPrefix = b.prefix
			procs, latency := tt.procs, tt.latency
			// Three processes with their own Redis clients; workers of one
			// process share its limiter.
			lims := []*ratelimit.Limiter{b.lim, newLimiter(t, cfg), newLimiter(t, cfg)}
			srv := newSimServer(window, burstWindow, 600, burst)
			end := start.Add(windows * window)

			q := &eventQueue{}
			seq := 0
			push := func(e simEvent) {
				seq++
				e.seq = seq
				heap.Push(q, e)
			}
			for p := range procs {
				push(simEvent{at: start.Add(time.Duration(p) * time.Millisecond), kind: 0, proc: p})
			}
			if tt.foreignEvery > 0 {
				push(simEvent{at: start.Add(tt.foreignEvery / 2), kind: 2})
			}
			for w := range windows {
				for _, off := range []time.Duration{10 * time.Second, 40 * time.Second} {
					for range tt.foreignBursts {
						push(simEvent{at: start.Add(time.Duration(w)*window + off), kind: 3})
					}
				}
			}
			sent := make([]time.Time, procs)
			ctx := context.Background()
			acquires := 0
			for q.Len() > 0 {
				e := heap.Pop(q).(simEvent) //nolint:forcetypeassert // heap of simEvent
				if !e.at.Before(end) {
					continue
				}
				clk.Set(e.at)
				switch e.kind {
				case 0:
					acquires++
					g, err := lims[e.proc%len(lims)].TryAcquire(ctx, "acct", 1, ratelimit.Default)
					if err != nil {
						in, ok := ratelimit.RetryIn(err)
						require.True(t, ok, "unexpected error: %v", err)
						push(simEvent{at: e.at.Add(in), kind: 0, proc: e.proc})
						continue
					}
					sent[e.proc] = g.At
					obs, ok := srv.call(e.at.Add(latency), true)
					push(simEvent{at: e.at.Add(2 * latency), kind: 1, proc: e.proc, obs: obs, ok: ok})
				case 1:
					if e.ok {
						e.obs.At = e.at
						e.obs.SentAt = sent[e.proc]
						_, err := lims[e.proc%len(lims)].Observe(ctx, "acct", e.obs)
						require.NoError(t, err)
					} else {
						require.NoError(t, lims[e.proc%len(lims)].ObserveRateLimited(ctx, "acct", ratelimit.Hourly, time.Time{}))
					}
					push(simEvent{at: e.at, kind: 0, proc: e.proc})
				case 2:
					srv.call(e.at, false)
					push(simEvent{at: e.at.Add(tt.foreignEvery), kind: 2})
				case 3:
					srv.call(e.at, false)
				}
			}

			t.Logf("%d acquire round trips for %d windows", acquires, windows)
			require.Zero(t, srv.throttled, "429s (hourly or burst)")
			require.LessOrEqual(t, srv.maxBurstOurs, burstAllowance, "our calls in one burst window passed the burst limit minus the burst reserve")
			if 600-60 > perWindow {
				require.Equal(t, burstAllowance, srv.maxBurstOurs, "the burst limit should bind: the test measured nothing")
			}
			for w := range windows {
				ws := start.Add(time.Duration(w) * window).UnixMilli()
				available := min(600-60-srv.foreign[ws], perWindow)
				used := float64(srv.ours[ws]) / float64(available)
				t.Logf("window %d: ours %d, foreign %d, available %d, used %.1f %%", w, srv.ours[ws], srv.foreign[ws], available, 100*used)
				require.GreaterOrEqual(t, used, tt.wantMin, "window %d under-used", w)
				require.LessOrEqual(t, srv.ours[ws]+srv.foreign[ws], 600-60+3, "window %d ate into the reserve", w)
			}
			t.Logf("max calls in one burst window: %d (ours %d, allowance %d)", srv.maxBurst, srv.maxBurstOurs, burstAllowance)
		})
	}
}
