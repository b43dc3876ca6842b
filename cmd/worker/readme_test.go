package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// TestREADMEListsEverySetting keeps the README's configuration table and the
// settings table in step: every variable the worker reads is documented with
// its default, and the README names no variable the worker does not know.
func TestREADMEListsEverySetting(t *testing.T) {
	t.Parallel()

	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	text := string(readme)

	known := map[string]bool{}
	for _, s := range settings() {
		known[s.env] = true
		def := "—"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(s.env) + "` \\| [^|]* \\| " + regexp.QuoteMeta(def) + " \\|")
		require.Regexp(t, row, text, "README.md: no configuration row for %s with default %s", s.env, def)
	}
	for _, m := range regexp.MustCompile("`(WORKER_[A-Z0-9_]+)`").FindAllStringSubmatch(text, -1) {
		require.True(t, known[m[1]], "README.md names %s, which the worker does not read", m[1])
	}
}

// TestREADMEDocumentsEveryMetric keeps the README's metrics table complete: every metric the worker exports
// (its own and its collectors') is named there.
func TestREADMEDocumentsEveryMetric(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := newMetrics()
	descs := make(chan *prometheus.Desc, 1000)
	for _, c := range []prometheus.Collector{m.jobs, m.stale, m.paused, m.archived, m.docusignRequests, m.docusignLatency,
		m.timeToProvision, m.timeToRevoke, m.deadLetters, m.deadLetterFails, m.guardTrips, m.guardHeld,
		newIntakeCollector(nil), newLimiterCollector(nil), newQueueCollector(nil, nil), newDeadLetterCollector(nil, ""),
		newRulesCollector(nil), newGuardCollector(nil)} {
		c.Describe(descs)
	}
	close(descs)
	names := regexp.MustCompile(`fqName: "docusign_worker_([a-z_]+)"`)
	n := 0
	for d := range descs {
		match := names.FindStringSubmatch(d.String())
		require.NotNil(t, match, d.String())
		require.Contains(t, string(readme), "`"+match[1]+"`", "README.md: no row for metric docusign_worker_%s", match[1])
		n++
	}
	require.Greater(t, n, 40)
}
