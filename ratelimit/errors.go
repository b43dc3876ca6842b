package ratelimit

import (
	"errors"
	"fmt"
	"time"
)

// ErrUnavailable is wrapped by every error caused by Redis failing (unless
// Config.FailOpen is set, acquiring then fails closed): errors.Is(err,
// ErrUnavailable) tells the caller to hold its DocuSign call and retry later.
var ErrUnavailable = errors.New("ratelimit: redis unavailable")

// ErrTooLarge is returned for a request of more tokens than one hourly or
// burst window can ever grant.
var ErrTooLarge = errors.New("ratelimit: request larger than a window allows")

// ErrInvalid is wrapped by errors about invalid arguments (empty key, n < 1,
// an unknown priority, an invalid observation).
var ErrInvalid = errors.New("ratelimit: invalid argument")

// Reason says why a request has to wait.
type Reason string

// Reasons carried by *RetryError.
const (
	// ReasonPaced: the pacing line releases the next token later.
	ReasonPaced Reason = "paced"
	// ReasonHourly: this window's budget (above the reserve) is spent, or a
	// throttled reply emptied it; tokens come back in the next window.
	ReasonHourly Reason = "hourly budget spent"
	// ReasonBurst: this burst window's budget is spent.
	ReasonBurst Reason = "burst budget spent"
	// ReasonPriority: higher-priority requests are waiting for the tokens.
	ReasonPriority Reason = "higher priority waiting"
)

// RetryError says the request cannot be granted within the in-place wait
// budget; the caller should come back after RetryIn. Jobs turn it into a
// reschedule that spends no retry.
type RetryError struct {
	// Key is the budget key.
	Key string
	// RetryIn is how long until the tokens are expected (limiter clock).
	RetryIn time.Duration
	// Reason says what the request waits for.
	Reason Reason
	// Priority is the request's priority.
	Priority Priority
}

// Error implements error.
func (e *RetryError) Error() string {
	return fmt.Sprintf("ratelimit: %s budget %q: %s, retry in %s", e.Priority, e.Key, e.Reason, e.RetryIn)
}

// IsRetry reports whether err is (or wraps) a *RetryError.
func IsRetry(err error) bool {
	var re *RetryError
	return errors.As(err, &re)
}

// RetryIn returns the RetryIn of the *RetryError in err's chain, and false if
// there is none.
func RetryIn(err error) (time.Duration, bool) {
	var re *RetryError
	if errors.As(err, &re) {
		return re.RetryIn, true
	}
	return 0, false
}
