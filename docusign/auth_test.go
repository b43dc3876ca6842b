package docusign

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTokenAssertionClaims(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	c := mustNew(t, f.testConfig(nil))
	require.NoError(t, c.Authenticate(t.Context()))

	claims := f.lastClaims()
	u, err := url.Parse(f.auth.URL)
	require.NoError(t, err)
	require.Equal(t, u.Host, claims.Aud, "aud must be the bare auth host")
	require.NotContains(t, claims.Aud, "http")
	require.Equal(t, testIntegrationKey, claims.Iss)
	require.Equal(t, testUserID, claims.Sub)
	require.Equal(t, DefaultScopes, claims.Scope)
	require.Equal(t, int64(3600), claims.Exp-claims.Iat, "Expires must stay 0: exp = iat + 1h")
}

func TestTokenCachedAndRenewedBeforeExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		margin      time.Duration
		lifetime    int
		stillCached time.Duration
		renewed     time.Duration
	}{
		{name: "default margin 10m", lifetime: 3600, stillCached: 49*time.Minute + 59*time.Second, renewed: 50*time.Minute + time.Second},
		{name: "margin 5m", margin: 5 * time.Minute, lifetime: 3600, stillCached: 54*time.Minute + 59*time.Second, renewed: 55*time.Minute + time.Second},
		{name: "short lifetime renews at half", lifetime: 120, stillCached: 59 * time.Second, renewed: 61 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.mu.Lock()
			f.tokenLifetime = tt.lifetime
			f.mu.Unlock()
			clock := newFakeClock()
			cfg := f.testConfig(clock)
			cfg.TokenRefreshMargin = tt.margin
			c := mustNew(t, cfg)
			ctx := t.Context()

			require.NoError(t, c.Authenticate(ctx))
			require.NoError(t, c.Authenticate(ctx))
			calls, _ := f.counts()
			require.Equal(t, 1, calls)

			clock.Advance(tt.stillCached)
			require.NoError(t, c.Authenticate(ctx))
			calls, _ = f.counts()
			require.Equal(t, 1, calls)

			clock.Advance(tt.renewed - tt.stillCached)
			require.NoError(t, c.Authenticate(ctx))
			calls, _ = f.counts()
			require.Equal(t, 2, calls)
		})
	}
}

func TestTokenConcurrentCallersShareOneFetch(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	c := mustNew(t, f.testConfig(nil))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- c.Authenticate(t.Context()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	calls, _ := f.counts()
	require.Equal(t, 1, calls)
}

func TestTokenErrorsAreTypedWithHints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		is        []error
		reason    string
		hint      string
		permanent bool
	}{
		{name: "consent_required", status: 400, body: `{"error":"consent_required"}`, is: []error{ErrConsentRequired},
			reason: "consent_required", hint: "grant consent for scopes", permanent: true},
		{name: "no_valid_keys_or_signatures", status: 400,
			body: `{"error":"invalid_grant","error_description":"no_valid_keys_or_signatures"}`,
			is:   []error{ErrInvalidGrant, ErrNoValidKeys}, reason: "no_valid_keys_or_signatures",
			hint: "the RSA key does not match the integration key", permanent: true},
		{name: "issuer_not_found as error", status: 400, body: `{"error":"issuer_not_found"}`, is: []error{ErrIssuerNotFound},
			reason: "issuer_not_found", hint: "integration key not found in this environment or aud mismatch", permanent: true},
		{name: "issuer_not_found as description", status: 400, body: `{"error":"invalid_grant","error_description":"issuer_not_found"}`,
			is: []error{ErrInvalidGrant, ErrIssuerNotFound}, reason: "issuer_not_found", hint: "aud mismatch", permanent: true},
		{name: "user_not_found", status: 400, body: `{"error":"invalid_grant","error_description":"user_not_found"}`,
			is: []error{ErrInvalidGrant, ErrUserNotFound}, reason: "user_not_found",
			hint: "the impersonated user id is wrong for this environment", permanent: true},
		{name: "invalid_request", status: 400, body: `{"error":"invalid_request"}`, reason: "invalid_request",
			hint: "malformed", permanent: true},
		{name: "not JSON", status: 400, body: `<html>bad</html>`, reason: CodeUnparseableResponse, hint: "check AuthBaseURL", permanent: true},
		{name: "server error", status: 503, body: ``, reason: "", hint: "retry later", permanent: false},
		{name: "throttled", status: 429, body: `{"error":"too_many"}`, reason: "too_many", permanent: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.setTokenError(&fakeReply{status: tt.status, body: tt.body})
			cfg := f.testConfig(nil)
			c := mustNew(t, cfg)
			err := c.Authenticate(t.Context())
			var authErr *AuthError
			require.ErrorAs(t, err, &authErr)
			require.Equal(t, tt.status, authErr.StatusCode)
			require.Equal(t, tt.reason, authErr.Reason)
			for _, target := range []error{ErrConsentRequired, ErrInvalidGrant, ErrNoValidKeys, ErrIssuerNotFound, ErrUserNotFound} {
				if slices.Contains(tt.is, target) {
					require.ErrorIs(t, err, target)
				} else {
					require.NotErrorIs(t, err, target)
				}
			}
			require.Contains(t, err.Error(), tt.hint)
			require.Equal(t, tt.permanent, IsPermanentAuth(err))
			requireNoSecrets(t, err.Error(), cfg)
		})
	}
}

func TestConsentRequiredHintHasConsentURL(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.setTokenError(&fakeReply{status: 400, body: `{"error":"consent_required"}`})
	cfg := f.testConfig(nil)
	cfg.ConsentRedirectURI = "https://app.example.test/callback"
	c := mustNew(t, cfg)
	err := c.Authenticate(t.Context())
	require.ErrorIs(t, err, ErrConsentRequired)
	require.True(t, IsPermanentAuth(err))
	wantURL := f.auth.URL + "/oauth/auth?response_type=code&scope=signature%20impersonation%20organization_read%20user_read" +
		"%20user_write%20account_read%20group_read%20permission_read&client_id=" + testIntegrationKey +
		"&redirect_uri=https%3A%2F%2Fapp.example.test%2Fcallback"
	require.Contains(t, err.Error(), wantURL)
	require.Equal(t, wantURL, c.ConsentURL())
	require.NotContains(t, c.ConsentURL(), "+")
}

func TestTokenTransportErrorHasNoSecrets(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	cfg := f.testConfig(nil)
	c := mustNew(t, cfg)
	f.auth.Close()
	err := c.Authenticate(t.Context())
	require.Error(t, err)
	require.False(t, IsPermanentAuth(err))
	require.ErrorContains(t, err, "docusign: token request")
	requireNoSecrets(t, err.Error(), cfg)
}

func TestTokenRequestHonoursContext(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	c := mustNew(t, f.testConfig(nil))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := c.Authenticate(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// requireNoSecrets fails if s contains key material or an access token of the fake.
func requireNoSecrets(tb testing.TB, s string, cfg Config) {
	tb.Helper()
	require.NotContains(tb, s, "PRIVATE KEY")
	for _, line := range strings.Split(string(cfg.PrivateKeyPEM), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			require.NotContains(tb, s, line)
		}
	}
	require.NotContains(tb, s, "access-token-")
	require.NotContains(tb, s, "Bearer")
}
