package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

// Reason codes of permanent failures ([PermanentError].Reason). They are
// stable: dead-letter records and dashboards group by them.
const (
	// ReasonInvalidPayload: the task's payload does not decode or validate.
	ReasonInvalidPayload = "invalid_payload"
	// ReasonUnknownPermissionProfile: a permission profile named by the event
	// does not exist in its account.
	ReasonUnknownPermissionProfile = "unknown_permission_profile"
	// ReasonUnknownGroup: a group named by the event does not exist in its
	// account.
	ReasonUnknownGroup = "unknown_group"
	// ReasonInvalidReference: a profile or group reference is malformed (an
	// Admin API id that is not an integer).
	ReasonInvalidReference = "invalid_reference"
	// ReasonUserLacksPermissions: DocuSign says the impersonated user may not
	// do this (USER_LACKS_PERMISSIONS).
	ReasonUserLacksPermissions = "user_lacks_permissions"
	// ReasonRejected: DocuSign rejected the request (another 4xx).
	ReasonRejected = "docusign_rejected"
	// ReasonItemRejected: DocuSign accepted the request but reported the
	// item as failed (per-item errorDetails / error_details).
	ReasonItemRejected = "docusign_item_rejected"
	// ReasonUnmanagedAccount: the event names an account the worker does not
	// manage (Config.Accounts).
	ReasonUnmanagedAccount = "unmanaged_account"
	// ReasonCannotConverge: the desired state cannot be expressed through the
	// configured surface (see the message).
	ReasonCannotConverge = "cannot_converge"
	// ReasonRetryLimit: the task failed transiently more often than the
	// configured retry limit allows.
	ReasonRetryLimit = "retry_limit_exhausted"
	// ReasonArchivedManually: the task was archived without an error, by an
	// operator (dashboard or Inspector); found by the dead-letter sweep.
	ReasonArchivedManually = "archived_manually"
)

// PermanentError is a failure that retrying cannot fix: the task is archived
// at once. errors.Is(err, asynq.SkipRetry) holds for it, which is what makes
// asynq archive it; Reason is one of the Reason… codes.
type PermanentError struct {
	// Reason is a stable reason code.
	Reason string
	// Err is the underlying error.
	Err error
}

// Error describes the failure with its reason code.
func (e *PermanentError) Error() string {
	return fmt.Sprintf("jobs: permanent failure (reason %s): %v", e.Reason, e.Err)
}

// Unwrap returns asynq.SkipRetry and the underlying error.
func (e *PermanentError) Unwrap() []error { return []error{asynq.SkipRetry, e.Err} }

// Permanent wraps err as a *PermanentError with the reason code.
func Permanent(reason string, err error) error {
	return &PermanentError{Reason: reason, Err: err}
}

// ReasonOf returns the reason code of a permanent failure in err's chain, or
// "" when there is none.
func ReasonOf(err error) string {
	var pe *PermanentError
	if errors.As(err, &pe) {
		return pe.Reason
	}
	return ""
}

// RateLimitedError says the DocuSign budget is spent for now: the task comes
// back after RetryIn without spending a retry (IsFailure is false for it and
// RetryDelayFunc returns RetryIn).
type RateLimitedError struct {
	// RetryIn is when to come back.
	RetryIn time.Duration
	// Err is the limiter's *ratelimit.RetryError or DocuSign's throttling
	// error.
	Err error
}

// Error describes the wait.
func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("jobs: rate limited, retry in %s: %v", e.RetryIn, e.Err)
}

// Unwrap returns the cause.
func (e *RateLimitedError) Unwrap() error { return e.Err }

// RateLimited returns a *RateLimitedError asking to come back after d.
func RateLimited(d time.Duration) error {
	return &RateLimitedError{RetryIn: d, Err: errors.New("rate limited")}
}

// LeaseTakenError says another job of the same employee is running: the task
// comes back shortly without spending a retry.
type LeaseTakenError struct {
	// EmployeeID is the employee whose lease is taken.
	EmployeeID string
	// RetryIn is when to come back.
	RetryIn time.Duration
}

// Error describes the contention.
func (e *LeaseTakenError) Error() string {
	return fmt.Sprintf("jobs: another job of employee %s is running, retry in %s", e.EmployeeID, e.RetryIn)
}

// IntegrationPausedError says the whole integration is broken (consent
// revoked, key invalid): the task's queue has been paused and the task comes
// back later, without spending a retry, instead of being archived. An
// operator fixes the integration and resumes the queue.
type IntegrationPausedError struct {
	// Queue is the queue that was paused.
	Queue string
	// RetryIn is when the task becomes due again (it only runs once the
	// queue is resumed).
	RetryIn time.Duration
	// Err is DocuSign's error.
	Err error
}

// Error describes the pause.
func (e *IntegrationPausedError) Error() string {
	return fmt.Sprintf("jobs: DocuSign integration unusable, queue %q paused: %v", e.Queue, e.Err)
}

// Unwrap returns the cause.
func (e *IntegrationPausedError) Unwrap() error { return e.Err }

// errLeaseLost cancels a handler whose employee lease could not be renewed.
var errLeaseLost = errors.New("jobs: employee lease lost")

// errorClass is the outcome of classification.
type errorClass int

const (
	classNone errorClass = iota
	classRateLimited
	classLeaseTaken
	classPaused
	classTransient
	classPermanent
)

func (c errorClass) String() string {
	switch c {
	case classNone:
		return "ok"
	case classRateLimited:
		return "rate_limited"
	case classLeaseTaken:
		return "lease_taken"
	case classPaused:
		return "integration_paused"
	case classTransient:
		return "transient"
	case classPermanent:
		return "permanent"
	}
	return "unknown"
}

