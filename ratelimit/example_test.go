package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jml-sync/docusign-worker/ratelimit"
)

// The pacing line of the default budget (3000 calls per hour, 10 % reserve),
// and how a reply showing other integrations' spending re-draws it.
func ExamplePace() {
	start := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	line := ratelimit.Pace{AnchorAt: start, AnchorRemaining: 3000, WindowEnd: start.Add(time.Hour), Reserve: 300}
	fmt.Printf("released: %.2f calls/s\n", line.Rate())

	at := start.Add(20 * time.Minute)
	fmt.Printf("10:20 keeps %.0f back; with 3000 left, %.0f may go now\n", line.Floor(at), line.Available(at, 3000))

	// A reply at 10:20 says 1500 remain: below the line, so it is re-drawn
	// through that point and the 1200 above the reserve spread over 40 min.
	line = ratelimit.Pace{AnchorAt: at, AnchorRemaining: 1500, WindowEnd: line.WindowEnd, Reserve: 300}
	next, _ := line.ReadyAt(at, 1500, 1)
	fmt.Printf("re-drawn: %.2f calls/s, next token at %s\n", line.Rate(), next.Format("15:04:05.000"))

	// Output:
	// released: 0.75 calls/s
	// 10:20 keeps 2100 back; with 3000 left, 900 may go now
	// re-drawn: 0.50 calls/s, next token at 10:20:02.000
}

// reply stands for what an HTTP client hook sees of a DocuSign reply.
type reply struct {
	throttled                   bool
	limit, remaining            int
	reset                       time.Time
	burstLimit, burstRemaining  int
	hasHourly, hasBurst, hourly bool
}

// How a client's before/after hook uses the limiter: take a token before the
// call at the priority the job put in the context, report the reply's
// headers after it. A *RetryError goes back to the job, which reschedules
// without spending a retry.
func ExampleLimiter_Wait() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	lim, err := ratelimit.New(rdb, ratelimit.Config{})
	if err != nil {
		panic(err)
	}
	ctx := ratelimit.WithPriority(context.Background(), ratelimit.Critical)
	const account = "5e0b5e5b-0000-4000-8000-000000000001"

	// Before the request.
	grant, err := lim.Wait(ctx, account, 1, ratelimit.PriorityFrom(ctx))
	var retry *ratelimit.RetryError
	switch {
	case errors.As(err, &retry):
		fmt.Println("reschedule in", retry.RetryIn)
		return
	case err != nil: // ErrUnavailable: hold the call
		fmt.Println(err)
		return
	}

	// After the reply.
	var r reply // parsed from the X-RateLimit-* and X-BurstLimit-* headers
	if r.throttled {
		kind := ratelimit.Burst
		if r.hourly {
			kind = ratelimit.Hourly
		}
		_ = lim.ObserveRateLimited(ctx, account, kind, r.reset)
		return
	}
	_, _ = lim.Observe(ctx, account, ratelimit.Observation{
		HasHourly: r.hasHourly, Limit: r.limit, Remaining: r.remaining, Reset: r.reset,
		HasBurst: r.hasBurst, BurstLimit: r.burstLimit, BurstRemaining: r.burstRemaining,
		SentAt: grant.At, // At stays zero: observed now, on the limiter's clock
	})
}
