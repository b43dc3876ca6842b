package jobs_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
)

func TestTombstonesKey(t *testing.T) {
	t.Parallel()

	ts := jobs.NewTombstones(nil, "p:")
	sum := sha256.Sum256([]byte("hris\x00evt-1"))
	require.Equal(t, "p:"+hex.EncodeToString(sum[:]), ts.Key("hris", "evt-1"))
	require.NotEqual(t, ts.Key("ab", "c"), ts.Key("a", "bc"))
	require.Equal(t, jobs.DefaultTombstonePrefix+hex.EncodeToString(sum[:]), jobs.NewTombstones(nil, "").Key("hris", "evt-1"))
}

func TestTombstones(t *testing.T) {
	t.Parallel()

	rdb := mustRedis(t)
	ctx := context.Background()
	prefix := testenv.Prefix(t, rdb)
	ts := jobs.NewTombstones(rdb, prefix)

	t.Run("put then has, other events unaffected", func(t *testing.T) {
		t.Parallel()
		has, err := ts.Has(ctx, "hris", "evt-put")
		require.NoError(t, err)
		require.False(t, has)

		require.NoError(t, ts.Put(ctx, "hris", "evt-put", time.Hour))
		has, err = ts.Has(ctx, "hris", "evt-put")
		require.NoError(t, err)
		require.True(t, has)

		has, err = ts.Has(ctx, "other-source", "evt-put")
		require.NoError(t, err)
		require.False(t, has)

		ttl, err := rdb.TTL(ctx, ts.Key("hris", "evt-put")).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, 59*time.Minute)
		require.LessOrEqual(t, ttl, time.Hour)
	})

	t.Run("put renews the TTL", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, ts.Put(ctx, "hris", "evt-renew", time.Minute))
		require.NoError(t, ts.Put(ctx, "hris", "evt-renew", 2*time.Hour))
		ttl, err := rdb.TTL(ctx, ts.Key("hris", "evt-renew")).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, time.Hour)
	})

	t.Run("expires", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, ts.Put(ctx, "hris", "evt-expire", 50*time.Millisecond))
		require.Eventually(t, func() bool {
			has, err := ts.Has(ctx, "hris", "evt-expire")
			return err == nil && !has
		}, 5*time.Second, 20*time.Millisecond)
	})

	t.Run("has many", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, ts.Put(ctx, "hris", "evt-many-1", time.Hour))
		require.NoError(t, ts.Put(ctx, "hris", "evt-many-3", time.Hour))
		got, err := ts.HasMany(ctx,
			jobs.EventRef{Source: "hris", ID: "evt-many-1"},
			jobs.EventRef{Source: "hris", ID: "evt-many-2"},
			jobs.EventRef{Source: "hris", ID: "evt-many-3"},
			jobs.EventRef{Source: "other", ID: "evt-many-1"})
		require.NoError(t, err)
		require.Equal(t, []bool{true, false, true, false}, got)

		got, err = ts.HasMany(ctx, jobs.EventRef{Source: "hris", ID: "evt-many-3"})
		require.NoError(t, err)
		require.Equal(t, []bool{true}, got)

		got, err = ts.HasMany(ctx)
		require.NoError(t, err)
		require.Empty(t, got)
	})

	t.Run("invalid input", func(t *testing.T) {
		t.Parallel()
		require.ErrorContains(t, ts.Put(ctx, "hris", "evt-x", 0), "not positive")
		require.ErrorContains(t, ts.Put(ctx, "", "evt-x", time.Hour), "source and an id")
		require.ErrorContains(t, ts.Put(ctx, "hris", "", time.Hour), "source and an id")
	})

	t.Run("prefixes isolate", func(t *testing.T) {
		t.Parallel()
		other := jobs.NewTombstones(rdb, prefix+"shadow:")
		require.NoError(t, ts.Put(ctx, "hris", "evt-iso", time.Hour))
		has, err := other.Has(ctx, "hris", "evt-iso")
		require.NoError(t, err)
		require.False(t, has)
	})
}

func TestTombstonesRedisDown(t *testing.T) {
	t.Parallel()

	rdb := mustRedis(t)
	opt := *rdb.Options()
	opt.Addr = "127.0.0.1:1" // nothing listens there
	opt.MaxRetries = -1
	down := jobs.NewTombstones(newClient(t, &opt), "x:")
	_, err := down.Has(context.Background(), "hris", "evt")
	require.ErrorContains(t, err, "jobs: check tombstone")
	require.ErrorContains(t, down.Put(context.Background(), "hris", "evt", time.Hour), "jobs: put tombstone")
	_, err = down.HasMany(context.Background(), jobs.EventRef{Source: "a", ID: "1"}, jobs.EventRef{Source: "a", ID: "2"})
	require.ErrorContains(t, err, "jobs: check tombstones")
}

func newClient(tb testing.TB, opt *redis.Options) *redis.Client {
	tb.Helper()
	c := redis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