// classOf tells an already classified error's class.
func classOf(err error) errorClass {
	var (
		rl *RateLimitedError
		lt *LeaseTakenError
		ip *IntegrationPausedError
		ch *CloseHeldError
	)
	switch {
	case err == nil:
		return classNone
	case errors.Is(err, asynq.SkipRetry):
		return classPermanent
	case errors.As(err, &ip):
		return classPaused
	case errors.As(err, &lt), errors.As(err, &ch): // a held close waits like a taken lease
		return classLeaseTaken
	case errors.As(err, &rl), ratelimit.IsRetry(err), docusign.IsRateLimited(err):
		return classRateLimited
	}
	return classTransient
}

// classifier turns any error of a handler into one of the classes above,
// once, at the job boundary.
type classifier struct {
	now         func() time.Time
	burstWindow time.Duration
}

// isIntegrationWide reports errors that break every task of the
// integration: the token endpoint refuses the grant (consent_required,
// invalid_grant, unknown issuer or user) or DocuSign no longer knows the
// integration key (PARTNER_AUTHENTICATION_FAILED after the client's route
// refresh).
func isIntegrationWide(err error) bool {
	return docusign.IsPermanentAuth(err) || errors.Is(err, docusign.ErrPartnerAuthenticationFailed)
}

// classify returns err unchanged when it is already classified, else the
// classified error: *RateLimitedError, *PermanentError, a paused-integration
// candidate (returned as-is; the caller pauses), or err itself (transient).
func (c classifier) classify(err error) error {
	if err == nil {
		return nil
	}
	var (
		rl *RateLimitedError
		lt *LeaseTakenError
		ip *IntegrationPausedError
		re *ratelimit.RetryError
	)
	switch {
	case errors.Is(err, asynq.SkipRetry), errors.As(err, &rl), errors.As(err, &lt), errors.As(err, &ip):
		return err
	case errors.As(err, &re):
		return &RateLimitedError{RetryIn: max(re.RetryIn, 0), Err: err}
	case docusign.IsRateLimited(err):
		return &RateLimitedError{RetryIn: c.throttledRetryIn(err), Err: err}
	case errors.Is(err, errLeaseLost), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ratelimit.ErrUnavailable):
		return err
	case errors.Is(err, docusign.ErrUnknownPermissionProfile):
		return Permanent(ReasonUnknownPermissionProfile, err)
	case errors.Is(err, docusign.ErrUnknownGroup):
		return Permanent(ReasonUnknownGroup, err)
	case errors.Is(err, docusign.ErrInvalidRef):
		return Permanent(ReasonInvalidReference, err)
	case errors.Is(err, docusign.ErrUserLacksPermissions):
		return Permanent(ReasonUserLacksPermissions, err)
	case errors.Is(err, errInvalidPayload):
		return Permanent(ReasonInvalidPayload, err)
	case errors.Is(err, errCannotConverge):
		return Permanent(ReasonCannotConverge, err)
	}
	var apiErr *docusign.APIError
	if errors.As(err, &apiErr) {
		if transientStatus(apiErr.StatusCode) {
			return err
		}
		return Permanent(ReasonRejected, err)
	}
	var pe *docusign.PartialError
	if errors.As(err, &pe) {
		return Permanent(ReasonItemRejected, err)
	}
	return err
}

// transientStatus reports HTTP statuses worth retrying: 401 (the client has
// already refreshed its token once), 408, 409 (a concurrent change), 5xx, and
// 2xx replies that could not be decoded.
func transientStatus(status int) bool {
	switch {
	case status >= 500, status >= 200 && status < 300:
		return true
	case status == http.StatusUnauthorized, status == http.StatusRequestTimeout, status == http.StatusConflict:
		return true
	}
	return false
}

// throttledRetryIn says when a DocuSign throttling error clears: at the end
// of the current burst window for the burst limit; at X-RateLimit-Reset for
// the hourly limit; one burst window when the reply did not say.
func (c classifier) throttledRetryIn(err error) time.Duration {
	now := c.now()
	window := c.burstWindow
	if errors.Is(err, docusign.ErrBurstLimitExceeded) {
		return untilNextWindow(now, window)
	}
	var apiErr *docusign.APIError
	if errors.As(err, &apiErr) && !apiErr.RateLimit.Reset.IsZero() {
		if d := apiErr.RateLimit.Reset.Sub(now); d > 0 {
			return d
		}
	}
	return untilNextWindow(now, window)
}

// untilNextWindow is the time to the next boundary of fixed, aligned windows
// of length w (at least 1 ms).
func untilNextWindow(now time.Time, w time.Duration) time.Duration {
	if w <= 0 {
		return time.Second
	}
	d := w - time.Duration(now.UnixNano()%int64(w))
	return max(d, time.Millisecond)
}

// itemCodes lists the error codes of a *docusign.PartialError, for logs.
func itemCodes(err error) string {
	var pe *docusign.PartialError
	if !errors.As(err, &pe) {
		return ""
	}
	codes := make([]string, 0, len(pe.Items))
	for _, it := range pe.Items {
		codes = append(codes, it.ErrorCode)
	}
	return strings.Join(codes, ",")
}

// DocuSignErrorDetails returns the DocuSign error code(s) and trace token in
// err's chain (an *APIError, the items of a *PartialError, or an *AuthError's
// code), for logs, audit and dead-letter records.
func DocuSignErrorDetails(err error) (code, trace string) {
	var apiErr *docusign.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode, apiErr.TraceToken
	}
	var pe *docusign.PartialError
	if errors.As(err, &pe) {
		return itemCodes(err), pe.TraceToken
	}
	var ae *docusign.AuthError
	if errors.As(err, &ae) {
		return ae.Code, ""
	}
	return "", ""
}
