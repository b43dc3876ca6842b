package ratelimit_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// roundTrips counts the commands and pipelines a client sends.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// benchClient returns a client on TEST_REDIS_URL with a round-trip counter.
func benchClient(b *testing.B) (*redis.Client, *roundTrips) {
	b.Helper()
	rdb := testenv.RedisClient(b)
	rt := &roundTrips{}
	rdb.AddHook(rt)
	return rdb, rt
}

// report adds round trips per acquisition to the benchmark's metrics.
func report(b *testing.B, rt *roundTrips) {
	b.Helper()
	if rt != nil {
		b.ReportMetric(float64(rt.n.Load())/float64(b.N), "roundtrips/op")
	}
}

// BenchmarkAcquire compares one acquisition of this limiter (the acquire
// script, with a budget so large that nothing waits) with redis_rate's GCRA
// AllowN on the same Redis and with x/time/rate in process (the ceiling).
func BenchmarkAcquire(b *testing.B) {
	ctx := context.Background()
	huge := 1 << 40

	newOurs := func(b *testing.B) (*ratelimit.Limiter, *roundTrips) {
		b.Helper()
		rdb, rt := benchClient(b)
		lim, err := ratelimit.New(rdb, ratelimit.Config{
			KeyPrefix: testenv.Prefix(b, rdb), DefaultLimit: huge, DefaultBurstLimit: huge,
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := lim.Wait(ctx, "acct", 1, ratelimit.Default); err != nil { // loads the script
			b.Fatal(err)
		}
		rt.n.Store(0)
		return lim, rt
	}
	newRedisRate := func(b *testing.B) (*redis_rate.Limiter, string, *roundTrips) {
		b.Helper()
		rdb, rt := benchClient(b)
		key := testenv.Prefix(b, nil) + "acct"
		b.Cleanup(func() { rdb.Del(context.Background(), "rate:"+key) })
		lim := redis_rate.NewLimiter(rdb)
		if _, err := lim.AllowN(ctx, key, redis_rate.PerSecond(huge), 1); err != nil {
			b.Fatal(err)
		}
		rt.n.Store(0)
		return lim, key, rt
	}
	limit := redis_rate.Limit{Rate: huge, Burst: huge, Period: time.Second}

	b.Run("ratelimit/serial", func(b *testing.B) {
		lim, rt := newOurs(b)
		b.ResetTimer()
		for b.Loop() {
			if _, err := lim.Wait(ctx, "acct", 1, ratelimit.Default); err != nil {
				b.Fatal(err)
			}
		}
		report(b, rt)
	})
	b.Run("ratelimit/parallel", func(b *testing.B) {
		lim, rt := newOurs(b)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := lim.Wait(ctx, "acct", 1, ratelimit.Default); err != nil {
					b.Error(err)
					return
				}
			}
		})
		report(b, rt)
	})
	b.Run("redis_rate/serial", func(b *testing.B) {
		lim, key, rt := newRedisRate(b)
		b.ResetTimer()
		for b.Loop() {
			res, err := lim.AllowN(ctx, key, limit, 1)
			if err != nil || res.Allowed != 1 {
				b.Fatal(err, res)
			}
		}
		report(b, rt)
	})
	b.Run("redis_rate/parallel", func(b *testing.B) {
		lim, key, rt := newRedisRate(b)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := lim.AllowN(ctx, key, limit, 1)
				if err != nil || res.Allowed != 1 {
					b.Error(err, res)
					return
				}
			}
		})
		report(b, rt)
	})
	b.Run("x_time_rate/serial", func(b *testing.B) {
		lim := rate.NewLimiter(rate.Limit(huge), huge)
		for b.Loop() {
			if !lim.AllowN(time.Now(), 1) {
				b.Fatal("refused")
			}
		}
		report(b, nil)
	})
	b.Run("x_time_rate/parallel", func(b *testing.B) {
		lim := rate.NewLimiter(rate.Limit(huge), huge)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !lim.AllowN(time.Now(), 1) {
					b.Error("refused")
					return
				}
			}
		})
		report(b, nil)
	})
}

// BenchmarkObserve measures merging one reply's headers (one round trip).
func BenchmarkObserve(b *testing.B) {
	ctx := context.Background()
	rdb, rt := benchClient(b)
	lim, err := ratelimit.New(rdb, ratelimit.Config{KeyPrefix: testenv.Prefix(b, rdb)})
	if err != nil {
		b.Fatal(err)
	}
	st, err := lim.State(ctx, "acct")
	if err != nil {
		b.Fatal(err)
	}
	o := ratelimit.Observation{HasHourly: true, Limit: 3000, Remaining: 2000, Reset: st.WindowEnd,
		HasBurst: true, BurstLimit: 500, BurstRemaining: 400}
	rt.n.Store(0)
	b.ResetTimer()
	for b.Loop() {
		if _, err := lim.Observe(ctx, "acct", o); err != nil {
			b.Fatal(err)
		}
	}
	report(b, rt)
}
