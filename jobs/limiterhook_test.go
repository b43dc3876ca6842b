package jobs

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// fakeLimiter records what the hook asks of the limiter.
type fakeLimiter struct {
	mu        sync.Mutex
	grantAt   time.Time
	waitErr   error
	waits     []string
	prios     []ratelimit.Priority
	observed  []ratelimit.Observation
	throttled []ratelimit.LimitKind
	resets    []time.Time
}

func (f *fakeLimiter) Wait(_ context.Context, key string, n int, p ratelimit.Priority) (ratelimit.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, key)
	f.prios = append(f.prios, p)
	if f.waitErr != nil {
		return ratelimit.Grant{}, f.waitErr
	}
	return ratelimit.Grant{Key: key, N: n, Priority: p, At: f.grantAt}, nil
}

func (f *fakeLimiter) Observe(_ context.Context, _ string, o ratelimit.Observation) (ratelimit.ObserveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observed = append(f.observed, o)
	return ratelimit.ObserveResult{}, nil
}

func (f *fakeLimiter) ObserveRateLimited(_ context.Context, _ string, kind ratelimit.LimitKind, reset time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttled = append(f.throttled, kind)
	f.resets = append(f.resets, reset)
	return nil
}

func TestLimiterHook(t *testing.T) {
	t.Parallel()

	grantAt := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	reset := grantAt.Add(time.Hour)
	req := docusign.RequestInfo{API: docusign.APIESignature, Operation: "Users_PostUsers", AccountID: "acct", Method: http.MethodPost, Attempt: 1}

	t.Run("token at the job's priority, headers observed with the grant time", func(t *testing.T) {
		t.Parallel()
		fl := &fakeLimiter{grantAt: grantAt}
		h := NewLimiterHook(fl, nil)
		st := newTaskState()
		ctx := ratelimit.WithPriority(withState(t.Context(), st), ratelimit.Critical)
		require.NoError(t, h.BeforeRequest(ctx, req))
		rl := docusign.RateLimit{Limit: 3000, Remaining: 2999, Reset: reset, BurstLimit: 500, BurstRemaining: 499,
			HasHourly: true, HasBurst: true}
		h.AfterResponse(ctx, req, docusign.ResponseInfo{StatusCode: 201, RateLimit: rl, TraceToken: "tt-1", Duration: time.Millisecond})

		require.Equal(t, []string{"acct"}, fl.waits)
		require.Equal(t, []ratelimit.Priority{ratelimit.Critical}, fl.prios)
		require.Equal(t, []ratelimit.Observation{{HasHourly: true, Limit: 3000, Remaining: 2999, Reset: reset, HasBurst: true,
			BurstLimit: 500, BurstRemaining: 499, SentAt: grantAt}}, fl.observed)
		require.Empty(t, fl.throttled)
		calls := st.snapshotCalls()
		require.Len(t, calls, 1)
		require.Equal(t, "tt-1", calls[0].TraceToken)
		require.Equal(t, 201, calls[0].StatusCode)
	})

	t.Run("throttled replies empty the bucket", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			resp docusign.ResponseInfo
			want ratelimit.LimitKind
		}{
			{name: "429 hourly", resp: docusign.ResponseInfo{StatusCode: 429, ErrorCode: docusign.CodeHourlyLimitExceeded,
				RateLimit: docusign.RateLimit{Reset: reset}}, want: ratelimit.Hourly},
			{name: "429 burst", resp: docusign.ResponseInfo{StatusCode: 429, ErrorCode: docusign.CodeBurstLimitExceeded,
				RateLimit: docusign.RateLimit{Reset: reset}}, want: ratelimit.Burst},
			{name: "legacy 400 burst", resp: docusign.ResponseInfo{StatusCode: 400, ErrorCode: docusign.CodeBurstLimitExceeded,
				RateLimit: docusign.RateLimit{Reset: reset}}, want: ratelimit.Burst},
			{name: "429 without code", resp: docusign.ResponseInfo{StatusCode: 429, RateLimit: docusign.RateLimit{Reset: reset}},
				want: ratelimit.Hourly},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				fl := &fakeLimiter{}
				NewLimiterHook(fl, nil).AfterResponse(t.Context(), req, tt.resp)
				require.Equal(t, []ratelimit.LimitKind{tt.want}, fl.throttled)
				require.Equal(t, []time.Time{reset}, fl.resets)
				require.Empty(t, fl.observed)
			})
		}
	})

	t.Run("no headers, nothing observed; default priority without one in ctx", func(t *testing.T) {
		t.Parallel()
		fl := &fakeLimiter{}
		h := NewLimiterHook(fl, nil)
		require.NoError(t, h.BeforeRequest(t.Context(), req))
		h.AfterResponse(t.Context(), req, docusign.ResponseInfo{Err: errors.New("connection reset")})
		require.Equal(t, []ratelimit.Priority{ratelimit.Default}, fl.prios)
		require.Empty(t, fl.observed)
		require.Empty(t, fl.throttled)
	})

	t.Run("a refused token aborts the call with the limiter's error", func(t *testing.T) {
		t.Parallel()
		refusal := &ratelimit.RetryError{Key: "acct", RetryIn: time.Minute}
		err := NewLimiterHook(&fakeLimiter{waitErr: refusal}, nil).BeforeRequest(t.Context(), req)
		require.ErrorIs(t, err, refusal)
	})

	t.Run("without a limiter calls are only recorded", func(t *testing.T) {
		t.Parallel()
		h := NewLimiterHook(nil, nil)
		st := newTaskState()
		ctx := withState(t.Context(), st)
		require.NoError(t, h.BeforeRequest(ctx, req))
		h.AfterResponse(ctx, req, docusign.ResponseInfo{StatusCode: 429})
		calls, writes := st.counts()
		require.Equal(t, 1, calls)
		require.Equal(t, 1, writes)
	})

	t.Run("queue priorities", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, ratelimit.Critical, priorityFor(QueueCritical))
		require.Equal(t, ratelimit.Default, priorityFor(QueueDefault))
		require.Equal(t, ratelimit.Low, priorityFor(QueueLow))
		require.Equal(t, ratelimit.Default, priorityFor("custom"))
	})
}

