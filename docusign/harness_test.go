package docusign

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Test identities. Account A lives on environment A, account B on environment B.
const (
	testIntegrationKey = "11111111-2222-3333-4444-555555555555"
	testUserID         = "99999999-8888-7777-6666-555555555555"
	testOrgID          = "0a0a0a0a-0000-0000-0000-000000000000"
	acctA              = "aaaaaaaa-0000-0000-0000-00000000000a"
	acctB              = "bbbbbbbb-0000-0000-0000-00000000000b"
	acctDefault        = "dddddddd-0000-0000-0000-00000000000d"
)

// newTestKey generates an RSA key for one test.
func newTestKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(tb, err)
	return key
}

func pkcs1PEM(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

func pkcs8PEM(tb testing.TB, key any) []byte {
	tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(tb, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// assertionClaims are the JWT claims DocuSign checks.
type assertionClaims struct {
	Iss   string `json:"iss"`
	Sub   string `json:"sub"`
	Aud   string `json:"aud"`
	Scope string `json:"scope"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
}

// verifyAssertion checks an RS256 JWT's header and signature and returns its claims.
func verifyAssertion(token string, pub *rsa.PublicKey) (assertionClaims, error) {
	var claims assertionClaims
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims, errors.New("not a JWT")
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return claims, err
	}
	var h struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(header, &h); err != nil || h.Alg != "RS256" || h.Typ != "JWT" {
		return claims, fmt.Errorf("bad header %s", header)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return claims, err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return claims, err
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims, err
	}
	return claims, json.Unmarshal(payload, &claims)
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recorded is one request seen by the fake.
type recorded struct {
	Method string
	Path   string
	Query  url.Values
	Body   string
	Server string
}

// fakeDocuSign is the HTTP edge of the tests: an OAuth server that verifies the JWT assertion, an Admin API under
// /management on the same listener, and two eSignature environments. Routes are added per test.
type fakeDocuSign struct {
	tb      testing.TB
	key     *rsa.PrivateKey
	auth    *httptest.Server
	envA    *httptest.Server
	envB    *httptest.Server
	authMux *http.ServeMux
	envAMux *http.ServeMux
	envBMux *http.ServeMux

	mu            sync.Mutex
	tokenCalls    int
	userInfoCalls int
	tokenSeq      int
	validTokens   map[string]bool
	tokenLifetime int
	tokenError    *fakeReply
	userInfo      func() fakeReply
	claims        []assertionClaims
	requests      []recorded
}

type fakeReply struct {
	status int
	body   string
}

func newFakeDocuSign(tb testing.TB) *fakeDocuSign {
	tb.Helper()
	f := &fakeDocuSign{
		tb:            tb,
		key:           newTestKey(tb),
		authMux:       http.NewServeMux(),
		envAMux:       http.NewServeMux(),
		envBMux:       http.NewServeMux(),
		validTokens:   map[string]bool{},
		tokenLifetime: 3600,
	}
	f.auth = httptest.NewServer(f.recording("auth", f.authMux))
	f.envA = httptest.NewServer(f.recording("envA", f.envAMux))
	f.envB = httptest.NewServer(f.recording("envB", f.envBMux))
	tb.Cleanup(func() {
		f.auth.Close()
		f.envA.Close()
		f.envB.Close()
	})
	f.authMux.HandleFunc("POST /oauth/token", f.handleToken)
	f.authMux.HandleFunc("GET /oauth/userinfo", f.authorized(f.handleUserInfo))
	f.userInfo = func() fakeReply { return fakeReply{200, f.userInfoJSON(f.envA.URL, f.envB.URL)} }
	return f
}

func (f *fakeDocuSign) userInfoJSON(baseA, baseB string) string {
	return fmt.Sprintf(`{"sub":%q,"name":"Admin User","given_name":"Admin","family_name":"User","email":"admin@example.test",
"accounts":[{"account_id":%q,"is_default":false,"account_name":"Example Europe","base_uri":%q},
{"account_id":%q,"is_default":"true","account_name":"Example Corp","base_uri":%q,"organization":{"organization_id":%q}}]}`,
		testUserID, acctA, baseA, acctB, baseB, testOrgID)
}

func (f *fakeDocuSign) recording(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = r.Body.Close()
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		if r.URL.Path != "/oauth/token" && r.URL.Path != "/oauth/userinfo" {
			f.mu.Lock()
			f.requests = append(f.requests, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
				Body: string(body), Server: name})
			f.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (f *fakeDocuSign) handleToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.tokenCalls++
	tokenErr := f.tokenError
	lifetime := f.tokenLifetime
	f.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, `{"error":"invalid_request"}`)
		return
	}
	if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		writeJSON(w, 400, `{"error":"unsupported_grant_type"}`)
		return
	}
	claims, err := verifyAssertion(r.Form.Get("assertion"), &f.key.PublicKey)
	if err != nil {
		writeJSON(w, 400, `{"error":"invalid_grant","error_description":"no_valid_keys_or_signatures"}`)
		return
	}
	f.mu.Lock()
	f.claims = append(f.claims, claims)
	f.mu.Unlock()
	if tokenErr != nil {
		writeJSON(w, tokenErr.status, tokenErr.body)
		return
	}
	f.mu.Lock()
	f.tokenSeq++
	tok := fmt.Sprintf("access-token-%d-secret", f.tokenSeq)
	f.validTokens[tok] = true
	f.mu.Unlock()
	writeJSON(w, 200, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":%d}`, tok, lifetime))
}

func (f *fakeDocuSign) handleUserInfo(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	f.userInfoCalls++
	reply := f.userInfo
	f.mu.Unlock()
	rep := reply()
	writeJSON(w, rep.status, rep.body)
}

// authorized rejects requests without a valid bearer token as DocuSign does.
func (f *fakeDocuSign) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		ok := f.validTokens[tok]
		f.mu.Unlock()
		if !ok {
			writeJSON(w, 401, `{"errorCode":"AUTHORIZATION_INVALID_TOKEN","message":"The access token provided is expired, revoked or malformed."}`)
			return
		}
		h(w, r)
	}
}

