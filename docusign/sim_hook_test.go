package docusign_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// callsByTrace indexes the simulator's call log by trace token.
func callsByTrace(st docusignsim.State) map[string]docusignsim.CallRecord {
	out := make(map[string]docusignsim.CallRecord, len(st.Calls))
	for _, rec := range st.Calls {
		out[rec.TraceToken] = rec
	}
	return out
}

// requireRateLimitIsBudget checks that what a reply's headers told the hook equals the simulator's counters of
// the budget the request spent, at a moment when nothing else has spent it since.
func requireRateLimitIsBudget(tb testing.TB, rl docusign.RateLimit, b docusignsim.BudgetState) {
	tb.Helper()
	require.True(tb, rl.HasHourly)
	require.True(tb, rl.HasBurst)
	require.Equal(tb, b.HourlyLimit, rl.Limit)
	require.Equal(tb, b.Remaining, rl.Remaining)
	require.Equal(tb, b.BurstLimit, rl.BurstLimit)
	require.Equal(tb, b.BurstLimit-b.BurstUsed, rl.BurstRemaining)
	require.Equal(tb, b.Current.End.Unix(), rl.Reset.Unix())
}

// TestSimHookSeesEveryRequestOnce checks the hook against the simulator: one BeforeRequest and one AfterResponse
// per HTTP API request (internal retries included, token and userinfo calls excluded), the budget account the
// simulator charged, and rate-limit values equal to the simulator's budget counters.
func TestSimHookSeesEveryRequestOnce(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	ctx := t.Context()
	na2, eu := docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU
	require.Equal(t, na2, h.sim.Dump().Organization.DefaultAccountID)
	// The organization's default account is not the first configured one, so the Admin budget key cannot be
	// right by accident.
	c := h.verifiedClient(t, func(cfg *docusign.Config) { cfg.Accounts = []string{eu, na2} })
	admin, es := c.Admin(), c.ESignature()

	steps := []struct {
		name        string
		call        func() error
		wantAccount string
		wantErr     bool
	}{
		{name: "Admin list users", wantAccount: na2, call: func() error {
			_, err := admin.ListUsers(ctx, docusign.AdminUserFilter{AccountID: eu})
			return err
		}},
		{name: "eSignature list users", wantAccount: na2, call: func() error {
			_, err := es.ListUsers(ctx, na2, docusign.ESignUserFilter{Status: "Active"})
			return err
		}},
		{name: "eSignature list groups in the other environment", wantAccount: eu, call: func() error {
			_, err := es.ListGroups(ctx, eu)
			return err
		}},
		{name: "eSignature create user", wantAccount: eu, call: func() error {
			_, err := es.CreateUsers(ctx, eu, []docusign.ESignUser{{UserName: "Hook Tester", Email: "hook.tester@example.com"}})
			return err
		}},
		{name: "Admin user profiles", wantAccount: na2, call: func() error {
			_, err := admin.GetUserProfiles(ctx, "hook.tester@example.com")
			return err
		}},
		{name: "eSignature error reply", wantAccount: eu, wantErr: true, call: func() error {
			_, err := es.GetUser(ctx, eu, "00000000-0000-0000-0000-000000000000")
			return err
		}},
		{name: "Admin error reply", wantAccount: na2, wantErr: true, call: func() error {
			_, err := admin.ListPermissionProfiles(ctx, "00000000-0000-0000-0000-000000000000")
			return err
		}},
		{name: "eSignature retry after a revoked token", wantAccount: na2, call: func() error {
			h.sim.ExpireTokens()
			_, err := es.ListPermissionProfiles(ctx, na2)
			return err
		}},
	}
	for _, step := range steps {
		seen := len(h.hook.recorded())
		err := step.call()
		if step.wantErr {
			require.Error(t, err, step.name)
		} else {
			require.NoError(t, err, step.name)
		}
		st := h.sim.Dump()
		byTrace := callsByTrace(st)
		calls := h.hook.recorded()[seen:]
		require.NotEmpty(t, calls, step.name)
		for i, hc := range calls {
			require.Equal(t, step.wantAccount, hc.req.AccountID, step.name)
			require.Equal(t, i+1, hc.req.Attempt, step.name)
			rec, ok := byTrace[hc.resp.TraceToken]
			require.True(t, ok, "%s: the hook's trace token is the simulator's", step.name)
			require.Equal(t, hc.req.Operation, rec.Operation, step.name)
			require.Equal(t, hc.resp.StatusCode, rec.Status, step.name)
			require.Equal(t, rec.AccountID, hc.req.AccountID, "%s: the hook's budget key is the account the simulator charged", step.name)
		}
		requireRateLimitIsBudget(t, calls[len(calls)-1].resp.RateLimit, simBudget(t, st, step.wantAccount))
		requireHookMatchesSimulator(t, h)
	}
	require.Len(t, h.hook.recorded(), len(callsOfAPI(h.sim.Dump())))
	require.NoError(t, h.vt.Err())
}

// callsOfAPI is the simulator's call log without token and userinfo calls.
func callsOfAPI(st docusignsim.State) []docusignsim.CallRecord {
	var out []docusignsim.CallRecord
	for _, rec := range st.Calls {
		if rec.Operation != docusignsim.OpToken && rec.Operation != docusignsim.OpUserinfo {
			out = append(out, rec)
		}
	}
	return out
}

// TestSimHookAdminBudgetAccount checks the configurable budget key of Admin API calls against a simulator that
// charges the same account.
func TestSimHookAdminBudgetAccount(t *testing.T) {
	t.Parallel()
	eu := docusignsim.DemoAccountEU
	h := startSim(t, func(o *docusignsim.Options) { o.AdminBudgetAccountID = eu })
	c := h.verifiedClient(t, func(cfg *docusign.Config) { cfg.AdminBudgetAccountID = eu })
	_, err := c.Admin().ListGroups(t.Context(), docusignsim.DemoAccountNA2)
	require.NoError(t, err)
	calls := h.hook.recorded()
	require.Len(t, calls, 1, "no organization discovery when the budget account is configured")
	require.Equal(t, eu, calls[0].req.AccountID)
	st := h.sim.Dump()
	require.Equal(t, eu, lastCall(t, st, "Account_Accounts_GetGroupsV2").AccountID)
	requireRateLimitIsBudget(t, calls[0].resp.RateLimit, simBudget(t, st, eu))
	require.Equal(t, 1, simBudget(t, st, eu).Current.UsedOurs)
	require.Zero(t, simBudget(t, st, docusignsim.DemoAccountNA2).Current.UsedOurs)
	requireHookMatchesSimulator(t, h)
	require.NoError(t, h.vt.Err())
}
