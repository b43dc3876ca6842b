package docusign

import (
	"context"
	"time"
)

// RequestInfo describes an API request for the Hook.
type RequestInfo struct {
	// API is the surface called.
	API API
	// Operation is DocuSign's operationId, e.g. "Users_PostUsers" or "OrganizationUser_Users_AddV2".
	Operation string
	// AccountID is the rate-limit budget key: the account of an eSignature call, the Admin budget account
	// (Config.AdminBudgetAccountID or the organization's default account) for Admin API calls.
	AccountID string
	// Method is the HTTP method.
	Method string
	// Attempt is 1 for the first request of a call and 2 or 3 for the client's internal retries (after a token
	// refresh or a changed base_uri).
	Attempt int
}

// ResponseInfo describes the outcome of one API request for the Hook.
type ResponseInfo struct {
	// StatusCode is the HTTP status; 0 when no reply arrived (transport error, cancelled context).
	StatusCode int
	// RateLimit is what the reply's headers said.
	RateLimit RateLimit
	// ErrorCode is the DocuSign error code of a failed reply.
	ErrorCode string
	// TraceToken is the reply's X-DocuSign-TraceToken.
	TraceToken string
	// Duration is the time from sending the request to reading the whole reply.
	Duration time.Duration
	// Err is the request's error: transport error, *APIError, or nil. Per-item failures in a 2xx reply are not
	// reported here.
	Err error
}

// Hook observes every API request: it is where a rate limiter takes a token and learns the reply's headers. Each
// HTTP request, including the client's internal retries, calls BeforeRequest exactly once and, if that returned
// nil, AfterResponse exactly once (also on transport errors). Token and userinfo calls do not pass through it.
// Implementations must be safe for concurrent use.
type Hook interface {
	// BeforeRequest is called before a request is sent; it may block (ctx bounds the wait). A non-nil error
	// aborts the call: the client returns it wrapped with %w, unclassified, and AfterResponse is not called.
	BeforeRequest(ctx context.Context, req RequestInfo) error
	// AfterResponse is called once the reply is read or the request failed.
	AfterResponse(ctx context.Context, req RequestInfo, resp ResponseInfo)
}

// Reply is the metadata of the last HTTP reply behind a result: status, trace token and rate-limit headers.
type Reply struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// TraceToken is the X-DocuSign-TraceToken header.
	TraceToken string
	// RateLimit is what the reply's headers said about the budget.
	RateLimit RateLimit
}

type nopHook struct{}

func (nopHook) BeforeRequest(context.Context, RequestInfo) error         { return nil }
func (nopHook) AfterResponse(context.Context, RequestInfo, ResponseInfo) {}
