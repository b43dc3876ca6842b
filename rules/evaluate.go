package rules

import (
	"slices"
	"strings"
)

// scope is the parsed "scope" section.
type scope struct {
	include        []matcher // nil: everyone passes
	exclude        []matcher // nil: nobody is excluded
	includeIDs     map[string]bool
	excludeIDs     map[string]bool
	includeDomains map[string]bool // nil: any domain
	excludeDomains map[string]bool
	onExit         ExitPolicy
}

// check decides whether e is in scope, in the documented order.
func (sc *scope) check(e *Employee) (bool, string) {
	id := strings.ToLower(strings.TrimSpace(e.EmployeeID))
	if id != "" && sc.excludeIDs[id] {
		return false, ReasonExcludeEmployees
	}
	if id != "" && sc.includeIDs[id] {
		return true, ReasonIncludeEmployees
	}
	if sc.includeDomains != nil || sc.excludeDomains != nil {
		d := emailDomain(e.Email)
		if d != "" && sc.excludeDomains[d] {
			return false, ReasonDomainExcluded
		}
		if sc.includeDomains != nil && (d == "" || !sc.includeDomains[d]) {
			return false, ReasonDomainNotIncluded
		}
	}
	if sc.include != nil && !matchAll(sc.include, e) {
		return false, ReasonIncludeNotMatched
	}
	if sc.exclude != nil && matchAll(sc.exclude, e) {
		return false, ReasonExcludeMatched
	}
	return true, ReasonInScope
}

// emailDomain returns the lowercased part after the last "@", without a trailing dot; empty when there is none.
func emailDomain(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(email[i+1:])), ".")
}

// Evaluate decides scope and accounts for one employee. It never fails: every fallible step happened in Parse.
func (s *Set) Evaluate(e Employee) Decision {
	in, reason := s.scope.check(&e)
	d := Decision{InScope: in, ScopeReason: reason}
	if !in {
		return d
	}
	var matched []*rule
	for i := range s.rules {
		if matchAll(s.rules[i].when, &e) {
			matched = append(matched, &s.rules[i])
			d.Rules = append(d.Rules, s.rules[i].name)
			if s.match == MatchFirst {
				break
			}
		}
	}
	if len(matched) == 0 {
		if s.defaults.id != "" {
			d.Accounts = []Account{s.defaults.account()}
			d.Rules = []string{DefaultsRule}
		}
		return d
	}
	d.Accounts = mergeRules(matched)
	for i := range d.Accounts {
		if d.Accounts[i].PermissionProfile == "" {
			d.Accounts[i].PermissionProfile = s.defaults.profile
		}
	}
	return d
}

// mergeRules combines the accounts of the matched rules, in rule order: accounts in order of first appearance,
// groups the union in order of first appearance, the profile and each setting from the first rule that sets it.
func mergeRules(matched []*rule) []Account {
	var out []Account
	index := map[string]int{}
	for _, r := range matched {
		for j := range r.accounts {
			spec := &r.accounts[j]
			key := strings.ToLower(spec.id)
			i, ok := index[key]
			if !ok {
				index[key] = len(out)
				out = append(out, spec.account())
				continue
			}
			a := &out[i]
			if a.PermissionProfile == "" {
				a.PermissionProfile = spec.profile
			}
			for _, g := range spec.groups {
				if !slices.Contains(a.Groups, g) {
					a.Groups = append(a.Groups, g)
				}
			}
			a.Settings = addMissing(a.Settings, spec.settings)
		}
	}
	return out
}

// Combine applies the file's event_accounts precedence to the accounts an event carries and to a Decision for the
// same employee, returning the accounts to provision (copies; nil when there are none, and always nil for an
// employee out of scope, whatever the event carries). With MergeAccounts, the event's accounts come first in their
// order, then the rules' other accounts; for an account in both, the event's profile (by name or id) and groups
// (by name or id) win when it names any, the rules' fill them otherwise, and the rules' settings are added under
// keys the event does not set.
func (s *Set) Combine(event []Account, d Decision) []Account {
	if !d.InScope {
		return nil
	}
	var out []Account
	switch s.precedence {
	case PreferRules:
		if len(d.Accounts) > 0 {
			out = cloneAccounts(d.Accounts)
		} else {
			out = cloneAccounts(event)
		}
	case MergeAccounts:
		out = cloneAccounts(event)
		index := map[string]int{}
		for i := range out {
			index[strings.ToLower(out[i].AccountID)] = i
		}
		for _, r := range d.Accounts {
			i, ok := index[strings.ToLower(r.AccountID)]
			if !ok {
				index[strings.ToLower(r.AccountID)] = len(out)
				out = append(out, r.clone())
				continue
			}
			a := &out[i]
			if a.PermissionProfile == "" && a.PermissionProfileID == "" {
				a.PermissionProfile = r.PermissionProfile
			}
			if len(a.Groups) == 0 && len(a.GroupIDs) == 0 {
				a.Groups = slices.Clone(r.Groups)
			}
			a.Settings = addMissing(a.Settings, r.Settings)
		}
	default: // PreferEvent
		if len(event) > 0 {
			out = cloneAccounts(event)
		} else {
			out = cloneAccounts(d.Accounts)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// addMissing adds to dst the entries of src whose keys dst lacks, allocating dst when needed.
func addMissing(dst, src map[string]string) map[string]string {
	for k, v := range src {
		if _, set := dst[k]; !set {
			if dst == nil {
				dst = make(map[string]string, len(src))
			}
			dst[k] = v
		}
	}
	return dst
}

// cloneAccounts deep-copies accounts.
func cloneAccounts(accounts []Account) []Account {
	if accounts == nil {
		return nil
	}
	out := make([]Account, len(accounts))
	for i := range accounts {
		out[i] = accounts[i].clone()
	}
	return out
}
