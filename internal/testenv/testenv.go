// Package testenv finds the infrastructure that integration tests run
// against: a real Redis named by TEST_REDIS_URL.
//
// Locally, a test that needs Redis is skipped when TEST_REDIS_URL is unset.
// With REQUIRE_INTEGRATION=1 (set by `make test` and CI) the same condition
// fails the test instead, so CI can never pass by skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Required reports whether integration tests must run (REQUIRE_INTEGRATION=1).
func Required() bool { return os.Getenv("REQUIRE_INTEGRATION") == "1" }

// SkipOrFail skips the test, or fails it when integration tests are required.
func SkipOrFail(tb testing.TB, reason string) {
	tb.Helper()
	if Required() {
		tb.Fatalf("REQUIRE_INTEGRATION=1 but %s", reason)
	}
	tb.Skip(reason)
}

// RedisURL returns TEST_REDIS_URL, skipping (or failing) the test when unset.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		SkipOrFail(tb, "TEST_REDIS_URL is not set (run `make test`, which starts a redis-server)")
	}
	return u
}

// RedisOptions parses TEST_REDIS_URL, skipping (or failing) when unset.
func RedisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	opt, err := redis.ParseURL(RedisURL(tb))
	if err != nil {
		tb.Fatalf("TEST_REDIS_URL: %v", err)
	}
	return opt
}

// RedisClient returns a client for TEST_REDIS_URL that has answered PING. It
// is closed when the test ends.
func RedisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(RedisOptions(tb))
	tb.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		SkipOrFail(tb, "redis at TEST_REDIS_URL does not answer: "+err.Error())
	}
	return c
}

// Prefix returns a key prefix unique to this test, so tests sharing one
// Redis database never see each other's keys. Keys under it are deleted when
// the test ends if c is not nil.
func Prefix(tb testing.TB, c *redis.Client) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := "test:" + hex.EncodeToString(b) + ":"
	if c != nil {
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			iter := c.Scan(ctx, 0, p+"*", 500).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		})
	}
	return p
}

// WaitFor polls cond every 10 ms until it holds, failing the test with what
// when timeout passes first. Tests use it instead of sleeping.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// Clock is a settable clock for tests: Now returns the time it was set to, Advance moves it. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}
