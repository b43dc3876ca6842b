package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// windowStart returns an instant aligned to w (a window start) in 2027.
func windowStart(w time.Duration) time.Time {
	base := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli()
	return time.UnixMilli(base - base%w.Milliseconds())
}

// testBundle is what setup returns.
type testBundle struct {
	rdb    *redis.Client
	prefix string
	lim    *ratelimit.Limiter
}

// setup returns a limiter on TEST_REDIS_URL under a key prefix unique to the
// test (cleaned up afterwards). It skips without Redis, or fails with
// REQUIRE_INTEGRATION=1.
func setup(tb testing.TB, cfg ratelimit.Config) *testBundle {
	tb.Helper()
	rdb := testenv.RedisClient(tb)
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = testenv.Prefix(tb, rdb)
	}
	lim, err := ratelimit.New(rdb, cfg)
	require.NoError(tb, err)
	return &testBundle{rdb: rdb, prefix: cfg.KeyPrefix, lim: lim}
}

// newLimiter returns another limiter sharing cfg but with its own Redis
// client, as a separate process would have.
func newLimiter(tb testing.TB, cfg ratelimit.Config) *ratelimit.Limiter {
	tb.Helper()
	rdb := redis.NewClient(testenv.RedisOptions(tb))
	tb.Cleanup(func() { _ = rdb.Close() })
	lim, err := ratelimit.New(rdb, cfg)
	require.NoError(tb, err)
	return lim
}

// drain takes single tokens until refused and returns how many it got and
// the refusal.
func drain(tb testing.TB, lim *ratelimit.Limiter, key string, p ratelimit.Priority) (int, *ratelimit.RetryError) {
	tb.Helper()
	for n := 0; ; n++ {
		_, err := lim.TryAcquire(context.Background(), key, 1, p)
		if err != nil {
			var re *ratelimit.RetryError
			require.ErrorAs(tb, err, &re)
			return n, re
		}
		require.Less(tb, n, 1_000_000, "drain never refused")
	}
}

// waitFor polls cond every 5 ms until it holds or d passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
