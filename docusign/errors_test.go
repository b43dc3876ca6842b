package docusign

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDecodeErrorBodies(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name        string
		status      int
		body        string
		contentType string
		wantCode    string
		wantMessage string
	}{
		{name: "eSignature body", status: 400, body: `{"errorCode":"USER_LACKS_PERMISSIONS","message":"This user lacks sufficient permissions."}`,
			wantCode: CodeUserLacksPermissions, wantMessage: "This user lacks sufficient permissions."},
		{name: "Admin body", status: 401, body: `{"error":"unauthorized","error_description":"Not Authorized"}`,
			wantCode: "unauthorized", wantMessage: "Not Authorized"},
		{name: "nested errorDetails", status: 400, body: `{"errorDetails":{"errorCode":"INVALID_USERID","message":"bad id"}}`,
			wantCode: "INVALID_USERID", wantMessage: "bad id"},
		{name: "message only", status: 404, body: `{"message":"Not found"}`, wantCode: "", wantMessage: "Not found"},
		{name: "empty", status: 502, body: ``, wantCode: CodeUnparseableResponse, wantMessage: "empty response body"},
		{name: "whitespace", status: 502, body: " \n", wantCode: CodeUnparseableResponse, wantMessage: "empty response body"},
		{name: "HTML", status: 503, body: `<html><body>Service Unavailable</body></html>`, contentType: "text/html",
			wantCode: CodeUnparseableResponse, wantMessage: "unparseable response body (text/html, 45 bytes)"},
		{name: "truncated JSON", status: 400, body: `{"errorCode":"USER_LACKS_PERM`, wantCode: CodeUnparseableResponse,
			wantMessage: "unparseable response body (unknown content type, 29 bytes)"},
		{name: "JSON without code", status: 400, body: `{"foo":1}`, wantCode: CodeUnparseableResponse,
			wantMessage: "response body without error code or message (unknown content type, 9 bytes)"},
		{name: "wrong types", status: 400, body: `{"errorCode":42,"message":{"a":1},"error":"x"}`, wantCode: "x"},
		{name: "JSON array", status: 500, body: `[1,2]`, wantCode: CodeUnparseableResponse,
			wantMessage: "response body without error code or message (unknown content type, 5 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			h.Set(HeaderTraceToken, "tt-1")
			h.Set(HeaderRateLimitRemaining, "5")
			h.Set(HeaderRateLimitLimit, "3000")
			if tt.contentType != "" {
				h.Set("Content-Type", tt.contentType)
			}
			e := decodeError(APIESignature, "Users_GetUsers", tt.status, h, []byte(tt.body), now)
			require.Equal(t, tt.status, e.StatusCode)
			require.Equal(t, "tt-1", e.TraceToken)
			require.Equal(t, tt.wantCode, e.ErrorCode)
			require.Equal(t, tt.wantMessage, e.Message)
			require.Equal(t, 5, e.RateLimit.Remaining)
			require.Equal(t, APIESignature, e.API)
			require.Equal(t, "Users_GetUsers", e.Operation)
			require.Contains(t, e.Error(), "tt-1")
		})
	}
}

func TestMalformedRepliesOverHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		message string
	}{
		{name: "200 not JSON", status: 200, message: "decode response body", handler: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, `<html>oops</html>`)
		}},
		{name: "200 empty", status: 200, message: "decode response body", handler: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, ``)
		}},
		{name: "200 truncated", status: 200, message: "read response body", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "500")
			writeJSON(w, 200, `{"userId":"u-1","userNa`)
		}},
		{name: "400 truncated", status: 400, message: "read response body", handler: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "500")
			writeJSON(w, 400, `{"errorCode":"USER_LA`)
		}},
		{name: "500 empty", status: 500, message: "empty response body", handler: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 500, ``)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.handleESign(f.envAMux, "GET", esPath("/users/{userId}"), tt.handler)
			hook := &recordingHook{}
			cfg := f.testConfig(nil)
			cfg.Hook = hook
			c := mustNew(t, cfg)
			res, err := c.ESignature().GetUser(t.Context(), acctA, "u-1")
			require.Nil(t, res)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.ErrorIs(t, err, ErrUnparseableResponse)
			require.Equal(t, tt.status, apiErr.StatusCode)
			require.Equal(t, fmt.Sprintf("trace-%d", tt.status), apiErr.TraceToken)
			require.Contains(t, apiErr.Message, tt.message)
			_, _, responses := hook.snapshot()
			require.Len(t, responses, 1)
			require.Equal(t, CodeUnparseableResponse, responses[0].ErrorCode)
		})
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	hourly := &APIError{StatusCode: 400, ErrorCode: CodeHourlyLimitExceeded}
	tests := []struct {
		name        string
		err         error
		rateLimited bool
		is          []error
		isNot       []error
	}{
		{name: "429 with code", err: &APIError{StatusCode: 429, ErrorCode: CodeHourlyLimitExceeded}, rateLimited: true,
			is: []error{ErrHourlyLimitExceeded}, isNot: []error{ErrBurstLimitExceeded}},
		{name: "legacy 400 hourly", err: hourly, rateLimited: true, is: []error{ErrHourlyLimitExceeded}},
		{name: "legacy 400 burst", err: &APIError{StatusCode: 400, ErrorCode: CodeBurstLimitExceeded}, rateLimited: true,
			is: []error{ErrBurstLimitExceeded}, isNot: []error{ErrHourlyLimitExceeded}},
		{name: "429 without body", err: &APIError{StatusCode: 429, ErrorCode: CodeUnparseableResponse}, rateLimited: true,
			is: []error{ErrUnparseableResponse}, isNot: []error{ErrHourlyLimitExceeded, ErrBurstLimitExceeded}},
		{name: "Admin body with the hourly message", err: &APIError{StatusCode: 400, ErrorCode: "throttled",
			Message: "The maximum number of hourly API invocations has been exceeded. The hourly limit is 3000."},
			rateLimited: true, is: []error{ErrHourlyLimitExceeded}, isNot: []error{ErrBurstLimitExceeded}},
		{name: "burst message", err: &APIError{StatusCode: 400,
			Message: "The maximum number of burst API invocations has been exceeded. The burst limit is 500."},
			rateLimited: true, is: []error{ErrBurstLimitExceeded}, isNot: []error{ErrHourlyLimitExceeded}},
		{name: "wrapped", err: fmt.Errorf("job: %w", hourly), rateLimited: true, is: []error{ErrHourlyLimitExceeded}},
		{name: "user exists", err: &APIError{StatusCode: 400, ErrorCode: CodeUserAlreadyExists}, is: []error{ErrUserAlreadyExists},
			isNot: []error{ErrUserDoesNotExist, ErrHourlyLimitExceeded}},
		{name: "invalid token", err: &APIError{StatusCode: 401, ErrorCode: CodeInvalidToken}, is: []error{ErrInvalidToken},
			isNot: []error{ErrUserAuthenticationFailed}},
		{name: "item error", err: &ItemError{ErrorCode: CodeUserAlreadyExists}, is: []error{ErrUserAlreadyExists}},
		{name: "partial error", err: &PartialError{Items: []*ItemError{{ErrorCode: CodeUserLacksPermissions}, {ErrorCode: CodeUserAlreadyExists}}},
			is: []error{ErrUserLacksPermissions, ErrUserAlreadyExists}, isNot: []error{ErrUserDoesNotExist}},
		{name: "item rate limited", err: &ItemError{ErrorCode: CodeBurstLimitExceeded}, rateLimited: true, is: []error{ErrBurstLimitExceeded}},
		{name: "500", err: &APIError{StatusCode: 500, ErrorCode: "INTERNAL"}, isNot: []error{ErrHourlyLimitExceeded}},
		{name: "plain error", err: errors.New("x"), isNot: []error{ErrUserAlreadyExists}},
		{name: "nil", err: nil, isNot: []error{ErrUserAlreadyExists}},
		{name: "sentinel without code never matches", err: &APIError{StatusCode: 400}, isNot: []error{&APIError{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.rateLimited, IsRateLimited(tt.err))
			for _, target := range tt.is {
				require.ErrorIs(t, tt.err, target)
			}
			for _, target := range tt.isNot {
				require.NotErrorIs(t, tt.err, target)
			}
		})
	}
}

func TestWrongEnvironmentClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "lacks membership", err: &APIError{ErrorCode: CodeUserLacksMembership}, want: true},
		{name: "partner auth", err: fmt.Errorf("x: %w", &APIError{ErrorCode: CodePartnerAuthenticationFailed}), want: true},
		{name: "not in account", err: &APIError{ErrorCode: CodeUserNotInAccount}, want: true},
		{name: "does not exist", err: &APIError{ErrorCode: CodeUserDoesNotExist}, want: true},
		{name: "other", err: &APIError{ErrorCode: CodeUserLacksPermissions}, want: false},
		{name: "nil", err: nil, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, IsWrongEnvironment(tt.err))
		})
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "api error", err: &APIError{StatusCode: 400, ErrorCode: CodeUserLacksPermissions, Message: "no", TraceToken: "t-1",
			API: APIESignature, Operation: "Users_PostUsers"},
			want: "docusign: esignature Users_PostUsers: 400 USER_LACKS_PERMISSIONS: no (trace token t-1)"},
		{name: "sentinel", err: ErrUserAlreadyExists, want: "docusign: USER_ALREADY_EXISTS_IN_ACCOUNT"},
		{name: "item", err: &ItemError{Index: 2, ID: "u-1", ErrorCode: "X", Message: "m"}, want: "docusign: item 2 (u-1): X: m"},
		{name: "reply-level item", err: &ItemError{Index: -1, ErrorCode: CodeUnsuccessful}, want: "docusign: reply: UNSUCCESSFUL"},
		{name: "partial", err: &PartialError{API: APIAdmin, Operation: "User_Users_UpdateV2", Total: 5, TraceToken: "t",
			Items: []*ItemError{{Index: 0, ErrorCode: "A"}, {Index: 1, ErrorCode: "B"}, {Index: 2, ErrorCode: "C"}, {Index: 3, ErrorCode: "D"}}},
			want: "docusign: admin User_Users_UpdateV2: 4 of 5 items failed; item 0: A; item 1: B; item 2: C; and 1 more (trace token t)"},
		{name: "unknown ref", err: &UnknownRefError{API: APIAdmin, AccountID: "acct", Kind: KindGroup, Ref: RefByName("G")},
			want: `docusign: admin account acct has no group with name "G"; known: none`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestTransportErrorsHideQueries(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	c := mustNew(t, f.testConfig(nil))
	require.NoError(t, c.Authenticate(t.Context()))
	// Point the Admin API at a closed port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	c.cfg.AdminBaseURL = "http://" + addr + "/management"
	_, err = c.Admin().GetUserProfiles(t.Context(), "secret.person@example.test")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret.person")
	require.True(t, strings.Contains(err.Error(), addr))
}

func TestTruncateKeepsUTF8(t *testing.T) {
	t.Parallel()
	s := strings.Repeat("é", 10) // 20 bytes
	got := truncate(s, 5)
	require.Equal(t, "éé…", got)
	require.Equal(t, "abc", truncate("abc", 5))
}
