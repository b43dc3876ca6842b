package docusign_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// TestSimWrongEnvironmentAfterMove: an account moves to another environment; the first call still goes to the
// old listener, gets a wrong-environment error, and the client reads userinfo again and retries once on the new
// base_uri.
func TestSimWrongEnvironmentAfterMove(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	ctx := t.Context()
	c := h.verifiedClient(t, nil)
	eu := docusignsim.DemoAccountEU
	_, err := c.ESignature().GetUser(ctx, eu, docusignsim.DemoAdminUserID)
	require.NoError(t, err)
	require.Equal(t, "eu", lastCall(t, h.sim.Dump(), "User_GetUser").Environment)

	userinfoCalls := h.sim.RequestCount(docusignsim.OpUserinfo)
	require.NoError(t, h.sim.MoveAccount(eu, "na2"))
	seen := len(h.hook.recorded())
	got, err := c.ESignature().GetUser(ctx, eu, docusignsim.DemoAdminUserID)
	require.NoError(t, err)
	require.Equal(t, docusignsim.DemoAdminUserID, got.UserID)
	require.Equal(t, userinfoCalls+1, h.sim.RequestCount(docusignsim.OpUserinfo), "exactly one userinfo refresh")

	calls := h.hook.recorded()[seen:]
	require.Len(t, calls, 2, "one request on the old environment, one retry on the new one")
	require.Equal(t, 1, calls[0].req.Attempt)
	require.Equal(t, http.StatusBadRequest, calls[0].resp.StatusCode)
	require.True(t, docusign.IsWrongEnvironment(calls[0].resp.Err), "%v", calls[0].resp.Err)
	require.Equal(t, 2, calls[1].req.Attempt)
	require.Equal(t, http.StatusOK, calls[1].resp.StatusCode)
	byTrace := callsByTrace(h.sim.Dump())
	require.Equal(t, "eu", byTrace[calls[0].resp.TraceToken].Environment)
	require.Equal(t, "na2", byTrace[calls[1].resp.TraceToken].Environment)

	ui, err := c.UserInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, h.sim.EnvironmentURL("na2"), ui.Account(eu).BaseURI)
	requireHookMatchesSimulator(t, h)
	require.NoError(t, h.vt.Err())
}

// misroute sends eSignature requests for one account to another listener, as a broken proxy or stale DNS would.
type misroute struct {
	base      http.RoundTripper
	accountID string
	host      string
}

func (m misroute) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.URL.Path, "/accounts/"+m.accountID) {
		req = req.Clone(req.Context())
		req.URL.Host, req.Host = m.host, m.host
	}
	return m.base.RoundTrip(req)
}

// TestSimWrongEnvironmentNotExplainedByUserinfo: when userinfo still names the base_uri the error came from, the
// wrong-environment error is genuine and returned after one request, not retried.
func TestSimWrongEnvironmentNotExplainedByUserinfo(t *testing.T) {
	t.Parallel()
	eu := docusignsim.DemoAccountEU
	tests := []struct {
		name           string
		configure      func(h *simHarness, cfg *docusign.Config)
		wantUserinfo   int // userinfo requests caused by the error
		wantSentinel   error
		wantStatusCode int
	}{
		{
			name: "misrouted: userinfo refreshed, base_uri unchanged",
			configure: func(h *simHarness, cfg *docusign.Config) {
				na2, err := url.Parse(h.sim.EnvironmentURL("na2"))
				require.NoError(t, err)
				cfg.HTTPClient = &http.Client{Transport: misroute{base: h.vt, accountID: eu, host: na2.Host}, Timeout: simHTTPTimeout}
			},
			wantUserinfo: 1, wantSentinel: docusign.ErrPartnerAuthenticationFailed, wantStatusCode: http.StatusBadRequest,
		},
		{
			name: "base URL pinned by configuration: no refresh",
			configure: func(h *simHarness, cfg *docusign.Config) {
				cfg.ESignatureBaseURLs = map[string]string{eu: h.sim.EnvironmentURL("na2")}
			},
			wantUserinfo: 0, wantSentinel: docusign.ErrPartnerAuthenticationFailed, wantStatusCode: http.StatusBadRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startSim(t, nil)
			c := h.verifiedClient(t, func(cfg *docusign.Config) { tt.configure(h, cfg) })
			userinfoCalls := h.sim.RequestCount(docusignsim.OpUserinfo)
			_, err := c.ESignature().GetUser(t.Context(), eu, docusignsim.DemoAdminUserID)
			require.ErrorIs(t, err, tt.wantSentinel)
			require.True(t, docusign.IsWrongEnvironment(err))
			require.False(t, docusign.IsRateLimited(err))
			var apiErr *docusign.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.wantStatusCode, apiErr.StatusCode)
			st := h.sim.Dump()
			rec := lastCall(t, st, "User_GetUser")
			require.Equal(t, rec.TraceToken, apiErr.TraceToken)
			require.Equal(t, "na2", rec.Environment)
			require.Equal(t, 1, st.Requests["User_GetUser"], "not retried")
			require.Equal(t, userinfoCalls+tt.wantUserinfo, h.sim.RequestCount(docusignsim.OpUserinfo))
			requireHookMatchesSimulator(t, h)
			require.NoError(t, h.vt.Err())
		})
	}
}

