package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/events"
)

// The compressed hour of the quota test: DocuSign's limits scaled to a 60 s "hour", as in cmd/loadgen's quota test.
const (
	e2eQuotaWindow      = 60 * time.Second
	e2eQuotaLimit       = 600
	e2eQuotaBurst       = 100
	e2eQuotaBurstWindow = 5 * time.Second
	e2eQuotaReserve     = 0.10
	e2eQuotaForeign     = e2eQuotaLimit / 5 // another application spends 20 % of the account's budget
	// e2eQuotaAvailable is what the workers may spend per window: the limit less the reserve and the foreign spend.
	e2eQuotaAvailable = e2eQuotaLimit - e2eQuotaLimit/10 - e2eQuotaForeign
	e2eQuotaWindows   = 2
	e2eQuotaProcesses = 3
	// e2eQuotaCallsPerJoiner is what a joiner costs on the Admin API (look-up by email, create).
	e2eQuotaCallsPerJoiner = 2
	// e2eQuotaJoiners outlasts the measured windows by about a sixth of a window, so both stay busy to their end.
	e2eQuotaJoiners = (e2eQuotaWindows*e2eQuotaAvailable + e2eQuotaAvailable/6) / e2eQuotaCallsPerJoiner
)

// publishBulk publishes events on one connection, waiting for every acknowledgement.
func publishBulk(t *testing.T, natsURL string, evs []map[string]any) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var acks []jetstream.PubAckFuture
	for _, ev := range evs {
		body, err := json.Marshal(ev)
		require.NoError(t, err)
		f, err := js.PublishMsgAsync(&nats.Msg{Subject: subjectOf(ev), Data: body,
			Header: nats.Header{"Content-Type": []string{events.ContentTypeStructured}}}, jetstream.WithMsgID(ev["id"].(string)))
		require.NoError(t, err)
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			require.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("publish acknowledgements timed out")
		}
	}
}

