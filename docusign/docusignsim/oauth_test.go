package docusignsim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2/jwt"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// TestTokenWithXOAuth2JWT drives the token endpoint with golang.org/x/oauth2/jwt, configured as
// docusign-api.md §2.4 says (Audience = bare host, Expires left 0), on the real clock.
func TestTokenWithXOAuth2JWT(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) { o.NowFunc = nil; o.TokenLifetime = 30 * time.Minute })
	cfg := &jwt.Config{
		Email:      env.srv.IntegrationKey(),
		Subject:    demoAdmin,
		PrivateKey: env.keyPEM,
		Scopes:     []string{"signature", "impersonation", "user_read", "user_write"},
		TokenURL:   env.srv.AuthURL() + "/oauth/token",
		Audience:   env.srv.AuthHost(),
	}
	tok, err := cfg.TokenSource(t.Context()).Token()
	require.NoError(t, err)
	require.Equal(t, "Bearer", tok.TokenType)
	require.WithinDuration(t, time.Now().Add(30*time.Minute), tok.Expiry, time.Minute)

	r := env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/users/"+demoAdmin), tok.AccessToken, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	// A default audience (the token URL with scheme) is what DocuSign rejects.
	cfg.Audience = ""
	_, err = cfg.TokenSource(t.Context()).Token()
	require.ErrorContains(t, err, "issuer_not_found")
}

