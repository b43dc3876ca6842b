package docusign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"
)

// OAuth error codes of DocuSign's token endpoint (docusign-api.md §2). DocuSign sends some as the "error" and some
// as the "error_description" of an "invalid_grant".
const (
	AuthCodeConsentRequired    = "consent_required"
	AuthCodeInvalidGrant       = "invalid_grant"
	AuthCodeNoValidKeys        = "no_valid_keys_or_signatures"
	AuthCodeIssuerNotFound     = "issuer_not_found"
	AuthCodeUserNotFound       = "user_not_found"
	AuthCodeInvalidRequest     = "invalid_request"
	AuthCodeInvalidClient      = "invalid_client"
	AuthCodeInvalidScope       = "invalid_scope"
	AuthCodeUnauthorizedClient = "unauthorized_client"
)

// Sentinels for token failures, matched with errors.Is against *AuthError by code (either the OAuth "error" or
// the condition named in its "error_description").
var (
	// ErrConsentRequired: the impersonated user (or an organization admin) has not consented to every scope.
	ErrConsentRequired error = &AuthError{Code: AuthCodeConsentRequired}
	// ErrInvalidGrant: the JWT assertion was rejected (key, integration key, user, claims).
	ErrInvalidGrant error = &AuthError{Code: AuthCodeInvalidGrant}
	// ErrNoValidKeys: the assertion's signature does not match any key of the integration key.
	ErrNoValidKeys error = &AuthError{Code: AuthCodeNoValidKeys}
	// ErrIssuerNotFound: the integration key is unknown in this environment, or "aud" does not match the host.
	ErrIssuerNotFound error = &AuthError{Code: AuthCodeIssuerNotFound}
	// ErrUserNotFound: the impersonated user id is unknown in this environment.
	ErrUserNotFound error = &AuthError{Code: AuthCodeUserNotFound}
)

// AuthError is a failed token request. Client errors (4xx) are permanent configuration problems that need an
// operator (see IsPermanentAuth); Hint says what to do. It never contains the key, the assertion or a token.
type AuthError struct {
	// StatusCode is the HTTP status of the token endpoint's reply.
	StatusCode int
	// Code is the OAuth "error", e.g. "consent_required" or "invalid_grant".
	Code string
	// Description is the OAuth "error_description", e.g. "no_valid_keys_or_signatures".
	Description string
	// Reason is the specific condition: Code, or for "invalid_grant" the known condition named in Description.
	Reason string
	// Hint tells the operator what to do.
	Hint string
}

// Error describes the failure and the operator's fix.
func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString("docusign: token request failed:")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " %d", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	if e.Description != "" && e.Description != e.Code {
		b.WriteString(" (")
		b.WriteString(e.Description)
		b.WriteString(")")
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Is matches an *AuthError sentinel whose Code equals this error's Code or Reason.
func (e *AuthError) Is(target error) bool {
	t, ok := target.(*AuthError)
	if !ok || t.Code == "" {
		return false
	}
	return t.Code == e.Code || t.Code == e.Reason
}

// IsPermanentAuth reports whether err is a token failure that retrying cannot fix: a 4xx (other than 429) from
// the token endpoint, e.g. consent_required or invalid_grant. The operator must change configuration or consent.
func IsPermanentAuth(err error) bool {
	var authErr *AuthError
	if !errors.As(err, &authErr) {
		return false
	}
	return authErr.StatusCode >= 400 && authErr.StatusCode < 500 && authErr.StatusCode != http.StatusTooManyRequests
}

// ConsentURL is the individual-consent URL for the configured integration key and scopes (spaces encoded as
// %20). Open it as the impersonated user. Without Config.ConsentRedirectURI it contains the placeholder
// REDIRECT_URI, to be replaced by a redirect URI registered for the integration key.
func (c *Client) ConsentURL() string {
	return consentURL(c.cfg)
}

func consentURL(cfg Config) string {
	redirect := cfg.ConsentRedirectURI
	if redirect == "" {
		redirect = "REDIRECT_URI"
	}
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	return cfg.AuthBaseURL + "/oauth/auth?response_type=code&scope=" + esc(strings.Join(cfg.Scopes, " ")) +
		"&client_id=" + esc(cfg.IntegrationKey) + "&redirect_uri=" + esc(redirect)
}

func newAuthError(cfg Config, status int, body []byte) *AuthError {
	e := &AuthError{StatusCode: status}
	var fields struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &fields) == nil {
		e.Code = strings.TrimSpace(fields.Error)
		e.Description = truncate(strings.TrimSpace(fields.ErrorDescription), maxMessageLen)
	}
	e.Reason = e.Code
	if e.Code == AuthCodeInvalidGrant || e.Code == "" {
		for _, known := range []string{AuthCodeNoValidKeys, AuthCodeIssuerNotFound, AuthCodeUserNotFound, AuthCodeConsentRequired} {
			if strings.Contains(e.Description, known) {
				e.Reason = known
				break
			}
		}
	}
	scopes := strings.Join(cfg.Scopes, " ")
	switch e.Reason {
	case AuthCodeConsentRequired:
		e.Hint = fmt.Sprintf("grant consent for scopes %q by opening %s as the impersonated user "+
			"(or have an organization administrator grant admin consent)", scopes, consentURL(cfg))
	case AuthCodeNoValidKeys:
		e.Hint = "the RSA key does not match the integration key: configure the private key whose public key is " +
			"registered for this integration key (Apps and Keys page)"
	case AuthCodeIssuerNotFound:
		e.Hint = "integration key not found in this environment or aud mismatch: check IntegrationKey and " +
			"Environment (demo and production need separate keys) and that AuthBaseURL is this environment's OAuth server"
	case AuthCodeUserNotFound:
		e.Hint = "the impersonated user id is wrong for this environment: set UserID to the user's GUID in this environment"
	case AuthCodeInvalidGrant:
		e.Hint = "the JWT assertion was rejected: check the private key, IntegrationKey, UserID and the system clock"
	case AuthCodeInvalidRequest:
		e.Hint = "the token request was malformed: check AuthBaseURL and the system clock"
	case AuthCodeInvalidClient, AuthCodeUnauthorizedClient:
		e.Hint = "the integration key may not use the JWT grant: check the app's settings in Apps and Keys"
	case AuthCodeInvalidScope:
		e.Hint = fmt.Sprintf("a requested scope is not allowed: check Scopes (%q)", scopes)
	default:
		switch {
		case status >= 500 || status == http.StatusTooManyRequests:
			e.Hint = "DocuSign's OAuth server failed or throttled the request; retry later"
		case e.Code == "" && e.Description == "":
			e.Code = CodeUnparseableResponse
			e.Reason = CodeUnparseableResponse
			e.Hint = "the token endpoint's reply was not an OAuth error body; check AuthBaseURL"
		default:
			e.Hint = "check the integration key, user id, private key and consent"
		}
	}
	return e
}

