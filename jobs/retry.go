package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// Retry defaults.
const (
	// DefaultRetryLimit is how many times a task that failed transiently is
	// retried before it is archived.
	DefaultRetryLimit = 10
	// DefaultBackoffBase is the first transient backoff's upper bound.
	DefaultBackoffBase = 2 * time.Second
	// DefaultBackoffCap caps the transient backoff's upper bound.
	DefaultBackoffCap = 5 * time.Minute
	// DefaultLeaseRetryIn is when a task that found its employee's lease
	// taken comes back.
	DefaultLeaseRetryIn = time.Second
	// DefaultPausedRetryIn is when a task of a paused queue becomes due
	// again (it runs only once an operator resumes the queue).
	DefaultPausedRetryIn = time.Minute
	// DefaultBurstWindow is DocuSign's burst window, used to time the return
	// of a task throttled by the burst limit.
	DefaultBurstWindow = 30 * time.Second
	// crashRetryIn is the delay of a task recovered after its worker died
	// (asynq.ErrLeaseExpired).
	crashRetryIn = time.Second
)

// MaxRetryFor returns the asynq MaxRetry to give tasks when the worker's
// retry limit is limit: one more, so that asynq, which archives once
// Retried >= MaxRetry before consulting IsFailure, never archives a task
// whose last allowed attempt was only rate limited, lease-blocked or
// crashed. The limit itself is enforced by the retry-limit middleware.
func MaxRetryFor(limit int) int { return limit + 1 }

// RetryPolicy computes retry delays: "come back later" errors return their
// RetryIn; transient errors back off exponentially with full jitter, i.e. a
// uniformly random delay in [0, min(Cap, Base·2^n)). The zero value means
// the defaults.
type RetryPolicy struct {
	// Limit is the number of retries after transient failures (default
	// DefaultRetryLimit; negative: none).
	Limit int
	// Base is the upper bound of the first backoff (default
	// DefaultBackoffBase).
	Base time.Duration
	// Cap bounds every backoff (default DefaultBackoffCap).
	Cap time.Duration
	// RandFunc returns a number in [0,1); default math/rand/v2.Float64.
	RandFunc func() float64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Limit == 0 {
		p.Limit = DefaultRetryLimit
	}
	if p.Limit < 0 {
		p.Limit = 0
	}
	if p.Base <= 0 {
		p.Base = DefaultBackoffBase
	}
	if p.Cap <= 0 {
		p.Cap = DefaultBackoffCap
	}
	if p.Cap < p.Base {
		p.Cap = p.Base
	}
	if p.RandFunc == nil {
		p.RandFunc = rand.Float64
	}
	return p
}

// RetryDelay is an asynq.Config.RetryDelayFunc: n is the number of real
// failures so far (asynq does not count retries for which IsFailure is
// false).
func (p RetryPolicy) RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	p = p.withDefaults()
	var (
		rl *RateLimitedError
		lt *LeaseTakenError
		ip *IntegrationPausedError
		ch *CloseHeldError
	)
	switch {
	case errors.As(err, &rl):
		return max(rl.RetryIn, 0)
	case errors.As(err, &lt):
		return max(lt.RetryIn, 0)
	case errors.As(err, &ch):
		return max(ch.RetryIn, 0)
	case errors.As(err, &ip):
		return max(ip.RetryIn, 0)
	case errors.Is(err, asynq.ErrLeaseExpired):
		return crashRetryIn
	}
	return p.backoff(n)
}

// backoff is the full-jitter exponential delay of the n-th retry.
func (p RetryPolicy) backoff(n int) time.Duration {
	ceiling := p.Cap
	if n < 0 {
		n = 0
	}
	if n < 62 {
		if d := p.Base << n; d > 0 && d < ceiling && d>>n == p.Base {
			ceiling = d
		}
	}
	r := p.RandFunc()
	if r < 0 || r >= 1 {
		r = 0
	}
	return time.Duration(r * float64(ceiling))
}

// RetryDelayFunc is RetryPolicy{}.RetryDelay: the default policy, for
// asynq.Config.RetryDelayFunc.
func RetryDelayFunc(n int, err error, t *asynq.Task) time.Duration {
	return RetryPolicy{}.RetryDelay(n, err, t)
}

// IsFailure is asynq.Config.IsFailure: false for every "come back later"
// outcome — rate limited (*RateLimitedError, the limiter's
// *ratelimit.RetryError, DocuSign throttling), another job of the employee
// running (*LeaseTakenError) or a close held by the Guard (*CloseHeldError), the integration paused
// (*IntegrationPausedError) and a worker crash (asynq.ErrLeaseExpired) — so
// none of them spends a retry.
func IsFailure(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return false
	}
	switch classOf(err) {
	case classRateLimited, classLeaseTaken, classPaused:
		return false
	}
	return true
}

// RetryLimitMiddleware enforces limit itself, because asynq's MaxRetry
// cannot: asynq archives at Retried >= MaxRetry before it consults
// IsFailure. Tasks carry MaxRetry = MaxRetryFor(limit) (NewTask's default)
// and this middleware turns a real failure (IsFailure true) on the attempt
// after limit real failures into a *PermanentError (ReasonRetryLimit),
// which asynq archives. asynq.GetRetryCount counts only real failures, so
// come-back-later errors never bring a task closer to the archive. When a
// task's MaxRetry is lower than MaxRetryFor(limit), its own MaxRetry − 1 is
// enforced instead.
func RetryLimitMiddleware(limit int) asynq.MiddlewareFunc {
	if limit < 0 {
		limit = 0
	}
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			err := next.ProcessTask(ctx, t)
			if err == nil || !IsFailure(err) || errors.Is(err, asynq.SkipRetry) {
				return err
			}
			return exhausted(ctx, limit, err)
		})
	}
}

// exhausted returns err as a *PermanentError when no retry is left.
func exhausted(ctx context.Context, limit int, err error) error {
	effective := limit
	if maxRetry, ok := asynq.GetMaxRetry(ctx); ok && maxRetry-1 < effective {
		effective = max(maxRetry-1, 0)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	if retried < effective {
		return err
	}
	return Permanent(ReasonRetryLimit, fmt.Errorf("failed %d times (limit %d): %w", retried+1, effective, err))
}
