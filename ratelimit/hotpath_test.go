package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// commandLog records the name of every command a client sends, and counts
// pipelines as one entry each.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (c *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (c *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, "pipeline")
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (c *commandLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := c.names
	c.names = nil
	return names
}

// TestHotPathIsOneEvalSha checks that once the scripts are loaded, each
// acquisition and each observation is exactly one EVALSHA.
func TestHotPathIsOneEvalSha(t *testing.T) {
	t.Parallel()
	rdb := testenv.RedisClient(t)
	log := &commandLog{}
	rdb.AddHook(log)
	lim, err := ratelimit.New(rdb, ratelimit.Config{KeyPrefix: testenv.Prefix(t, rdb), DefaultLimit: 1 << 30, DefaultBurstLimit: 1 << 30})
	require.NoError(t, err)
	ctx := context.Background()
	// Loads both scripts (EVALSHA, then EVAL if the script cache lacks them).
	_, err = lim.Wait(ctx, "acct", 1, ratelimit.Default)
	require.NoError(t, err)
	_, err = lim.State(ctx, "acct")
	require.NoError(t, err)
	log.take()

	const n = 20
	for i := range n {
		p := []ratelimit.Priority{ratelimit.Critical, ratelimit.Default, ratelimit.Low}[i%3]
		_, err := lim.Wait(ratelimit.WithWaiterID(ctx, "w"), "acct", 1, p)
		require.NoError(t, err)
		_, err = lim.TryAcquire(ctx, "acct", 1, p)
		require.NoError(t, err)
		_, err = lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 1 << 30, Remaining: 1 << 30})
		require.NoError(t, err)
	}
	names := log.take()
	require.Len(t, names, 3*n, "one round trip per call")
	for _, name := range names {
		require.Equal(t, "evalsha", name)
	}
}

// TestGrantReplyMatchesState checks that what a grant reports (the short
// reply of the hot path) agrees with the full shared view read afterwards,
// and that Stats, updated from grant replies, agree with it too.
func TestGrantReplyMatchesState(t *testing.T) {
	t.Parallel()
	start := windowStart(time.Minute)
	clk := testenv.NewClock(start.Add(50 * time.Second))
	b := setup(t, ratelimit.Config{Window: time.Minute, BurstWindow: 10 * time.Second, DefaultLimit: 600,
		DefaultBurstLimit: 100, Reserve: 0.2, BurstReserve: 0.3, Clock: clk})
	ctx := context.Background()
	// A foreign estimate and an observed burst limit to carry along.
	_, err := b.lim.Observe(ctx, "acct", ratelimit.Observation{HasHourly: true, Limit: 600, Remaining: 590,
		Reset: start.Add(time.Minute), HasBurst: true, BurstLimit: 90, BurstRemaining: 80})
	require.NoError(t, err)

	var g ratelimit.Grant
	for range 5 {
		g, err = b.lim.TryAcquire(ctx, "acct", 2, ratelimit.Default)
		require.NoError(t, err)
	}
	stats := b.lim.Stats("acct")
	st, err := b.lim.State(ctx, "acct")
	require.NoError(t, err)

	require.Equal(t, st.Now, g.At)
	require.Equal(t, st.Remaining, g.Remaining)
	require.Equal(t, 580, g.Remaining)
	require.Equal(t, st.WindowEnd, g.WindowEnd)
	require.Equal(t, st.Granted, g.Seq)
	require.Equal(t, 10, g.Seq)

	require.Equal(t, st.Limit, stats.Limit)
	require.Equal(t, st.Remaining, stats.Remaining)
	require.Equal(t, st.Reserve, stats.Reserve)
	require.Equal(t, 120, stats.Reserve)
	require.Equal(t, st.BurstLimit, stats.BurstLimit)
	require.Equal(t, 90, stats.BurstLimit)
	require.Equal(t, st.BurstRemaining, stats.BurstRemaining)
	require.Equal(t, 70, stats.BurstRemaining)
	require.Equal(t, st.WindowEnd, stats.WindowEnd)
	require.Equal(t, st.Foreign, stats.Foreign)
	require.Equal(t, 10, stats.Foreign)
	require.Equal(t, 27, st.BurstReserve)
	require.Equal(t, start.Add(60*time.Second), st.BurstWindowEnd)
}
