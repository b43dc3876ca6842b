package rules

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Directory answers Validate's questions about DocuSign. The caller implements it; the worker wires the docusign
// client's cached look-ups.
type Directory interface {
	// Accounts returns the ids of the accounts the impersonated user can reach.
	Accounts(ctx context.Context) ([]string, error)
	// PermissionProfiles returns the names of the account's permission profiles.
	PermissionProfiles(ctx context.Context, accountID string) ([]string, error)
	// Groups returns the names of the account's groups.
	Groups(ctx context.Context, accountID string) ([]string, error)
}

// Kinds of names Validate resolves.
const (
	kindProfile = "permission profile"
	kindGroup   = "group"
)

// maxKnown bounds how many known names a message lists.
const maxKnown = 20

// accountUse is one place the file names an account.
type accountUse struct {
	id   string
	line int
	what string
}

// nameRef is one profile or group name to resolve in one account.
type nameRef struct {
	account string
	kind    string
	name    string
	line    int
	what    string
}

// lookupKey identifies one Directory list.
type lookupKey struct {
	account string // lowercased
	kind    string
}

// Validate checks the file's names against DocuSign: every account is one the impersonated user can reach (ids
// compared case-insensitively; look-ups use the directory's spelling), and every permission profile and group
// name resolves in its own account (the name exactly, else case-insensitively
// when that is unambiguous, as the docusign client resolves names). defaults.permission_profile is checked in the
// default account and in every rule account that names no profile, since it fills them. Every problem is
// reported at once, with its line, in a *ValidationError; a failed look-up is a problem whose Err wraps ErrLookup
// (the names it would have answered are not checked), distinct from an unknown name.
func (s *Set) Validate(ctx context.Context, d Directory) error {
	v := &validator{file: s.name, dir: d, lists: map[lookupKey][]string{}, failed: map[lookupKey]bool{},
		display: map[string]string{}}
	uses, refs := s.references()

	reachable := map[string]string{} // lowercased id → the id to look up (the directory's spelling when known)
	known, err := d.Accounts(ctx)
	if err != nil {
		v.add(Problem{Message: fmt.Sprintf("could not list the accounts the impersonated user can reach: %v; "+
			"account ids were not checked", err),
			Err: fmt.Errorf("%w: accounts: %w", ErrLookup, err)})
	}
	for _, u := range uses {
		key := strings.ToLower(u.id)
		if _, ok := reachable[key]; ok {
			continue
		}
		if err != nil {
			reachable[key] = u.id
			continue
		}
		if i := slices.IndexFunc(known, func(k string) bool { return strings.EqualFold(k, u.id) }); i >= 0 {
			reachable[key] = known[i]
			continue
		}
		v.add(Problem{Line: u.line, Message: fmt.Sprintf("%s: account %s is not one the impersonated user can "+
			"reach (%s); check the id, or give the user access to the account", u.what, u.id, listNames(known))})
	}

	// Fetch every list a reference needs, once, before resolving: the "exists in another account" hint needs
	// the other accounts' lists.
	for _, r := range refs {
		if id, ok := reachable[strings.ToLower(r.account)]; ok {
			v.fetch(ctx, id, r)
		}
	}
	for _, r := range refs {
		list, ok := v.lists[lookupKey{strings.ToLower(r.account), r.kind}]
		if !ok {
			continue
		}
		found, folds := resolveName(list, r.name)
		switch {
		case found:
		case len(folds) > 1:
			v.add(Problem{Line: r.line, Message: fmt.Sprintf("%s: %s %q matches several in account %s only by "+
				"case (%s); write the name exactly", r.what, r.kind, r.name, r.account, listNames(folds))})
		default:
			v.add(Problem{Line: r.line, Message: fmt.Sprintf("%s: %s %q does not exist in account %s (known: %s)%s",
				r.what, r.kind, r.name, r.account, listNames(list), v.elsewhere(r))})
		}
	}
	if ve := newValidationError(v.probs); ve != nil {
		return ve
	}
	return nil
}

// validator holds the state of one Validate call.
type validator struct {
	file    string
	dir     Directory
	lists   map[lookupKey][]string
	failed  map[lookupKey]bool
	display map[string]string // lowercased account id → the id looked up
	probs   []Problem
}

