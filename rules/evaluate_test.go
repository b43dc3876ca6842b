package rules_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/rules"
)

// ruleWhen is a one-rule file whose when is the given flow mapping.
func ruleWhen(when string) string {
	return header + "rules:\n  - name: r\n    when: " + when + "\n    accounts:\n      - account_id: A\n"
}

func TestMatchers(t *testing.T) {
	t.Parallel()

	sales := rules.Employee{
		EmployeeID: "E1", Email: "Ada@Corp.Example", Department: "  Sales ", JobTitle: "Regional Sales Manager",
		Location: "EMEA-Paris", EmploymentType: "employee", CostCenter: "4100", Company: "Example Corp",
		Attributes: map[string]string{"level": "L6", "remote": "true", "blank": "  "},
	}
	tests := []struct {
		name  string
		when  string
		e     rules.Employee
		match bool
	}{
		{"scalar equals", "{department: Sales}", sales, true},
		{"scalar equals is case-insensitive and trimmed", "{department: '  sALES'}", sales, true},
		{"scalar equals other value", "{department: Legal}", sales, false},
		{"equals", "{employment_type: {equals: EMPLOYEE}}", sales, true},
		{"equals is not contains", "{job_title: {equals: manager}}", sales, false},
		{"in", "{cost_center: {in: [4200, 4100]}}", sales, true},
		{"in case-insensitive", "{department: {in: [legal, SALES]}}", sales, true},
		{"in none", "{cost_center: {in: [4200, 4300]}}", sales, false},
		{"prefix", "{location: {prefix: EMEA-}}", sales, true},
		{"prefix case-insensitive", "{location: {prefix: emea-par}}", sales, true},
		{"prefix no", "{location: {prefix: APAC-}}", sales, false},
		{"regex", `{job_title: {regex: "Manager$"}}`, sales, true},
		{"regex is case-sensitive as written", `{job_title: {regex: "manager"}}`, sales, false},
		{"regex with flag", `{job_title: {regex: "(?i)MANAGER"}}`, sales, true},
		{"regex unanchored", `{job_title: {regex: "Sales"}}`, sales, true},
		{"regex anchored", `{job_title: {regex: "^Sales"}}`, sales, false},
		{"regex sees the trimmed value", `{department: {regex: "^Sales$"}}`, sales, true},
		{"company", "{company: example corp}", sales, true},
		{"email", `{email: {regex: "(?i)@corp\\.example$"}}`, sales, true},
		{"attribute", `{attributes.level: {regex: "^L[5-9]$"}}`, sales, true},
		{"attribute equals boolean", "{attributes.remote: true}", sales, true},
		{"attribute no", `{attributes.level: {in: [L1, L2]}}`, sales, false},
		{"attribute key is exact", "{attributes.Level: L6}", sales, false},
		{"missing attribute never matches", `{attributes.grade: {regex: ".*"}}`, sales, false},
		{"blank attribute is missing", `{attributes.blank: {regex: "^\\s*$"}}`, sales, false},
		{"missing field never matches regex", `{location: {regex: "^$"}}`, rules.Employee{}, false},
		{"missing field never matches prefix", `{location: {prefix: E}}`, rules.Employee{}, false},
		{"nil attributes", "{attributes.level: L6}", rules.Employee{}, false},
		{"all must match", "{department: Sales, location: {prefix: APAC-}}", sales, false},
		{"all match", "{department: Sales, location: {prefix: EMEA-}, cost_center: 4100}", sales, true},
		{"empty when matches everyone", "{}", rules.Employee{}, true},
		{"null when matches everyone", "", rules.Employee{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := MustParse(t, ruleWhen(tt.when)).Evaluate(tt.e)
			require.True(t, d.InScope)
			if tt.match {
				require.Equal(t, []string{"r"}, d.Rules)
				require.Len(t, d.Accounts, 1)
			} else {
				require.Empty(t, d.Rules)
				require.Empty(t, d.Accounts)
			}
		})
	}
}

const modesFile = `
rules:
  - name: sales
    when: {department: Sales}
    accounts:
      - account_id: A
        permission_profile: Sales Sender
        groups: [Sales, Everyone]
        settings: {locale: en, canSendEnvelope: "true"}
  - name: managers
    when: {job_title: {regex: "(?i)manager"}}
    accounts:
      - account_id: B
        permission_profile: Manager
        groups: [Managers]
      - account_id: a
        permission_profile: Manager
        groups: [Managers, Sales]
        settings: {locale: fr, canManageTemplates: share}
  - name: everyone
    accounts:
      - account_id: C
        groups: [Everyone]
`

