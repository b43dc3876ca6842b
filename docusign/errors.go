package docusign

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API names the DocuSign surface of a request.
type API string

// The DocuSign surfaces the client calls.
const (
	// APIESignature is the eSignature REST API v2.1 (account-scoped, routed per account through userinfo).
	APIESignature API = "esignature"
	// APIAdmin is the Admin API (organization-scoped, one fixed host).
	APIAdmin API = "admin"
	// APIOAuth is the OAuth server's userinfo endpoint. It appears in errors only; such calls bypass the Hook.
	APIOAuth API = "oauth"
)

// DocuSign error codes the client and its callers branch on (docusign-api.md §3, §6, §7).
const (
	CodeUserAlreadyExists           = "USER_ALREADY_EXISTS_IN_ACCOUNT"
	CodeUserDoesNotExist            = "USER_DOES_NOT_EXIST_IN_SYSTEM"
	CodeUserLacksMembership         = "USER_LACKS_MEMBERSHIP"
	CodeUserNotInAccount            = "USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT"
	CodePartnerAuthenticationFailed = "PARTNER_AUTHENTICATION_FAILED"
	CodeUserLacksPermissions        = "USER_LACKS_PERMISSIONS"
	CodeInvalidToken                = "AUTHORIZATION_INVALID_TOKEN"
	CodeUserAuthenticationFailed    = "USER_AUTHENTICATION_FAILED"
	CodeHourlyLimitExceeded         = "HOURLY_APIINVOCATION_LIMIT_EXCEEDED"
	CodeBurstLimitExceeded          = "BURST_APIINVOCATION_LIMIT_EXCEEDED"
	// CodeUnparseableResponse is synthetic: the reply body was empty, not JSON, truncated, or lacked an error code.
	CodeUnparseableResponse = "UNPARSEABLE_RESPONSE"
	// CodeUnsuccessful is synthetic: an Admin reply said "success": false without naming a failed item.
	CodeUnsuccessful = "UNSUCCESSFUL"
)

// Messages DocuSign sends when a rate limit is exceeded; used when a body carries no recognisable code.
const (
	hourlyLimitMessage = "maximum number of hourly api invocations"
	burstLimitMessage  = "maximum number of burst api invocations"
)

// Sentinels matched with errors.Is against *APIError and *ItemError by error code.
var (
	// ErrUserAlreadyExists: the user (user name and email) already exists in the account; on Users:create it
	// arrives as a per-item error in a 201.
	ErrUserAlreadyExists error = &APIError{ErrorCode: CodeUserAlreadyExists}
	// ErrUserDoesNotExist: the user id is unknown on the server called (also a wrong-environment symptom).
	ErrUserDoesNotExist error = &APIError{ErrorCode: CodeUserDoesNotExist}
	// ErrUserLacksMembership: the user has no valid membership in the account on the server called.
	ErrUserLacksMembership error = &APIError{ErrorCode: CodeUserLacksMembership}
	// ErrUserNotInAccount: the user is not a member of the account.
	ErrUserNotInAccount error = &APIError{ErrorCode: CodeUserNotInAccount}
	// ErrPartnerAuthenticationFailed: integration key unknown or the account is not on the server called.
	ErrPartnerAuthenticationFailed error = &APIError{ErrorCode: CodePartnerAuthenticationFailed}
	// ErrUserLacksPermissions: the impersonated user may not do this.
	ErrUserLacksPermissions error = &APIError{ErrorCode: CodeUserLacksPermissions}
	// ErrInvalidToken: the access token was rejected (expired or revoked).
	ErrInvalidToken error = &APIError{ErrorCode: CodeInvalidToken}
	// ErrUserAuthenticationFailed: the user could not be authenticated with the token.
	ErrUserAuthenticationFailed error = &APIError{ErrorCode: CodeUserAuthenticationFailed}
	// ErrHourlyLimitExceeded: the account's hourly API budget is spent. Also matches bodies without the code whose
	// message is DocuSign's hourly-limit text.
	ErrHourlyLimitExceeded error = &APIError{ErrorCode: CodeHourlyLimitExceeded}
	// ErrBurstLimitExceeded: the account's 30-second burst budget is spent. Also matches by DocuSign's message.
	ErrBurstLimitExceeded error = &APIError{ErrorCode: CodeBurstLimitExceeded}
	// ErrUnparseableResponse: the reply body could not be decoded (see CodeUnparseableResponse).
	ErrUnparseableResponse error = &APIError{ErrorCode: CodeUnparseableResponse}
)