func TestTokenRejections(t *testing.T) {
	t.Parallel()
	env := setup(t, nil)
	otherKey, _, _ := mustKeyPair(t)
	now := env.srv.Dump().Time

	tests := []struct {
		name   string
		key    bool // sign with another key
		mutate func(c map[string]any)
		want   string
	}{
		{name: "aud with scheme", mutate: func(c map[string]any) { c["aud"] = "https://" + env.srv.AuthHost() },
			want: `{"error":"invalid_grant","error_description":"issuer_not_found"}`},
		{name: "aud of another host", mutate: func(c map[string]any) { c["aud"] = "account.docusign.com" },
			want: `{"error":"invalid_grant","error_description":"issuer_not_found"}`},
		{name: "exp more than an hour after iat", mutate: func(c map[string]any) {
			c["iat"] = now.Unix()
			c["exp"] = now.Add(time.Hour + 10*time.Second).Unix()
		}, want: `{"error":"invalid_request"}`},
		{name: "expired assertion", mutate: func(c map[string]any) {
			c["iat"] = now.Add(-2 * time.Hour).Unix()
			c["exp"] = now.Add(-time.Hour).Unix()
		}, want: `{"error":"invalid_request"}`},
		{name: "missing iat", mutate: func(c map[string]any) { delete(c, "iat") }, want: `{"error":"invalid_request"}`},
		{name: "wrong key", key: true,
			want: `{"error":"invalid_grant","error_description":"no_valid_keys_or_signatures"}`},
		{name: "unknown integration key", mutate: func(c map[string]any) { c["iss"] = "00000000-0000-4000-8000-000000000000" },
			want: `{"error":"invalid_grant","error_description":"issuer_not_found"}`},
		{name: "unknown user", mutate: func(c map[string]any) { c["sub"] = "00000000-0000-4000-8000-000000000001" },
			want: `{"error":"invalid_grant","error_description":"user_not_found"}`},
		{name: "scope not consented", mutate: func(c map[string]any) { c["scope"] = "signature impersonation account_write" },
			want: `{"error":"consent_required"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := env.claims(allScopes)
			if tt.mutate != nil {
				tt.mutate(c)
			}
			key := env.key
			if tt.key {
				key = otherKey
			}
			status, body := env.postToken(t, signAssertion(t, key, c))
			require.Equal(t, http.StatusBadRequest, status)
			require.JSONEq(t, tt.want, string(body))
		})
	}

	t.Run("aud as array and seed alias", func(t *testing.T) {
		t.Parallel()
		c := env.claims("signature impersonation")
		c["aud"] = []string{"account-d.docusign.com"} // alias listed in the demo seed
		require.NotEmpty(t, env.tokenFor(t, c))
	})
	t.Run("malformed requests", func(t *testing.T) {
		t.Parallel()
		status, body := env.postToken(t, "not-a-jwt")
		require.Equal(t, http.StatusBadRequest, status)
		require.JSONEq(t, `{"error":"invalid_request"}`, string(body))

		resp, err := env.hc.PostForm(env.srv.AuthURL()+"/oauth/token", url.Values{"grant_type": {"password"}})
		require.NoError(t, err)
		defer resp.Body.Close()
		var e map[string]string
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Equal(t, "unsupported_grant_type", e["error"])
	})
}

func TestTokenExpiryAndRevocation(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) { o.TokenLifetime = 10 * time.Minute })
	status, body := env.postToken(t, signAssertion(t, env.key, env.claims(allScopes)))
	require.Equal(t, http.StatusOK, status)
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.Unmarshal(body, &tok))
	require.Equal(t, 600, tok.ExpiresIn)

	esURL := env.esURL("na2", demoNA2, "/users/"+demoAdmin)
	require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, esURL, tok.AccessToken, nil).status)
	require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, env.srv.AdminURL()+"/v2/organizations", tok.AccessToken, nil).status)

	env.clock.Advance(10 * time.Minute)
	r := env.do(t, http.MethodGet, esURL, tok.AccessToken, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "AUTHORIZATION_INVALID_TOKEN", r.json(t)["errorCode"])
	require.NotEmpty(t, r.header.Get("X-DocuSign-TraceToken"))
	require.NotEmpty(t, r.header.Get("X-RateLimit-Remaining"), "401s carry the account's headers")
	r = env.do(t, http.MethodGet, env.srv.AdminURL()+"/v2/organizations", tok.AccessToken, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.JSONEq(t, `{"error":"unauthorized","error_description":"Not Authorized"}`, string(r.body))

	r = env.do(t, http.MethodGet, esURL, "", nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "USER_AUTHENTICATION_FAILED", r.json(t)["errorCode"])

	fresh := env.token(t)
	require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, esURL, fresh, nil).status)
	env.srv.ExpireTokens()
	r = env.do(t, http.MethodGet, esURL, fresh, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, "AUTHORIZATION_INVALID_TOKEN", r.json(t)["errorCode"])

	// The same through the control endpoint.
	fresh = env.token(t)
	require.Equal(t, http.StatusOK, env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/tokens/expire", "", nil).status)
	require.Equal(t, http.StatusUnauthorized, env.do(t, http.MethodGet, esURL, fresh, nil).status)
}

type userinfoBody struct {
	Sub        string `json:"sub"`
	Name       string `json:"name"`
	GivenName  string `json:"given_name"`
	FamilyName string `json:"family_name"`
	Created    string `json:"created"`
	Email      string `json:"email"`
	Accounts   []struct {
		AccountID    string `json:"account_id"`
		IsDefault    bool   `json:"is_default"`
		AccountName  string `json:"account_name"`
		BaseURI      string `json:"base_uri"`
		Organization struct {
			OrganizationID string `json:"organization_id"`
		} `json:"organization"`
	} `json:"accounts"`
}

func TestUserinfo(t *testing.T) {
	t.Parallel()
	env := setup(t, nil)
	tok := env.token(t)
	get := func() reply {
		return env.do(t, http.MethodGet, env.srv.AuthURL()+"/oauth/userinfo", tok, nil)
	}
	r := get()
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	ui := decodeAs[userinfoBody](t, r)
	require.Equal(t, demoAdmin, ui.Sub)
	require.Equal(t, "docusign.admin@example.com", ui.Email)
	require.Equal(t, "Dana Admin", ui.Name)
	require.Equal(t, "Dana", ui.GivenName)
	require.Equal(t, "Admin", ui.FamilyName)
	require.NotEmpty(t, ui.Created)
	require.Len(t, ui.Accounts, 2)
	require.Equal(t, demoNA2, ui.Accounts[0].AccountID)
	require.True(t, ui.Accounts[0].IsDefault)
	require.Equal(t, env.srv.EnvironmentURL("na2"), ui.Accounts[0].BaseURI)
	require.Equal(t, demoEU, ui.Accounts[1].AccountID)
	require.False(t, ui.Accounts[1].IsDefault)
	require.Equal(t, env.srv.EnvironmentURL("eu"), ui.Accounts[1].BaseURI)
	require.NotEqual(t, ui.Accounts[0].BaseURI, ui.Accounts[1].BaseURI, "two environments, two listeners")
	require.Equal(t, demoOrg, ui.Accounts[0].Organization.OrganizationID)
	require.Equal(t, 1, env.srv.RequestCount(docusignsim.OpUserinfo))

	require.NoError(t, env.srv.SetUserinfoMode(demoAdmin, docusignsim.UserinfoEmpty))
	r = get()
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `[]`, mustJSON(t, r.json(t)["accounts"]))

	// Through the control endpoint.
	cr := env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/users/"+demoAdmin+"/userinfo", "", map[string]string{"mode": "not_found"})
	require.Equal(t, http.StatusOK, cr.status, string(cr.body))
	r = get()
	require.Equal(t, http.StatusNotFound, r.status)

	require.NoError(t, env.srv.SetUserinfoMode(demoAdmin, docusignsim.UserinfoNormal))
	require.Equal(t, http.StatusOK, get().status)
	require.Equal(t, http.StatusUnauthorized, env.do(t, http.MethodGet, env.srv.AuthURL()+"/oauth/userinfo", "bogus", nil).status)
	require.ErrorIs(t, env.srv.SetUserinfoMode("nobody", docusignsim.UserinfoEmpty), docusignsim.ErrUnknown)
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	data, err := json.Marshal(v)
	require.NoError(tb, err)
	return string(data)
}

func TestWrongEnvironment(t *testing.T) {
	t.Parallel()
	seed, err := docusignsim.DefaultSeed()
	require.NoError(t, err)
	// A third account on na2 that the admin does not belong to.
	extra := seed.Accounts[0]
	extra.ID = "6f0b1d7e-3c54-4f7a-9a21-5b8e2c6d4f10"
	extra.Name = "Example Subsidiary"
	extra.ExternalAccountID = 555
	seed.Accounts = append(seed.Accounts, extra)
	env := setup(t, func(o *docusignsim.Options) { o.Seed = seed })
	tok := env.token(t)

	code := func(env2, account string) (int, string) {
		r := env.do(t, http.MethodGet, env.esURL(env2, account, "/users?count=1"), tok, nil)
		if r.status == http.StatusOK {
			return r.status, ""
		}
		return r.status, r.json(t)["errorCode"].(string)
	}
	st, c := code("na2", demoEU)
	require.Equal(t, http.StatusBadRequest, st)
	require.Equal(t, "PARTNER_AUTHENTICATION_FAILED", c, "the EU account is not on na2")
	st, c = code("na2", extra.ID)
	require.Equal(t, http.StatusBadRequest, st)
	require.Equal(t, "USER_LACKS_MEMBERSHIP", c)
	st, _ = code("na2", "18472391") // the external account number works too
	require.Equal(t, http.StatusOK, st)

	// Move the EU account to na2 and the NA2 account to eu: the old listeners refuse them.
	require.NoError(t, env.srv.MoveAccount(demoNA2, "eu"))
	r := env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/accounts/"+demoEU+"/environment", "", map[string]string{"environment": "na2"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	st, c = code("na2", demoNA2)
	require.Equal(t, http.StatusBadRequest, st)
	require.Equal(t, "PARTNER_AUTHENTICATION_FAILED", c)
	st, _ = code("eu", demoNA2)
	require.Equal(t, http.StatusOK, st)

	// With every membership of the admin on na2, eu knows no such user.
	require.NoError(t, env.srv.MoveAccount(demoNA2, "na2"))
	st, c = code("eu", demoNA2)
	require.Equal(t, http.StatusBadRequest, st)
	require.Equal(t, "USER_DOES_NOT_EXIST_IN_SYSTEM", c)

	ui := decodeAs[userinfoBody](t, env.do(t, http.MethodGet, env.srv.AuthURL()+"/oauth/userinfo", tok, nil))
	for _, a := range ui.Accounts {
		require.Equal(t, env.srv.EnvironmentURL("na2"), a.BaseURI, a.AccountID)
	}
	require.ErrorIs(t, env.srv.MoveAccount(demoNA2, "mars"), docusignsim.ErrUnknown)
}
