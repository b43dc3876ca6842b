package docusign_test

// Contract tests: the client in package docusign talks to the simulator in docusign/docusignsim over real
// loopback HTTP, and every request the client sends and every reply the simulator gives passes through an
// openapi.ValidatingTransport that checks it against DocuSign's OpenAPI files. Each test ends by requiring that
// the transport recorded no violation.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/internal/openapi"
	"github.com/jml-sync/docusign-worker/internal/testenv"
)

// simHTTPTimeout bounds one HTTP exchange of a contract test.
const simHTTPTimeout = 10 * time.Second

// clientOperations lists every operation the client implements, by DocuSign's operationId: the Admin API's, then
// the eSignature API's.
func clientOperations() []string {
	return []string{
		"Organization_Organization_GetListV2",
		"OrganizationUser_OrganizationUsers_GetV2",
		"OrganizationUser_OrganizationUsers_GetProfileV2",
		"OrganizationUser_Users_AddV2",
		"OrganizationUser_OrganizationUsers_PostAccountUsersV2",
		"User_Users_UpdateV2",
		"User_Users_UpdateEmailAddressesV2",
		"User_Users_CloseMembershipsV2",
		"OrganizationUser_Users_ActivateMembershipV2",
		"Account_Accounts_GetPermissionProfilesV2",
		"Account_Accounts_GetGroupsV2",

		"User_GetUser",
		"Users_GetUsers",
		"Users_PostUsers",
		"User_PutUser",
		"Users_PutUsers",
		"Users_DeleteUsers",
		"Groups_GetGroups",
		"Groups_PutGroupUsers",
		"Groups_DeleteGroupUsers",
		"PermissionProfiles_GetPermissionProfiles",
	}
}

// simFixtures is what every contract test shares: DocuSign's parsed OpenAPI files (0.7 s under -race) and one
// RSA key pair (key generation is slow under -race).
type simFixtures struct {
	specs   map[string]*openapi.Spec
	privPEM []byte
	pubPEM  []byte
}

// loadSimFixtures parses the specs and generates the key pair once per test binary.
var loadSimFixtures = sync.OnceValues(func() (*simFixtures, error) { //nolint:gochecknoglobals // see above
	specs, err := openapi.DocuSignSpecs()
	if err != nil {
		return nil, err
	}
	privPEM, pubPEM, err := docusignsim.GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	return &simFixtures{specs: specs, privPEM: privPEM, pubPEM: pubPEM}, nil
})

func mustSimFixtures(tb testing.TB) *simFixtures {
	tb.Helper()
	fx, err := loadSimFixtures()
	if errors.Is(err, openapi.ErrSpecDirNotFound) {
		testenv.SkipOrFail(tb, "DocuSign's OpenAPI files are missing: "+err.Error())
	}
	require.NoError(tb, err)
	return fx
}

// simClock is the clock shared by a simulator and its clients. It starts at the real time (the JWT library signs
// assertions with the real clock, and the simulator checks iat and exp against its own) and moves only when a
// test advances it, so rate-limit windows cannot roll over in the middle of a test.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// simHarness is a running simulator, the validating transport every client of the test sends through, and a
// hook recording what the clients report.
type simHarness struct {
	sim     *docusignsim.Server
	vt      *openapi.ValidatingTransport
	hc      *http.Client
	clock   *simClock
	hook    *countingHook
	privPEM []byte
}

// startSim starts a simulator with the demo seed (unless mutate sets another) on loopback.
func startSim(tb testing.TB, mutate func(*docusignsim.Options)) *simHarness {
	tb.Helper()
	fx := mustSimFixtures(tb)
	clock := &simClock{t: time.Now().UTC()}
	opts := docusignsim.Options{PublicKeyPEM: fx.pubPEM, NowFunc: clock.Now}
	if mutate != nil {
		mutate(&opts)
	}
	sim, err := docusignsim.Start(opts)
	require.NoError(tb, err)
	tr := &http.Transport{}
	tb.Cleanup(func() {
		tr.CloseIdleConnections()
		require.NoError(tb, sim.Close())
	})
	vt := openapi.NewValidatingTransport(tr, fx.specs)
	return &simHarness{
		sim:     sim,
		vt:      vt,
		hc:      &http.Client{Transport: vt, Timeout: simHTTPTimeout},
		clock:   clock,
		hook:    newCountingHook(),
		privPEM: fx.privPEM,
	}
}

