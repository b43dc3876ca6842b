package docusign

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInvalidTokenRefreshesAndRetriesOnce(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", userHandler("a"))
	hook := &recordingHook{}
	cfg := f.testConfig(nil)
	cfg.Hook = hook
	c := mustNew(t, cfg)
	ctx := t.Context()
	require.NoError(t, c.Verify(ctx))

	f.revokeTokens() // the cached token dies early
	res, err := c.ESignature().GetUser(ctx, acctA, "user-1")
	require.NoError(t, err)
	require.Equal(t, "user-1", res.UserID)

	tokenCalls, _ := f.counts()
	require.Equal(t, 2, tokenCalls)
	before, after, responses := hook.snapshot()
	require.Len(t, before, 2)
	require.Len(t, after, 2)
	require.Equal(t, 1, before[0].Attempt)
	require.Equal(t, 2, before[1].Attempt)
	require.Equal(t, http.StatusUnauthorized, responses[0].StatusCode)
	require.Equal(t, CodeInvalidToken, responses[0].ErrorCode)
	require.Equal(t, http.StatusOK, responses[1].StatusCode)
	require.NoError(t, responses[1].Err)
}

func TestPersistentInvalidTokenIsReturnedAfterOneRetry(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	var calls atomic.Int32
	f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		writeJSON(w, 401, `{"errorCode":"USER_AUTHENTICATION_FAILED","message":"One or both of Username and Password are invalid."}`)
	})
	cfg := f.testConfig(nil)
	c := mustNew(t, cfg)
	_, err := c.ESignature().GetUser(t.Context(), acctA, "user-1")
	require.ErrorIs(t, err, ErrUserAuthenticationFailed)
	require.Equal(t, int32(2), calls.Load())
	tokenCalls, _ := f.counts()
	require.Equal(t, 2, tokenCalls)
	requireNoSecrets(t, err.Error(), cfg)
}

func TestWrongEnvironmentRefreshesUserInfoAndRetriesOnceWhenMoved(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 400, `{"errorCode":"USER_LACKS_MEMBERSHIP","message":"User does not have a valid membership on this account."}`)
	})
	f.handleESign(f.envBMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", userHandler("a"))
	hook := &recordingHook{}
	cfg := f.testConfig(nil)
	cfg.Hook = hook
	c := mustNew(t, cfg)
	ctx := t.Context()
	require.NoError(t, c.Verify(ctx))

	// The account moves to environment B.
	f.setUserInfo(func() fakeReply { return fakeReply{200, f.userInfoJSON(f.envB.URL, f.envB.URL)} })
	res, err := c.ESignature().GetUser(ctx, acctA, "user-1")
	require.NoError(t, err)
	require.Equal(t, "user-1", res.UserID)

	reqs := f.requestsSeen()
	require.Len(t, reqs, 2)
	require.Equal(t, "envA", reqs[0].Server)
	require.Equal(t, "envB", reqs[1].Server)
	_, userInfoCalls := f.counts()
	require.Equal(t, 2, userInfoCalls)
	before, after, _ := hook.snapshot()
	require.Len(t, before, 2)
	require.Len(t, after, 2)
}

func TestWrongEnvironmentWithoutMoveIsReturned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		code string
		is   error
	}{
		{name: "USER_LACKS_MEMBERSHIP", code: CodeUserLacksMembership, is: ErrUserLacksMembership},
		{name: "PARTNER_AUTHENTICATION_FAILED", code: CodePartnerAuthenticationFailed, is: ErrPartnerAuthenticationFailed},
		{name: "USER_DOES_NOT_EXIST_IN_SYSTEM", code: CodeUserDoesNotExist, is: ErrUserDoesNotExist},
		{name: "USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT", code: CodeUserNotInAccount, is: ErrUserNotInAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, 400, `{"errorCode":"`+tt.code+`","message":"wrong environment"}`)
			})
			c := mustNew(t, f.testConfig(nil))
			_, err := c.ESignature().GetUser(t.Context(), acctA, "user-1")
			require.ErrorIs(t, err, tt.is)
			require.True(t, IsWrongEnvironment(err))
			require.Len(t, f.requestsSeen(), 1, "no retry when base_uri did not change")
			_, userInfoCalls := f.counts()
			require.Equal(t, 2, userInfoCalls, "userinfo refreshed once")
		})
	}
}

func TestAdminWrongEnvironmentCodeIsNotRetried(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	var calls atomic.Int32
	f.handleAdmin("GET", "/v2/organizations/"+testOrgID+"/users/profile", func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		writeJSON(w, 400, `{"error":"USER_LACKS_MEMBERSHIP","error_description":"no"}`)
	})
	cfg := f.testConfig(nil)
	cfg.AdminBudgetAccountID = acctA
	c := mustNew(t, cfg)
	_, err := c.Admin().GetUserProfiles(t.Context(), "ada@example.test")
	require.ErrorIs(t, err, ErrUserLacksMembership)
	require.Equal(t, int32(1), calls.Load())
	_, userInfoCalls := f.counts()
	require.Equal(t, 0, userInfoCalls)
}

func TestNoOtherRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{name: "500", status: 500, body: `{"errorCode":"INTERNAL","message":"boom"}`},
		{name: "503 empty", status: 503, body: ``},
		{name: "429", status: 429, body: `{"errorCode":"HOURLY_APIINVOCATION_LIMIT_EXCEEDED","message":"The maximum number of hourly API invocations has been exceeded. The hourly limit is 3000."}`},
		{name: "401 other code", status: 401, body: `{"errorCode":"SOMETHING_ELSE","message":"no"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			var calls atomic.Int32
			f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", func(w http.ResponseWriter, _ *http.Request) {
				calls.Add(1)
				writeJSON(w, tt.status, tt.body, rateHeaders(0)...)
			})
			c := mustNew(t, f.testConfig(nil))
			_, err := c.ESignature().GetUser(t.Context(), acctA, "user-1")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.status, apiErr.StatusCode)
			require.Equal(t, "trace-"+strconv.Itoa(tt.status), apiErr.TraceToken)
			require.True(t, apiErr.RateLimit.HasHourly)
			require.Equal(t, 0, apiErr.RateLimit.Remaining)
			require.Equal(t, int32(1), calls.Load())
			require.Equal(t, tt.status == 429, IsRateLimited(err))
		})
	}
}

func TestHookCalledOncePerRequest(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", userHandler("a"))
	hook := &recordingHook{}
	cfg := f.testConfig(nil)
	cfg.Hook = hook
	cfg.AdminBudgetAccountID = acctB
	c := mustNew(t, cfg)
	ctx := t.Context()
	_, err := c.ESignature().GetUser(ctx, acctA, "user-1")
	require.NoError(t, err)
	_, err = c.Admin().ListPermissionProfiles(ctx, acctA)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr) // no route registered: 404
	require.Equal(t, http.StatusNotFound, apiErr.StatusCode)

	before, after, responses := hook.snapshot()
	require.Equal(t, before, after)
	require.Equal(t, []RequestInfo{
		{API: APIESignature, Operation: "User_GetUser", AccountID: acctA, Method: "GET", Attempt: 1},
		{API: APIAdmin, Operation: "Account_Accounts_GetPermissionProfilesV2", AccountID: acctB, Method: "GET", Attempt: 1},
	}, before)
	require.Equal(t, 200, responses[0].StatusCode)
	require.True(t, responses[0].RateLimit.HasHourly)
	require.Equal(t, "trace-200", responses[0].TraceToken)
	require.Positive(t, responses[0].Duration)
	require.Equal(t, 404, responses[1].StatusCode)
	require.Equal(t, CodeUnparseableResponse, responses[1].ErrorCode)
	require.ErrorAs(t, responses[1].Err, &apiErr)
}

func TestHookSeesTransportErrors(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	hook := &recordingHook{}
	cfg := f.testConfig(nil)
	cfg.Hook = hook
	c := mustNew(t, cfg)
	ctx := t.Context()
	require.NoError(t, c.Verify(ctx))
	f.envA.Close()
	_, err := c.ESignature().GetUser(ctx, acctA, "user-1")
	require.Error(t, err)
	var apiErr *APIError
	require.NotErrorAs(t, err, &apiErr)
	before, after, responses := hook.snapshot()
	require.Len(t, before, 1)
	require.Len(t, after, 1)
	require.Equal(t, 0, responses[0].StatusCode)
	require.Error(t, responses[0].Err)
}

type blockingHookError struct{ retryIn int }

func (e *blockingHookError) Error() string { return "limiter: retry later" }

func TestHookErrorAbortsTheCall(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", userHandler("a"))
	hookErr := &blockingHookError{retryIn: 30}
	hook := &recordingHook{beforeErr: hookErr}
	cfg := f.testConfig(nil)
	cfg.Hook = hook
	c := mustNew(t, cfg)
	_, err := c.ESignature().GetUser(t.Context(), acctA, "user-1")
	require.ErrorIs(t, err, hookErr)
	var typed *blockingHookError
	require.ErrorAs(t, err, &typed)
	require.Equal(t, 30, typed.retryIn)
	require.False(t, IsRateLimited(err), "the hook's error is not classified by the client")
	require.Empty(t, f.requestsSeen())
	before, after, _ := hook.snapshot()
	require.Len(t, before, 1)
	require.Empty(t, after)
}

func TestCancelledContextStopsTheCall(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	c := mustNew(t, f.testConfig(nil))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.ESignature().GetUser(ctx, acctA, "user-1")
	require.True(t, errors.Is(err, context.Canceled))
}
