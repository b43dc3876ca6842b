package docusignsim_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

func TestStateDumpEndpoint(t *testing.T) {
	t.Parallel()
	var observedMu sync.Mutex
	var observed []docusignsim.CallRecord
	env := setup(t, func(o *docusignsim.Options) {
		o.HourlyLimit = 3
		o.ObserveFunc = func(rec docusignsim.CallRecord) {
			observedMu.Lock()
			defer observedMu.Unlock()
			observed = append(observed, rec)
		}
	})
	tok := env.token(t)
	r := env.do(t, http.MethodPost, env.esURL("na2", demoNA2, "/users"), tok, map[string]any{"newUsers": []map[string]any{
		{"userName": "Dump Me", "email": "dump@example.net", "jobTitle": "Tester", "groupList": []map[string]string{{"groupId": strconv.Itoa(na2Finance)}}},
	}})
	require.Equal(t, http.StatusCreated, r.status)
	for range 3 {
		env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/groups"), tok, nil)
	}

	cr := env.do(t, http.MethodGet, env.srv.ControlURL()+"/_sim/state", "", nil)
	require.Equal(t, http.StatusOK, cr.status)
	var st docusignsim.State
	require.NoError(t, json.Unmarshal(cr.body, &st))

	require.Equal(t, demoOrg, st.Organization.ID)
	require.Len(t, st.Accounts, 2)
	require.Equal(t, "eu", st.Accounts[1].Environment)
	require.Len(t, st.Users, 2)
	u := userByEmail(t, st, "dump@example.net")
	require.Equal(t, "created", u.Status, "only an activation_sent membership")
	m := membershipIn(t, u, demoNA2)
	require.Equal(t, "activation_sent", m.Status)
	require.Equal(t, docusignsim.NamedID{ID: na2Sender, Name: "DocuSign Sender"}, m.PermissionProfile)
	require.Equal(t, []docusignsim.NamedID{{ID: na2Everyone, Name: "Everyone"}, {ID: na2Finance, Name: "Finance"}}, m.Groups)
	require.Equal(t, "Tester", m.JobTitle)

	require.Equal(t, 1, st.Requests["Users_PostUsers"])
	require.Equal(t, 3, st.Requests["Groups_GetGroups"])
	require.Equal(t, 1, st.Requests[docusignsim.OpToken])
	require.Equal(t, 2, st.Responses["Groups_GetGroups"]["200"])
	require.Equal(t, 1, st.Responses["Groups_GetGroups"]["429"])
	require.Equal(t, 1, st.TooManyRequests)
	b := budgetOf(t, st, demoNA2)
	require.Equal(t, 3, b.Current.UsedOurs)
	require.Equal(t, 3, b.HourlyLimit)
	require.Equal(t, 0, b.Remaining)
	require.Len(t, st.Calls, 5)
	require.Equal(t, "Users_PostUsers", st.Calls[1].Operation)
	require.Equal(t, demoNA2, st.Calls[1].AccountID)
	require.Equal(t, 201, st.Calls[1].Status)
	require.Equal(t, "na2", st.Calls[1].Environment)
	observedMu.Lock()
	require.Equal(t, st.Calls, observed, "ObserveFunc sees every record")
	observedMu.Unlock()

	require.Equal(t, http.StatusOK, env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/counters/reset", "", nil).status)
	st = env.srv.Dump()
	require.Empty(t, st.Requests)
	require.Empty(t, st.Calls)
	require.Equal(t, 3, budgetOf(t, st, demoNA2).Current.UsedOurs, "budgets survive a counter reset")

	info := env.do(t, http.MethodGet, env.srv.ControlURL()+"/_sim/info", "", nil).json(t)
	require.Equal(t, env.srv.AdminURL(), info["admin_url"])
	require.Equal(t, []any{demoAdmin}, info["admin_user_ids"])

	// Activation as the user would do it.
	ar := env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/memberships/activate", "", map[string]string{"user": "dump@example.net", "account_id": demoNA2})
	require.Equal(t, http.StatusOK, ar.status, string(ar.body))
	got, _ := env.srv.User("dump@example.net")
	require.Equal(t, "active", got.Status)
	require.Equal(t, http.StatusNotFound, env.do(t, http.MethodGet, env.srv.ControlURL()+"/_sim/nothing", "", nil).status)
}

func TestSeeds(t *testing.T) {
	t.Parallel()
	seed, err := docusignsim.DefaultSeed()
	require.NoError(t, err)
	require.Equal(t, []string{"na2", "eu"}, seed.Environments)
	require.Equal(t, docusignsim.DemoIntegrationKey, seed.IntegrationKey)
	require.Equal(t, docusignsim.DemoOrganizationID, seed.Organization.ID)
	require.Equal(t, docusignsim.DemoAccountNA2, seed.Organization.DefaultAccountID)
	require.Equal(t, []string{docusignsim.DemoClaimedDomain}, seed.Organization.ReservedDomains)
	require.Equal(t, docusignsim.DemoAdminUserID, seed.Users[0].ID)
	require.Len(t, seed.Accounts, 2)
	require.Equal(t, docusignsim.DemoAccountNA2, seed.Accounts[0].ID)
	require.Equal(t, "na2", seed.Accounts[0].Environment)
	require.Equal(t, docusignsim.DemoAccountEU, seed.Accounts[1].ID)
	require.Equal(t, "eu", seed.Accounts[1].Environment)
	for _, a := range seed.Accounts {
		names := []string{}
		for _, g := range a.Groups {
			names = append(names, g.Name)
		}
		require.Equal(t, []string{"Everyone", "Sales", "Engineering", "Finance"}, names)
	}
	require.NotEqual(t, seed.Accounts[0].PermissionProfiles[1].ID, seed.Accounts[1].PermissionProfiles[1].ID)

	fromFile, err := docusignsim.LoadSeed(filepath.Join("testdata", "demo-seed.json"))
	require.NoError(t, err)
	require.Equal(t, seed, fromFile)

	tests := []struct {
		name   string
		mutate func(s *docusignsim.Seed)
		want   string
	}{
		{name: "no integration key", mutate: func(s *docusignsim.Seed) { s.IntegrationKey = "" }, want: "integration_key is required"},
		{name: "account in unknown environment", mutate: func(s *docusignsim.Seed) { s.Accounts[1].Environment = "au" }, want: `environment "au" is not listed`},
		{name: "no Everyone group", mutate: func(s *docusignsim.Seed) { s.Accounts[0].Groups = s.Accounts[0].Groups[1:] }, want: "exactly one group of type everyone_group"},
		{name: "unknown default profile", mutate: func(s *docusignsim.Seed) { s.Accounts[0].DefaultPermissionProfile = "Nope" }, want: "default_permission_profile"},
		{name: "membership in unknown account", mutate: func(s *docusignsim.Seed) { s.Users[0].Memberships[0].AccountID = "x" }, want: "membership in unknown account"},
		{name: "unknown userinfo mode", mutate: func(s *docusignsim.Seed) { s.Users[0].UserinfoMode = "weird" }, want: "unknown userinfo_mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := docusignsim.DefaultSeed()
			require.NoError(t, err)
			tt.mutate(s)
			require.ErrorContains(t, s.Validate(), tt.want)
			_, err = docusignsim.Start(docusignsim.Options{Seed: s, PublicKeyPEM: []byte("unused")})
			require.ErrorContains(t, err, tt.want)
		})
	}

	_, err = docusignsim.ParseSeed([]byte(`{"integration_key":"x","typo":1}`))
	require.ErrorContains(t, err, "unknown field")
}

