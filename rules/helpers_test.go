package rules_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/rules"
)

// MustParse parses src (leading tabs of Go raw strings are not allowed in YAML, so sources are written flush left)
// and fails the test on error.
func MustParse(tb testing.TB, src string) *rules.Set {
	tb.Helper()
	s, err := rules.Parse("rules.yaml", []byte(src))
	require.NoError(tb, err)
	return s
}

// problemsOf parses src and returns its problems as "line: message", failing when it parses.
func problemsOf(tb testing.TB, src string) []rules.Problem {
	tb.Helper()
	_, err := rules.Parse("rules.yaml", []byte(src))
	require.Error(tb, err)
	var ve *rules.ValidationError
	require.True(tb, errors.As(err, &ve), "%T: %v", err, err)
	require.NotEmpty(tb, ve.Problems)
	return ve.Problems
}

// lines returns the problems' line numbers.
func lines(problems []rules.Problem) []int {
	out := make([]int, len(problems))
	for i, p := range problems {
		out[i] = p.Line
	}
	return out
}

// requireProblem checks that some problem is on line and contains every part.
func requireProblem(tb testing.TB, problems []rules.Problem, line int, parts ...string) {
	tb.Helper()
	for _, p := range problems {
		if p.Line != line {
			continue
		}
		ok := true
		for _, part := range parts {
			if !strings.Contains(p.Message, part) {
				ok = false
			}
		}
		if ok {
			return
		}
	}
	var b strings.Builder
	for _, p := range problems {
		b.WriteString(p.String() + "\n")
	}
	tb.Fatalf("no problem on line %d containing %q; problems:\n%s", line, parts, b.String())
}

// header is the start of most test files.
const header = "version: 1\nmatch: first\n"
