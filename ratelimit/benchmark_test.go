package ratelimit_test

import (
	"context"
	"errors"
	"slices"
	"sync"
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

// BenchmarkAcquirePaired runs this limiter and redis_rate's AllowN in the
// same loop, alternating which goes first, on two clients of the same Redis.
// On a shared machine the load drifts between separate benchmarks by more
// than the difference being measured; paired, both see the same load. It
// reports the mean and the median latency of each (ns/acquire-…,
// p50-ns/acquire-…) and their round trips; ns/op is the pair.
func BenchmarkAcquirePaired(b *testing.B) {
	ctx := context.Background()
	huge := 1 << 40
	limit := redis_rate.Limit{Rate: huge, Burst: huge, Period: time.Second}

	b.Run("serial", func(b *testing.B) {
		p := newPair(b, huge)
		var lat pairLatencies
		flip := false
		for b.Loop() {
			if err := p.run(ctx, limit, flip, &lat); err != nil {
				b.Fatal(err)
			}
			flip = !flip
		}
		p.report(b, &lat)
	})
	b.Run("parallel", func(b *testing.B) {
		p := newPair(b, huge)
		var (
			mu  sync.Mutex
			all pairLatencies
		)
		b.RunParallel(func(pb *testing.PB) {
			var lat pairLatencies
			flip := false
			for pb.Next() {
				if err := p.run(ctx, limit, flip, &lat); err != nil {
					b.Error(err)
					break
				}
				flip = !flip
			}
			mu.Lock()
			all.ours = append(all.ours, lat.ours...)
			all.theirs = append(all.theirs, lat.theirs...)
			mu.Unlock()
		})
		p.report(b, &all)
	})
}

// pair is this limiter and redis_rate's, each on its own counted client.
type pair struct {
	ours    *ratelimit.Limiter
	theirs  *redis_rate.Limiter
	key     string
	rt, rrt *roundTrips
}

// pairLatencies are the latencies of one goroutine's acquisitions.
type pairLatencies struct{ ours, theirs []time.Duration }

func newPair(b *testing.B, huge int) *pair {
	b.Helper()
	ctx := context.Background()
	rdb, rt := benchClient(b)
	ours, err := ratelimit.New(rdb, ratelimit.Config{
		KeyPrefix: testenv.Prefix(b, rdb), DefaultLimit: huge, DefaultBurstLimit: huge,
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ours.Wait(ctx, "acct", 1, ratelimit.Default); err != nil { // loads the script
		b.Fatal(err)
	}
	rrdb, rrt := benchClient(b)
	key := testenv.Prefix(b, nil) + "acct"
	b.Cleanup(func() { rrdb.Del(context.Background(), "rate:"+key) })
	theirs := redis_rate.NewLimiter(rrdb)
	if _, err := theirs.AllowN(ctx, key, redis_rate.PerSecond(huge), 1); err != nil {
		b.Fatal(err)
	}
	rt.n.Store(0)
	rrt.n.Store(0)
	return &pair{ours: ours, theirs: theirs, key: key, rt: rt, rrt: rrt}
}

// run takes one token from each limiter, this one first unless flip, and
// records how long each took.
func (p *pair) run(ctx context.Context, limit redis_rate.Limit, flip bool, lat *pairLatencies) error {
	for i := range 2 {
		t0 := time.Now()
		if (i == 0) != flip {
			if _, err := p.ours.Wait(ctx, "acct", 1, ratelimit.Default); err != nil {
				return err
			}
			lat.ours = append(lat.ours, time.Since(t0))
			continue
		}
		res, err := p.theirs.AllowN(ctx, p.key, limit, 1)
		if err != nil {
			return err
		}
		if res.Allowed != 1 {
			return errors.New("redis_rate refused")
		}
		lat.theirs = append(lat.theirs, time.Since(t0))
	}
	return nil
}

func (p *pair) report(b *testing.B, lat *pairLatencies) {
	b.Helper()
	for _, s := range []struct {
		name string
		lat  []time.Duration
		rt   *roundTrips
	}{{"ratelimit", lat.ours, p.rt}, {"redis_rate", lat.theirs, p.rrt}} {
		if len(s.lat) == 0 {
			continue
		}
		var sum time.Duration
		for _, d := range s.lat {
			sum += d
		}
		slices.Sort(s.lat)
		b.ReportMetric(float64(sum)/float64(len(s.lat)), "ns/acquire-"+s.name)
		b.ReportMetric(float64(s.lat[len(s.lat)/2]), "p50-ns/acquire-"+s.name)
		b.ReportMetric(float64(s.rt.n.Load())/float64(len(s.lat)), "roundtrips/acquire-"+s.name)
	}
}