// APIError is a non-2xx DocuSign reply, or a 2xx reply whose body could not be decoded. eSignature bodies
// {"errorCode","message"} and Admin bodies {"error","error_description"} both map onto it.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// ErrorCode is DocuSign's errorCode (eSignature) or error (Admin API); CodeUnparseableResponse when the body
	// could not be read.
	ErrorCode string
	// Message is DocuSign's message or error_description. DocuSign rewords messages: match ErrorCode instead.
	Message string
	// TraceToken is the X-DocuSign-TraceToken header, DocuSign's correlation id.
	TraceToken string
	// RateLimit is what the reply's headers said about the budget.
	RateLimit RateLimit
	// API is the surface called.
	API API
	// Operation is DocuSign's operationId of the call, e.g. "Users_PostUsers".
	Operation string
}

// Error describes the failure: API, operation, status, code, message and trace token.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("docusign:")
	if e.API != "" {
		b.WriteString(" ")
		b.WriteString(string(e.API))
	}
	if e.Operation != "" {
		b.WriteString(" ")
		b.WriteString(e.Operation)
	}
	if e.API != "" || e.Operation != "" {
		b.WriteString(":")
	}
	if e.StatusCode != 0 {
		b.WriteString(" ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if e.ErrorCode != "" {
		b.WriteString(" ")
		b.WriteString(e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.TraceToken != "" {
		b.WriteString(" (trace token ")
		b.WriteString(e.TraceToken)
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is an *APIError or *ItemError sentinel with the same error code. The hourly and burst
// sentinels also match a reply whose message is DocuSign's limit text (Admin bodies may lack the code).
func (e *APIError) Is(target error) bool {
	return codeMatches(e.ErrorCode, e.Message, target)
}

func codeMatches(code, message string, target error) bool {
	var want string
	switch t := target.(type) {
	case *APIError:
		want = t.ErrorCode
	case *ItemError:
		want = t.ErrorCode
	default:
		return false
	}
	if want == "" {
		return false
	}
	if code == want {
		return true
	}
	lower := strings.ToLower(message)
	switch want {
	case CodeHourlyLimitExceeded:
		return code != CodeBurstLimitExceeded && strings.Contains(lower, hourlyLimitMessage)
	case CodeBurstLimitExceeded:
		return code != CodeHourlyLimitExceeded && strings.Contains(lower, burstLimitMessage)
	}
	return false
}

// ItemError is the failure of one item in a multi-item reply (eSignature errorDetails, Admin error_details).
// errors.Is matches it against the same sentinels as *APIError.
type ItemError struct {
	// Index is the item's position in the reply; -1 when the reply failed without naming an item.
	Index int
	// ID identifies the item when DocuSign says which one: a user id or an account id.
	ID string
	// ErrorCode is errorCode (eSignature) or error (Admin API).
	ErrorCode string
	// Message is message (eSignature) or error_description (Admin API).
	Message string
}

// Error describes the failed item without personal data.
func (e *ItemError) Error() string {
	var b strings.Builder
	if e.Index >= 0 {
		fmt.Fprintf(&b, "docusign: item %d", e.Index)
	} else {
		b.WriteString("docusign: reply")
	}
	if e.ID != "" {
		fmt.Fprintf(&b, " (%s)", e.ID)
	}
	b.WriteString(":")
	if e.ErrorCode != "" {
		b.WriteString(" ")
		b.WriteString(e.ErrorCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is reports whether target is an *APIError or *ItemError with the same error code.
func (e *ItemError) Is(target error) bool {
	return codeMatches(e.ErrorCode, e.Message, target)
}

// PartialError is returned, together with the decoded result, when a 2xx reply reports failed items (a 201 from
// Users:create holding errorDetails, an Admin reply with "success": false or error_details). errors.Is and
// errors.As see each *ItemError, so errors.Is(err, ErrUserAlreadyExists) works for a one-user create.
type PartialError struct {
	// API is the surface called.
	API API
	// Operation is DocuSign's operationId.
	Operation string
	// StatusCode is the HTTP status of the reply (2xx).
	StatusCode int
	// TraceToken is the reply's X-DocuSign-TraceToken.
	TraceToken string
	// Total is the number of items in the reply.
	Total int
	// Items are the failed items.
	Items []*ItemError
}

// Error summarises the failed items.
func (e *PartialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "docusign: %s %s: %d of %d items failed", e.API, e.Operation, len(e.Items), e.Total)
	for i, it := range e.Items {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Items)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(strings.TrimPrefix(it.Error(), "docusign: "))
	}
	if e.TraceToken != "" {
		fmt.Fprintf(&b, " (trace token %s)", e.TraceToken)
	}
	return b.String()
}

// Unwrap returns the item errors.
func (e *PartialError) Unwrap() []error {
	errs := make([]error, len(e.Items))
	for i, it := range e.Items {
		errs[i] = it
	}
	return errs
}

// IsRateLimited reports whether err is DocuSign throttling: HTTP 429, an error code
// HOURLY_/BURST_APIINVOCATION_LIMIT_EXCEEDED (DocuSign used 400 for these before 2026), or, for bodies without
// a code, DocuSign's limit message.
func IsRateLimited(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
		return true
	}
	return errors.Is(err, ErrHourlyLimitExceeded) || errors.Is(err, ErrBurstLimitExceeded)
}

// IsWrongEnvironment reports whether err is one of the errors DocuSign answers when an account is called on the
// wrong environment or for a user who is not a member: USER_LACKS_MEMBERSHIP, PARTNER_AUTHENTICATION_FAILED,
// USER_DOES_NOT_EXIST_IN_SYSTEM, USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT.
func IsWrongEnvironment(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && isWrongEnvironmentCode(apiErr.ErrorCode)
}

func isWrongEnvironmentCode(code string) bool {
	switch code {
	case CodeUserLacksMembership, CodePartnerAuthenticationFailed, CodeUserDoesNotExist, CodeUserNotInAccount:
		return true
	}
	return false
}

// maxErrorBodyDescription bounds how much of a message from a reply body is kept.
const maxMessageLen = 1024

// decodeError turns a reply into an *APIError. It never panics and always keeps the status and trace token; the
// body is only read as DocuSign's error JSON, never copied verbatim into the error.
func decodeError(api API, operation string, status int, header http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{
		StatusCode: status,
		API:        api,
		Operation:  operation,
		TraceToken: strings.TrimSpace(header.Get(HeaderTraceToken)),
		RateLimit:  ParseRateLimit(header, now),
	}
	e.ErrorCode, e.Message = parseErrorBody(body)
	if e.ErrorCode == "" && e.Message == "" {
		e.ErrorCode = CodeUnparseableResponse
		e.Message = describeBody(header, body)
	}
	return e
}

// parseErrorBody extracts a code and message from {"errorCode","message"}, {"error","error_description"} or
// {"errorDetails":{"errorCode","message"}}; fields of other types are ignored.
func parseErrorBody(body []byte) (code, message string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return "", ""
	}
	str := func(key string) string {
		raw, ok := fields[key]
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return ""
		}
		return strings.TrimSpace(s)
	}
	code, message = str("errorCode"), str("message")
	if code == "" {
		code = str("error")
	}
	if message == "" {
		message = str("error_description")
	}
	if code == "" && message == "" {
		if raw, ok := fields["errorDetails"]; ok {
			return parseErrorBody(raw)
		}
	}
	return code, truncate(message, maxMessageLen)
}

// describeBody says why a body was unusable without quoting it (it could echo request data).
func describeBody(header http.Header, body []byte) string {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return "empty response body"
	}
	ct := header.Get("Content-Type")
	if ct == "" {
		ct = "unknown content type"
	}
	if json.Valid(trimmed) {
		return fmt.Sprintf("response body without error code or message (%s, %d bytes)", ct, len(body))
	}
	return fmt.Sprintf("unparseable response body (%s, %d bytes)", ct, len(body))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