func TestSeedPublicKeyFileAndStartErrors(t *testing.T) {
	t.Parallel()
	_, privPEM, pubPEM := mustKeyPair(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "public.pem"), pubPEM, 0o600))
	seed, err := docusignsim.DefaultSeed()
	require.NoError(t, err)
	seed.PublicKeyFile = "public.pem"
	data, err := json.Marshal(seed)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seed.json"), data, 0o600))
	loaded, err := docusignsim.LoadSeed(filepath.Join(dir, "seed.json"))
	require.NoError(t, err)
	require.Equal(t, string(pubPEM), loaded.PublicKeyPEM)

	srv, err := docusignsim.Start(docusignsim.Options{Seed: loaded})
	require.NoError(t, err)
	require.NoError(t, srv.Close())

	_, err = docusignsim.Start(docusignsim.Options{})
	require.ErrorIs(t, err, docusignsim.ErrNoPublicKey)
	_, err = docusignsim.Start(docusignsim.Options{PublicKeyPEM: privPEM})
	require.ErrorContains(t, err, "private key")
	_, err = docusignsim.Start(docusignsim.Options{PublicKeyPEM: pubPEM, EnvironmentAddrs: map[string]string{"mars": "127.0.0.1:0"}, HourlyLimit: -1})
	require.ErrorContains(t, err, `unknown environment "mars"`)
	require.ErrorContains(t, err, "limits must be positive")
}

func TestCallLogLimitAndShutdown(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) { o.CallLogLimit = 2 })
	require.Equal(t, []string{"na2", "eu"}, env.srv.Environments())
	require.Equal(t, demoOrg, env.srv.OrganizationID())
	tok := env.token(t)
	for range 5 {
		require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, env.esURL("eu", demoEU, "/groups"), tok, nil).status)
	}
	st := env.srv.Dump()
	require.Len(t, st.Calls, 2)
	require.Equal(t, int64(6), st.Calls[1].Seq, "the newest calls are kept")
	require.Equal(t, 5, st.Requests["Groups_GetGroups"])

	require.NoError(t, env.srv.Shutdown(t.Context()))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, env.srv.ControlURL()+"/_sim/state", nil)
	require.NoError(t, err)
	resp, err := env.hc.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err, "stopped")
}

func TestCallLogDisabled(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) { o.CallLogLimit = -1 })
	tok := env.token(t)
	require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, env.esURL("eu", demoEU, "/groups"), tok, nil).status)
	st := env.srv.Dump()
	require.Empty(t, st.Calls)
	require.Equal(t, 1, st.Requests["Groups_GetGroups"])
}
