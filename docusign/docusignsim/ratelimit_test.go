package docusignsim_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

func TestHourlyLimit(t *testing.T) {
	t.Parallel()
	for _, legacy := range []bool{false, true} {
		t.Run("legacy="+strconv.FormatBool(legacy), func(t *testing.T) {
			t.Parallel()
			env := setup(t, func(o *docusignsim.Options) {
				o.HourlyLimit = 5
				o.LegacyLimitStatus = legacy
			})
			tok := env.token(t)
			url := env.esURL("na2", demoNA2, "/users?count=1")
			windowEnd := env.clock.Now().Add(time.Hour).Unix()
			env.clock.Advance(20 * time.Minute)
			for i := range 5 {
				r := env.do(t, http.MethodGet, url, tok, nil)
				require.Equal(t, http.StatusOK, r.status)
				require.Equal(t, "5", r.header.Get("X-RateLimit-Limit"))
				require.Equal(t, strconv.Itoa(4-i), r.header.Get("X-RateLimit-Remaining"))
				require.Equal(t, strconv.FormatInt(windowEnd, 10), r.header.Get("X-RateLimit-Reset"))
				require.Equal(t, "500", r.header.Get("X-BurstLimit-Limit"))
				require.Equal(t, strconv.Itoa(499-i), r.header.Get("X-BurstLimit-Remaining"))
				require.NotEmpty(t, r.header.Get("X-DocuSign-TraceToken"))
			}
			r := env.do(t, http.MethodGet, url, tok, nil)
			want := http.StatusTooManyRequests
			if legacy {
				want = http.StatusBadRequest
			}
			require.Equal(t, want, r.status)
			require.JSONEq(t, `{"errorCode":"HOURLY_APIINVOCATION_LIMIT_EXCEEDED","message":"The maximum number of hourly API invocations has been exceeded. The hourly limit is 5."}`, string(r.body))
			require.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))

			// The other account has its own budget.
			require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, env.esURL("eu", demoEU, "/users?count=1"), tok, nil).status)

			// The window resets at its aligned end.
			env.clock.Advance(40 * time.Minute)
			tok = env.token(t) // the old one lived an hour
			r = env.do(t, http.MethodGet, url, tok, nil)
			require.Equal(t, http.StatusOK, r.status)
			require.Equal(t, "4", r.header.Get("X-RateLimit-Remaining"))
			require.Equal(t, strconv.FormatInt(windowEnd+3600, 10), r.header.Get("X-RateLimit-Reset"))

			st := env.srv.Dump()
			require.Equal(t, 1, st.TooManyRequests)
			b := budgetOf(t, st, demoNA2)
			require.Equal(t, 1, b.Rejected)
			require.Len(t, b.History, 1)
			require.Equal(t, 5, b.History[0].UsedOurs, "a rejected call does not count (assumed)")
			require.Equal(t, 1, b.History[0].RejectedHourly)
			require.Equal(t, 1, b.Current.UsedOurs)
		})
	}
}

func TestBurstLimit(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) {
		o.BurstLimit = 3
		o.BurstWindow = 10 * time.Second
	})
	tok := env.token(t)
	url := env.esURL("eu", demoEU, "/users?count=1")
	env.clock.Advance(5 * time.Second)
	for range 3 {
		require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, url, tok, nil).status)
	}
	r := env.do(t, http.MethodGet, url, tok, nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "BURST_APIINVOCATION_LIMIT_EXCEEDED", r.json(t)["errorCode"])
	require.Equal(t, "0", r.header.Get("X-BurstLimit-Remaining"))
	require.Equal(t, "2997", r.header.Get("X-RateLimit-Remaining"))

	env.clock.Advance(5 * time.Second) // next aligned burst window
	r = env.do(t, http.MethodGet, url, tok, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "2", r.header.Get("X-BurstLimit-Remaining"))

	b := budgetOf(t, env.srv.Dump(), demoEU)
	require.Equal(t, 3, b.MaxBurst)
	require.Equal(t, 3, b.MaxBurstOurs)
	require.Equal(t, 1, b.Current.RejectedBurst)
}

