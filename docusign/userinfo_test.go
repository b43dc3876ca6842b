package docusign

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func userHandler(userID string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, fmt.Sprintf(`{"userId":%q,"userName":"Ada Lovelace","userStatus":"Active","email":"ada@example.test"}`,
			r.PathValue("userId")), rateHeaders(2999)...)
	}
}

func TestESignatureCallsRouteToTheirAccountsEnvironment(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", userHandler("a"))
	f.handleESign(f.envBMux, "GET", "/v2.1/accounts/"+acctB+"/users/{userId}", userHandler("b"))
	c := mustNew(t, f.testConfig(nil))
	ctx := t.Context()
	require.NoError(t, c.Verify(ctx))

	ua, err := c.ESignature().GetUser(ctx, acctA, "user-1")
	require.NoError(t, err)
	require.Equal(t, "user-1", ua.UserID)
	ub, err := c.ESignature().GetUser(ctx, acctB, "user-2")
	require.NoError(t, err)
	require.Equal(t, "user-2", ub.UserID)
	require.Equal(t, 2999, ub.Reply.RateLimit.Remaining)

	reqs := f.requestsSeen()
	require.Len(t, reqs, 2)
	require.Equal(t, "envA", reqs[0].Server)
	require.Equal(t, "/restapi/v2.1/accounts/"+acctA+"/users/user-1", reqs[0].Path)
	require.Equal(t, "envB", reqs[1].Server)
	require.Equal(t, "/restapi/v2.1/accounts/"+acctB+"/users/user-2", reqs[1].Path)
	_, userInfoCalls := f.counts()
	require.Equal(t, 1, userInfoCalls, "userinfo is read once and cached")

	ui, err := c.UserInfo(ctx)
	require.NoError(t, err)
	require.True(t, ui.Account(acctB).IsDefault, `is_default "true" as a string`)
	require.False(t, ui.Account(acctA).IsDefault)
	require.Equal(t, testOrgID, ui.Account(acctB).Organization.OrganizationID)
}

func TestVerifyNamesTheAccountsTheUserBelongsTo(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	const missing = "cccccccc-0000-0000-0000-00000000000c"
	cfg := f.testConfig(nil)
	cfg.Accounts = []string{acctA, missing}
	c := mustNew(t, cfg)
	err := c.Verify(t.Context())
	require.ErrorIs(t, err, ErrAccountNotFound)
	var notFound *AccountNotFoundError
	require.ErrorAs(t, err, &notFound)
	require.Equal(t, missing, notFound.AccountID)
	for _, want := range []string{missing, acctA, `"Example Europe"`, acctB, `"Example Corp"`, testUserID} {
		require.Contains(t, err.Error(), want)
	}

	// Never a fallback to the default account: a call for the missing account sends nothing.
	_, err = c.ESignature().GetUser(t.Context(), missing, "user-1")
	require.ErrorIs(t, err, ErrAccountNotFound)
	require.Empty(t, f.requestsSeen())
}

func TestUserInfoWithoutAccounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply fakeReply
	}{
		{name: "404 UserNotFound", reply: fakeReply{404, `{"error":"UserNotFound"}`}},
		{name: "empty accounts", reply: fakeReply{200, fmt.Sprintf(`{"sub":%q,"accounts":[]}`, testUserID)}},
		{name: "no accounts field", reply: fakeReply{200, fmt.Sprintf(`{"sub":%q}`, testUserID)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.setUserInfo(func() fakeReply { return tt.reply })
			c := mustNew(t, f.testConfig(nil))
			err := c.Verify(t.Context())
			require.ErrorIs(t, err, ErrNoAccounts)
			require.ErrorContains(t, err, "open a support case")
			require.ErrorContains(t, err, testUserID)
		})
	}
}

func TestUserInfoErrorsKeepStatusAndTraceToken(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.setUserInfo(func() fakeReply { return fakeReply{503, `<html>down</html>`} })
	c := mustNew(t, f.testConfig(nil))
	_, err := c.UserInfo(t.Context())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 503, apiErr.StatusCode)
	require.Equal(t, "trace-503", apiErr.TraceToken)
	require.Equal(t, APIOAuth, apiErr.API)
}

func TestRefreshUserInfoFollowsNewBaseURI(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", userHandler("a"))
	f.handleESign(f.envBMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", userHandler("a"))
	c := mustNew(t, f.testConfig(nil))
	ctx := t.Context()
	_, err := c.ESignature().GetUser(ctx, acctA, "u")
	require.NoError(t, err)
	f.setUserInfo(func() fakeReply { return fakeReply{200, f.userInfoJSON(f.envB.URL, f.envB.URL)} })
	_, err = c.RefreshUserInfo(ctx)
	require.NoError(t, err)
	_, err = c.ESignature().GetUser(ctx, acctA, "u")
	require.NoError(t, err)
	reqs := f.requestsSeen()
	require.Len(t, reqs, 2)
	require.Equal(t, "envA", reqs[0].Server)
	require.Equal(t, "envB", reqs[1].Server)
}

func TestESignatureBaseURLOverride(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envBMux, "GET", "/v2.1/accounts/"+acctA+"/users/{userId}", userHandler("a"))
	cfg := f.testConfig(nil)
	cfg.ESignatureBaseURLs = map[string]string{acctA: f.envB.URL + "/"}
	c := mustNew(t, cfg)
	_, err := c.ESignature().GetUser(t.Context(), acctA, "u")
	require.NoError(t, err)
	reqs := f.requestsSeen()
	require.Len(t, reqs, 1)
	require.Equal(t, "envB", reqs[0].Server)
	_, userInfoCalls := f.counts()
	require.Equal(t, 0, userInfoCalls, "an overridden account needs no userinfo")
}
