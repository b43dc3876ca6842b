package rules_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/rules"
)

// FuzzParse checks that Parse never panics, that every failure is a *ValidationError whose problems have a
// message and a line inside the file, and that an accepted file evaluates without panicking, deterministically.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/invalid/*.yaml"} {
		files, err := filepath.Glob(pattern)
		require.NoError(f, err)
		for _, name := range files {
			b, err := os.ReadFile(name)
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("version: 1\nmatch: merge\nrules: [{name: a, when: {attributes.x: {regex: '(?i)a|b'}}, accounts: [{account_id: A, groups: [G]}]}]\n"))
	f.Add([]byte("version: 1\nmatch: first\nscope: {include: {email: {prefix: a}}, include_email_domains: [x]}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("version: 1\nmatch: first\n---\n- x\n"))
	f.Add([]byte("{version: 1, match: first, rules: [{name: a, accounts: [{account_id: A, settings: {locale: !!binary eA==}}]}]}"))

	employees := []rules.Employee{
		{},
		{EmployeeID: "E1", Email: "a@x", Department: "a", JobTitle: "b", Location: "A-1", EmploymentType: "employee",
			CostCenter: "1", Company: "c", Attributes: map[string]string{"x": "a", "level": "L5"}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := rules.Parse("f.yaml", data)
		if err != nil {
			var ve *rules.ValidationError
			require.True(t, errors.As(err, &ve), "%T: %v", err, err)
			require.NotEmpty(t, ve.Problems)
			maxLine := 2 // YAML breaks lines at LF, CR, CRLF and (libyaml) NEL, LS and PS
			for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
				maxLine += bytes.Count(data, []byte(br))
			}
			for _, p := range ve.Problems {
				require.Equal(t, "f.yaml", p.File)
				require.NotEmpty(t, p.Message)
				require.GreaterOrEqual(t, p.Line, 0)
				require.LessOrEqual(t, p.Line, maxLine, p.Message)
			}
			require.True(t, slices.IsSortedFunc(ve.Problems, func(a, b rules.Problem) int { return a.Line - b.Line }))
			return
		}
		again, err := rules.Parse("f.yaml", data)
		require.NoError(t, err)
		require.Equal(t, s.Version(), again.Version())
		require.True(t, slices.IsSorted(s.Accounts()))
		for _, e := range employees {
			d := s.Evaluate(e)
			require.Equal(t, d, again.Evaluate(e))
			if !d.InScope {
				require.Empty(t, d.Accounts)
			}
			s.Combine([]rules.Account{{AccountID: "A"}}, d)
		}
	})
}