// TestEndToEndQuota runs three worker processes sharing one NATS and one Redis against a compressed hour with a
// foreign application spending 20 % of the budget, and a burst of joiners larger than two windows' budget: no
// 429, the burst limit never exceeded, ≥ 90 % of the available budget used in each full window, and every joiner
// provisioned by the end.
func TestEndToEndQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("the quota test runs two compressed hours with three worker processes (about 3 minutes)")
	}
	t.Parallel()
	f := newFixture(t)
	keys, err := keyPair()
	require.NoError(t, err)
	account := acctNA2
	sim, err := docusignsim.Start(docusignsim.Options{PublicKeyPEM: keys[1], HourlyLimit: e2eQuotaLimit,
		Window: e2eQuotaWindow, BurstLimit: e2eQuotaBurst, BurstWindow: e2eQuotaBurstWindow,
		ForeignRates: map[string]int{account: e2eQuotaForeign}, CallLogLimit: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	f.sim = sim
	maps.Copy(f.env, map[string]string{
		"WORKER_DOCUSIGN_AUTH_URL":        sim.AuthURL(),
		"WORKER_DOCUSIGN_ADMIN_URL":       sim.AdminURL(),
		"WORKER_DOCUSIGN_INTEGRATION_KEY": sim.IntegrationKey(),
		"WORKER_DOCUSIGN_ORGANIZATION_ID": sim.OrganizationID(),
		"WORKER_DOCUSIGN_ACCOUNTS":        account,
		"WORKER_RATELIMIT_WINDOW":         e2eQuotaWindow.String(),
		"WORKER_RATELIMIT_BURST_WINDOW":   e2eQuotaBurstWindow.String(),
		"WORKER_RATELIMIT_LIMIT":          strconv.Itoa(e2eQuotaLimit),
		"WORKER_RATELIMIT_BURST_LIMIT":    strconv.Itoa(e2eQuotaBurst),
		"WORKER_RATELIMIT_RESERVE":        strconv.FormatFloat(e2eQuotaReserve, 'f', -1, 64),
	})
	bin := buildWorker(t)

	// One process runs the embedded NATS server on a known port; the other two connect to it.
	natsPort := freePort(t)
	first := maps.Clone(f.env)
	first["WORKER_NATS_LISTEN"] = "127.0.0.1:" + strconv.Itoa(natsPort)
	procs := []*workerProcess{startProcess(t, bin, first)}
	require.NotEmpty(t, procs[0].run.natsURL)
	for range e2eQuotaProcesses - 1 {
		env := maps.Clone(f.env)
		env["WORKER_NATS_URL"] = "nats://127.0.0.1:" + strconv.Itoa(natsPort)
		procs = append(procs, startProcess(t, bin, env))
	}

	// The burst arrives just before a window starts, so the measured windows are full ones.
	now := time.Now()
	start := now.Truncate(e2eQuotaWindow).Add(e2eQuotaWindow)
	if start.Sub(now) < 5*time.Second {
		start = start.Add(e2eQuotaWindow)
	}
	until := start.Add(e2eQuotaWindows * e2eQuotaWindow)
	s := scenario{source: f.source, t0: time.Now().Add(-time.Hour)}
	evs := make([]map[string]any, 0, e2eQuotaJoiners)
	for n := range e2eQuotaJoiners {
		e := employee{n: n, first: "Quota", last: fmt.Sprintf("Joiner%03d", n), email: fmt.Sprintf("q%03d@example.com", n),
			access: []membership{{acctNA2, profSender, []string{"Sales"}}}}
		evs = append(evs, s.joined(fmt.Sprintf("q%03d", n), e, s.t0))
	}
	waitFor(t, 2*e2eQuotaWindow, "the measured windows are 2 s away", func() bool { return time.Until(start) < 2*time.Second })
	t.Logf("%d joiners (%d calls) for %d windows of %d available calls, measured from %s to %s", e2eQuotaJoiners,
		e2eQuotaJoiners*e2eQuotaCallsPerJoiner, e2eQuotaWindows, e2eQuotaAvailable, start.Format(time.TimeOnly),
		until.Format(time.TimeOnly))
	publishBulk(t, procs[0].run.natsURL, evs)

	// Every joiner is provisioned in the end: the burst outlasts the measured windows, and a task that the limiter
	// sends back repeats its look-up (about 3.5 Admin API calls per joiner instead of 2), so allow three more windows.
	waitFor(t, time.Until(until)+3*e2eQuotaWindow, "every joiner is provisioned", func() bool {
		return activeUsers(sim) == e2eQuotaJoiners
	})
	t.Logf("every joiner provisioned %s after the measured windows' start", time.Since(start).Round(time.Second))
	waitFor(t, time.Until(until)+5*time.Second, "the measured windows are over", func() bool { return time.Now().After(until) })

	st := sim.Dump()
	budget, ok := st.Budget(account)
	require.True(t, ok, "no budget for %s", account)
	windows := map[time.Time]docusignsim.WindowStats{}
	for _, w := range append(budget.History, budget.Current) {
		windows[w.Start.UTC()] = w
	}
	for k := range e2eQuotaWindows {
		ws := start.Add(time.Duration(k) * e2eQuotaWindow).UTC()
		w, ok := windows[ws]
		require.True(t, ok, "window %s missing from the simulator's history", ws)
		used := float64(w.UsedOurs) / e2eQuotaAvailable
		t.Logf("window %d: ours %d, foreign %d, rejected %d, available %d, used %.1f%%, max burst %d (ours %d)", k+1,
			w.UsedOurs, w.UsedForeign, w.RejectedHourly+w.RejectedBurst, e2eQuotaAvailable, 100*used, w.MaxBurst, w.MaxBurstOurs)
		require.Zero(t, w.RejectedHourly+w.RejectedBurst, "window %d: calls refused by DocuSign", k+1)
		require.LessOrEqual(t, w.MaxBurst, e2eQuotaBurst, "window %d: burst limit exceeded", k+1)
		require.Zero(t, w.ForeignRejected, "window %d: the foreign application was starved", k+1)
		require.GreaterOrEqual(t, used, 0.90, "window %d: used %.1f%% of the available budget", k+1, 100*used)
	}
	t.Logf("requests by operation: %v (%.2f Admin API calls per joiner)", st.Requests,
		float64(st.Requests["OrganizationUser_OrganizationUsers_GetProfileV2"]+st.Requests[opAdminCreate])/e2eQuotaJoiners)
	require.Zero(t, st.TooManyRequests, "429s at the simulator")
	require.Len(t, directory(t, sim), e2eQuotaJoiners, "no joiner created twice")
	// A joiner is one look-up and one create even under budget pressure: a
	// task waits in place for its second token rather than repeating its
	// look-up (the slack covers the odd lease or shutdown race).
	require.LessOrEqual(t, st.Requests["OrganizationUser_OrganizationUsers_GetProfileV2"], e2eQuotaJoiners+e2eQuotaJoiners/50,
		"look-ups repeated under budget pressure")
	for i, p := range procs {
		require.Zero(t, p.run.metric(t, "docusign_worker_ratelimit_throttled_total", nil), "process %d saw a 429", i)
	}
	for i := len(procs) - 1; i >= 0; i-- { // the process serving NATS goes last
		procs[i].terminate(t)
	}
}