// tokenManager obtains access tokens through the JWT grant and caches them until renewAt.
type tokenManager struct {
	cfg    Config
	conf   *jwt.Config
	margin time.Duration
	now    func() time.Time
	http   *http.Client
	sem    chan struct{} // one fetch at a time; waiting respects ctx

	mu       sync.Mutex
	access   string
	obtained time.Time
	expiry   time.Time
	renewAt  time.Time
}

func newTokenManager(cfg Config, audience string, keyPEM []byte) *tokenManager {
	return &tokenManager{
		cfg: cfg,
		conf: &jwt.Config{
			Email:      cfg.IntegrationKey,
			Subject:    cfg.UserID,
			PrivateKey: keyPEM,
			Scopes:     cfg.Scopes,
			TokenURL:   cfg.AuthBaseURL + "/oauth/token",
			Audience:   audience, // bare host: the default (TokenURL with scheme) is rejected by DocuSign
			// Expires stays 0: exp = iat + 1h. x/oauth2 backdates iat by 10 s, so Expires = 1h would exceed the limit.
		},
		margin: cfg.TokenRefreshMargin,
		now:    cfg.NowFunc,
		http:   cfg.HTTPClient,
		sem:    make(chan struct{}, 1),
	}
}

func (m *tokenManager) cached() (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.access != "" && m.now().Before(m.renewAt) {
		return m.access, true
	}
	return "", false
}

// token returns a cached access token or mints a new one.
func (m *tokenManager) token(ctx context.Context) (string, error) {
	if tok, ok := m.cached(); ok {
		return tok, nil
	}
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("docusign: token request: %w", ctx.Err())
	}
	defer func() { <-m.sem }()
	if tok, ok := m.cached(); ok {
		return tok, nil
	}
	return m.fetch(ctx)
}

// invalidate drops the cached token if it is still the one a server rejected.
func (m *tokenManager) invalidate(access string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.access == access {
		m.access = ""
	}
}

func (m *tokenManager) fetch(ctx context.Context) (string, error) {
	hc := &http.Client{
		Transport:     ctxTransport{ctx: ctx, base: transportOf(m.http)},
		Timeout:       m.http.Timeout,
		CheckRedirect: m.http.CheckRedirect,
		Jar:           m.http.Jar,
	}
	tok, err := m.conf.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc)).Token()
	if err != nil {
		var rErr *oauth2.RetrieveError
		if errors.As(err, &rErr) {
			status := 0
			if rErr.Response != nil {
				status = rErr.Response.StatusCode
			}
			return "", newAuthError(m.cfg, status, rErr.Body)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("docusign: token request: %w", ctxErr)
		}
		// x/oauth2 formats transport and decoding errors with %v; they hold the token URL, never the assertion.
		return "", fmt.Errorf("docusign: token request: %w", err)
	}
	if tok.AccessToken == "" {
		return "", &AuthError{StatusCode: http.StatusOK, Code: CodeUnparseableResponse, Reason: CodeUnparseableResponse,
			Hint: "the token endpoint's reply had no access_token; check AuthBaseURL"}
	}
	now := m.now()
	lifetime := tokenLifetime(tok)
	renewAt := now.Add(lifetime - m.margin)
	if m.margin > lifetime/2 {
		renewAt = now.Add(lifetime / 2)
	}
	m.mu.Lock()
	m.access, m.obtained, m.expiry, m.renewAt = tok.AccessToken, now, now.Add(lifetime), renewAt
	m.mu.Unlock()
	return tok.AccessToken, nil
}

// defaultTokenLifetime is assumed when the token reply has no usable expires_in (DocuSign tokens live one hour).
const defaultTokenLifetime = time.Hour

func tokenLifetime(tok *oauth2.Token) time.Duration {
	var secs float64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		secs = v
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err == nil {
			secs = f
		}
	}
	if secs <= 0 || secs > 10*365*24*3600 {
		return defaultTokenLifetime
	}
	return time.Duration(secs * float64(time.Second))
}

// ctxTransport attaches ctx to requests x/oauth2/jwt sends without one, so cancellation reaches the token call.
type ctxTransport struct {
	ctx  context.Context //nolint:containedctx // lives for one token request only
	base http.RoundTripper
}

func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(req.WithContext(t.ctx))
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}