// retryingLimiter answers "retry in" to the first retries waits, then grants.
type retryingLimiter struct {
	fakeLimiter
	retryIn time.Duration
	retries int
	calls   int
}

func (r *retryingLimiter) Wait(ctx context.Context, key string, n int, p ratelimit.Priority) (ratelimit.Grant, error) {
	r.mu.Lock()
	r.calls++
	refuse := r.calls <= r.retries
	r.mu.Unlock()
	if refuse {
		return ratelimit.Grant{}, &ratelimit.RetryError{Key: key, RetryIn: r.retryIn, Reason: ratelimit.ReasonPaced, Priority: p}
	}
	return r.fakeLimiter.Wait(ctx, key, n, p)
}

// TestLimiterHookMidTaskWait: a task that already called DocuSign waits in
// place for its next token instead of being parked (which would repeat its
// look-ups); its first call is parked as the limiter says.
func TestLimiterHookMidTaskWait(t *testing.T) {
	t.Parallel()
	req := docusign.RequestInfo{API: docusign.APIAdmin, Operation: "OrganizationUser_Users_AddV2", AccountID: "acct", Method: http.MethodPost, Attempt: 1}
	lookup := docusign.RequestInfo{API: docusign.APIAdmin, Operation: "OrganizationUser_OrganizationUsers_GetProfileV2", AccountID: "acct", Method: http.MethodGet, Attempt: 1}

	t.Run("first call of a task is parked", func(t *testing.T) {
		t.Parallel()
		rl := &retryingLimiter{retryIn: 20 * time.Millisecond, retries: 1}
		h := NewLimiterHook(rl, nil)
		err := h.BeforeRequest(withState(t.Context(), newTaskState()), req)
		require.True(t, ratelimit.IsRetry(err))
		require.Equal(t, 1, rl.calls)
	})

	t.Run("later call waits in place", func(t *testing.T) {
		t.Parallel()
		rl := &retryingLimiter{retryIn: 20 * time.Millisecond, retries: 3}
		h := NewLimiterHook(rl, nil)
		st := newTaskState()
		st.record(lookup, docusign.ResponseInfo{StatusCode: http.StatusOK})
		start := time.Now()
		require.NoError(t, h.BeforeRequest(withState(t.Context(), st), req))
		require.Equal(t, 4, rl.calls)
		require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	})

	t.Run("a wait past the mid-task bound is parked", func(t *testing.T) {
		t.Parallel()
		rl := &retryingLimiter{retryIn: DefaultMidTaskWait + time.Second, retries: 1}
		h := NewLimiterHook(rl, nil)
		st := newTaskState()
		st.record(lookup, docusign.ResponseInfo{StatusCode: http.StatusOK})
		err := h.BeforeRequest(withState(t.Context(), st), req)
		require.True(t, ratelimit.IsRetry(err))
		require.Equal(t, 1, rl.calls)
	})

	t.Run("cancellation ends the wait", func(t *testing.T) {
		t.Parallel()
		rl := &retryingLimiter{retryIn: 10 * time.Second, retries: 1}
		h := NewLimiterHook(rl, nil)
		st := newTaskState()
		st.record(lookup, docusign.ResponseInfo{StatusCode: http.StatusOK})
		ctx, cancel := context.WithTimeout(withState(t.Context(), st), 30*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, h.BeforeRequest(ctx, req), context.DeadlineExceeded)
	})
}