// TestSimConsentRequired: a scope the user never consented to fails the token request with a permanent, typed
// error whose hint carries the consent URL; nothing else is called.
func TestSimConsentRequired(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	c := h.client(t, func(cfg *docusign.Config) {
		cfg.Scopes = append(strings.Fields(docusign.DefaultScopes), "account_write")
		cfg.ConsentRedirectURI = "http://127.0.0.1:9/callback"
	})
	err := c.Verify(t.Context())
	require.ErrorIs(t, err, docusign.ErrConsentRequired)
	require.True(t, docusign.IsPermanentAuth(err))
	var authErr *docusign.AuthError
	require.ErrorAs(t, err, &authErr)
	require.Equal(t, http.StatusBadRequest, authErr.StatusCode)
	require.Contains(t, authErr.Hint, c.ConsentURL())
	require.Contains(t, c.ConsentURL(), h.sim.AuthURL()+"/oauth/auth?")
	require.Contains(t, c.ConsentURL(), "account_write")
	require.Contains(t, c.ConsentURL(), "%20")
	require.NotContains(t, err.Error(), "PRIVATE KEY")

	_, err = c.ESignature().ListGroups(t.Context(), docusignsim.DemoAccountNA2)
	require.ErrorIs(t, err, docusign.ErrConsentRequired)
	require.Equal(t, 2, h.sim.RequestCount(docusignsim.OpToken))
	require.Zero(t, h.sim.RequestCount(docusignsim.OpUserinfo))
	require.Empty(t, apiRequests(h.sim.Dump()))
	require.Empty(t, h.hook.recorded())
	require.NoError(t, h.vt.Err())
}

// TestSimBadAudience: a client configured with a host name the OAuth server does not know itself by sends an
// "aud" it rejects; the error is issuer_not_found with a hint naming aud. The same client with the server's own
// host name succeeds.
func TestSimBadAudience(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	require.True(t, strings.HasPrefix(h.sim.AuthURL(), "http://127.0.0.1:"))
	aliased := strings.Replace(h.sim.AuthURL(), "127.0.0.1", "localhost", 1)
	c := h.client(t, func(cfg *docusign.Config) { cfg.AuthBaseURL = aliased })
	err := c.Verify(t.Context())
	require.ErrorIs(t, err, docusign.ErrIssuerNotFound)
	require.ErrorIs(t, err, docusign.ErrInvalidGrant)
	require.True(t, docusign.IsPermanentAuth(err))
	var authErr *docusign.AuthError
	require.ErrorAs(t, err, &authErr)
	require.Equal(t, docusign.AuthCodeIssuerNotFound, authErr.Reason)
	require.Contains(t, authErr.Hint, "aud")
	require.Contains(t, authErr.Hint, "AuthBaseURL")
	require.Equal(t, 1, h.sim.RequestCount(docusignsim.OpToken), "the token request reached the server")
	require.Empty(t, h.hook.recorded())

	require.NoError(t, h.client(t, nil).Verify(t.Context()), "the same configuration with the server's own host")
	require.NoError(t, h.vt.Err())
}

