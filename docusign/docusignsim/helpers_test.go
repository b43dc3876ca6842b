package docusignsim_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/internal/openapi"
	"github.com/jml-sync/docusign-worker/internal/testenv"
)

// Demo seed ids (testdata/demo-seed.json).
const (
	demoNA2      = docusignsim.DemoAccountNA2
	demoEU       = docusignsim.DemoAccountEU
	demoOrg      = docusignsim.DemoOrganizationID
	demoAdmin    = docusignsim.DemoAdminUserID
	allScopes    = "signature impersonation organization_read account_read user_read user_write group_read permission_read"
	defaultTimeo = 10 * time.Second
)

// simEnv is a running simulator plus what a test needs to call it.
type simEnv struct {
	srv    *docusignsim.Server
	key    *rsa.PrivateKey
	keyPEM []byte
	hc     *http.Client
	clock  *testenv.Clock
}

// docuSignSpecs parses DocuSign's OpenAPI files once per test binary (0.7 s under -race).
var docuSignSpecs = sync.OnceValues(func() (map[string]*openapi.Spec, error) { //nolint:gochecknoglobals // see above
	specs, err := openapi.DocuSignSpecs()
	return specs, err
})

// contractTransport wraps base so that every Admin and eSignature reply the tests receive is
// checked against DocuSign's OpenAPI files; at cleanup the test fails on any reply violation.
// Request violations are ignored (tests send invalid requests on purpose), and so are 503s
// (injected faults answer HTML, as a load balancer would). Without the spec files the check is
// skipped, unless REQUIRE_INTEGRATION=1.
func contractTransport(tb testing.TB, base http.RoundTripper) http.RoundTripper {
	tb.Helper()
	specs, err := docuSignSpecs()
	if errors.Is(err, openapi.ErrSpecDirNotFound) && os.Getenv("REQUIRE_INTEGRATION") != "1" {
		return base
	}
	require.NoError(tb, err)
	vt := openapi.NewValidatingTransport(base, specs)
	tb.Cleanup(func() {
		for _, v := range vt.Violations() {
			if v.Direction == openapi.DirResponse && v.Status != http.StatusServiceUnavailable {
				tb.Errorf("simulator reply breaks the OpenAPI contract: %v", v)
			}
		}
	})
	return vt
}

// mustKeyPair generates a key pair with the package API and parses the private half.
func mustKeyPair(tb testing.TB) (*rsa.PrivateKey, []byte, []byte) {
	tb.Helper()
	privPEM, pubPEM, err := docusignsim.GenerateKeyPair()
	require.NoError(tb, err)
	block, _ := pem.Decode(privPEM)
	require.NotNil(tb, block)
	require.Equal(tb, "RSA PRIVATE KEY", block.Type)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(tb, err)
	return key, privPEM, pubPEM
}

// setup starts a simulator with the demo seed (unless mutate sets one) and a fake clock
// starting at a window-aligned instant.
func setup(tb testing.TB, mutate func(*docusignsim.Options)) *simEnv {
	tb.Helper()
	key, privPEM, pubPEM := mustKeyPair(tb)
	clock := testenv.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := docusignsim.Options{PublicKeyPEM: pubPEM, NowFunc: clock.Now}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := docusignsim.Start(opts)
	require.NoError(tb, err)
	tr := &http.Transport{}
	tb.Cleanup(func() {
		tr.CloseIdleConnections()
		require.NoError(tb, srv.Close())
	})
	hc := &http.Client{Transport: contractTransport(tb, tr), Timeout: defaultTimeo}
	return &simEnv{srv: srv, key: key, keyPEM: privPEM, clock: clock, hc: hc}
}

func b64(data []byte) string { return base64.RawURLEncoding.EncodeToString(data) }

// signAssertion builds an RS256 JWT by hand (header typ JWT).
func signAssertion(tb testing.TB, key *rsa.PrivateKey, claims map[string]any) string {
	tb.Helper()
	hdr, err := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	require.NoError(tb, err)
	payload, err := json.Marshal(claims)
	require.NoError(tb, err)
	signing := b64(hdr) + "." + b64(payload)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	require.NoError(tb, err)
	return signing + "." + b64(sig)
}

// claims are valid claims for the demo admin at the simulator clock.
func (e *simEnv) claims(scope string) map[string]any {
	now := e.srv.Dump().Time
	return map[string]any{
		"iss":   e.srv.IntegrationKey(),
		"sub":   demoAdmin,
		"aud":   e.srv.AuthHost(),
		"iat":   now.Add(-10 * time.Second).Unix(),
		"exp":   now.Add(50 * time.Minute).Unix(),
		"scope": scope,
	}
}

func (e *simEnv) postToken(tb testing.TB, assertion string) (int, []byte) {
	tb.Helper()
	form := url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {assertion},
	}
	resp, err := e.hc.PostForm(e.srv.AuthURL()+"/oauth/token", form)
	require.NoError(tb, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return resp.StatusCode, body
}

// token gets an access token for the demo admin with every consented scope.
func (e *simEnv) token(tb testing.TB) string {
	tb.Helper()
	return e.tokenFor(tb, e.claims(allScopes))
}

func (e *simEnv) tokenFor(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	status, body := e.postToken(tb, signAssertion(tb, e.key, claims))
	require.Equal(tb, http.StatusOK, status, string(body))
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(tb, json.Unmarshal(body, &tok))
	require.Equal(tb, "Bearer", tok.TokenType)
	require.NotEmpty(tb, tok.AccessToken)
	return tok.AccessToken
}

// reply is a finished HTTP exchange.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	require.NoError(tb, json.Unmarshal(r.body, &m), string(r.body))
	return m
}

// do sends a request with an optional bearer token and JSON body.
func (e *simEnv) do(tb testing.TB, method, target, token string, body any) reply {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(tb, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, target, rd)
	require.NoError(tb, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.hc.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

// esURL is an eSignature URL for an account on an environment listener.
func (e *simEnv) esURL(env, accountID, path string) string {
	return e.srv.EnvironmentURL(env) + "/restapi/v2.1/accounts/" + accountID + path
}

// adminURL is an Admin API URL under the demo organization.
func (e *simEnv) adminURL(path string) string {
	return e.srv.AdminURL() + "/v2/organizations/" + demoOrg + path
}

func decodeAs[T any](tb testing.TB, r reply) T {
	tb.Helper()
	var v T
	require.NoError(tb, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

func userByEmail(tb testing.TB, st docusignsim.State, email string) docusignsim.UserState {
	tb.Helper()
	u, ok := st.User(email)
	require.True(tb, ok, "user not in state: %s", email)
	return u
}

func membershipIn(tb testing.TB, u docusignsim.UserState, accountID string) docusignsim.MembershipState {
	tb.Helper()
	m, ok := u.Membership(accountID)
	require.True(tb, ok, "membership not in state: %s", accountID)
	return m
}

func groupNames(m docusignsim.MembershipState) []string {
	out := make([]string, 0, len(m.Groups))
	for _, g := range m.Groups {
		out = append(out, g.Name)
	}
	return out
}

func budgetOf(tb testing.TB, st docusignsim.State, accountID string) docusignsim.BudgetState {
	tb.Helper()
	b, ok := st.Budget(accountID)
	require.True(tb, ok, "no budget: %s", accountID)
	return b
}
