package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type testValueKey struct{}

// limiterWithTimeout is the part of a Limiter that startCall uses.
func limiterWithTimeout(d time.Duration) *Limiter {
	return &Limiter{cfg: Config{Timeout: d}, deadlines: newDeadlines(d)}
}

func TestStartCallDeadlines(t *testing.T) {
	t.Parallel()
	slot := time.Second / deadlineSlots

	t.Run("a context that cannot be cancelled shares the slot's deadline", func(t *testing.T) {
		t.Parallel()
		l := limiterWithTimeout(time.Second)
		now := time.Now()
		parent := context.WithValue(context.Background(), testValueKey{}, "v")
		ctx, cancel := l.startCall(parent, now)
		defer cancel()
		dl, ok := ctx.Deadline()
		require.True(t, ok)
		require.False(t, dl.After(now.Add(time.Second)), "never past Timeout")
		require.Greater(t, dl.Sub(now), time.Second-slot, "at most one slot short")
		require.Equal(t, "v", ctx.Value(testValueKey{}), "the caller's values")
		require.NoError(t, ctx.Err())

		// A round trip starting a little later in the same slot gets the
		// same deadline, without a timer of its own.
		ctx2, cancel2 := l.startCall(parent, dl.Add(-time.Second))
		defer cancel2()
		dl2, _ := ctx2.Deadline()
		require.Equal(t, dl, dl2)
		require.Equal(t, ctx.Done(), ctx2.Done(), "one shared channel")
	})
	t.Run("the deadline passes", func(t *testing.T) {
		t.Parallel()
		short := limiterWithTimeout(50 * time.Millisecond)
		ctx, cancel := short.startCall(context.Background(), time.Now())
		defer cancel()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			t.Fatal("the shared deadline never fired")
		}
		require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	})
	t.Run("a cancellable context gets the shared deadline and its own cancellation", func(t *testing.T) {
		t.Parallel()
		l := limiterWithTimeout(time.Second)
		now := time.Now()
		parent, cancelParent := context.WithCancel(context.Background())
		ctx, cancel := l.startCall(parent, now)
		defer cancel()
		dl, ok := ctx.Deadline()
		require.True(t, ok)
		require.Equal(t, l.deadlines.at(now).at, dl)
		cancelParent()
		<-ctx.Done()
		require.ErrorIs(t, ctx.Err(), context.Canceled)
	})
	t.Run("an earlier deadline of the caller's is kept", func(t *testing.T) {
		t.Parallel()
		l := limiterWithTimeout(time.Second)
		now := time.Now()
		parent, cancelParent := context.WithDeadline(context.Background(), now.Add(100*time.Millisecond))
		defer cancelParent()
		ctx, cancel := l.startCall(parent, now)
		defer cancel()
		require.Equal(t, parent, ctx)
	})
	t.Run("no timeout", func(t *testing.T) {
		t.Parallel()
		none := &Limiter{cfg: Config{Timeout: -1}}
		ctx, cancel := none.startCall(context.Background(), time.Now())
		defer cancel()
		_, ok := ctx.Deadline()
		require.False(t, ok)
	})
}
