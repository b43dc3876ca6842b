package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jml-sync/docusign-worker/docusign"
)

// Surface names a DocuSign surface the handlers can provision through.
type Surface string

// The two surfaces. Which one is used is configuration.
const (
	// SurfaceAdmin is the Admin API (organization level: one call creates a
	// user with memberships in several accounts).
	SurfaceAdmin Surface = "admin"
	// SurfaceESignature is the eSignature Users API (account level, each
	// account at its own environment).
	SurfaceESignature Surface = "esignature"
)

// ParseSurface parses "admin" or "esignature".
func ParseSurface(s string) (Surface, error) {
	switch Surface(strings.ToLower(strings.TrimSpace(s))) {
	case SurfaceAdmin:
		return SurfaceAdmin, nil
	case SurfaceESignature, "esign":
		return SurfaceESignature, nil
	}
	return "", fmt.Errorf("jobs: unknown DocuSign surface %q (want admin or esignature)", s)
}

// NewDirectory returns the directory of the configured surface over a
// DocuSign client.
func NewDirectory(s Surface, c *docusign.Client, opts AdminOptions) (Directory, error) {
	if c == nil {
		return nil, errors.New("jobs: NewDirectory: nil DocuSign client")
	}
	switch s {
	case SurfaceAdmin:
		if opts.ESign == nil {
			opts.ESign = c.ESignature()
		}
		return NewAdminDirectory(c.Admin(), opts), nil
	case SurfaceESignature:
		return NewESignatureDirectory(c.ESignature()), nil
	}
	return nil, fmt.Errorf("jobs: unknown DocuSign surface %q (want admin or esignature)", s)
}

// Membership statuses as the handlers see them, for both surfaces.
const (
	StatusActive   = "active"
	StatusPending  = "pending" // activation sent or required
	StatusClosed   = "closed"
	StatusDisabled = "disabled"
)

// Directory is a DocuSign surface as the handlers use it: read a user's
// live state, apply a plan, close memberships. NewAdminDirectory and
// NewESignatureDirectory implement it.
type Directory interface {
	// Surface names the implementation.
	Surface() Surface
	// Resolve turns desired memberships (profile and groups by name or id)
	// into account-specific ids through the client's cached look-ups; an
	// unknown name is a *docusign.UnknownRefError.
	Resolve(ctx context.Context, accounts []Membership) ([]DesiredMembership, error)
	// Lookup reads the live state of the user in the given accounts, or nil
	// when DocuSign has no such user.
	Lookup(ctx context.Context, q Lookup, accounts []string) (*LiveUser, error)
	// Apply carries out a plan for live (nil when p.CreateUser).
	Apply(ctx context.Context, live *LiveUser, p Plan) (Applied, error)
	// Close closes the memberships of live in the given accounts that are
	// not closed yet and returns the accounts it closed.
	Close(ctx context.Context, live *LiveUser, accounts []string) ([]string, error)
	// ApplySettings sets eSignature user settings of the user (userID, its
	// id in that account) in one account: one eSignature Users:update on
	// either surface, since the Admin API cannot set them.
	ApplySettings(ctx context.Context, accountID, userID string, settings map[string]string) error
}

// Lookup says how to find a user: by the identity map's DocuSign user id
// when known, and by email (case-insensitive) otherwise.
type Lookup struct {
	// UserID is the DocuSign user id from the identity map ("" if none).
	UserID string
	// PriorEmail is the identity map's email, the user's email before an
	// email change ("" if none). A user found by it must have UserID.
	PriorEmail string
	// Email is the event's email.
	Email string
}

// NamedRef is a permission profile or group with its account-specific id
// and its name.
type NamedRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// DesiredMembership is a resolved desired membership.
type DesiredMembership struct {
	AccountID string
	// Profile is nil when the event does not name one (the account default
	// applies at creation; an existing membership keeps its profile).
	Profile *NamedRef
	// Groups is the complete set of groups (other than the account's
	// Everyone group, which every member is in).
	Groups []NamedRef
	// JobTitle and Company are set when HR sent them (empty values are
	// never sent, so they do not clear a value).
	JobTitle string
	Company  string
}

