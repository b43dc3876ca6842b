package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/ratelimit"
)

func TestClassify(t *testing.T) {
	t.Parallel()

	// 09:00:10 UTC: 20 s left in the 30 s burst window.
	now := time.Date(2026, 11, 2, 9, 0, 10, 0, time.UTC)
	c := classifier{now: func() time.Time { return now }, burstWindow: 30 * time.Second}
	hourly := &docusign.APIError{StatusCode: http.StatusTooManyRequests, ErrorCode: docusign.CodeHourlyLimitExceeded,
		RateLimit: docusign.RateLimit{Reset: now.Add(50 * time.Minute)}}
	wrap := func(err error) error { return fmt.Errorf("docusign: esignature Users_PostUsers: %w", err) }

	tests := []struct {
		name    string
		err     error
		class   errorClass
		reason  string
		retryIn time.Duration
	}{
		{name: "nil", err: nil, class: classNone},
		{name: "limiter retry error through the client hook",
			err:   fmt.Errorf("docusign: admin X: hook: %w", &ratelimit.RetryError{Key: "acct", RetryIn: 7 * time.Second}),
			class: classRateLimited, retryIn: 7 * time.Second},
		{name: "429 hourly waits for X-RateLimit-Reset", err: wrap(hourly), class: classRateLimited, retryIn: 50 * time.Minute},
		{name: "400 legacy burst code waits for the burst window",
			err:   wrap(&docusign.APIError{StatusCode: http.StatusBadRequest, ErrorCode: docusign.CodeBurstLimitExceeded}),
			class: classRateLimited, retryIn: 20 * time.Second},
		{name: "429 without reset waits one burst window boundary",
			err: &docusign.APIError{StatusCode: http.StatusTooManyRequests}, class: classRateLimited, retryIn: 20 * time.Second},
		{name: "503", err: wrap(&docusign.APIError{StatusCode: http.StatusServiceUnavailable}), class: classTransient},
		{name: "401 after the client's refresh",
			err: wrap(&docusign.APIError{StatusCode: http.StatusUnauthorized, ErrorCode: docusign.CodeInvalidToken}), class: classTransient},
		{name: "timeout", err: wrap(context.DeadlineExceeded), class: classTransient},
		{name: "connection reset", err: wrap(io.ErrUnexpectedEOF), class: classTransient},
		{name: "limiter redis down", err: fmt.Errorf("hook: %w", ratelimit.ErrUnavailable), class: classTransient},
		{name: "unknown profile",
			err:   wrap(&docusign.UnknownRefError{Kind: docusign.KindPermissionProfile, Ref: docusign.RefByName("Nope")}),
			class: classPermanent, reason: ReasonUnknownPermissionProfile},
		{name: "unknown group", err: &docusign.UnknownRefError{Kind: docusign.KindGroup}, class: classPermanent, reason: ReasonUnknownGroup},
		{name: "invalid reference", err: fmt.Errorf("%w: x", docusign.ErrInvalidRef), class: classPermanent, reason: ReasonInvalidReference},
		{name: "user lacks permissions",
			err:   &docusign.APIError{StatusCode: http.StatusBadRequest, ErrorCode: docusign.CodeUserLacksPermissions},
			class: classPermanent, reason: ReasonUserLacksPermissions},
		{name: "other 4xx", err: &docusign.APIError{StatusCode: http.StatusBadRequest, ErrorCode: "INVALID_EMAIL_ADDRESS_FOR_USER"},
			class: classPermanent, reason: ReasonRejected},
		{name: "per-item failure", err: &docusign.PartialError{Items: []*docusign.ItemError{{ErrorCode: "invalid_request"}}},
			class: classPermanent, reason: ReasonItemRejected},
		{name: "invalid payload", err: fmt.Errorf("%w: bad", errInvalidPayload), class: classPermanent, reason: ReasonInvalidPayload},
		{name: "already permanent keeps its reason", err: Permanent(ReasonRetryLimit, errors.New("x")), class: classPermanent,
			reason: ReasonRetryLimit},
		{name: "lease taken", err: &LeaseTakenError{RetryIn: time.Second}, class: classLeaseTaken},
		{name: "unknown error is transient", err: errors.New("boom"), class: classTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := c.classify(tt.err)
			require.Equal(t, tt.class, classOf(got), "class of %v", got)
			require.Equal(t, tt.reason, ReasonOf(got))
			if tt.class == classPermanent {
				require.ErrorIs(t, got, asynq.SkipRetry)
			}
			if tt.err != nil {
				require.ErrorIs(t, got, tt.err, "the cause stays in the chain")
			}
			var rl *RateLimitedError
			if tt.class == classRateLimited {
				require.ErrorAs(t, got, &rl)
				require.Equal(t, tt.retryIn, rl.RetryIn)
			}
		})
	}
}

func TestIntegrationWide(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "consent required", err: fmt.Errorf("x: %w", &docusign.AuthError{StatusCode: 400, Code: docusign.AuthCodeConsentRequired}), want: true},
		{name: "invalid grant", err: &docusign.AuthError{StatusCode: 400, Code: docusign.AuthCodeInvalidGrant}, want: true},
		{name: "partner authentication failed", err: &docusign.APIError{StatusCode: 400, ErrorCode: docusign.CodePartnerAuthenticationFailed}, want: true},
		{name: "token endpoint 503", err: &docusign.AuthError{StatusCode: 503}, want: false},
		{name: "api 400", err: &docusign.APIError{StatusCode: 400, ErrorCode: "X"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, isIntegrationWide(tt.err))
		})
	}
}
