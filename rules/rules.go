package rules

import (
	"maps"
	"slices"
	"strings"
)

// MatchMode says how matching rules combine (the file's "match").
type MatchMode string

// Match modes.
const (
	// MatchFirst: the first matching rule, in file order, decides.
	MatchFirst MatchMode = "first"
	// MatchMerge: every matching rule contributes (see the package documentation for how).
	MatchMerge MatchMode = "merge"
)

// Precedence says how accounts carried in an event combine with the accounts of the rules (the file's
// "event_accounts").
type Precedence string

// Precedences.
const (
	// PreferEvent (the default): the event's accounts are used as they are; the rules only when it has none.
	PreferEvent Precedence = "prefer_event"
	// PreferRules: the rules' accounts (a rule's or the default's) when they yield any, the event's otherwise.
	PreferRules Precedence = "prefer_rules"
	// MergeAccounts: the union by account id; for an account in both, the event's profile and groups win.
	MergeAccounts Precedence = "merge"
)

// ExitPolicy says what happens to an employee who moves out of scope (the file's "scope.on_exit").
type ExitPolicy string

// Exit policies.
const (
	// ExitClose (the default): close the employee's DocuSign user like a leaver's.
	ExitClose ExitPolicy = "close"
	// ExitIgnore: leave the DocuSign user alone; the worker stops managing the employee.
	ExitIgnore ExitPolicy = "ignore"
)

// Scope reasons, carried in Decision.ScopeReason.
const (
	// ReasonInScope: the employee passed every scope condition (or the file has no scope).
	ReasonInScope = "in scope"
	// ReasonIncludeEmployees: the employee id is in scope.include_employees.
	ReasonIncludeEmployees = "include_employees"
	// ReasonExcludeEmployees: the employee id is in scope.exclude_employees.
	ReasonExcludeEmployees = "exclude_employees"
	// ReasonDomainExcluded: the email's domain is in scope.exclude_email_domains.
	ReasonDomainExcluded = "email domain excluded"
	// ReasonDomainNotIncluded: scope.include_email_domains is set and the email's domain (or the email) is missing
	// from it.
	ReasonDomainNotIncluded = "email domain not included"
	// ReasonIncludeNotMatched: scope.include is set and one of its matchers does not match.
	ReasonIncludeNotMatched = "scope.include not matched"
	// ReasonExcludeMatched: every matcher of scope.exclude matches.
	ReasonExcludeMatched = "scope.exclude matched"
)

// DefaultsRule is the name Decision.Rules carries when the default account applied.
const DefaultsRule = "defaults"

// Employee is what rules and scope match on: the HR record of one employee. Values are compared after trimming
// spaces; an empty value is a missing one.
type Employee struct {
	// EmployeeID is the stable HR id, matched by scope.include_employees and scope.exclude_employees.
	EmployeeID string
	// Email is matched as "email" and gives the domain for the scope's email domain lists.
	Email string
	// Department, JobTitle, Location, EmploymentType, CostCenter and Company are matched as department,
	// job_title, location, employment_type, cost_center and company.
	Department     string
	JobTitle       string
	Location       string
	EmploymentType string
	CostCenter     string
	Company        string
	// Attributes are free-form HR attributes, matched as attributes.<key> (keys exactly as written).
	Attributes map[string]string
}

// Account is one desired DocuSign account membership. Rules name profiles and groups by name only; the ID fields
// exist so that accounts carried in an event (which may name them by id) go through Combine unchanged.
type Account struct {
	// AccountID is the DocuSign account id (compared case-insensitively).
	AccountID string
	// PermissionProfile is the profile's name in that account; empty means the account's default profile.
	PermissionProfile string
	// PermissionProfileID is the profile's id (events only).
	PermissionProfileID string
	// Groups are group names in that account.
	Groups []string
	// GroupIDs are group ids (events only).
	GroupIDs []string
	// Settings are eSignature v2.1 user settings (userSettingsInformation property names) with string values.
	Settings map[string]string
}

// clone returns a deep copy of a.
func (a Account) clone() Account {
	a.Groups = slices.Clone(a.Groups)
	a.GroupIDs = slices.Clone(a.GroupIDs)
	a.Settings = maps.Clone(a.Settings)
	return a
}

// Decision is what a rules file says about one employee.
type Decision struct {
	// InScope says whether the worker manages the employee; ScopeReason says why (one of the Reason constants).
	InScope     bool
	ScopeReason string
	// Accounts is the rules' result (a rule's or the default's), in order of first appearance; empty when no rule
	// matched and there is no default account, and when the employee is out of scope.
	Accounts []Account
	// Rules names the matched rules in file order, or holds DefaultsRule when the default account applied.
	Rules []string
}

// Set is a parsed, structurally valid rules file. It is immutable and safe for concurrent use.
type Set struct {
	name       string
	version    string
	match      MatchMode
	precedence Precedence
	defaults   accountSpec // id empty: no default account
	scope      scope
	rules      []rule
}

// rule is one entry of "rules".
type rule struct {
	name     string
	line     int
	when     []matcher
	accounts []accountSpec
}

// accountSpec is one account of a rule or of "defaults", with the lines of its parts for messages.
type accountSpec struct {
	id          string
	idLine      int
	profile     string
	profileLine int
	groups      []string
	groupLines  []int
	settings    map[string]string
}

// account returns the spec as an Account.
func (a *accountSpec) account() Account {
	return Account{AccountID: a.id, PermissionProfile: a.profile, Groups: slices.Clone(a.groups),
		Settings: maps.Clone(a.settings)}
}

// Name returns the file name given to Parse (the path for Load).
func (s *Set) Name() string { return s.name }

// Version returns the hex SHA-256 of the file's bytes, for audit records and metrics.
func (s *Set) Version() string { return s.version }

// Match returns the file's match mode.
func (s *Set) Match() MatchMode { return s.match }

// EventAccounts returns the precedence between event accounts and rule accounts.
func (s *Set) EventAccounts() Precedence { return s.precedence }

// OnExit returns what happens to an employee who moves out of scope.
func (s *Set) OnExit() ExitPolicy { return s.scope.onExit }

// Accounts returns every account id the file names (defaults and rules), sorted, each once (case-insensitively,
// first spelling kept).
func (s *Set) Accounts() []string {
	seen := map[string]bool{}
	var out []string
	add := func(id string) {
		if id != "" && !seen[strings.ToLower(id)] {
			seen[strings.ToLower(id)] = true
			out = append(out, id)
		}
	}
	add(s.defaults.id)
	for i := range s.rules {
		for j := range s.rules[i].accounts {
			add(s.rules[i].accounts[j].id)
		}
	}
	slices.Sort(out)
	return out
}

// RuleNames returns the names of the rules in file order.
func (s *Set) RuleNames() []string {
	out := make([]string, len(s.rules))
	for i := range s.rules {
		out[i] = s.rules[i].name
	}
	return out
}