func TestMatchModes(t *testing.T) {
	t.Parallel()

	manager := rules.Employee{Department: "Sales", JobTitle: "Sales Manager"}
	tests := []struct {
		name     string
		file     string
		e        rules.Employee
		rules    []string
		accounts []rules.Account
	}{
		{
			name:  "first: first matching rule only",
			file:  "version: 1\nmatch: first\n" + modesFile,
			e:     manager,
			rules: []string{"sales"},
			accounts: []rules.Account{{AccountID: "A", PermissionProfile: "Sales Sender", Groups: []string{"Sales", "Everyone"},
				Settings: map[string]string{"locale": "en", "canSendEnvelope": "true"}}},
		},
		{
			name:     "first: later rule when the earlier ones do not match",
			file:     "version: 1\nmatch: first\n" + modesFile,
			e:        rules.Employee{Department: "Legal"},
			rules:    []string{"everyone"},
			accounts: []rules.Account{{AccountID: "C", Groups: []string{"Everyone"}}},
		},
		{
			name:  "merge: union of accounts in order of first appearance, groups in rule order, first profile and setting win",
			file:  "version: 1\nmatch: merge\n" + modesFile,
			e:     manager,
			rules: []string{"sales", "managers", "everyone"},
			accounts: []rules.Account{
				{AccountID: "A", PermissionProfile: "Sales Sender", Groups: []string{"Sales", "Everyone", "Managers"},
					Settings: map[string]string{"locale": "en", "canSendEnvelope": "true", "canManageTemplates": "share"}},
				{AccountID: "B", PermissionProfile: "Manager", Groups: []string{"Managers"}},
				{AccountID: "C", Groups: []string{"Everyone"}},
			},
		},
		{
			name:     "merge: one rule",
			file:     "version: 1\nmatch: merge\n" + modesFile,
			e:        rules.Employee{Department: "Legal"},
			rules:    []string{"everyone"},
			accounts: []rules.Account{{AccountID: "C", Groups: []string{"Everyone"}}},
		},
		{
			name:     "merge: profile from a later rule when the first names none",
			file:     "version: 1\nmatch: merge\n" + modesFile + "  - name: c-profile\n    accounts:\n      - account_id: c\n        permission_profile: Viewer\n",
			e:        rules.Employee{Department: "Legal"},
			rules:    []string{"everyone", "c-profile"},
			accounts: []rules.Account{{AccountID: "C", PermissionProfile: "Viewer", Groups: []string{"Everyone"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := MustParse(t, tt.file).Evaluate(tt.e)
			require.True(t, d.InScope)
			require.Equal(t, tt.rules, d.Rules)
			require.Equal(t, tt.accounts, d.Accounts)
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()

	const file = header + `
defaults:
  account_id: D
  permission_profile: Viewer
  groups: [Everyone]
  settings: {locale: en}
rules:
  - name: sales
    when: {department: Sales}
    accounts:
      - account_id: A
        groups: [Sales]
      - account_id: B
        permission_profile: Sender
`
	s := MustParse(t, file)

	d := s.Evaluate(rules.Employee{Department: "Legal"})
	require.Equal(t, []string{rules.DefaultsRule}, d.Rules)
	require.Equal(t, []rules.Account{{AccountID: "D", PermissionProfile: "Viewer", Groups: []string{"Everyone"},
		Settings: map[string]string{"locale": "en"}}}, d.Accounts)

	d = s.Evaluate(rules.Employee{Department: "Sales"})
	require.Equal(t, []string{"sales"}, d.Rules)
	require.Equal(t, []rules.Account{
		{AccountID: "A", PermissionProfile: "Viewer", Groups: []string{"Sales"}}, // filled by defaults.permission_profile
		{AccountID: "B", PermissionProfile: "Sender"},
	}, d.Accounts)

	// The result is a copy: changing it does not change the next one.
	d.Accounts[0].Groups[0] = "changed"
	d = s.Evaluate(rules.Employee{Department: "Legal"})
	d.Accounts[0].Settings["locale"] = "fr"
	require.Equal(t, "Sales", s.Evaluate(rules.Employee{Department: "Sales"}).Accounts[0].Groups[0])
	require.Equal(t, "en", s.Evaluate(rules.Employee{}).Accounts[0].Settings["locale"])

	// Without a default account, no rule means no accounts; a profile-only default still fills rule accounts.
	s = MustParse(t, header+"defaults: {permission_profile: Viewer}\nrules:\n  - name: a\n    when: {department: Sales}\n"+
		"    accounts: [{account_id: A}]\n")
	d = s.Evaluate(rules.Employee{Department: "Legal"})
	require.True(t, d.InScope)
	require.Empty(t, d.Rules)
	require.Empty(t, d.Accounts)
	require.Equal(t, []rules.Account{{AccountID: "A", PermissionProfile: "Viewer"}},
		s.Evaluate(rules.Employee{Department: "sales"}).Accounts)
}

func TestScope(t *testing.T) {
	t.Parallel()

	const file = header + `
scope:
  include:
    employment_type: {in: [employee, contractor]}
  exclude:
    department: Board
    location: {prefix: HQ}
  include_employees: [e1001, E1002]
  exclude_employees: [E9999]
  include_email_domains: [corp.example, EU.corp.example.]
  exclude_email_domains: [contractors.corp.example]
  on_exit: ignore
rules:
  - name: all
    accounts: [{account_id: A}]
`
	s := MustParse(t, file)
	require.Equal(t, rules.ExitIgnore, s.OnExit())
	base := rules.Employee{EmployeeID: "E1", Email: "a@corp.example", EmploymentType: "employee", Department: "Sales"}
	with := func(f func(e *rules.Employee)) rules.Employee {
		e := base
		f(&e)
		return e
	}
	tests := []struct {
		name   string
		e      rules.Employee
		in     bool
		reason string
	}{
		{"in", base, true, rules.ReasonInScope},
		{"include matcher fails", with(func(e *rules.Employee) { e.EmploymentType = "intern" }), false, rules.ReasonIncludeNotMatched},
		{"include matcher on a missing field", with(func(e *rules.Employee) { e.EmploymentType = "" }), false, rules.ReasonIncludeNotMatched},
		{"exclude needs all its matchers", with(func(e *rules.Employee) { e.Department = "Board" }), true, rules.ReasonInScope},
		{"exclude all match", with(func(e *rules.Employee) { e.Department = "board"; e.Location = "HQ-1" }), false, rules.ReasonExcludeMatched},
		{"domain not included", with(func(e *rules.Employee) { e.Email = "a@other.example" }), false, rules.ReasonDomainNotIncluded},
		{"subdomain not included unless listed", with(func(e *rules.Employee) { e.Email = "a@us.corp.example" }), false, rules.ReasonDomainNotIncluded},
		{"listed subdomain, case-insensitive", with(func(e *rules.Employee) { e.Email = "A@EU.Corp.Example" }), true, rules.ReasonInScope},
		{"missing email with include domains", with(func(e *rules.Employee) { e.Email = "" }), false, rules.ReasonDomainNotIncluded},
		{"domain excluded", with(func(e *rules.Employee) { e.Email = "a@contractors.corp.example" }), false, rules.ReasonDomainExcluded},
		{"include_employees wins over matchers", with(func(e *rules.Employee) { e.EmployeeID = "E1001"; e.EmploymentType = "intern" }), true, rules.ReasonIncludeEmployees},
		{"include_employees wins over domains and exclude", with(func(e *rules.Employee) {
			e.EmployeeID = "e1002"
			e.Email = "x@contractors.corp.example"
			e.Department, e.Location = "Board", "HQ"
		}), true, rules.ReasonIncludeEmployees},
		{"exclude_employees wins over everything", with(func(e *rules.Employee) { e.EmployeeID = " e9999 " }), false, rules.ReasonExcludeEmployees},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := s.Evaluate(tt.e)
			require.Equal(t, tt.in, d.InScope)
			require.Equal(t, tt.reason, d.ScopeReason)
			if tt.in {
				require.Equal(t, []string{"all"}, d.Rules)
			} else {
				require.Empty(t, d.Rules)
				require.Empty(t, d.Accounts)
			}
		})
	}
}

func TestNoScope(t *testing.T) {
	t.Parallel()

	s := MustParse(t, "version: 1\nmatch: first\nscope:\n")
	d := s.Evaluate(rules.Employee{})
	require.True(t, d.InScope)
	require.Equal(t, rules.ReasonInScope, d.ScopeReason)
	require.Empty(t, d.Accounts)
	require.Equal(t, rules.ExitClose, s.OnExit())
	require.Equal(t, rules.PreferEvent, s.EventAccounts())
	require.Equal(t, rules.MatchFirst, s.Match())
}

func TestCombine(t *testing.T) {
	t.Parallel()

	event := []rules.Account{
		{AccountID: "A", PermissionProfile: "Event Profile", Groups: []string{"EventGroup"}},
		{AccountID: "B"},
		{AccountID: "C", PermissionProfileID: "42", GroupIDs: []string{"7"}},
	}
	fromRules := []rules.Account{
		{AccountID: "a", PermissionProfile: "Rule Profile", Groups: []string{"RuleGroup"},
			Settings: map[string]string{"locale": "en"}},
		{AccountID: "b", PermissionProfile: "Rule B", Groups: []string{"RuleB"}},
		{AccountID: "c", PermissionProfile: "Rule C", Groups: []string{"RuleC"}},
		{AccountID: "D", PermissionProfile: "Rule D"},
	}
	in := rules.Decision{InScope: true, Accounts: fromRules, Rules: []string{"r"}}
	none := rules.Decision{InScope: true}
	out := rules.Decision{InScope: false, ScopeReason: rules.ReasonExcludeEmployees}

	tests := []struct {
		precedence string
		event      []rules.Account
		d          rules.Decision
		want       []rules.Account
	}{
		{"prefer_event", event, in, event},
		{"prefer_event", nil, in, fromRules},
		{"prefer_event", nil, none, nil},
		{"prefer_event", event, out, nil},
		{"prefer_rules", event, in, fromRules},
		{"prefer_rules", event, none, event},
		{"prefer_rules", nil, none, nil},
		{"prefer_rules", event, out, nil},
		{"merge", event, in, []rules.Account{
			{AccountID: "A", PermissionProfile: "Event Profile", Groups: []string{"EventGroup"},
				Settings: map[string]string{"locale": "en"}},
			{AccountID: "B", PermissionProfile: "Rule B", Groups: []string{"RuleB"}},
			{AccountID: "C", PermissionProfileID: "42", GroupIDs: []string{"7"}},
			{AccountID: "D", PermissionProfile: "Rule D"},
		}},
		{"merge", nil, in, fromRules},
		{"merge", event, none, event},
		{"merge", nil, none, nil},
		{"merge", event, out, nil},
	}
	for _, tt := range tests {
		t.Run(tt.precedence, func(t *testing.T) {
			t.Parallel()
			s := MustParse(t, header+"event_accounts: "+tt.precedence+"\n")
			require.Equal(t, rules.Precedence(tt.precedence), s.EventAccounts())
			got := s.Combine(tt.event, tt.d)
			require.Equal(t, tt.want, got)
			if len(got) > 0 {
				// A copy: the inputs are untouched.
				got[0].Groups = append(got[0].Groups, "x")
				got[0].AccountID = "changed"
				require.NotEqual(t, "changed", event[0].AccountID)
				require.NotEqual(t, "changed", fromRules[0].AccountID)
				require.Len(t, event[0].Groups, 1)
				require.Len(t, fromRules[0].Groups, 1)
			}
		})
	}
}

func TestSetAccessors(t *testing.T) {
	t.Parallel()

	s, err := rules.Load("testdata/example.yaml")
	require.NoError(t, err)
	require.Equal(t, "testdata/example.yaml", s.Name())
	require.Len(t, s.Version(), 64)
	require.Equal(t, []string{"084fbf3e-ef7a-4ab6-9ad5-961e78d20940", "159b8cdb-5f4a-4f2f-8e61-d9fb90cf2a63"}, s.Accounts())
	require.Equal(t, []string{"sales-emea-managers", "sales", "finance"}, s.RuleNames())
	require.Equal(t, rules.ExitClose, s.OnExit())

	d := s.Evaluate(rules.Employee{EmployeeID: "E2", Email: "ada@eu.example.com", Department: "Sales",
		JobTitle: "Sales Manager", Location: "EMEA-Berlin", EmploymentType: "employee",
		Attributes: map[string]string{"level": "L7"}})
	require.True(t, d.InScope)
	require.Equal(t, []string{"sales-emea-managers"}, d.Rules)
	require.Equal(t, []rules.Account{{AccountID: "084fbf3e-ef7a-4ab6-9ad5-961e78d20940", PermissionProfile: "DocuSign Sender",
		Groups: []string{"Sales", "Everyone"}, Settings: map[string]string{"canSendEnvelope": "true", "locale": "de"}}},
		d.Accounts)
}