// LiveUser is a user's state in DocuSign.
type LiveUser struct {
	ID        string
	SiteID    int
	Email     string
	FirstName string
	LastName  string
	// Memberships are the user's memberships in the accounts asked for.
	Memberships []LiveMembership
}

// Membership returns the live membership in accountID, or nil.
func (u *LiveUser) Membership(accountID string) *LiveMembership {
	if u == nil {
		return nil
	}
	for i := range u.Memberships {
		if strings.EqualFold(u.Memberships[i].AccountID, accountID) {
			return &u.Memberships[i]
		}
	}
	return nil
}

// LiveMembership is one account membership of a LiveUser.
type LiveMembership struct {
	AccountID string
	// UserID is the user's id in this account (eSignature accounts can know
	// one person under different ids).
	UserID string
	// MembershipID is the Admin API membership id (needed to reactivate).
	MembershipID string
	// Status is StatusActive, StatusPending, StatusClosed or StatusDisabled.
	Status  string
	Profile NamedRef
	// Groups are the membership's groups other than Everyone.
	Groups []NamedRef
	// EveryoneGroupID is the id of the account's Everyone group when seen.
	EveryoneGroupID string
	// JobTitle and Company are meaningful only when DetailsKnown: the Admin
	// API does not return them, so the values last applied by the worker
	// (kept in the identity map) stand in for them there.
	JobTitle     string
	Company      string
	DetailsKnown bool
}

// Names are a user's names.
type Names struct {
	FirstName string
	LastName  string
}

// UserName is the DocuSign user name built from the names.
func (n Names) UserName() string { return strings.TrimSpace(n.FirstName + " " + n.LastName) }

// Account actions of a plan.
const (
	ActionNone       = ""
	ActionAdd        = "add"        // no membership in the account: add one
	ActionReactivate = "reactivate" // closed membership: rehire
	ActionUpdate     = "update"     // fields differ
)

// Plan is what must change to reach the desired state.
type Plan struct {
	// CreateUser is set when DocuSign has no such user: create it with every
	// membership.
	CreateUser bool
	// Email is the desired email; EmailChange says the user's differs.
	Email       string
	EmailChange bool
	// Names are the desired names; NamesChange says the user's differ.
	Names       Names
	NamesChange bool
	// Language is sent at creation only.
	Language string
	// Accounts has one entry per desired account.
	Accounts []AccountPlan
}

// AccountPlan is the plan of one account.
type AccountPlan struct {
	// Action is ActionNone, ActionAdd, ActionReactivate or ActionUpdate.
	Action string
	// Desired is the complete desired membership (used by add and create).
	Desired DesiredMembership
	// Profile is set when the profile must change.
	Profile *NamedRef
	// GroupsChange says the set of groups differs; AddGroups and
	// RemoveGroups are the difference, Desired.Groups the complete set.
	GroupsChange bool
	AddGroups    []NamedRef
	RemoveGroups []NamedRef
	// EveryoneGroupID is the live Everyone group id (the Admin API needs it
	// to express "no other group").
	EveryoneGroupID string
	// JobTitle and Company are set when they must change.
	JobTitle string
	Company  string
}

// fieldsChange reports whether the account plan changes a membership field.
func (a AccountPlan) fieldsChange() bool {
	return a.Profile != nil || a.GroupsChange || a.JobTitle != "" || a.Company != ""
}

// Writes reports whether the plan needs any write call.
func (p Plan) Writes() bool {
	if p.CreateUser || p.EmailChange || p.NamesChange {
		return true
	}
	for _, a := range p.Accounts {
		if a.Action != ActionNone {
			return true
		}
	}
	return false
}

// Applied reports what Apply did.
type Applied struct {
	// UserID and SiteID identify the user afterwards.
	UserID string
	SiteID int
	// Created is set when the user was created.
	Created bool
	// Reactivated, Added and Updated list the accounts per action.
	Reactivated []string
	Added       []string
	Updated     []string
	// EmailChanged and NamesChanged say the user-level fields were written.
	EmailChanged bool
	NamesChanged bool
	// AccountUserIDs are the user's ids in accounts where they differ from
	// UserID (eSignature memberships created by this Apply).
	AccountUserIDs map[string]string
}