// TestSimRevokedTokenRefreshedOnce: after the simulator revokes every token, the next call of each surface gets a
// 401, mints exactly one new token and succeeds on its one retry.
func TestSimRevokedTokenRefreshedOnce(t *testing.T) {
	t.Parallel()
	na2 := docusignsim.DemoAccountNA2
	tests := []struct {
		name string
		op   string
		call func(c *docusign.Client, t *testing.T) error
	}{
		{name: "eSignature", op: "PermissionProfiles_GetPermissionProfiles", call: func(c *docusign.Client, t *testing.T) error {
			_, err := c.ESignature().ListPermissionProfiles(t.Context(), na2)
			return err
		}},
		{name: "Admin", op: "Account_Accounts_GetPermissionProfilesV2", call: func(c *docusign.Client, t *testing.T) error {
			_, err := c.Admin().ListPermissionProfiles(t.Context(), na2)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startSim(t, nil)
			c := h.verifiedClient(t, nil)
			require.NoError(t, tt.call(c, t))
			tokens := h.sim.RequestCount(docusignsim.OpToken)
			seen := len(h.hook.recorded())

			h.sim.ExpireTokens()
			require.NoError(t, tt.call(c, t))
			require.Equal(t, tokens+1, h.sim.RequestCount(docusignsim.OpToken), "exactly one new token")
			calls := h.hook.recorded()[seen:]
			require.Len(t, calls, 2)
			require.Equal(t, http.StatusUnauthorized, calls[0].resp.StatusCode)
			require.Equal(t, 1, calls[0].req.Attempt)
			require.Equal(t, http.StatusOK, calls[1].resp.StatusCode)
			require.Equal(t, 2, calls[1].req.Attempt)

			require.NoError(t, tt.call(c, t))
			require.Equal(t, tokens+1, h.sim.RequestCount(docusignsim.OpToken), "the new token is cached")
			require.Equal(t, 4, h.sim.RequestCount(tt.op))
			requireHookMatchesSimulator(t, h)
			require.NoError(t, h.vt.Err())
		})
	}
}

