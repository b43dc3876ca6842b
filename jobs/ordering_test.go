package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/internal/testenv"
)

func TestLease(t *testing.T) {
	t.Parallel()
	rdb := testenv.RedisClient(t)
	keys := employeeKeys{prefix: testenv.Prefix(t, rdb)}
	const ttl = 300 * time.Millisecond

	t.Run("exclusive, renewed while held, released", func(t *testing.T) {
		t.Parallel()
		key := keys.lease("E1")
		l, ctx, err := acquireLease(t.Context(), rdb, key, ttl)
		require.NoError(t, err)
		require.NotNil(t, l)

		other, _, err := acquireLease(t.Context(), rdb, key, ttl)
		require.NoError(t, err)
		require.Nil(t, other, "a second job of the employee does not get the lease")
		free, _, err := acquireLease(t.Context(), rdb, keys.lease("E2"), ttl)
		require.NoError(t, err)
		require.NotNil(t, free, "other employees are not blocked")
		free.release(t.Context())

		start := time.Now()
		testenv.WaitFor(t, 3*time.Second, "the lease outlives three TTLs", func() bool {
			if time.Since(start) < 3*ttl {
				return false
			}
			tok, err := rdb.Get(t.Context(), key).Result()
			return err == nil && tok == l.token
		})
		require.NoError(t, ctx.Err(), "the job keeps running")

		l.release(t.Context())
		n, err := rdb.Exists(t.Context(), key).Result()
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("release never deletes another holder's lease", func(t *testing.T) {
		t.Parallel()
		key := keys.lease("E3")
		l, _, err := acquireLease(t.Context(), rdb, key, ttl)
		require.NoError(t, err)
		require.NoError(t, rdb.Set(t.Context(), key, "someone-else", time.Minute).Err())
		l.release(t.Context())
		tok, err := rdb.Get(t.Context(), key).Result()
		require.NoError(t, err)
		require.Equal(t, "someone-else", tok)
	})

	t.Run("a lost lease cancels the job and blocks its watermark", func(t *testing.T) {
		t.Parallel()
		key := keys.lease("E4")
		l, ctx, err := acquireLease(t.Context(), rdb, key, ttl)
		require.NoError(t, err)
		defer l.release(t.Context())
		require.NoError(t, rdb.Set(t.Context(), key, "taken-over", time.Minute).Err())
		testenv.WaitFor(t, 3*time.Second, "the job's context is cancelled", func() bool { return ctx.Err() != nil })
		require.ErrorIs(t, context.Cause(ctx), errLeaseLost)

		ok, err := l.setWatermark(t.Context(), keys.watermark("E4"), Watermark{ID: "x"})
		require.NoError(t, err)
		require.False(t, ok)
		w, err := readWatermark(t.Context(), rdb, keys.watermark("E4"))
		require.NoError(t, err)
		require.Nil(t, w)
	})
}

func TestEmployeeKeysShareHashTag(t *testing.T) {
	t.Parallel()
	k := employeeKeys{prefix: "p:"}
	require.Equal(t, "p:{emp:E}:lease", k.lease("E"))
	require.Equal(t, "p:{emp:E}:watermark", k.watermark("E"))
	require.Equal(t, "p:{emp:E}:identity", k.identity("E"))
	require.Equal(t, "p:{emp:E}:audit:T", k.pendingAudit("E", "T"))
}