func (v *validator) add(p Problem) {
	p.File = v.file
	v.probs = append(v.probs, p)
}

// fetch looks up the list r needs, once per account and kind; a failure is reported once, at the first
// reference's line.
func (v *validator) fetch(ctx context.Context, accountID string, r nameRef) {
	key := lookupKey{strings.ToLower(accountID), r.kind}
	if _, done := v.lists[key]; done || v.failed[key] {
		return
	}
	var list []string
	var err error
	if r.kind == kindProfile {
		list, err = v.dir.PermissionProfiles(ctx, accountID)
	} else {
		list, err = v.dir.Groups(ctx, accountID)
	}
	if err != nil {
		v.failed[key] = true
		v.add(Problem{Line: r.line, Message: fmt.Sprintf("could not look up the %ss of account %s: %v; its %s "+
			"names were not checked", r.kind, accountID, err, r.kind),
			Err: fmt.Errorf("%w: %ss of account %s: %w", ErrLookup, r.kind, accountID, err)})
		return
	}
	if list == nil {
		list = []string{}
	}
	v.lists[key] = list
	v.display[key.account] = accountID
}

// elsewhere returns a hint naming the other accounts (among those looked up) where r's name exists.
func (v *validator) elsewhere(r nameRef) string {
	var in []string
	for key, list := range v.lists {
		if key.kind != r.kind || key.account == strings.ToLower(r.account) {
			continue
		}
		if found, _ := resolveName(list, r.name); found {
			in = append(in, v.display[key.account])
		}
	}
	if len(in) == 0 {
		return ""
	}
	slices.Sort(in)
	return fmt.Sprintf("; it exists in account %s, but %ss are per account: create it in account %s or use "+
		"one of its names", strings.Join(in, ", "), r.kind, r.account)
}

// resolveName matches name against list as the docusign client does: exactly, else case-insensitively (after
// trimming spaces) when exactly one name matches. folds lists the case-insensitive matches.
func resolveName(list []string, name string) (found bool, folds []string) {
	if slices.Contains(list, name) {
		return true, nil
	}
	for _, it := range list {
		if strings.EqualFold(strings.TrimSpace(it), strings.TrimSpace(name)) {
			folds = append(folds, it)
		}
	}
	return len(folds) == 1, folds
}

// listNames quotes up to maxKnown names for a message.
func listNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	shown := names[:min(len(names), maxKnown)]
	q := make([]string, len(shown))
	for i, n := range shown {
		q[i] = fmt.Sprintf("%q", n)
	}
	out := strings.Join(q, ", ")
	if len(names) > maxKnown {
		out += fmt.Sprintf(", and %d more", len(names)-maxKnown)
	}
	return out
}

// references lists, in file order, every place an account is named and every profile and group name to resolve.
func (s *Set) references() ([]accountUse, []nameRef) {
	var uses []accountUse
	var refs []nameRef
	seen := map[nameRef]bool{}
	addRef := func(r nameRef) {
		key := r
		key.account, key.what = strings.ToLower(r.account), ""
		if !seen[key] {
			seen[key] = true
			refs = append(refs, r)
		}
	}
	addSpec := func(a *accountSpec, what string) {
		uses = append(uses, accountUse{id: a.id, line: a.idLine, what: what})
		profile := nameRef{account: a.id, kind: kindProfile, name: a.profile, line: a.profileLine, what: what}
		if a.profile == "" && s.defaults.profile != "" {
			profile.name, profile.line = s.defaults.profile, s.defaults.profileLine
			profile.what = fmt.Sprintf("defaults.permission_profile (filling %s, account %s)", what, a.id)
		}
		if profile.name != "" {
			addRef(profile)
		}
		for i, g := range a.groups {
			addRef(nameRef{account: a.id, kind: kindGroup, name: g, line: a.groupLines[i], what: what})
		}
	}
	if s.defaults.id != "" {
		addSpec(&s.defaults, "defaults")
	}
	for i := range s.rules {
		r := &s.rules[i]
		for j := range r.accounts {
			addSpec(&r.accounts[j], fmt.Sprintf("rule %q", r.name))
		}
	}
	return uses, refs
}