// config is a client configuration for the demo admin managing both demo accounts through the simulator.
func (h *simHarness) config() docusign.Config {
	return docusign.Config{
		AuthBaseURL:    h.sim.AuthURL(),
		AdminBaseURL:   h.sim.AdminURL(),
		IntegrationKey: h.sim.IntegrationKey(),
		UserID:         docusignsim.DemoAdminUserID,
		PrivateKeyPEM:  h.privPEM,
		OrganizationID: docusignsim.DemoOrganizationID,
		Accounts:       []string{docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU},
		HTTPClient:     h.hc,
		Hook:           h.hook,
		NowFunc:        h.clock.Now,
	}
}

// client builds a client from config, changed by mutate when not nil.
func (h *simHarness) client(tb testing.TB, mutate func(*docusign.Config)) *docusign.Client {
	tb.Helper()
	cfg := h.config()
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := docusign.New(cfg)
	require.NoError(tb, err)
	return c
}

// verifiedClient builds a client and runs Verify (token, userinfo, organization discovery).
func (h *simHarness) verifiedClient(tb testing.TB, mutate func(*docusign.Config)) *docusign.Client {
	tb.Helper()
	c := h.client(tb, mutate)
	require.NoError(tb, c.Verify(tb.Context()))
	return c
}

// apiRequests are the simulator's request counts of Admin and eSignature operations (token and userinfo calls
// left out: they bypass the hook).
func apiRequests(st docusignsim.State) map[string]int {
	out := maps.Clone(st.Requests)
	delete(out, docusignsim.OpToken)
	delete(out, docusignsim.OpUserinfo)
	return out
}

// requireHookMatchesSimulator checks that the hook saw exactly one BeforeRequest and one AfterResponse per API
// request the simulator received, operation by operation.
func requireHookMatchesSimulator(tb testing.TB, h *simHarness) {
	tb.Helper()
	want := apiRequests(h.sim.Dump())
	require.Equal(tb, want, h.hook.beforeCounts(), "BeforeRequest calls per operation")
	require.Equal(tb, want, h.hook.afterCounts(), "AfterResponse calls per operation")
}

// hookCall is one request as the hook saw it.
type hookCall struct {
	req  docusign.RequestInfo
	resp docusign.ResponseInfo
}

// countingHook records every BeforeRequest and AfterResponse.
type countingHook struct {
	mu     sync.Mutex
	before map[string]int
	after  map[string]int
	calls  []hookCall
}

func newCountingHook() *countingHook {
	return &countingHook{before: map[string]int{}, after: map[string]int{}}
}

func (k *countingHook) BeforeRequest(_ context.Context, req docusign.RequestInfo) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.before[req.Operation]++
	return nil
}

func (k *countingHook) AfterResponse(_ context.Context, req docusign.RequestInfo, resp docusign.ResponseInfo) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.after[req.Operation]++
	k.calls = append(k.calls, hookCall{req: req, resp: resp})
}

func (k *countingHook) beforeCounts() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.before)
}

func (k *countingHook) afterCounts() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return maps.Clone(k.after)
}

func (k *countingHook) recorded() []hookCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.calls)
}

// last returns the most recent request the hook saw.
func (k *countingHook) last(tb testing.TB) hookCall {
	tb.Helper()
	calls := k.recorded()
	require.NotEmpty(tb, calls)
	return calls[len(calls)-1]
}

// Directory look-ups in the simulator's state.