// TestSimPerItemErrors: replies that succeed as a whole but fail items come back as the result plus a
// *PartialError whose items match the sentinels.
func TestSimPerItemErrors(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	ctx := t.Context()
	c := h.verifiedClient(t, nil)
	es, admin := c.ESignature(), c.Admin()
	na2, eu := docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU
	adminEmail := simUser(t, h.sim.Dump(), "docusign.admin@"+docusignsim.DemoClaimedDomain).Email

	// eSignature: an existing user in a batch.
	res, err := es.CreateUsers(ctx, na2, []docusign.ESignUser{
		{UserName: "Dana Admin", Email: adminEmail},
		{UserName: "Nora New", FirstName: "Nora", LastName: "New", Email: "nora.new@" + docusignsim.DemoClaimedDomain},
	})
	require.ErrorIs(t, err, docusign.ErrUserAlreadyExists)
	require.False(t, docusign.IsRateLimited(err))
	var partial *docusign.PartialError
	require.ErrorAs(t, err, &partial)
	require.Equal(t, http.StatusCreated, partial.StatusCode)
	require.Equal(t, lastCall(t, h.sim.Dump(), "Users_PostUsers").TraceToken, partial.TraceToken)
	require.Equal(t, 2, partial.Total)
	require.Len(t, partial.Items, 1)
	require.Equal(t, 0, partial.Items[0].Index)
	require.Equal(t, docusignsim.DemoAdminUserID, partial.Items[0].ID)
	require.NotNil(t, res)
	require.Len(t, res.NewUsers, 2)
	require.NotNil(t, res.NewUsers[0].ErrorDetails)
	require.Nil(t, res.NewUsers[1].ErrorDetails)
	nora := simUser(t, h.sim.Dump(), "nora.new@"+docusignsim.DemoClaimedDomain)
	require.Equal(t, nora.ID, res.NewUsers[1].UserID, "the other item was created")

	// eSignature: a one-user create of an existing user.
	_, err = es.CreateUsers(ctx, na2, []docusign.ESignUser{{UserName: "Nora New", Email: nora.Email}})
	require.ErrorIs(t, err, docusign.ErrUserAlreadyExists)
	var item *docusign.ItemError
	require.ErrorAs(t, err, &item)
	require.Equal(t, docusign.CodeUserAlreadyExists, item.ErrorCode)

	// eSignature: group changes for a user who is not in the account.
	groups, err := es.ResolveGroups(ctx, eu, []docusign.Ref{docusign.RefByName("Sales")})
	require.NoError(t, err)
	_, err = es.AddGroupUsers(ctx, eu, groups[0].GroupID, []string{nora.ID, docusignsim.DemoAdminUserID})
	require.ErrorAs(t, err, &partial)
	require.Len(t, partial.Items, 1)
	require.Equal(t, nora.ID, partial.Items[0].ID)
	admin0 := simUser(t, h.sim.Dump(), adminEmail)
	require.Contains(t, namesOf(simMembership(t, admin0, eu).Groups), "Sales", "the valid item was applied")

	// Admin: users/profiles with a wrong site and an unknown user: success false and one error per user.
	upd, err := admin.UpdateUserProfiles(ctx, docusign.UpdateUsersRequest{Users: []docusign.UpdateUserRequest{
		{ID: nora.ID, SiteID: int(nora.SiteID) + 100, FirstName: "Nor"},
		{ID: "00000000-0000-4000-8000-000000000000", SiteID: int(nora.SiteID), FirstName: "Nobody"},
	}})
	require.ErrorAs(t, err, &partial)
	require.Equal(t, docusign.APIAdmin, partial.API)
	require.NotNil(t, upd)
	require.False(t, upd.Success)
	codes := make([]string, 0, len(partial.Items))
	for _, it := range partial.Items {
		codes = append(codes, it.ErrorCode)
	}
	require.Equal(t, []string{"invalid_site_id", "user_not_found"}, codes)
	require.Equal(t, "Nora", simUser(t, h.sim.Dump(), nora.Email).FirstName, "nothing applied")

	// Admin: an email change to an address another user has.
	_, err = admin.UpdateEmailAddresses(ctx, []docusign.EmailAddressUpdate{{ID: nora.ID, SiteID: int(nora.SiteID), Email: adminEmail}})
	require.ErrorAs(t, err, &partial)
	require.Len(t, partial.Items, 1)
	require.Equal(t, "email_already_exists", partial.Items[0].ErrorCode)

	// Admin: closing a membership the user does not have, next to one it has.
	closed, err := admin.CloseMemberships(ctx, nora.ID, []string{eu, na2})
	require.ErrorAs(t, err, &partial)
	require.False(t, closed.Success)
	require.Len(t, partial.Items, 1)
	require.Equal(t, eu, partial.Items[0].ID)
	require.Equal(t, "membership_not_found", partial.Items[0].ErrorCode)
	require.Equal(t, docusignsim.StatusClosed, simMembership(t, simUser(t, h.sim.Dump(), nora.Email), na2).Status)

	// Admin: creating an existing user is a whole-request error, not a partial one.
	_, err = admin.CreateUser(ctx, docusign.NewUserRequest{Email: nora.Email, Accounts: []docusign.NewUserAccount{{ID: eu}}})
	var apiErr *docusign.APIError
	require.ErrorAs(t, err, &apiErr)
	require.False(t, errors.As(err, &partial))
	require.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
	require.Equal(t, "user_already_exists", apiErr.ErrorCode)
	require.Equal(t, lastCall(t, h.sim.Dump(), "OrganizationUser_Users_AddV2").TraceToken, apiErr.TraceToken)

	requireHookMatchesSimulator(t, h)
	require.NoError(t, h.vt.Err())
}

