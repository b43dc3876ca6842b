package docusign_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// replyMangler rewrites the next API reply (a request under /restapi or /management) once armed. It stands
// between the client and the validating transport, so the validator checks the simulator's real reply while the
// client receives the damaged one.
type replyMangler struct {
	base http.RoundTripper

	mu     sync.Mutex
	mangle func(resp *http.Response, body []byte) []byte
	err    error // the error the damaged body ends with (nil: a clean end)
}

func (m *replyMangler) arm(mangle func(resp *http.Response, body []byte) []byte, readErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mangle, m.err = mangle, readErr
}

func (m *replyMangler) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := m.base.RoundTrip(req)
	if err != nil || !(strings.Contains(req.URL.Path, "/restapi/") || strings.Contains(req.URL.Path, "/management/")) {
		return resp, err
	}
	m.mu.Lock()
	mangle, readErr := m.mangle, m.err
	m.mangle, m.err = nil, nil
	m.mu.Unlock()
	if mangle == nil {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if err := resp.Body.Close(); err != nil {
		return nil, err
	}
	damaged := mangle(resp, body)
	var rd io.Reader = bytes.NewReader(damaged)
	if readErr != nil {
		rd = io.MultiReader(rd, errReader{readErr})
	}
	resp.Body = io.NopCloser(rd)
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return resp, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestSimMalformedReplies: whatever arrives instead of a DocuSign reply, the client returns an error — an
// *APIError with the reply's status and trace token whenever a reply arrived — and never panics.
func TestSimMalformedReplies(t *testing.T) {
	t.Parallel()
	na2 := docusignsim.DemoAccountNA2
	getUser := func(c *docusign.Client, t *testing.T) error {
		_, err := c.ESignature().GetUser(t.Context(), na2, docusignsim.DemoAdminUserID)
		return err
	}
	getMissingUser := func(c *docusign.Client, t *testing.T) error {
		_, err := c.ESignature().GetUser(t.Context(), na2, "00000000-0000-4000-8000-000000000000")
		return err
	}
	adminProfiles := func(c *docusign.Client, t *testing.T) error {
		_, err := c.Admin().ListPermissionProfiles(t.Context(), na2)
		return err
	}
	half := func(_ *http.Response, body []byte) []byte { return body[:len(body)/2] }
	tests := []struct {
		name       string
		op         string
		call       func(c *docusign.Client, t *testing.T) error
		fault      *docusignsim.Fault
		mangle     func(*http.Response, []byte) []byte
		readErr    error
		wantStatus int
		wantCode   string // the APIError's code
		wantInMsg  string
	}{
		{name: "truncated 200 body", op: "User_GetUser", call: getUser, mangle: half,
			wantStatus: http.StatusOK, wantCode: docusign.CodeUnparseableResponse, wantInMsg: "decode response body"},
		{name: "empty 200 body", op: "User_GetUser", call: getUser,
			mangle:     func(*http.Response, []byte) []byte { return nil },
			wantStatus: http.StatusOK, wantCode: docusign.CodeUnparseableResponse, wantInMsg: "decode response body"},
		{name: "connection cut in the middle of a 200 body", op: "User_GetUser", call: getUser, mangle: half,
			readErr: io.ErrUnexpectedEOF, wantStatus: http.StatusOK, wantCode: docusign.CodeUnparseableResponse,
			wantInMsg: "read response body"},
		{name: "proxy HTML instead of a 200 body", op: "Account_Accounts_GetPermissionProfilesV2", call: adminProfiles,
			mangle: func(resp *http.Response, _ []byte) []byte {
				resp.Header.Set("Content-Type", "text/html")
				return []byte("<html><body>Gateway says hello</body></html>")
			},
			wantStatus: http.StatusOK, wantCode: docusign.CodeUnparseableResponse, wantInMsg: "decode response body"},
		{name: "truncated 400 error body", op: "User_GetUser", call: getMissingUser, mangle: half,
			wantStatus: http.StatusBadRequest, wantCode: docusign.CodeUnparseableResponse, wantInMsg: "unparseable response body"},
		{name: "empty 400 error body", op: "User_GetUser", call: getMissingUser,
			mangle:     func(*http.Response, []byte) []byte { return []byte("  ") },
			wantStatus: http.StatusBadRequest, wantCode: docusign.CodeUnparseableResponse, wantInMsg: "empty response body"},
		{name: "injected 500 with a JSON error", op: "User_GetUser", call: getUser,
			fault:      &docusignsim.Fault{Operation: "User_GetUser", ErrorRate: 1, ErrorStatus: http.StatusInternalServerError, Limit: 1},
			wantStatus: http.StatusInternalServerError, wantCode: "UNSPECIFIED_ERROR", wantInMsg: "injected"},
		{name: "injected 500 on the Admin API", op: "Account_Accounts_GetPermissionProfilesV2", call: adminProfiles,
			fault: &docusignsim.Fault{Operation: "Account_Accounts_GetPermissionProfilesV2", ErrorRate: 1,
				ErrorStatus: http.StatusInternalServerError, Limit: 1},
			wantStatus: http.StatusInternalServerError, wantCode: "internal_server_error", wantInMsg: "injected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startSim(t, nil)
			mangler := &replyMangler{base: h.vt}
			c := h.verifiedClient(t, func(cfg *docusign.Config) {
				cfg.HTTPClient = &http.Client{Transport: mangler, Timeout: simHTTPTimeout}
			})
			if tt.fault != nil {
				require.NoError(t, h.sim.SetFault(*tt.fault))
			}
			if tt.mangle != nil {
				mangler.arm(tt.mangle, tt.readErr)
			}
			var err error
			require.NotPanics(t, func() { err = tt.call(c, t) })
			var apiErr *docusign.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tt.wantStatus, apiErr.StatusCode)
			require.Equal(t, tt.wantCode, apiErr.ErrorCode)
			require.Contains(t, apiErr.Message, tt.wantInMsg)
			st := h.sim.Dump()
			rec := lastCall(t, st, tt.op)
			require.Equal(t, rec.TraceToken, apiErr.TraceToken)
			require.Equal(t, 1, st.Requests[tt.op], "not retried")
			require.True(t, apiErr.RateLimit.HasHourly, "headers of a damaged reply are still read")
			require.False(t, docusign.IsRateLimited(err))
			require.Equal(t, tt.wantCode == docusign.CodeUnparseableResponse, errors.Is(err, docusign.ErrUnparseableResponse))
			require.Equal(t, tt.wantCode, h.hook.last(t).resp.ErrorCode)

			// The same call again, undamaged: success, or the error the simulator really sent.
			err = tt.call(c, t)
			if tt.wantStatus == http.StatusBadRequest {
				require.ErrorAs(t, err, &apiErr)
				require.Equal(t, "USER_NOT_FOUND", apiErr.ErrorCode)
			} else {
				require.NoError(t, err)
			}
			requireHookMatchesSimulator(t, h)
			require.NoError(t, h.vt.Err())
		})
	}
}

