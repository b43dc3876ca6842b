package rules_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/rules"
)

func TestParseTestdata(t *testing.T) {
	t.Parallel()

	files, err := filepath.Glob("testdata/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, name := range files {
		t.Run(filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			_, err := rules.Load(name)
			require.NoError(t, err)
		})
	}
	invalid, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, invalid)
	for _, name := range invalid {
		t.Run("invalid/"+filepath.Base(name), func(t *testing.T) {
			t.Parallel()
			_, err := rules.Load(name)
			var ve *rules.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, name, ve.Problems[0].File)
			require.Positive(t, ve.Problems[0].Line)
		})
	}
}

// TestParseAllErrorsAtOnce: one file with many mistakes reports each, on its line, in line order.
func TestParseAllErrorsAtOnce(t *testing.T) {
	t.Parallel()

	const src = `version: 1
match: firts
event_accounts: prefer_rules
scope:
  exclude_employees: [E1]
  include_employees: [e1]
rules:
  - name: sales
    when:
      department: Sales
      job_title: {regex: "(manager"}
    accounts:
      - account_id: A
        permision_profile: Sender
  - name: Sales
    accounts:
      - account_id: B
        settings:
          canSendEnvelop: "true"
  - when: {location: EMEA}
    accounts:
      - account_id: C
  - name: no-accounts
`
	problems := problemsOf(t, src)
	require.Equal(t, []int{2, 6, 11, 14, 15, 19, 20, 23}, lines(problems))
	requireProblem(t, problems, 2, `match "firts" is not a mode`, `use "first"`, `or "merge"`)
	requireProblem(t, problems, 6, "employee e1 is in both include_employees and exclude_employees (line 5)")
	requireProblem(t, problems, 11, `rule "sales", when.job_title.regex: invalid regular expression "(manager"`,
		"missing closing )")
	requireProblem(t, problems, 14, `rule "sales", account A: unknown key "permision_profile" (did you mean "permission_profile"?)`)
	requireProblem(t, problems, 15, `duplicate rule name "Sales" (first at line 8)`)
	requireProblem(t, problems, 19, `unknown user setting "canSendEnvelop" (did you mean "canSendEnvelope"?)`)
	requireProblem(t, problems, 20, "rule 3 has no name", `add "name: ..."`)
	requireProblem(t, problems, 23, `rule "no-accounts" has no accounts`)

	// The error lists them one per line, each as file:line: message.
	_, err := rules.Parse("rules.yaml", []byte(src))
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "rules: 8 problems:\nrules.yaml:2: match "), msg)
	require.Len(t, strings.Split(msg, "\n"), 9)
	require.NotErrorIs(t, err, rules.ErrLookup)
}

func TestParseErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		src   string
		line  int
		parts []string
	}{
		{"empty file", "", 0, []string{"the file is empty"}},
		{"comments only", "# nothing\n", 0, []string{"the file is empty"}},
		{"syntax error", "version: 1\nmatch: first\nrules: a: b\n", 3, []string{"YAML syntax error: mapping values are not allowed"}},
		{"tab indentation", "version: 1\n\tmatch: first\n", 2, []string{"YAML syntax error"}},
		{"not a mapping", "- a\n- b\n", 1, []string{"the file must be a mapping", "not a list"}},
		{"two documents", header + "---\nversion: 1\n", 3, []string{"a second YAML document"}},
		{"missing version", "match: first\n", 1, []string{`missing "version"`}},
		{"wrong version", "version: 2\nmatch: first\n", 1, []string{`version "2" is not supported`}},
		{"missing match", "version: 1\n", 1, []string{`missing "match"`, "match: first", "match: merge"}},
		{"match is a list", "version: 1\nmatch: [first]\n", 2, []string{"match must be a single value, not a list"}},
		{"unknown top-level key", header + "rule:\n  - name: a\n", 3, []string{`unknown key "rule" (did you mean "rules"?)`}},
		{"duplicate key", header + "match: merge\n", 3, []string{`duplicate key "match" (first at line 2)`}},
		{"bad event_accounts", header + "event_accounts: event\n", 3, []string{`event_accounts "event" is not a precedence`}},
		{"rules not a list", header + "rules: {name: a}\n", 3, []string{"rules must be a list"}},
		{"empty name", header + "rules:\n  - name: ' '\n    accounts: [{account_id: A}]\n", 4, []string{"rule 1 has an empty name"}},
		{"duplicate name is case-insensitive", header + "rules:\n  - name: a\n    accounts: [{account_id: A}]\n  - name: A\n    accounts: [{account_id: A}]\n", 6, []string{`duplicate rule name "A" (first at line 4)`}},
		{"reserved name", header + "rules:\n  - name: Defaults\n    accounts: [{account_id: A}]\n", 4, []string{`the name "Defaults" is reserved`}},
		{"empty accounts", header + "rules:\n  - name: a\n    accounts: []\n", 5, []string{"empty accounts list"}},
		{"account without id", header + "rules:\n  - name: a\n    accounts:\n      - groups: [G]\n", 6, []string{`rule "a", account has no account_id`}},
		{"account twice in a rule", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n      - account_id: a\n", 7, []string{"names account a twice (first at line 6)"}},
		{"group twice", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        groups: [G, H, G]\n", 7, []string{`group "G" is listed twice`}},
		{"empty group", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        groups: [G, '']\n", 7, []string{"empty entry"}},
		{"groups not a list", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        groups: G\n", 7, []string{"groups must be a list"}},
		{"unknown field", header + "rules:\n  - name: a\n    when: {dept: Sales}\n    accounts: [{account_id: A}]\n", 5, []string{`unknown field "dept"`, "attributes.<key>"}},
		{"attribute typo", header + "rules:\n  - name: a\n    when: {attribute.level: L5}\n    accounts: [{account_id: A}]\n", 5, []string{`did you mean "attributes.level"?`}},
		{"attributes without key", header + "rules:\n  - name: a\n    when: {attributes.: L5}\n    accounts: [{account_id: A}]\n", 5, []string{"needs a key"}},
		{"unknown operator", header + "rules:\n  - name: a\n    when: {department: {equal: Sales}}\n    accounts: [{account_id: A}]\n", 5, []string{`when.department.equal: unknown matcher (did you mean "equals"?)`}},
		{"two operators", header + "rules:\n  - name: a\n    when:\n      department: {equals: Sales, prefix: S}\n    accounts: [{account_id: A}]\n", 6, []string{"exactly one of equals, in, prefix, regex (found 2)"}},
		{"no operator", header + "rules:\n  - name: a\n    when:\n      department: {}\n    accounts: [{account_id: A}]\n", 6, []string{"exactly one of"}},
		{"list as matcher", header + "rules:\n  - name: a\n    when:\n      department: [Sales, Legal]\n    accounts: [{account_id: A}]\n", 6, []string{"write {in: [...]}"}},
		{"null matcher", header + "rules:\n  - name: a\n    when:\n      department:\n    accounts: [{account_id: A}]\n", 6, []string{"has no value"}},
		{"empty equals", header + "rules:\n  - name: a\n    when:\n      department: ''\n    accounts: [{account_id: A}]\n", 6, []string{"an empty value never matches"}},
		{"empty in", header + "rules:\n  - name: a\n    when:\n      department: {in: []}\n    accounts: [{account_id: A}]\n", 6, []string{"in is empty"}},
		{"in not a list", header + "rules:\n  - name: a\n    when:\n      department: {in: Sales}\n    accounts: [{account_id: A}]\n", 6, []string{"in must be a list"}},
		{"empty regex", header + "rules:\n  - name: a\n    when:\n      department: {regex: ''}\n    accounts: [{account_id: A}]\n", 6, []string{"regex is empty"}},
		{"bad regex", header + "rules:\n  - name: a\n    when:\n      department:\n        regex: 'a(?<x'\n    accounts: [{account_id: A}]\n", 7, []string{"invalid regular expression", "RE2"}},
		{"alias", header + "x: &g [A]\n", 3, []string{`unknown key "x"`}},
		{"alias value", header + "rules:\n  - name: &n a\n    accounts: [{account_id: *n}]\n", 5, []string{"aliases (*n) are not supported"}},
		{"custom tag", header + "rules:\n  - name: !secret a\n    accounts: [{account_id: A}]\n", 4, []string{"tag !secret is not supported"}},
		{"unknown setting", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings: {sendEnvelopes: 'true'}\n", 7, []string{`unknown user setting "sendEnvelopes"`}},
		{"setting case", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings: {Locale: en}\n", 7, []string{`unknown user setting "Locale" (did you mean "locale"? names are case-sensitive)`}},
		{"metadata setting", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings: {localeMetadata: x}\n", 7, []string{"read-only description"}},
		{"read-only setting", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings: {modifiedBy: x}\n", 7, []string{"written by DocuSign"}},
		{"object setting", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings: {signerEmailNotifications: x}\n", 7, []string{"object or a list"}},
		{"setting value a mapping", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings:\n          locale: {x: y}\n", 8, []string{"locale must be a single value"}},
		{"empty setting value", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings: {locale: ''}\n", 7, []string{"locale is empty"}},
		{"null setting value", header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings:\n          locale:\n", 8, []string{"locale has no value"}},
		{"defaults groups without account", header + "defaults:\n  permission_profile: P\n  groups: [G]\n", 5, []string{"defaults.groups needs defaults.account_id"}},
		{"defaults unknown key", header + "defaults:\n  account: A\n", 4, []string{`unknown key "account" (did you mean "account_id"?)`}},
		{"scope unknown key", header + "scope:\n  exclude_employee: [E1]\n", 4, []string{`did you mean "exclude_employees"?`}},
		{"empty include", header + "scope:\n  include: {}\n", 4, []string{"scope.include is empty"}},
		{"empty exclude", header + "scope:\n  exclude: {}\n", 4, []string{"would exclude everyone"}},
		{"bad on_exit", header + "scope:\n  on_exit: disable\n", 4, []string{`on_exit "disable" is not a policy`}},
		{"domain with @", header + "scope:\n  include_email_domains: ['@corp.example']\n", 4, []string{"without the @ (corp.example)"}},
		{"domain wildcard", header + "scope:\n  include_email_domains: ['*.corp.example']\n", 4, []string{"no wildcards"}},
		{"domain in both", header + "scope:\n  include_email_domains: [corp.example]\n  exclude_email_domains: [CORP.example]\n", 4, []string{"domain corp.example is in both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			problems := problemsOf(t, tt.src)
			requireProblem(t, problems, tt.line, tt.parts...)
		})
	}
}

func TestParseValues(t *testing.T) {
	t.Parallel()

	const src = header + `
rules:
  - name: 2024
    when:
      cost_center: {in: [0410, 4100, 1e3]}
      attributes.remote: True
    accounts:
      - account_id: 12345
        permission_profile: "  DocuSign Sender  "
        settings:
          canSendEnvelope: TRUE
          canSignEnvelope: false
          timezoneOffset: 5
          locale: "en"
`
	s := MustParse(t, src)
	require.Equal(t, []string{"2024"}, s.RuleNames())
	require.Equal(t, []string{"12345"}, s.Accounts())
	e := rules.Employee{CostCenter: "0410", Attributes: map[string]string{"remote": "TRUE"}}
	d := s.Evaluate(e)
	require.Equal(t, []string{"2024"}, d.Rules, "numbers compare as written")
	require.Equal(t, []rules.Account{{AccountID: "12345", PermissionProfile: "DocuSign Sender", Settings: map[string]string{
		"canSendEnvelope": "true", "canSignEnvelope": "false", "timezoneOffset": "5", "locale": "en",
	}}}, d.Accounts)
	e.CostCenter = "1e3"
	require.Equal(t, []string{"2024"}, s.Evaluate(e).Rules)
	e.CostCenter = "1000"
	require.Empty(t, s.Evaluate(e).Rules)

	// Version may be quoted; anchors alone are harmless.
	MustParse(t, "version: '1'\nmatch: &m merge\n")
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()

	_, err := rules.Load(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.True(t, strings.HasPrefix(err.Error(), "rules: "), err.Error())
	var ve *rules.ValidationError
	require.False(t, errors.As(err, &ve))

	big := filepath.Join(t.TempDir(), "big.yaml")
	require.NoError(t, os.WriteFile(big, make([]byte, rules.MaxFileSize+1), 0o600))
	_, err = rules.Load(big)
	require.ErrorContains(t, err, "larger than")
}

func TestProblemString(t *testing.T) {
	t.Parallel()

	require.Equal(t, "r.yaml:3: bad", rules.Problem{File: "r.yaml", Line: 3, Message: "bad"}.String())
	require.Equal(t, "r.yaml: bad", rules.Problem{File: "r.yaml", Message: "bad"}.String())
	err := &rules.ValidationError{Problems: []rules.Problem{{File: "r.yaml", Line: 3, Message: "bad"}}}
	require.Equal(t, "rules: r.yaml:3: bad", err.Error())
	require.False(t, err.LookupOnly())
}

// TestParseManyProblems: the first MaxProblems problems are listed, the rest counted, and a file full of
// mistakes is still parsed quickly.
func TestParseManyProblems(t *testing.T) {
	t.Parallel()

	var b strings.Builder
	b.WriteString(header + "rules:\n  - name: a\n    accounts:\n      - account_id: A\n        settings:\n")
	const n = 20000
	for i := range n {
		b.WriteString("          canSendEnvelopeX" + strconv.Itoa(i) + ": x\n")
	}
	_, err := rules.Parse("rules.yaml", []byte(b.String()))
	var ve *rules.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, rules.MaxProblems)
	require.Equal(t, n-rules.MaxProblems, ve.Omitted)
	require.Equal(t, 8, ve.Problems[0].Line)
	require.Contains(t, ve.Problems[0].Message, `(did you mean "canSendEnvelope"?)`)
	msg := err.Error()
	require.True(t, strings.HasPrefix(msg, "rules: 20000 problems:\n"), msg[:40])
	require.True(t, strings.HasSuffix(msg, "\n... and 19900 more"))
}
