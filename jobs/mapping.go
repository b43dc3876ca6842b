package jobs

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/jml-sync/docusign-worker/rules"
)

// RuleSource gives the mapping rules in force; *rules.Store implements it.
// A nil set means no rules: events must carry their accounts.
type RuleSource interface {
	Current() *rules.Set
}

// OutcomeOutOfScope: the employee is outside the rules' scope and the worker
// does nothing (a joiner out of scope, or a mover leaving scope with on_exit
// ignore, or one the worker never provisioned).
const OutcomeOutOfScope = "out_of_scope"

// ReasonNoAccounts: a create or membership task has no accounts, neither
// from its event nor from the rules.
const ReasonNoAccounts = "no_accounts"

// mapping is what the rules decided for one task.
type mapping struct {
	// rules is false when no rules are configured.
	rules bool
	// decision is the rules' decision (meaningful when rules).
	decision rules.Decision
	// version is the rules file's version (hash).
	version string
	// onExit is the scope's exit policy.
	onExit rules.ExitPolicy
	// accounts are the desired memberships.
	accounts []Membership
}

// currentRules returns the rules in force (nil: none).
func (h *Handlers) currentRules() *rules.Set {
	if h.cfg.Rules == nil {
		return nil
	}
	return h.cfg.Rules.Current()
}

// mapAccounts applies the rules set (nil: none) to p: scope, then the
// accounts (the event's, the rules', or both, per the file's precedence).
// Without rules the event's accounts stand, and a create or membership task
// needs some.
func mapAccounts(set *rules.Set, p Payload, taskType string) (mapping, error) {
	if set == nil {
		if taskType != TypeUserClose && len(p.Accounts) == 0 {
			return mapping{}, Permanent(ReasonNoAccounts, errors.New("jobs: no accounts and no rules: "+
				"the event names no accounts and no rules file is configured (WORKER_RULES_FILE)"))
		}
		return mapping{accounts: p.Accounts}, nil
	}
	m := mapping{rules: true, version: set.Version(), onExit: set.OnExit()}
	m.decision = set.Evaluate(rulesEmployee(p.Employee))
	if taskType == TypeUserClose {
		// A leaver is closed in the accounts it names (or every managed one),
		// in scope or not.
		m.accounts = p.Accounts
		return m, nil
	}
	if !m.decision.InScope {
		return m, nil
	}
	m.accounts = membershipsOf(set.Combine(rulesAccounts(p.Accounts), m.decision))
	if len(m.accounts) == 0 {
		return m, Permanent(ReasonNoAccounts, fmt.Errorf("jobs: no accounts: the event names none and no rule of %s "+
			"matches the employee (add a rule or defaults.account_id)", set.Name()))
	}
	return m, nil
}

// rulesEmployee is what the rules match on.
func rulesEmployee(e Employee) rules.Employee {
	return rules.Employee{EmployeeID: e.EmployeeID, Email: e.Email, Department: e.Department, JobTitle: e.JobTitle,
		Location: e.Location, EmploymentType: e.EmploymentType, CostCenter: e.CostCenter, Company: e.Company,
		Attributes: e.Attributes}
}

func rulesAccounts(ms []Membership) []rules.Account {
	out := make([]rules.Account, 0, len(ms))
	for _, m := range ms {
		out = append(out, rules.Account{AccountID: m.AccountID, PermissionProfile: m.PermissionProfile,
			PermissionProfileID: m.PermissionProfileID, Groups: slices.Clone(m.Groups), GroupIDs: slices.Clone(m.GroupIDs),
			Settings: maps.Clone(m.Settings)})
	}
	return out
}

func membershipsOf(as []rules.Account) []Membership {
	out := make([]Membership, 0, len(as))
	for _, a := range as {
		out = append(out, Membership{AccountID: a.AccountID, PermissionProfile: a.PermissionProfile,
			PermissionProfileID: a.PermissionProfileID, Groups: a.Groups, GroupIDs: a.GroupIDs, Settings: a.Settings})
	}
	return out
}
