package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/internal/testenv"
)

// The quota scenario of the rate-limit design: a compressed hour of 60 s
// with a limit of 600, a burst limit of 100 per 5 s (both fixed windows), a
// 10 % reserve for other integrations and a foreign application spending
// 20 % of the account at a steady rate. The budget available to us is
// 600 − 60 − 120 = 420 per window.
const (
	quotaWindow      = 60 * time.Second
	quotaLimit       = 600
	quotaBurst       = 100
	quotaBurstWindow = 5 * time.Second
	quotaReserve     = 0.10
	quotaForeign     = 120
	quotaWindows     = 3
	quotaProcesses   = 3
	quotaAvailable   = quotaLimit - quotaLimit/10 - quotaForeign
	// quotaBurstAllowance is what the limiter lets us spend in one burst
	// window: the burst limit minus its default 10 % burst reserve.
	quotaBurstAllowance = quotaBurst - quotaBurst/10
	// quotaFloor is the share of the available budget each window must use;
	// the goal is 97 %, the floor leaves room for a noisy machine.
	quotaFloor = 0.90
)

// TestQuota runs three separate loadgen processes, each calling the
// simulator through the real client with the real limiter as fast as the
// limiter allows, for exactly three windows, and checks: no call throttled
// (hourly or burst), our calls in every burst window within the burst limit
// minus the burst reserve, and at least 90 % of the available budget used in
// every window.
//
// The simulator refuses any call over the burst limit, so the calls it
// accepts in a burst window (MaxBurst) can never exceed the limit: asserting
// that would check nothing. A burst the limiter let through shows as burst
// rejections, and our own calls per burst window (MaxBurstOurs), which the
// simulator does not cap below the limit, must stay within what the limiter
// allows us. This scenario is paced, not burst-bound (about 45 of our calls
// per 5 s), so the allowance is not reached here; the ratelimit package's
// TestQuotaSimulation has a burst-bound variant that reaches it.
func TestQuota(t *testing.T) {
	if testing.Short() {
		t.Skip("the quota test runs three compressed hours (about 3–4 minutes)")
	}
	redisURL := testenv.RedisURL(t)
	rdb := testenv.RedisClient(t)
	prefix := testenv.Prefix(t, rdb) + "rl:"

	priv, pub, err := docusignsim.GenerateKeyPair()
	require.NoError(t, err)
	account := docusignsim.DemoAccountNA2
	sim, err := docusignsim.Start(docusignsim.Options{
		PublicKeyPEM: pub,
		HourlyLimit:  quotaLimit,
		Window:       quotaWindow,
		BurstLimit:   quotaBurst,
		BurstWindow:  quotaBurstWindow,
		ForeignRates: map[string]int{account: quotaForeign},
		CallLogLimit: -1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "private.pem")
	require.NoError(t, os.WriteFile(keyFile, priv, 0o600))
	bin := filepath.Join(dir, "loadgen")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	// Start on a window boundary at least 5 s away, so every process has
	// its token and userinfo before the first measured window.
	now := time.Now()
	start := now.Truncate(quotaWindow).Add(quotaWindow)
	if start.Sub(now) < 5*time.Second {
		start = start.Add(quotaWindow)
	}
	until := start.Add(quotaWindows * quotaWindow)
	t.Logf("measuring %d windows from %s to %s", quotaWindows, start.Format(time.TimeOnly), until.Format(time.TimeOnly))

	args := []string{
		"-auth-url", sim.AuthURL(),
		"-integration-key", sim.IntegrationKey(),
		"-user-id", docusignsim.DemoAdminUserID,
		"-private-key", keyFile,
		"-account", account,
		"-redis-url", redisURL,
		"-key-prefix", prefix,
		"-window", quotaWindow.String(),
		"-burst-window", quotaBurstWindow.String(),
		"-limit", strconv.Itoa(quotaLimit),
		"-burst-limit", strconv.Itoa(quotaBurst),
		"-reserve", strconv.FormatFloat(quotaReserve, 'f', -1, 64),
		"-concurrency", "4",
		"-start", strconv.FormatInt(start.UnixMilli(), 10),
		"-until", strconv.FormatInt(until.UnixMilli(), 10),
	}
	summaries := make([]summary, quotaProcesses)
	var wg sync.WaitGroup
	errs := make([]error, quotaProcesses)
	for i := range quotaProcesses {
		wg.Go(func() {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("loadgen %d: %w\n%s", i, err, stderr.String())
				return
			}
			errs[i] = json.Unmarshal(stdout.Bytes(), &summaries[i])
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	// Let the last window close so it shows in the history.
	time.Sleep(time.Until(until.Add(500 * time.Millisecond)))
	st := sim.Dump()
	budget, ok := st.Budget(account)
	require.True(t, ok, "no budget for %s", account)
	windows := map[time.Time]docusignsim.WindowStats{}
	for _, w := range append(budget.History, budget.Current) {
		if !w.Start.Before(start) && w.Start.Before(until) {
			windows[w.Start.UTC()] = w
		}
	}

	var calls, throttled, errors int64
	for i, s := range summaries {
		t.Logf("process %d: %d calls, %d ok, %d throttled, %d errors, parked %d times", i, s.Calls, s.OK, s.Throttled, s.Errors, s.LimiterWait)
		calls += s.Calls
		throttled += s.Throttled
		errors += s.Errors
	}
	t.Logf("%-8s %6s %8s %9s %10s %9s", "window", "ours", "foreign", "rejected", "available", "used")
	var usedTotal int
	for k := range quotaWindows {
		ws := start.Add(time.Duration(k) * quotaWindow).UTC()
		w, ok := windows[ws]
		require.True(t, ok, "window %s missing from the simulator's history", ws)
		used := float64(w.UsedOurs) / quotaAvailable
		usedTotal += w.UsedOurs
		t.Logf("%-8d %6d %8d %9d %10d %8.1f%%  max burst %d (ours %d)", k+1, w.UsedOurs, w.UsedForeign,
			w.RejectedHourly+w.RejectedBurst, quotaAvailable, 100*used, w.MaxBurst, w.MaxBurstOurs)
		require.Zero(t, w.RejectedHourly, "window %d: calls refused by the hourly limit", k+1)
		require.Zero(t, w.RejectedBurst, "window %d: calls refused by the burst limit", k+1)
		require.LessOrEqual(t, w.MaxBurstOurs, quotaBurstAllowance,
			"window %d: our calls in one burst window passed the burst limit minus the burst reserve", k+1)
		require.Zero(t, w.ForeignRejected, "window %d: the foreign application was starved", k+1)
		require.GreaterOrEqual(t, used, quotaFloor, "window %d: used %.1f%% of the available budget", k+1, 100*used)
	}
	t.Logf("total: %d calls by %d processes, %d throttled, %.1f%% of the available budget", calls, quotaProcesses,
		throttled, 100*float64(usedTotal)/(quotaWindows*quotaAvailable))
	require.Zero(t, throttled, "throttled calls")
	require.Zero(t, errors, "failed calls")
	require.Zero(t, st.TooManyRequests, "429s at the simulator")
}
