package jobs_test

import (
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/jml-sync/docusign-worker/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	return testenv.RedisClient(tb)
}

// uniqueQueue returns a queue name of this test alone and deletes the queue
// when the test ends.
func uniqueQueue(tb testing.TB, rdb *redis.Client) string {
	tb.Helper()
	q := "test-" + testenv.Prefix(tb, nil)[5:17]
	tb.Cleanup(func() {
		insp := asynq.NewInspectorFromRedisClient(rdb)
		_ = insp.DeleteQueue(q, true)
	})
	return q
}
