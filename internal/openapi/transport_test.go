package openapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	newUserBody    = `{"email":"ada@example.com","accounts":[{"id":"a4ec37d6-0000-0000-0000-0000000000aa"}]}`
	newUserReply   = `{"id":"4799e5e9-0000-0000-0000-000000000001","site_id":1,"email":"ada@example.com","accounts":[{"id":"a4ec37d6-0000-0000-0000-0000000000aa","site_id":1}]}`
	badOrgsReply   = `{"organizations":[{"id":"9c5fb8e1-0000-0000-0000-000000000001","region":"eu"}]}`
	usersListReply = `{"users":[{"userId":"u-1","userName":"Ada","isAdmin":"False"}],"resultSetSize":"1","nextUri":null}`
	tokenReply     = `{"access_token":"not-a-real-token","token_type":"Bearer","expires_in":3600}`
)

// fakeDocuSign answers a few fixed routes and records the request bodies it
// received, keyed by "METHOD path".
type fakeDocuSign struct {
	mu       sync.Mutex
	received map[string][]byte
}

func (f *fakeDocuSign) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.received[r.Method+" "+r.URL.Path] = body
	f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/users"):
		_, _ = io.WriteString(w, newUserReply)
	case strings.EqualFold(r.URL.Path, "/management/v2/organizations"):
		_, _ = io.WriteString(w, badOrgsReply)
	case r.URL.Path == "/restapi/v2.1/accounts/a-1/users":
		_, _ = io.WriteString(w, usersListReply)
	case r.URL.Path == "/oauth/token":
		_, _ = io.WriteString(w, tokenReply)
	case r.URL.Path == "/restapi/v2.1/accounts/a-1/users/u-1":
		// Promise more than is sent, then drop the connection.
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"userId\":")
		_ = buf.Flush()
		_ = conn.Close()
	default:
		http.NotFound(w, r)
	}
}

// setupTransport starts the fake server and a client whose transport
// validates against the DocuSign documents.
func setupTransport(tb testing.TB) (*fakeDocuSign, *httptest.Server, *http.Client, *ValidatingTransport) {
	tb.Helper()
	admin, esign := mustDocuSignSpecs(tb)
	fake := &fakeDocuSign{received: map[string][]byte{}}
	srv := httptest.NewServer(fake)
	tb.Cleanup(srv.Close)
	vt := NewValidatingTransport(srv.Client().Transport, map[string]*Spec{"/management": admin, "/restapi/": esign})
	return fake, srv, &http.Client{Transport: vt}, vt
}

// do sends one request and returns the status and the body the caller sees.
func do(tb testing.TB, client *http.Client, method, url, body string) (int, []byte, error) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	require.NoError(tb, err)
	resp, err := client.Do(req)
	require.NoError(tb, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	return resp.StatusCode, got, err
}

func TestValidatingTransport(t *testing.T) {
	t.Parallel()
	fake, srv, client, vt := setupTransport(t)
	org := srv.URL + "/management" + testOrg

	// A valid exchange: the server gets the body, the caller the reply, unchanged.
	status, got, err := do(t, client, http.MethodPost, org+"/users", newUserBody)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, newUserReply, string(got))
	require.Equal(t, newUserBody, string(fake.received["POST /management"+testOrg+"/users"]))
	require.Empty(t, vt.Violations())
	require.NoError(t, vt.Err())

	// A request with an unknown field is still sent, and recorded.
	badBody := strings.Replace(newUserBody, `"email"`, `"mail":"x","email"`, 1)
	_, _, err = do(t, client, http.MethodPost, org+"/users", badBody)
	require.NoError(t, err)
	require.Equal(t, badBody, string(fake.received["POST /management"+testOrg+"/users"]))

	// A reply with an unknown field reaches the caller unchanged, and is recorded.
	_, got, err = do(t, client, http.MethodGet, srv.URL+"/MANAGEMENT/v2/organizations", "")
	require.NoError(t, err)
	require.Equal(t, badOrgsReply, string(got))

	// eSignature under its own prefix; a query parameter it does not declare.
	_, got, err = do(t, client, http.MethodGet, srv.URL+"/restapi/v2.1/accounts/a-1/users?email=a%40example.com&verbose=1", "")
	require.NoError(t, err)
	require.Equal(t, usersListReply, string(got))

	// Unknown path: the request is recorded; the 404 reply is not judged.
	status, _, err = do(t, client, http.MethodGet, org+"/nonsense", "")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, status)

	// Outside every prefix: passed through, never judged.
	_, got, err = do(t, client, http.MethodPost, srv.URL+"/oauth/token", "grant_type=x")
	require.NoError(t, err)
	require.Equal(t, tokenReply, string(got))

	// A dropped connection reaches the caller as the same failure, not as a violation.
	_, got, err = do(t, client, http.MethodGet, srv.URL+"/restapi/v2.1/accounts/a-1/users/u-1", "")
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	require.Equal(t, `{"userId":`, string(got))

	require.Equal(t, []Violation{
		{Method: "POST", Path: "/management" + testOrg + "/users", OperationID: "OrganizationUser_Users_AddV2",
			Direction: DirRequest, Detail: "mail: unknown field (not in NewUserRequest)"},
		{Method: "GET", Path: "/MANAGEMENT/v2/organizations", OperationID: "Organization_Organization_GetListV2",
			Direction: DirResponse, Status: 200, Detail: "organizations[0].region: unknown field (not in OrganizationResponse)"},
		{Method: "GET", Path: "/restapi/v2.1/accounts/a-1/users", OperationID: "Users_GetUsers",
			Direction: DirRequest, Detail: `query parameter "verbose": not declared`},
		{Method: "GET", Path: "/management" + testOrg + "/nonsense",
			Direction: DirRequest, Detail: "no operation matches the path: " + testOrg + "/nonsense"},
	}, vt.Violations())
	require.ErrorContains(t, vt.Err(), "openapi: GET /MANAGEMENT/v2/organizations (Organization_Organization_GetListV2) response 200: organizations[0].region")
	require.Equal(t, map[string]int{
		"OrganizationUser_Users_AddV2":        2,
		"Organization_Organization_GetListV2": 1,
		"Users_GetUsers":                      1,
		"User_GetUser":                        1,
	}, vt.Covered())
}

func TestValidatingTransportConcurrent(t *testing.T) {
	t.Parallel()
	_, srv, client, vt := setupTransport(t)
	url := srv.URL + "/management" + testOrg + "/users"
	const n = 32

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := newUserBody
			if i%2 == 1 {
				body = `{"email":"ada@example.com"}` // missing accounts
			}
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader([]byte(body)))
			if err != nil {
				errs <- err
				return
			}
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			errs <- err
			_ = resp.Body.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, map[string]int{"OrganizationUser_Users_AddV2": n}, vt.Covered())
	vs := vt.Violations()
	require.Len(t, vs, n/2)
	for _, v := range vs {
		require.Equal(t, "accounts: required field missing (NewUserRequest)", v.Detail)
	}
}