// revokeTokens makes every issued token invalid (as if they expired early).
func (f *fakeDocuSign) revokeTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.validTokens = map[string]bool{}
}

func (f *fakeDocuSign) setUserInfo(fn func() fakeReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.userInfo = fn
}

func (f *fakeDocuSign) setTokenError(rep *fakeReply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenError = rep
}

func (f *fakeDocuSign) counts() (token, userInfo int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.userInfoCalls
}

func (f *fakeDocuSign) requestsSeen() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeDocuSign) lastClaims() assertionClaims {
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(f.tb, f.claims)
	return f.claims[len(f.claims)-1]
}

// adminBase is the Admin API base URL (with /management) on the auth listener.
func (f *fakeDocuSign) adminBase() string { return f.auth.URL + "/management" }

// handleAdmin registers an authorized Admin route; pattern is "METHOD /v2/...".
func (f *fakeDocuSign) handleAdmin(method, path string, h http.HandlerFunc) {
	f.authMux.HandleFunc(method+" /management"+path, f.authorized(h))
}

// handleESign registers an authorized eSignature route on one environment; path starts at /v2.1/accounts/....
func (f *fakeDocuSign) handleESign(env *http.ServeMux, method, path string, h http.HandlerFunc) {
	env.HandleFunc(method+" /restapi"+path, f.authorized(h))
}

func writeJSON(w http.ResponseWriter, status int, body string, headers ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderTraceToken, "trace-"+fmt.Sprint(status))
	for i := 0; i+1 < len(headers); i += 2 {
		w.Header().Set(headers[i], headers[i+1])
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// rateHeaders are typical DocuSign rate-limit headers.
func rateHeaders(remaining int) []string {
	return []string{HeaderRateLimitLimit, "3000", HeaderRateLimitRemaining, fmt.Sprint(remaining),
		HeaderRateLimitReset, "1773126000", HeaderBurstLimitLimit, "500", HeaderBurstLimitRemaining, "499"}
}

// testConfig is a valid Config against the fake.
func (f *fakeDocuSign) testConfig(clock *fakeClock) Config {
	cfg := Config{
		AuthBaseURL:    f.auth.URL,
		AdminBaseURL:   f.adminBase(),
		IntegrationKey: testIntegrationKey,
		UserID:         testUserID,
		PrivateKeyPEM:  pkcs1PEM(f.key),
		OrganizationID: testOrgID,
		Accounts:       []string{acctA, acctB},
		// Tests of the discovery clear it.
		AdminBudgetAccountID: acctDefault,
		HTTPClient:           f.auth.Client(),
	}
	if clock != nil {
		cfg.NowFunc = clock.Now
	}
	return cfg
}

func mustNew(tb testing.TB, cfg Config) *Client {
	tb.Helper()
	c, err := New(cfg)
	require.NoError(tb, err)
	return c
}

// recordingHook records every Before/After call.
type recordingHook struct {
	mu        sync.Mutex
	before    []RequestInfo
	after     []RequestInfo
	responses []ResponseInfo
	beforeErr error
}

func (h *recordingHook) BeforeRequest(_ context.Context, req RequestInfo) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.before = append(h.before, req)
	return h.beforeErr
}

func (h *recordingHook) AfterResponse(_ context.Context, req RequestInfo, resp ResponseInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.after = append(h.after, req)
	h.responses = append(h.responses, resp)
}

func (h *recordingHook) snapshot() ([]RequestInfo, []RequestInfo, []ResponseInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]RequestInfo(nil), h.before...), append([]RequestInfo(nil), h.after...),
		append([]ResponseInfo(nil), h.responses...)
}

// requireJSONEq compares JSON documents.
func requireJSONEq(tb testing.TB, expected, actual string) {
	tb.Helper()
	require.JSONEq(tb, expected, actual)
}