// TestSimLoadBalancerPage: an injected 503 carries an HTML page, as a load balancer sends. The client returns an
// *APIError with status and trace token; the validator flags the page, which is not DocuSign's contract, and
// nothing else.
func TestSimLoadBalancerPage(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	c := h.verifiedClient(t, nil)
	const op = "Groups_GetGroups"
	require.NoError(t, h.sim.SetFault(docusignsim.Fault{Operation: op, ErrorRate: 1, Limit: 1}))
	var err error
	require.NotPanics(t, func() { _, err = c.ESignature().ListGroups(t.Context(), docusignsim.DemoAccountEU) })
	var apiErr *docusign.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
	require.Equal(t, docusign.CodeUnparseableResponse, apiErr.ErrorCode)
	require.Contains(t, apiErr.Message, "text/html")
	require.NotContains(t, apiErr.Message, "Service Unavailable", "the body is described, not quoted")
	st := h.sim.Dump()
	require.Equal(t, lastCall(t, st, op).TraceToken, apiErr.TraceToken)
	require.Equal(t, 1, st.Requests[op])

	_, err = c.ESignature().ListGroups(t.Context(), docusignsim.DemoAccountEU)
	require.NoError(t, err)
	requireHookMatchesSimulator(t, h)
	violations := h.vt.Violations()
	require.Len(t, violations, 1, "%v", violations)
	require.Equal(t, http.StatusServiceUnavailable, violations[0].Status)
	require.Equal(t, op, violations[0].OperationID)
}

// TestSimDroppedConnection: the simulator closes the connection without a reply. The client returns a transport
// error (no status to report), tells the hook, and does not retry the non-idempotent call.
func TestSimDroppedConnection(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	c := h.verifiedClient(t, nil)
	const op = "Users_PostUsers"
	require.NoError(t, h.sim.SetFault(docusignsim.Fault{Operation: op, DropRate: 1, Limit: 1}))
	email := "dropped@" + docusignsim.DemoClaimedDomain
	var err error
	require.NotPanics(t, func() {
		_, err = c.ESignature().CreateUsers(t.Context(), docusignsim.DemoAccountNA2, []docusign.ESignUser{{UserName: "Dropped", Email: email}})
	})
	require.Error(t, err)
	var apiErr *docusign.APIError
	require.NotErrorAs(t, err, &apiErr)
	require.Contains(t, err.Error(), op)
	last := h.hook.last(t)
	require.Equal(t, op, last.req.Operation)
	require.Zero(t, last.resp.StatusCode)
	require.Error(t, last.resp.Err)
	st := h.sim.Dump()
	require.Equal(t, 1, st.Requests[op])
	require.Equal(t, 1, st.Responses[op][strconv.Itoa(0)], "dropped")
	_, found := h.sim.User(email)
	require.False(t, found, "the fault struck before the simulator applied the request")
	requireHookMatchesSimulator(t, h)
	require.NoError(t, h.vt.Err())
}