func TestAdminCallsSpendDefaultAccount(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) { o.HourlyLimit = 100 })
	tok := env.token(t)
	r := env.do(t, http.MethodGet, env.adminURL("/accounts/"+demoEU+"/groups"), tok, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "99", r.header.Get("X-RateLimit-Remaining"))
	r = env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/groups"), tok, nil)
	require.Equal(t, "98", r.header.Get("X-RateLimit-Remaining"), "Admin calls spend the default account (NA2), assumed")
	r = env.do(t, http.MethodGet, env.esURL("eu", demoEU, "/groups"), tok, nil)
	require.Equal(t, "99", r.header.Get("X-RateLimit-Remaining"))

	// Token and userinfo calls are not charged.
	env.token(t)
	env.do(t, http.MethodGet, env.srv.AuthURL()+"/oauth/userinfo", tok, nil)
	require.Equal(t, 2, budgetOf(t, env.srv.Dump(), demoNA2).Current.UsedOurs)
}

func TestForeignSpend(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) {
		o.HourlyLimit = 100
		o.Window = 100 * time.Second
		o.BurstLimit = 20
		o.BurstWindow = 10 * time.Second
		o.ForeignRates = map[string]int{demoNA2: 50} // one call every 2 s
	})
	tok := env.token(t)
	env.clock.Advance(49 * time.Second) // slots at 0, 2, …, 48: 25 calls
	b := budgetOf(t, env.srv.Dump(), demoNA2)
	require.Equal(t, 25, b.Current.UsedForeign)
	require.Equal(t, 0, b.Current.UsedOurs)
	require.Equal(t, 75, b.Remaining)
	require.Equal(t, 5, b.MaxBurst, "five foreign calls per 10 s burst window")
	r := env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/users?count=1"), tok, nil)
	require.Equal(t, "74", r.header.Get("X-RateLimit-Remaining"))

	// A whole window later, exactly 50 foreign calls were made in the finished window.
	env.clock.Advance(100 * time.Second)
	b = budgetOf(t, env.srv.Dump(), demoNA2)
	require.Len(t, b.History, 1)
	require.Equal(t, 50, b.History[0].UsedForeign)
	require.Equal(t, 1, b.History[0].UsedOurs)

	// Stop the steady spend, then spend in one lump through the control endpoint.
	require.NoError(t, env.srv.SetForeignRate(demoNA2, 0))
	env.clock.Advance(100 * time.Second)
	cr := env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/foreign/spend", "", map[string]any{"account_id": demoNA2, "calls": 150})
	require.Equal(t, http.StatusOK, cr.status, string(cr.body))
	require.JSONEq(t, `{"accepted":100}`, string(cr.body))
	r = env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/users?count=1"), tok, nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "HOURLY_APIINVOCATION_LIMIT_EXCEEDED", r.json(t)["errorCode"])
	b = budgetOf(t, env.srv.Dump(), demoNA2)
	require.Equal(t, 100, b.Current.UsedForeign)
	require.Equal(t, 50, b.Current.ForeignRejected)
	require.Equal(t, 20, b.BurstUsed, "a lump fills the burst window up to its limit")

	cr = env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/foreign/rate", "", map[string]any{"account_id": demoEU, "calls_per_window": 10})
	require.Equal(t, http.StatusOK, cr.status)
	env.clock.Advance(25 * time.Second) // EU slots every 10 s from now: 0, 10, 20
	require.Equal(t, 3, budgetOf(t, env.srv.Dump(), demoEU).Current.UsedForeign)
	cr = env.do(t, http.MethodPost, env.srv.ControlURL()+"/_sim/foreign/rate", "", map[string]any{"account_id": "nope", "calls_per_window": 10})
	require.Equal(t, http.StatusNotFound, cr.status)
}

// TestForeignSpendRespectsLimits: foreign calls over a limit are rejected, not counted.
func TestForeignSpendRespectsLimits(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) {
		o.HourlyLimit = 10
		o.Window = 100 * time.Second
		o.BurstLimit = 3
		o.BurstWindow = 10 * time.Second
		o.ForeignRates = map[string]int{demoEU: 100} // one per second
	})
	env.clock.Advance(99 * time.Second)
	b := budgetOf(t, env.srv.Dump(), demoEU)
	require.Equal(t, 10, b.Current.UsedForeign)
	require.Equal(t, 90, b.Current.ForeignRejected)
	require.Equal(t, 3, b.MaxBurst)
}