// wrote reports whether Apply made any write call.
func (a Applied) wrote() bool {
	return a.Created || len(a.Reactivated) > 0 || len(a.Added) > 0 || len(a.Updated) > 0 || a.EmailChanged || a.NamesChanged
}

// AppliedFields are the job title and company last applied to a membership
// by the worker (identity map), standing in for fields the surface cannot
// read.
type AppliedFields struct {
	JobTitle string `json:"job_title,omitempty"`
	Company  string `json:"company,omitempty"`
}

// desiredState is everything a convergence aims at.
type desiredState struct {
	Email    string
	Names    Names
	Language string
	Accounts []DesiredMembership
}

// buildPlan diffs the desired state against the live user. applied holds
// the job title and company last applied per account (lower-case account
// id) for memberships whose details the surface cannot read.
func buildPlan(want desiredState, live *LiveUser, applied map[string]AppliedFields) Plan {
	p := Plan{Email: want.Email, Names: want.Names, Language: want.Language}
	if live == nil {
		p.CreateUser = true
		for _, d := range want.Accounts {
			p.Accounts = append(p.Accounts, AccountPlan{Action: ActionAdd, Desired: d})
		}
		return p
	}
	p.EmailChange = want.Email != "" && live.Email != "" && !strings.EqualFold(strings.TrimSpace(live.Email), strings.TrimSpace(want.Email))
	p.NamesChange = (want.Names.FirstName != "" && want.Names.FirstName != live.FirstName) ||
		(want.Names.LastName != "" && want.Names.LastName != live.LastName)
	for _, d := range want.Accounts {
		m := live.Membership(d.AccountID)
		if m == nil {
			p.Accounts = append(p.Accounts, AccountPlan{Action: ActionAdd, Desired: d})
			continue
		}
		ap := AccountPlan{Desired: d, EveryoneGroupID: m.EveryoneGroupID}
		if d.Profile != nil && d.Profile.ID != m.Profile.ID {
			ap.Profile = d.Profile
		}
		ap.AddGroups, ap.RemoveGroups = diffGroups(d.Groups, m.Groups)
		ap.GroupsChange = len(ap.AddGroups) > 0 || len(ap.RemoveGroups) > 0
		title, company := m.JobTitle, m.Company
		known := m.DetailsKnown
		if !known {
			if a, ok := applied[strings.ToLower(d.AccountID)]; ok {
				title, company, known = a.JobTitle, a.Company, true
			}
		}
		if d.JobTitle != "" && (!known || d.JobTitle != title) {
			ap.JobTitle = d.JobTitle
		}
		if d.Company != "" && (!known || d.Company != company) {
			ap.Company = d.Company
		}
		switch {
		case m.Status == StatusClosed:
			ap.Action = ActionReactivate
		case ap.fieldsChange():
			ap.Action = ActionUpdate
		}
		p.Accounts = append(p.Accounts, ap)
	}
	return p
}

// diffGroups returns the groups to add and to remove, by id, each in the
// order given.
func diffGroups(want, have []NamedRef) (add, remove []NamedRef) {
	in := func(list []NamedRef, id string) bool {
		return slices.ContainsFunc(list, func(r NamedRef) bool { return r.ID == id })
	}
	for _, g := range want {
		if !in(have, g.ID) && !in(add, g.ID) {
			add = append(add, g)
		}
	}
	for _, g := range have {
		if !in(want, g.ID) {
			remove = append(remove, g)
		}
	}
	return add, remove
}

// errCannotConverge marks a desired state the surface cannot express.
var errCannotConverge = errors.New("jobs: desired state cannot be expressed through this surface")

// ErrAlreadyExists is wrapped by a Directory's Apply when DocuSign reports
// that the user or membership it was about to create exists (created
// meanwhile, or by an earlier attempt whose reply was lost): the handler
// looks the user up again and re-plans once.
var ErrAlreadyExists = errors.New("jobs: user or membership already exists")