// TestSimRateLimits: an exhausted hourly or burst budget answers 429 (or 400 with the legacy option) on both
// surfaces; the client classifies it, keeps the reply's rate-limit values (equal to the simulator's counters)
// and does not retry.
func TestSimRateLimits(t *testing.T) {
	t.Parallel()
	na2, eu := docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU
	esignCall := func(c *docusign.Client, t *testing.T) error {
		_, err := c.ESignature().ListPermissionProfiles(t.Context(), eu)
		return err
	}
	adminCall := func(c *docusign.Client, t *testing.T) error {
		_, err := c.Admin().ListPermissionProfiles(t.Context(), eu)
		return err
	}
	tests := []struct {
		name       string
		opts       func(*docusignsim.Options)
		call       func(c *docusign.Client, t *testing.T) error
		op         string
		account    string
		allowed    int // successful calls before the refusal (Verify spends one Admin call of na2)
		wantStatus int
		want, not  error
	}{
		{name: "eSignature hourly 429", opts: func(o *docusignsim.Options) { o.HourlyLimit = 3 },
			call: esignCall, op: "PermissionProfiles_GetPermissionProfiles", account: eu, allowed: 3,
			wantStatus: http.StatusTooManyRequests, want: docusign.ErrHourlyLimitExceeded, not: docusign.ErrBurstLimitExceeded},
		{name: "eSignature burst 429", opts: func(o *docusignsim.Options) { o.BurstLimit = 2 },
			call: esignCall, op: "PermissionProfiles_GetPermissionProfiles", account: eu, allowed: 2,
			wantStatus: http.StatusTooManyRequests, want: docusign.ErrBurstLimitExceeded, not: docusign.ErrHourlyLimitExceeded},
		{name: "eSignature hourly legacy 400", opts: func(o *docusignsim.Options) { o.HourlyLimit = 2; o.LegacyLimitStatus = true },
			call: esignCall, op: "PermissionProfiles_GetPermissionProfiles", account: eu, allowed: 2,
			wantStatus: http.StatusBadRequest, want: docusign.ErrHourlyLimitExceeded, not: docusign.ErrBurstLimitExceeded},
		{name: "Admin hourly 429", opts: func(o *docusignsim.Options) { o.HourlyLimit = 3 },
			call: adminCall, op: "Account_Accounts_GetPermissionProfilesV2", account: na2, allowed: 2,
			wantStatus: http.StatusTooManyRequests, want: docusign.ErrHourlyLimitExceeded, not: docusign.ErrBurstLimitExceeded},
		{name: "Admin burst legacy 400", opts: func(o *docusignsim.Options) { o.BurstLimit = 3; o.LegacyLimitStatus = true },
			call: adminCall, op: "Account_Accounts_GetPermissionProfilesV2", account: na2, allowed: 2,
			wantStatus: http.StatusBadRequest, want: docusign.ErrBurstLimitExceeded, not: docusign.ErrHourlyLimitExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startSim(t, tt.opts)
			c := h.verifiedClient(t, nil)
			for i := range tt.allowed {
				require.NoError(t, tt.call(c, t), "call %d", i+1)
			}
			err := tt.call(c, t)
			require.True(t, docusign.IsRateLimited(err), "%v", err)
			require.ErrorIs(t, err, tt.want)
			require.NotErrorIs(t, err, tt.not)
			var apiErr *docusign.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.wantStatus, apiErr.StatusCode)
			st := h.sim.Dump()
			require.Equal(t, lastCall(t, st, tt.op).TraceToken, apiErr.TraceToken)
			budget := simBudget(t, st, tt.account)
			requireRateLimitIsBudget(t, apiErr.RateLimit, budget)
			require.Equal(t, 1, budget.Rejected)
			require.Equal(t, 1, st.TooManyRequests)
			require.Equal(t, tt.allowed+1, st.Requests[tt.op], "the refused call was not retried")
			require.Equal(t, apiErr.RateLimit, h.hook.last(t).resp.RateLimit, "the hook saw the same values")
			requireHookMatchesSimulator(t, h)
			require.NoError(t, h.vt.Err())
		})
	}
}

