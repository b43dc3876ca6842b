package docusignsim_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// seqRand returns the given numbers in turn (then repeats the last).
func seqRand(values ...float64) func() float64 {
	var mu sync.Mutex
	i := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := values[min(i, len(values)-1)]
		i++
		return v
	}
}

func TestParseFault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    string
		want    docusignsim.Fault
		wantErr string
	}{
		{name: "all keys", spec: "Users_PostUsers:error_rate=0.25,error_status=500,drop_rate=0.1,latency=150ms,limit=3",
			want: docusignsim.Fault{Operation: "Users_PostUsers", ErrorRate: 0.25, ErrorStatus: 500, DropRate: 0.1, Latency: 150 * time.Millisecond, Limit: 3}},
		{name: "wildcard latency only", spec: "*:latency=1s", want: docusignsim.Fault{Operation: "*", Latency: time.Second}},
		{name: "operation only", spec: "User_GetUser", want: docusignsim.Fault{Operation: "User_GetUser"}},
		{name: "unknown key", spec: "X:foo=1", wantErr: "unknown key"},
		{name: "not key=value", spec: "X:foo", wantErr: "not key=value"},
		{name: "rates over one", spec: "X:error_rate=0.8,drop_rate=0.5", wantErr: "sum to at most 1"},
		{name: "not a 5xx", spec: "X:error_rate=1,error_status=404", wantErr: "not a 5xx"},
		{name: "no operation", spec: ":latency=1s", wantErr: "operation is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := docusignsim.ParseFault(tt.spec)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			data, err := json.Marshal(got)
			require.NoError(t, err)
			var back docusignsim.Fault
			require.NoError(t, json.Unmarshal(data, &back))
			require.Equal(t, got, back)
		})
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) {
		// r = 0.05 (drop), 0.5 (error), 0.95 (nothing), then 0.0 forever.
		o.RandFunc = seqRand(0.05, 0.5, 0.95, 0.0)
		o.Faults = []docusignsim.Fault{{Operation: "Users_GetUsers", DropRate: 0.1, ErrorRate: 0.5, ErrorStatus: 500, Limit: 3}}
	})
	tok := env.token(t)
	url := env.esURL("na2", demoNA2, "/users?count=1")

	// A fresh connection per request: net/http retries a GET whose reused connection closes.
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	fresh := &http.Client{Transport: tr, Timeout: defaultTimeo}
	dropped := func() error {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := fresh.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	require.Error(t, dropped(), "dropped connection")

	r := env.do(t, http.MethodGet, url, tok, nil)
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.Equal(t, "UNSPECIFIED_ERROR", r.json(t)["errorCode"])
	require.NotEmpty(t, r.header.Get("X-RateLimit-Remaining"))
	require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, url, tok, nil).status)
	// r = 0.0 would drop, but the limit of 3 injections is not reached yet: one more drop…
	require.Error(t, dropped())
	// …and now the limit holds.
	require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, url, tok, nil).status)

	// Other operations are not affected; the wildcard does not reach the token endpoint.
	require.NoError(t, env.srv.SetFault(docusignsim.Fault{Operation: docusignsim.OpAny, ErrorRate: 1}))
	r = env.do(t, http.MethodGet, env.adminURL("/accounts/"+demoNA2+"/permissions"), tok, nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.True(t, strings.HasPrefix(r.header.Get("Content-Type"), "text/html"), "a 503 is not JSON")
	require.NotEmpty(t, env.token(t))
	env.srv.ClearFaults(docusignsim.OpAny)

	// Token faults are named explicitly, through the control endpoint.
	cr := env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/faults", "", map[string]any{"operation": docusignsim.OpToken, "error_rate": 1, "error_status": 502})
	require.Equal(t, http.StatusOK, cr.status, string(cr.body))
	status, _ := env.postToken(t, signAssertion(t, env.key, env.claims(allScopes)))
	require.Equal(t, http.StatusBadGateway, status)
	listed := env.do(t, http.MethodGet, env.srv.ControlURL()+"/_sim/faults", "", nil)
	require.Contains(t, string(listed.body), `"operation":"OAuth_PostToken"`)
	require.Equal(t, http.StatusOK, env.do(t, http.MethodDelete, env.srv.ControlURL()+"/_sim/faults", "", nil).status)
	require.Empty(t, env.srv.Faults())
	cr = env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/faults", "", map[string]any{"operation": "X", "error_rate": 2})
	require.Equal(t, http.StatusBadRequest, cr.status)

	resp500 := env.srv.Dump().Responses["Users_GetUsers"]
	require.Equal(t, 2, resp500["0"], "two dropped connections")
	require.Equal(t, 1, resp500["500"])
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) {
		o.Faults = []docusignsim.Fault{{Operation: docusignsim.OpUserinfo, Latency: 150 * time.Millisecond}}
	})
	tok := env.token(t)
	start := time.Now()
	r := env.do(t, http.MethodGet, env.srv.AuthURL()+"/oauth/userinfo", tok, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
}
