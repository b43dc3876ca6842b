package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/internal/testenv"
	"github.com/jml-sync/docusign-worker/jobs"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

func TestRetryDelay(t *testing.T) {
	t.Parallel()

	fixed := func(r float64) func() float64 { return func() float64 { return r } }
	policy := func(r float64) jobs.RetryPolicy {
		return jobs.RetryPolicy{Base: time.Second, Cap: 10 * time.Second, RandFunc: fixed(r)}
	}
	transient := errors.New("503")

	tests := []struct {
		name   string
		policy jobs.RetryPolicy
		n      int
		err    error
		want   time.Duration
	}{
		{name: "first retry, top of the jitter range", policy: policy(0.999999), n: 0, err: transient, want: 999999 * time.Microsecond},
		{name: "full jitter reaches zero", policy: policy(0), n: 5, err: transient, want: 0},
		{name: "exponential: third retry bound 4s", policy: policy(0.5), n: 2, err: transient, want: 2 * time.Second},
		{name: "capped", policy: policy(0.5), n: 10, err: transient, want: 5 * time.Second},
		{name: "huge n does not overflow", policy: policy(0.5), n: 200, err: transient, want: 5 * time.Second},
		{name: "out-of-range rand is clamped", policy: policy(1.5), n: 1, err: transient, want: 0},
		{name: "rate limited returns RetryIn", policy: policy(0.9), n: 3, err: fmt.Errorf("x: %w", jobs.RateLimited(42*time.Second)),
			want: 42 * time.Second},
		{name: "lease taken returns RetryIn", policy: policy(0.9), n: 3, err: &jobs.LeaseTakenError{RetryIn: 1500 * time.Millisecond},
			want: 1500 * time.Millisecond},
		{name: "paused returns RetryIn", policy: policy(0.9), n: 0, err: &jobs.IntegrationPausedError{RetryIn: time.Minute}, want: time.Minute},
		{name: "crash recovery comes back quickly", policy: policy(0.9), n: 4, err: asynq.ErrLeaseExpired, want: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.policy.RetryDelay(tt.n, tt.err, nil))
		})
	}

	t.Run("full jitter bounds with real randomness", func(t *testing.T) {
		t.Parallel()
		p := jobs.RetryPolicy{Base: 100 * time.Millisecond, Cap: time.Second}
		for n := range 8 {
			ceiling := min(time.Second, 100*time.Millisecond<<n)
			for range 200 {
				d := p.RetryDelay(n, transient, nil)
				require.GreaterOrEqual(t, d, time.Duration(0))
				require.Less(t, d, ceiling)
			}
		}
		require.Less(t, jobs.RetryDelayFunc(0, transient, nil), jobs.DefaultBackoffBase)
	})
}

func TestIsFailure(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "transient", err: errors.New("503"), want: true},
		{name: "permanent", err: jobs.Permanent(jobs.ReasonRejected, errors.New("400")), want: true},
		{name: "rate limited", err: jobs.RateLimited(time.Second), want: false},
		{name: "limiter retry error unclassified", err: fmt.Errorf("hook: %w", &ratelimit.RetryError{RetryIn: time.Second}), want: false},
		{name: "docusign 429 unclassified", err: &docusign.APIError{StatusCode: 429}, want: false},
		{name: "lease taken", err: &jobs.LeaseTakenError{}, want: false},
		{name: "integration paused", err: &jobs.IntegrationPausedError{}, want: false},
		{name: "worker crash (lease expired)", err: asynq.ErrLeaseExpired, want: false},
		{name: "wrapped lease expired", err: fmt.Errorf("x: %w", asynq.ErrLeaseExpired), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, jobs.IsFailure(tt.err))
		})
	}
	require.Equal(t, 11, jobs.MaxRetryFor(10))
}

// scripted hands each task the errors of its script, attempt by attempt, and
// records the retry count asynq reported for each attempt.
type scripted struct {
	mu      sync.Mutex
	scripts map[string][]error
	seen    map[string][]int
}

func (s *scripted) ProcessTask(ctx context.Context, t *asynq.Task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := string(t.Payload())
	n, _ := asynq.GetRetryCount(ctx)
	s.seen[name] = append(s.seen[name], n)
	script := s.scripts[name]
	attempt := len(s.seen[name]) - 1
	if attempt < len(script) {
		return script[attempt]
	}
	return script[len(script)-1]
}

func (s *scripted) retries(name string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.seen[name]...)
}

// TestRetryLimitWithAsynqServer runs a real asynq server with the worker's
// IsFailure, RetryDelay and retry-limit middleware: a task whose last allowed
// attempt is rate limited is rescheduled, not archived, and later succeeds;
// a task failing transiently beyond the limit is archived with the reason.
func TestRetryLimitWithAsynqServer(t *testing.T) {
	t.Parallel()
	rdb := mustRedis(t)
	queue := uniqueQueue(t, rdb)
	const limit = 2
	transient := errors.New("docusign: 503")
	script := &scripted{
		scripts: map[string][]error{
			// fails, fails, then on its last allowed attempt (retried=2) is
			// rate limited twice, then succeeds
			"last-attempt-rate-limited": {transient, transient, jobs.RateLimited(20 * time.Millisecond),
				&jobs.LeaseTakenError{RetryIn: 20 * time.Millisecond}, nil},
			"always-failing": {transient},
		},
		seen: map[string][]int{},
	}
	policy := jobs.RetryPolicy{Limit: limit, Base: 10 * time.Millisecond, Cap: 20 * time.Millisecond}
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              2,
		Queues:                   map[string]int{queue: 1},
		TaskCheckInterval:        20 * time.Millisecond,
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		RetryDelayFunc:           policy.RetryDelay,
		IsFailure:                jobs.IsFailure,
		LogLevel:                 asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.Use(jobs.RetryLimitMiddleware(limit))
	mux.Handle("test:scripted", script)
	require.NoError(t, srv.Start(mux))
	t.Cleanup(srv.Shutdown)

	client := asynq.NewClientFromRedisClient(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	for name := range script.scripts {
		_, err := client.Enqueue(asynq.NewTask("test:scripted", []byte(name)), asynq.Queue(queue), asynq.TaskID(name),
			asynq.MaxRetry(jobs.MaxRetryFor(limit)), asynq.Retention(time.Minute))
		require.NoError(t, err)
	}

	state := func(id string) (*asynq.TaskInfo, bool) {
		info, err := insp.GetTaskInfo(queue, id)
		if err != nil {
			return nil, false
		}
		return info, true
	}
	testenv.WaitFor(t, 20*time.Second, "both tasks settle", func() bool {
		a, okA := state("last-attempt-rate-limited")
		b, okB := state("always-failing")
		return okA && okB && a.State == asynq.TaskStateCompleted && b.State == asynq.TaskStateArchived
	})

	require.Equal(t, []int{0, 1, 2, 2, 2}, script.retries("last-attempt-rate-limited"),
		"rate limit and lease contention on the last allowed attempt spend no retry")
	a, _ := state("last-attempt-rate-limited")
	require.Equal(t, limit, a.Retried)

	require.Equal(t, []int{0, 1, 2}, script.retries("always-failing"), "limit+1 attempts, then archived")
	b, _ := state("always-failing")
	require.Contains(t, b.LastErr, jobs.ReasonRetryLimit)
	require.Contains(t, b.LastErr, "503")
}
