package main

import (
	"os"
	"regexp"
	"testing"

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
