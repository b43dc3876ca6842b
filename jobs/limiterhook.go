package jobs

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// Limiter is the part of *ratelimit.Limiter the hook uses.
type Limiter interface {
	Wait(ctx context.Context, key string, n int, p ratelimit.Priority) (ratelimit.Grant, error)
	Observe(ctx context.Context, key string, o ratelimit.Observation) (ratelimit.ObserveResult, error)
	ObserveRateLimited(ctx context.Context, key string, kind ratelimit.LimitKind, reset time.Time) error
}

var _ Limiter = (*ratelimit.Limiter)(nil)

// LimiterHook is the docusign.Hook that puts every DocuSign request through
// the shared limiter: BeforeRequest takes one token of the request's budget
// key (the account, or the Admin budget account) at the priority the job set
// in ctx (ratelimit.WithPriority); AfterResponse reports the reply's
// rate-limit headers (Observe), or a throttled reply (ObserveRateLimited).
// A wait the limiter will not do in place comes back to the job as a
// *ratelimit.RetryError wrapped by the client; the handlers classify it.
//
// The hook also records each call in the running task's context (for the
// audit record's calls and trace tokens) and counts it in Metrics. Wire it
// as docusign.Config.Hook; jobs is the only package that knows both sides.
type LimiterHook struct {
	limiter     Limiter
	metrics     Metrics
	midTaskWait time.Duration
}

// DefaultMidTaskWait is how long a task that has already called DocuSign
// waits in place for the token of its next call. Parking it instead (the
// limiter's "retry in") would make it repeat those calls (its look-ups) when
// it comes back: under budget pressure, waiting is cheaper than paying twice.
// A task's first call is never held longer than the limiter's own MaxWait.
const DefaultMidTaskWait = 30 * time.Second

var _ docusign.Hook = (*LimiterHook)(nil)

// NewLimiterHook returns the hook over limiter (nil: calls are recorded and
// counted but not limited) and metrics (nil: none).
func NewLimiterHook(limiter Limiter, metrics Metrics) *LimiterHook {
	if metrics == nil {
		metrics = NopMetrics{}
	}
	return &LimiterHook{limiter: limiter, metrics: metrics, midTaskWait: DefaultMidTaskWait}
}

// BeforeRequest waits for a token; an error (a *ratelimit.RetryError, Redis
// unavailable, ctx done) aborts the call. A task that has already made calls
// keeps waiting in place, up to DefaultMidTaskWait, when the limiter says
// "retry in" (see DefaultMidTaskWait).
func (h *LimiterHook) BeforeRequest(ctx context.Context, req docusign.RequestInfo) error {
	if h.limiter == nil {
		return nil
	}
	st := stateFrom(ctx)
	var deadline time.Time
	for {
		g, err := h.limiter.Wait(ctx, req.AccountID, 1, ratelimit.PriorityFrom(ctx))
		if err == nil {
			if st != nil {
				st.granted(req, g.At)
			}
			return nil
		}
		in, ok := ratelimit.RetryIn(err)
		if !ok || st == nil || !st.hasCalls() {
			return err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(h.midTaskWait)
		}
		if time.Now().Add(in).After(deadline) {
			return err
		}
		if err := sleepCtx(ctx, in); err != nil {
			return err
		}
	}
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// observeTimeout bounds the limiter update after a reply.
const observeTimeout = 2 * time.Second

// AfterResponse reports the reply to the limiter, the task and the metrics.
func (h *LimiterHook) AfterResponse(ctx context.Context, req docusign.RequestInfo, resp docusign.ResponseInfo) {
	var sentAt time.Time
	if st := stateFrom(ctx); st != nil {
		sentAt = st.record(req, resp)
	}
	h.metrics.DocuSignCall(string(req.API), req.Operation, resp.StatusCode)
	if h.limiter == nil || req.AccountID == "" {
		return
	}
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), observeTimeout)
	defer cancel()
	var err error
	switch {
	case throttled(resp):
		kind := ratelimit.Hourly
		if resp.ErrorCode == docusign.CodeBurstLimitExceeded || errors.Is(resp.Err, docusign.ErrBurstLimitExceeded) {
			kind = ratelimit.Burst
		}
		err = h.limiter.ObserveRateLimited(octx, req.AccountID, kind, resp.RateLimit.Reset)
	case resp.RateLimit.HasHourly || resp.RateLimit.HasBurst:
		rl := resp.RateLimit
		_, err = h.limiter.Observe(octx, req.AccountID, ratelimit.Observation{
			HasHourly: rl.HasHourly, Limit: rl.Limit, Remaining: rl.Remaining, Reset: rl.Reset,
			HasBurst: rl.HasBurst, BurstLimit: rl.BurstLimit, BurstRemaining: rl.BurstRemaining, SentAt: sentAt,
		})
	}
	if err != nil {
		zerolog.Ctx(ctx).Debug().Err(err).Str("budget_key", req.AccountID).Msg("rate-limit observation not recorded")
	}
}

