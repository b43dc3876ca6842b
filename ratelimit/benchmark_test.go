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

// Limits for redis_rate in the benchmarks. hugeLimit (2^40 calls a second)
// is what the first benchmarks used; its emission interval (2^-40 s) is lost
// when redis_rate adds it to its float64 state (seconds since 2017, about
// 3·10^8, whose step is 6·10^-8 s), so AllowN never writes: TIME and GET
// only, a limiter that records nothing. recordingLimit (10^6 a second, the
// limit of redis_rate's own BenchmarkAllow) makes every AllowN write its
// state, as this limiter writes on every grant; neither refuses anything at
// these rates. Both are reported.
func hugeLimit() redis_rate.Limit {
	return redis_rate.Limit{Rate: 1 << 40, Burst: 1 << 40, Period: time.Second}
}

func recordingLimit() redis_rate.Limit { return redis_rate.PerSecond(1_000_000) }

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
	newRedisRate := func(b *testing.B, limit redis_rate.Limit) (*redis_rate.Limiter, string, *roundTrips) {
		b.Helper()
		rdb, rt := benchClient(b)
		key := testenv.Prefix(b, nil) + "acct"
		b.Cleanup(func() { rdb.Del(context.Background(), "rate:"+key) })
		lim := redis_rate.NewLimiter(rdb)
		if _, err := lim.AllowN(ctx, key, limit, 1); err != nil {
			b.Fatal(err)
		}
		rt.n.Store(0)
		return lim, key, rt
	}

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
	for _, rr := range []struct {
		name  string
		limit redis_rate.Limit
	}{{"redis_rate", hugeLimit()}, {"redis_rate_recording", recordingLimit()}} {
		b.Run(rr.name+"/serial", func(b *testing.B) {
			lim, key, rt := newRedisRate(b, rr.limit)
			b.ResetTimer()
			for b.Loop() {
				res, err := lim.AllowN(ctx, key, rr.limit, 1)
				if err != nil || res.Allowed != 1 {
					b.Fatal(err, res)
				}
			}
			report(b, rt)
		})
		b.Run(rr.name+"/parallel", func(b *testing.B) {
			lim, key, rt := newRedisRate(b, rr.limit)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := lim.AllowN(ctx, key, rr.limit, 1)
					if err != nil || res.Allowed != 1 {
						b.Error(err, res)
						return
					}
				}
			})
			report(b, rt)
		})
	}
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

// BenchmarkAcquirePaired runs this limiter and redis_rate's AllowN (at
// hugeLimit, which writes nothing, and at recordingLimit, which records
// every call) in the same loop, rotating which goes first, each on its own
// client of the same Redis. On a shared machine the load drifts between
// separate benchmarks by more than the difference being measured; paired,
// all see the same load. It reports the mean and the median latency of each
// (ns/acquire-…, p50-ns/acquire-…) and their round trips; ns/op is the
// round of three.
func BenchmarkAcquirePaired(b *testing.B) {
	ctx := context.Background()

	b.Run("serial", func(b *testing.B) {
		cs := newContenders(b)
		lat := make([][]time.Duration, len(cs))
		k := 0
		for b.Loop() {
			if err := runRound(ctx, cs, k, lat); err != nil {
				b.Fatal(err)
			}
			k++
		}
		reportContenders(b, cs, lat)
	})
	b.Run("parallel", func(b *testing.B) {
		cs := newContenders(b)
		var (
			mu  sync.Mutex
			all = make([][]time.Duration, len(cs))
		)
		b.RunParallel(func(pb *testing.PB) {
			lat := make([][]time.Duration, len(cs))
			k := 0
			for pb.Next() {
				if err := runRound(ctx, cs, k, lat); err != nil {
					b.Error(err)
					break
				}
				k++
			}
			mu.Lock()
			for i := range all {
				all[i] = append(all[i], lat[i]...)
			}
			mu.Unlock()
		})
		reportContenders(b, cs, all)
	})
}

// contender is one limiter of the paired benchmark on its own counted
// client.
type contender struct {
	name    string
	acquire func(context.Context) error
	rt      *roundTrips
}

func newContenders(b *testing.B) []contender {
	b.Helper()
	ctx := context.Background()
	huge := 1 << 40
	rdb, rt := benchClient(b)
	ours, err := ratelimit.New(rdb, ratelimit.Config{
		KeyPrefix: testenv.Prefix(b, rdb), DefaultLimit: huge, DefaultBurstLimit: huge,
	})
	if err != nil {
		b.Fatal(err)
	}
	cs := []contender{{name: "ratelimit", rt: rt, acquire: func(ctx context.Context) error {
		_, err := ours.Wait(ctx, "acct", 1, ratelimit.Default)
		return err
	}}}
	for _, rr := range []struct {
		name   string
		limit  redis_rate.Limit
		writes bool
	}{{"redis_rate", hugeLimit(), false}, {"redis_rate_recording", recordingLimit(), true}} {
		rrdb, rrt := benchClient(b)
		key := testenv.Prefix(b, nil) + "acct"
		b.Cleanup(func() { rrdb.Del(context.Background(), "rate:"+key) })
		lim := redis_rate.NewLimiter(rrdb)
		cs = append(cs, contender{name: rr.name, rt: rrt, acquire: func(ctx context.Context) error {
			res, err := lim.AllowN(ctx, key, rr.limit, 1)
			if err == nil && res.Allowed != 1 {
				err = errors.New(rr.name + " refused")
			}
			return err
		}})
		if err := cs[len(cs)-1].acquire(ctx); err != nil {
			b.Fatal(err)
		}
		// Whether AllowN wrote its state, as the limits' comment says.
		if n := rrdb.Exists(ctx, "rate:"+key).Val(); (n == 1) != rr.writes {
			b.Fatalf("%s: state key exists = %d, want %v", rr.name, n, rr.writes)
		}
	}
	if err := cs[0].acquire(ctx); err != nil { // loads the script
		b.Fatal(err)
	}
	for _, c := range cs {
		c.rt.n.Store(0)
	}
	return cs
}

// runRound takes one token from each contender, starting with the k-th,
// and records how long each took.
func runRound(ctx context.Context, cs []contender, k int, lat [][]time.Duration) error {
	for j := range cs {
		i := (j + k) % len(cs)
		t0 := time.Now()
		if err := cs[i].acquire(ctx); err != nil {
			return err
		}
		lat[i] = append(lat[i], time.Since(t0))
	}
	return nil
}

func reportContenders(b *testing.B, cs []contender, lat [][]time.Duration) {
	b.Helper()
	for i, c := range cs {
		l := lat[i]
		if len(l) == 0 {
			continue
		}
		var sum time.Duration
		for _, d := range l {
			sum += d
		}
		slices.Sort(l)
		b.ReportMetric(float64(sum)/float64(len(l)), "ns/acquire-"+c.name)
		b.ReportMetric(float64(l[len(l)/2]), "p50-ns/acquire-"+c.name)
		b.ReportMetric(float64(c.rt.n.Load())/float64(len(l)), "roundtrips/acquire-"+c.name)
	}
}