func simUser(tb testing.TB, st docusignsim.State, email string) docusignsim.UserState {
	tb.Helper()
	u, ok := st.User(email)
	require.True(tb, ok, "user not in the simulator: %s", email)
	return u
}

func simMembership(tb testing.TB, u docusignsim.UserState, accountID string) docusignsim.MembershipState {
	tb.Helper()
	m, ok := u.Membership(accountID)
	require.True(tb, ok, "membership not in the simulator: %s in %s", u.Email, accountID)
	return m
}

func simBudget(tb testing.TB, st docusignsim.State, accountID string) docusignsim.BudgetState {
	tb.Helper()
	b, ok := st.Budget(accountID)
	require.True(tb, ok, "no budget in the simulator: %s", accountID)
	return b
}

func simAccount(tb testing.TB, st docusignsim.State, accountID string) docusignsim.AccountState {
	tb.Helper()
	for _, a := range st.Accounts {
		if a.ID == accountID {
			return a
		}
	}
	require.FailNow(tb, "account not in the simulator", accountID)
	return docusignsim.AccountState{}
}

func namesOf(ids []docusignsim.NamedID) []string {
	out := make([]string, 0, len(ids))
	for _, n := range ids {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return out
}

func idOf(tb testing.TB, ids []docusignsim.NamedID, name string) int64 {
	tb.Helper()
	for _, n := range ids {
		if n.Name == name {
			return n.ID
		}
	}
	require.FailNow(tb, "name not found", name)
	return 0
}

// lastCall is the simulator's call-log entry of the latest request to op.
func lastCall(tb testing.TB, st docusignsim.State, op string) docusignsim.CallRecord {
	tb.Helper()
	for i := len(st.Calls) - 1; i >= 0; i-- {
		if st.Calls[i].Operation == op {
			return st.Calls[i]
		}
	}
	require.FailNow(tb, "no call in the simulator's log", op)
	return docusignsim.CallRecord{}
}

// TestSimValidatorCatchesBrokenRequest shows that the contract check can fail: a request the client would never
// send (an undeclared field in a Users:create body), sent through the same validating transport to the simulator,
// is reported even though the simulator, like DocuSign, accepts it.
func TestSimValidatorCatchesBrokenRequest(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	capture := &authCapture{base: h.vt}
	c := h.verifiedClient(t, func(cfg *docusign.Config) {
		cfg.HTTPClient = &http.Client{Transport: capture, Timeout: simHTTPTimeout}
	})
	_, err := c.ESignature().ListPermissionProfiles(t.Context(), docusignsim.DemoAccountNA2)
	require.NoError(t, err)
	require.NoError(t, h.vt.Err(), "the client's own traffic is clean")

	body := []byte(`{"newUsers":[{"userName":"Eve Broken","email":"eve.broken@example.com","favouriteColour":"blue"}]}`)
	target := h.sim.EnvironmentURL("na2") + "/restapi/v2.1/accounts/" + docusignsim.DemoAccountNA2 + "/users"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", capture.authorization())
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	require.NoError(t, err)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusCreated, resp.StatusCode, "the simulator ignores unknown fields, as DocuSign does")

	violations := h.vt.Violations()
	require.Len(t, violations, 1)
	require.Equal(t, openapi.DirRequest, violations[0].Direction)
	require.Equal(t, "Users_PostUsers", violations[0].OperationID)
	require.Contains(t, violations[0].Error(), "favouriteColour")
	require.Error(t, h.vt.Err())
}

// authCapture remembers the Authorization header of the requests it forwards.
type authCapture struct {
	base http.RoundTripper
	mu   sync.Mutex
	auth string
}

func (a *authCapture) RoundTrip(req *http.Request) (*http.Response, error) {
	if v := req.Header.Get("Authorization"); v != "" && strings.Contains(req.URL.Path, "/restapi/") {
		a.mu.Lock()
		a.auth = v
		a.mu.Unlock()
	}
	return a.base.RoundTrip(req)
}

func (a *authCapture) authorization() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.auth
}