// refs turns a Membership's profile and groups into docusign.Refs.
func profileRef(m Membership) (docusign.Ref, bool) {
	switch {
	case m.PermissionProfileID != "":
		return docusign.RefByID(m.PermissionProfileID), true
	case m.PermissionProfile != "":
		return docusign.RefByName(m.PermissionProfile), true
	}
	return docusign.Ref{}, false
}

func groupRefs(m Membership) []docusign.Ref {
	refs := make([]docusign.Ref, 0, len(m.Groups)+len(m.GroupIDs))
	for _, id := range m.GroupIDs {
		refs = append(refs, docusign.RefByID(id))
	}
	for _, name := range m.Groups {
		refs = append(refs, docusign.RefByName(name))
	}
	return refs
}

// UserSummary is the before/after picture of a user in audit records.
type UserSummary struct {
	UserID      string              `json:"user_id,omitempty"`
	Email       string              `json:"email,omitempty"`
	FirstName   string              `json:"first_name,omitempty"`
	LastName    string              `json:"last_name,omitempty"`
	Memberships []MembershipSummary `json:"memberships,omitempty"`
}

// MembershipSummary is one membership of a UserSummary.
type MembershipSummary struct {
	AccountID         string     `json:"account_id"`
	Status            string     `json:"status"`
	PermissionProfile *NamedRef  `json:"permission_profile,omitempty"`
	Groups            []NamedRef `json:"groups"`
	JobTitle          string     `json:"job_title,omitempty"`
	Company           string     `json:"company,omitempty"`
}

// summarize pictures a live user (nil: absent).
func summarize(u *LiveUser) *UserSummary {
	if u == nil {
		return nil
	}
	s := &UserSummary{UserID: u.ID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName}
	for _, m := range u.Memberships {
		ms := MembershipSummary{AccountID: m.AccountID, Status: m.Status, Groups: slices.Clone(m.Groups),
			JobTitle: m.JobTitle, Company: m.Company}
		if ms.Groups == nil {
			ms.Groups = []NamedRef{}
		}
		if m.Profile.ID != "" || m.Profile.Name != "" {
			p := m.Profile
			ms.PermissionProfile = &p
		}
		s.Memberships = append(s.Memberships, ms)
	}
	return s
}

// project returns the picture of live after the plan was applied.
func project(live *LiveUser, p Plan, a Applied) *UserSummary {
	after := &LiveUser{ID: a.UserID, SiteID: a.SiteID, Email: p.Email, FirstName: p.Names.FirstName, LastName: p.Names.LastName}
	if live != nil {
		cp := *live
		cp.Memberships = slices.Clone(live.Memberships)
		after = &cp
		if a.UserID != "" {
			after.ID = a.UserID
		}
		if a.EmailChanged {
			after.Email = p.Email
		}
		if a.NamesChanged {
			after.FirstName, after.LastName = p.Names.FirstName, p.Names.LastName
		}
	}
	for _, ap := range p.Accounts {
		m := after.Membership(ap.Desired.AccountID)
		if m == nil {
			if !slices.Contains(a.Added, ap.Desired.AccountID) && !a.Created {
				continue
			}
			after.Memberships = append(after.Memberships, LiveMembership{AccountID: ap.Desired.AccountID, Status: StatusActive})
			m = &after.Memberships[len(after.Memberships)-1]
			m.Profile = NamedRef{}
			m.JobTitle, m.Company = ap.Desired.JobTitle, ap.Desired.Company
		}
		if slices.Contains(a.Reactivated, ap.Desired.AccountID) {
			m.Status = StatusActive
		}
		if ap.Desired.Profile != nil {
			m.Profile = *ap.Desired.Profile
		}
		m.Groups = slices.Clone(ap.Desired.Groups)
		if ap.JobTitle != "" {
			m.JobTitle = ap.JobTitle
		}
		if ap.Company != "" {
			m.Company = ap.Company
		}
	}
	return summarize(after)
}