// TestSimUserinfoQuirks: userinfo answering 404 or no accounts (known DocuSign quirks) is a clear error at start,
// and no API call is attempted.
func TestSimUserinfoQuirks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mode       string
		wantStatus int
	}{
		{name: "404 user not found", mode: docusignsim.UserinfoNotFound, wantStatus: http.StatusNotFound},
		{name: "empty accounts list", mode: docusignsim.UserinfoEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startSim(t, nil)
			require.NoError(t, h.sim.SetUserinfoMode(docusignsim.DemoAdminUserID, tt.mode))
			c := h.client(t, nil)
			err := c.Verify(t.Context())
			require.ErrorIs(t, err, docusign.ErrNoAccounts)
			require.Contains(t, err.Error(), docusignsim.DemoAdminUserID)
			require.Contains(t, err.Error(), "support case")
			var apiErr *docusign.APIError
			if tt.wantStatus != 0 {
				require.ErrorAs(t, err, &apiErr)
				require.Equal(t, tt.wantStatus, apiErr.StatusCode)
				require.Equal(t, lastCall(t, h.sim.Dump(), docusignsim.OpUserinfo).TraceToken, apiErr.TraceToken)
			} else {
				require.False(t, errors.As(err, &apiErr))
			}
			_, err = c.ESignature().GetUser(t.Context(), docusignsim.DemoAccountNA2, docusignsim.DemoAdminUserID)
			require.ErrorIs(t, err, docusign.ErrNoAccounts)
			require.Empty(t, apiRequests(h.sim.Dump()))
			require.Empty(t, h.hook.recorded())
			require.NoError(t, h.vt.Err())
		})
	}
}

// apacAccount is a third account of the organization in which the impersonated admin was invited but never
// activated, so userinfo does not list it.
const apacAccount = "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

// TestSimConfiguredAccountNotAMember: a configured account the impersonated user does not belong to is a
// configuration error that names the accounts it does belong to, and eSignature calls for it never leave the
// client.
func TestSimConfiguredAccountNotAMember(t *testing.T) {
	t.Parallel()
	seed, err := docusignsim.DefaultSeed()
	require.NoError(t, err)
	seed.Accounts = append(seed.Accounts, docusignsim.SeedAccount{
		ID: apacAccount, Name: "Example APAC Pte", Environment: "eu", ExternalAccountID: 39485767, SiteID: 3,
		DefaultPermissionProfile: "DocuSign Sender",
		PermissionProfiles: []docusignsim.SeedPermissionProfile{
			{ID: 30300001, Name: "Account Administrator", Admin: true}, {ID: 30300002, Name: "DocuSign Sender"},
		},
		Groups: []docusignsim.SeedGroup{{ID: 9530001, Name: "Everyone", Type: docusignsim.GroupTypeEveryone}},
	})
	seed.Users[0].Memberships = append(seed.Users[0].Memberships, docusignsim.SeedMembership{
		AccountID: apacAccount, PermissionProfile: "Account Administrator", Status: docusignsim.StatusActivationSent,
	})
	h := startSim(t, func(o *docusignsim.Options) { o.Seed = seed })
	c := h.client(t, func(cfg *docusign.Config) { cfg.Accounts = []string{docusignsim.DemoAccountNA2, apacAccount} })

	err = c.Verify(t.Context())
	require.ErrorIs(t, err, docusign.ErrAccountNotFound)
	var notFound *docusign.AccountNotFoundError
	require.ErrorAs(t, err, &notFound)
	require.Equal(t, apacAccount, notFound.AccountID)
	require.Equal(t, docusignsim.DemoAdminUserID, notFound.UserID)
	available := make([]string, 0, len(notFound.Available))
	for _, a := range notFound.Available {
		available = append(available, a.AccountID)
	}
	require.ElementsMatch(t, []string{docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU}, available)
	for _, want := range []string{apacAccount, docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU, "Example Corp", "Example Europe Ltd"} {
		require.Contains(t, err.Error(), want)
	}
	require.NotContains(t, err.Error(), "Example APAC Pte")

	_, err = c.ESignature().ListGroups(t.Context(), apacAccount)
	require.ErrorIs(t, err, docusign.ErrAccountNotFound)
	require.Empty(t, apiRequests(h.sim.Dump()), "neither Verify nor the call reached an API")
	require.Empty(t, h.hook.recorded())
	require.NoError(t, h.vt.Err())
}
