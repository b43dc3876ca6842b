package jobs_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/jml-sync/docusign-worker/jobs"
)

// The retry policy: come-back-later errors return their own delay and spend
// no retry; transient errors back off with full jitter.
func ExampleRetryPolicy_RetryDelay() {
	p := jobs.RetryPolicy{Limit: 5, Base: time.Second, Cap: time.Minute, RandFunc: func() float64 { return 0.5 }}
	transient := errors.New("docusign: 503")
	for n := range 4 {
		fmt.Println("retry", n, "after", p.RetryDelay(n, transient, nil))
	}
	limited := jobs.RateLimited(90 * time.Second)
	fmt.Println("rate limited: after", p.RetryDelay(3, limited, nil), "failure:", jobs.IsFailure(limited))
	fmt.Println("worker crash: failure:", jobs.IsFailure(asynq.ErrLeaseExpired))
	fmt.Println("asynq MaxRetry for a limit of 5:", jobs.MaxRetryFor(5))
	// Output:
	// retry 0 after 500ms
	// retry 1 after 1s
	// retry 2 after 2s
	// retry 3 after 4s
	// rate limited: after 1m30s failure: false
	// worker crash: failure: false
	// asynq MaxRetry for a limit of 5: 6
}

// A permanent failure carries a reason code and makes asynq archive the task.
func ExamplePermanent() {
	err := fmt.Errorf("jobs: create: %w", jobs.Permanent(jobs.ReasonUnknownGroup, errors.New("no group Nope")))
	fmt.Println(jobs.ReasonOf(err), errors.Is(err, asynq.SkipRetry))
	// Output: unknown_group true
}

// The audit event of an outcome has a deterministic id, used as Nats-Msg-Id.
func ExampleAuditMsgID() {
	fmt.Println(jobs.AuditMsgID(jobs.TaskID("hris", "evt-1", jobs.TypeUserCreate), jobs.OutcomeCreated)[56:])
	// Output: 0233af1d.created
}