// throttled reports a reply refused by a DocuSign rate limit.
func throttled(resp docusign.ResponseInfo) bool {
	if resp.StatusCode == http.StatusTooManyRequests {
		return true
	}
	switch resp.ErrorCode {
	case docusign.CodeHourlyLimitExceeded, docusign.CodeBurstLimitExceeded:
		return true
	}
	return resp.Err != nil && docusign.IsRateLimited(resp.Err)
}

// CallRecord is one DocuSign request made by a task.
type CallRecord struct {
	API        string `json:"api"`
	Operation  string `json:"operation"`
	AccountID  string `json:"account_id,omitempty"`
	Method     string `json:"method"`
	StatusCode int    `json:"status"`
	ErrorCode  string `json:"error_code,omitempty"`
	TraceToken string `json:"trace_token,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// taskState is what one task's handlers, hook and middleware share through
// its context.
type taskState struct {
	mu      sync.Mutex
	calls   []CallRecord
	planned []PlannedCall
	sentAt  map[docusign.RequestInfo]time.Time
	outcome string
	payload *Payload
	userID  string
	audit   error // a failed "failed" audit publication
}

type stateKey struct{}

func newTaskState() *taskState { return &taskState{sentAt: map[docusign.RequestInfo]time.Time{}} }

func withState(ctx context.Context, st *taskState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateFrom(ctx context.Context) *taskState {
	st, _ := ctx.Value(stateKey{}).(*taskState)
	return st
}

func (s *taskState) granted(req docusign.RequestInfo, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sentAt[req] = at
}

// record appends a call and returns when its token was granted.
func (s *taskState) record(req docusign.RequestInfo, resp docusign.ResponseInfo) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.sentAt[req]
	delete(s.sentAt, req)
	s.calls = append(s.calls, CallRecord{API: string(req.API), Operation: req.Operation, AccountID: req.AccountID,
		Method: req.Method, StatusCode: resp.StatusCode, ErrorCode: resp.ErrorCode, TraceToken: resp.TraceToken,
		DurationMS: resp.Duration.Milliseconds()})
	return at
}

// hasCalls reports whether the task has made a DocuSign call in this run.
func (s *taskState) hasCalls() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls) > 0
}

// addPlanned records a write a dry run did not send.
func (s *taskState) addPlanned(c PlannedCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.planned = append(s.planned, c)
}

// snapshotPlanned returns the dry run's writes (nil when none).
func (s *taskState) snapshotPlanned() []PlannedCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.planned)
}

func (s *taskState) snapshotCalls() []CallRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CallRecord, len(s.calls))
	copy(out, s.calls)
	return out
}

func (s *taskState) setOutcome(o string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcome = o
}

func (s *taskState) getOutcome() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outcome
}

// writes counts the write calls (not GET) recorded.
func (s *taskState) counts() (calls, writes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		calls++
		if c.Method != http.MethodGet {
			writes++
		}
	}
	return calls, writes
}
