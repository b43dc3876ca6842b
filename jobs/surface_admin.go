package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jml-sync/docusign-worker/docusign"
)

// AdminAPI is the part of *docusign.AdminAPI the Admin directory calls.
type AdminAPI interface {
	GetUserProfiles(ctx context.Context, email string) (*docusign.AdminUserProfiles, error)
	CreateUser(ctx context.Context, req docusign.NewUserRequest) (*docusign.NewUserResponse, error)
	AddUserToAccount(ctx context.Context, accountID string, req docusign.NewAccountUserRequest) (*docusign.NewUserResponse, error)
	UpdateUserProfiles(ctx context.Context, req docusign.UpdateUsersRequest) (*docusign.UsersUpdateResponse, error)
	UpdateEmailAddresses(ctx context.Context, users []docusign.EmailAddressUpdate) (*docusign.UsersUpdateResponse, error)
	CloseMemberships(ctx context.Context, userID string, accountIDs []string) (*docusign.CloseMembershipsResponse, error)
	ReactivateMembership(ctx context.Context, userID, membershipID string, siteID int) (*docusign.ReactivateResponse, error)
	ResolvePermissionProfile(ctx context.Context, accountID string, ref docusign.Ref) (docusign.AdminPermissionProfile, error)
	ResolveGroups(ctx context.Context, accountID string, refs []docusign.Ref) ([]docusign.AdminGroup, error)
}

var _ AdminAPI = (*docusign.AdminAPI)(nil)

// Admin API error codes ({"error": …}) the directory branches on. DocuSign
// does not document them; these are the simulator's, documented there.
var (
	errAdminUserExists       = &docusign.APIError{ErrorCode: "user_already_exists"}
	errAdminMembershipExists = &docusign.APIError{ErrorCode: "membership_already_exists"}
	errAdminMembershipAbsent = &docusign.ItemError{ErrorCode: "membership_not_found"}
)

// AdminOptions configure the Admin API directory.
type AdminOptions struct {
	// NoAutoActivate turns off auto_activate_memberships on creation (it
	// skips the activation email for the organization's claimed domains).
	NoAutoActivate bool
	// ESign sets user settings, which the Admin API cannot (NewDirectory
	// passes the client's eSignature API).
	ESign ESignatureAPI
}

// adminDirectory provisions through the Admin API: one call creates a user
// with every membership; GET users/profile finds a user by email with all
// memberships; POST users/profiles converges names, profiles, groups and job
// titles of every account in one call; POST users/email_addresses changes the
// email; DELETE users/{id}/accounts closes; POST
// users/{id}/memberships/{membershipId} reactivates.
//
// Groups: users/profiles sends the complete list of the membership's groups
// (the Admin API does not document whether it replaces or adds; the
// simulator assumes it replaces, except Everyone). To leave a member in no
// other group the list holds only the Everyone group.
//
// The Admin API does not return a membership's job title or company: the
// values last applied by the worker (identity map) stand in for them.
type adminDirectory struct {
	api  AdminAPI
	opts AdminOptions
}

// NewAdminDirectory returns the Admin API directory over api (usually
// (*docusign.Client).Admin()).
func NewAdminDirectory(api AdminAPI, opts AdminOptions) Directory {
	return &adminDirectory{api: api, opts: opts}
}

func (d *adminDirectory) Surface() Surface { return SurfaceAdmin }

func (d *adminDirectory) Resolve(ctx context.Context, accounts []Membership) ([]DesiredMembership, error) {
	out := make([]DesiredMembership, 0, len(accounts))
	for _, m := range accounts {
		dm := DesiredMembership{AccountID: m.AccountID, Groups: []NamedRef{}}
		if ref, ok := profileRef(m); ok {
			p, err := d.api.ResolvePermissionProfile(ctx, m.AccountID, ref)
			if err != nil {
				return nil, err
			}
			dm.Profile = &NamedRef{ID: strconv.FormatInt(p.ID, 10), Name: p.Name}
		}
		groups, err := d.api.ResolveGroups(ctx, m.AccountID, groupRefs(m))
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if g.Type == "everyone_group" {
				continue
			}
			dm.Groups = appendUnique(dm.Groups, NamedRef{ID: strconv.FormatInt(g.ID, 10), Name: g.Name})
		}
		out = append(out, dm)
	}
	return out, nil
}

func appendUnique(list []NamedRef, r NamedRef) []NamedRef {
	if slices.ContainsFunc(list, func(x NamedRef) bool { return x.ID == r.ID }) {
		return list
	}
	return append(list, r)
}

// Lookup finds the user by email through GET users/profile: first by the
// identity map's prior email (after an email change the user still has it;
// only the mapped user id is accepted there), then by the event's email.
func (d *adminDirectory) Lookup(ctx context.Context, q Lookup, accounts []string) (*LiveUser, error) {
	if q.PriorEmail != "" && q.UserID != "" && !strings.EqualFold(q.PriorEmail, q.Email) {
		res, err := d.api.GetUserProfiles(ctx, q.PriorEmail)
		if err != nil {
			return nil, fmt.Errorf("jobs: admin look up user: %w", err)
		}
		if p := pickAdminProfile(res.Users, q.UserID, true); p != nil {
			return adminLive(p, accounts), nil
		}
	}
	email := q.Email
	if email == "" {
		email = q.PriorEmail
	}
	if email == "" {
		return nil, nil
	}
	res, err := d.api.GetUserProfiles(ctx, email)
	if err != nil {
		return nil, fmt.Errorf("jobs: admin look up user: %w", err)
	}
	if p := pickAdminProfile(res.Users, q.UserID, false); p != nil {
		return adminLive(p, accounts), nil
	}
	return nil, nil
}

// pickAdminProfile prefers the identity map's user id, else (unless strict)
// the first user.
func pickAdminProfile(users []docusign.AdminUserProfile, userID string, strict bool) *docusign.AdminUserProfile {
	for i := range users {
		if userID != "" && strings.EqualFold(users[i].ID, userID) {
			return &users[i]
		}
	}
	if len(users) > 0 && !strict {
		return &users[0]
	}
	return nil
}

func adminLive(p *docusign.AdminUserProfile, accounts []string) *LiveUser {
	u := &LiveUser{ID: p.ID, SiteID: p.SiteID, FirstName: p.FirstName, LastName: p.LastName}
	for _, m := range p.Memberships {
		if u.Email == "" {
			u.Email = m.Email
		}
		if !containsFold(accounts, m.AccountID) {
			continue
		}
		lm := LiveMembership{AccountID: m.AccountID, UserID: p.ID, MembershipID: m.ID, Status: normalizeStatus(m.Status), Groups: []NamedRef{}}
		if m.PermissionProfile != nil {
			lm.Profile = NamedRef{ID: strconv.FormatInt(m.PermissionProfile.ID, 10), Name: m.PermissionProfile.Name}
		}
		for _, g := range m.Groups {
			id := strconv.FormatInt(g.ID, 10)
			if g.Type == "everyone_group" {
				lm.EveryoneGroupID = id
				continue
			}
			lm.Groups = append(lm.Groups, NamedRef{ID: id, Name: g.Name})
		}
		u.Memberships = append(u.Memberships, lm)
	}
	return u
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// normalizeStatus maps both surfaces' membership statuses onto ours.
func normalizeStatus(s string) string {
	switch strings.ToLower(s) {
	case "active":
		return StatusActive
	case "closed":
		return StatusClosed
	case "disabled":
		return StatusDisabled
	}
	return StatusPending
}

func adminIDRef(id string) (docusign.AdminIDRef, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return docusign.AdminIDRef{}, fmt.Errorf("%w: Admin API id %q is not an integer", docusign.ErrInvalidRef, id)
	}
	return docusign.AdminIDRef{ID: n}, nil
}

func adminGroupRefs(groups []NamedRef) ([]docusign.AdminIDRef, error) {
	out := make([]docusign.AdminIDRef, 0, len(groups))
	for _, g := range groups {
		r, err := adminIDRef(g.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (d *adminDirectory) Apply(ctx context.Context, live *LiveUser, p Plan) (Applied, error) {
	if p.CreateUser {
		return d.create(ctx, p)
	}
	if live == nil {
		return Applied{}, errors.New("jobs: admin apply: no live user to converge")
	}
	res := Applied{UserID: live.ID, SiteID: live.SiteID}
	if p.EmailChange {
		upd := []docusign.EmailAddressUpdate{{ID: live.ID, SiteID: live.SiteID, Email: p.Email}}
		if _, err := d.api.UpdateEmailAddresses(ctx, upd); err != nil {
			return res, fmt.Errorf("jobs: admin change email of user %s: %w", live.ID, err)
		}
		res.EmailChanged = true
	}
	email := live.Email
	if p.Email != "" {
		email = p.Email
	}
	update := docusign.UpdateUserRequest{ID: live.ID, SiteID: live.SiteID}
	if p.NamesChange {
		update.FirstName, update.LastName, update.UserName = p.Names.FirstName, p.Names.LastName, p.Names.UserName()
	}
	var updated []string
	for _, ap := range p.Accounts {
		acct := ap.Desired.AccountID
		switch ap.Action {
		case ActionReactivate:
			m := live.Membership(acct)
			if m == nil || m.MembershipID == "" {
				return res, fmt.Errorf("%w: the closed membership in account %s has no membership id", errCannotConverge, acct)
			}
			if _, err := d.api.ReactivateMembership(ctx, live.ID, m.MembershipID, live.SiteID); err != nil {
				return res, fmt.Errorf("jobs: admin reactivate membership of user %s in account %s: %w", live.ID, acct, err)
			}
			res.Reactivated = append(res.Reactivated, acct)
		case ActionAdd:
			if err := d.add(ctx, email, p, ap.Desired); err != nil {
				return res, err
			}
			res.Added = append(res.Added, acct)
			// The add request carries no job title or company.
			ap.JobTitle, ap.Company = ap.Desired.JobTitle, ap.Desired.Company
		}
		mu, changes, err := adminMembershipUpdate(ap)
		if err != nil {
			return res, err
		}
		if changes {
			update.Memberships = append(update.Memberships, mu)
			if ap.Action != ActionAdd {
				updated = append(updated, acct)
			}
		}
	}
	if p.NamesChange || len(update.Memberships) > 0 {
		if _, err := d.api.UpdateUserProfiles(ctx, docusign.UpdateUsersRequest{Users: []docusign.UpdateUserRequest{update}}); err != nil {
			return res, fmt.Errorf("jobs: admin update user %s: %w", live.ID, err)
		}
		res.NamesChanged = p.NamesChange
		for _, acct := range updated {
			if !slices.Contains(res.Reactivated, acct) {
				res.Updated = append(res.Updated, acct)
			}
		}
	}
	return res, nil
}

// adminMembershipUpdate builds the users/profiles membership of an account
// plan; changes is false when nothing must be sent.
func adminMembershipUpdate(ap AccountPlan) (docusign.UpdateMembershipRequest, bool, error) {
	mu := docusign.UpdateMembershipRequest{AccountID: ap.Desired.AccountID, JobTitle: ap.JobTitle, CompanyName: ap.Company}
	if ap.Profile != nil {
		r, err := adminIDRef(ap.Profile.ID)
		if err != nil {
			return mu, false, err
		}
		mu.PermissionProfile = &r
	}
	if ap.GroupsChange {
		groups, err := adminGroupRefs(ap.Desired.Groups)
		if err != nil {
			return mu, false, err
		}
		if len(groups) == 0 {
			// An empty list would not be sent at all; Everyone alone says
			// "no other group".
			if ap.EveryoneGroupID == "" {
				return mu, false, fmt.Errorf("%w: cannot remove every group of account %s without knowing its Everyone group",
					errCannotConverge, ap.Desired.AccountID)
			}
			r, err := adminIDRef(ap.EveryoneGroupID)
			if err != nil {
				return mu, false, err
			}
			groups = []docusign.AdminIDRef{r}
		}
		mu.Groups = groups
	}
	changes := mu.PermissionProfile != nil || mu.Groups != nil || mu.JobTitle != "" || mu.CompanyName != ""
	return mu, changes, nil
}

func (d *adminDirectory) add(ctx context.Context, email string, p Plan, dm DesiredMembership) error {
	req := docusign.NewAccountUserRequest{Email: email, FirstName: p.Names.FirstName, LastName: p.Names.LastName,
		UserName: p.Names.UserName(), AutoActivateMemberships: !d.opts.NoAutoActivate}
	if dm.Profile != nil {
		r, err := adminIDRef(dm.Profile.ID)
		if err != nil {
			return err
		}
		req.PermissionProfile = &r
	}
	groups, err := adminGroupRefs(dm.Groups)
	if err != nil {
		return err
	}
	req.Groups = groups
	if _, err := d.api.AddUserToAccount(ctx, dm.AccountID, req); err != nil {
		if errors.Is(err, errAdminMembershipExists) || errors.Is(err, errAdminUserExists) {
			return fmt.Errorf("jobs: admin add user to account %s: %w: %w", dm.AccountID, ErrAlreadyExists, err)
		}
		return fmt.Errorf("jobs: admin add user to account %s: %w", dm.AccountID, err)
	}
	return nil
}

func (d *adminDirectory) create(ctx context.Context, p Plan) (Applied, error) {
	req := docusign.NewUserRequest{Email: p.Email, FirstName: p.Names.FirstName, LastName: p.Names.LastName,
		UserName: p.Names.UserName(), LanguageCulture: p.Language, AutoActivateMemberships: !d.opts.NoAutoActivate}
	for _, ap := range p.Accounts {
		dm := ap.Desired
		acct := docusign.NewUserAccount{ID: dm.AccountID, JobTitle: dm.JobTitle, CompanyName: dm.Company}
		if dm.Profile != nil {
			r, err := adminIDRef(dm.Profile.ID)
			if err != nil {
				return Applied{}, err
			}
			acct.PermissionProfile = &r
		}
		groups, err := adminGroupRefs(dm.Groups)
		if err != nil {
			return Applied{}, err
		}
		acct.Groups = groups
		req.Accounts = append(req.Accounts, acct)
	}
	if len(req.Accounts) > 0 {
		req.DefaultAccountID = req.Accounts[0].ID
	}
	resp, err := d.api.CreateUser(ctx, req)
	if err != nil {
		if errors.Is(err, errAdminUserExists) {
			return Applied{}, fmt.Errorf("jobs: admin create user: %w: %w", ErrAlreadyExists, err)
		}
		return Applied{}, fmt.Errorf("jobs: admin create user: %w", err)
	}
	res := Applied{UserID: resp.ID, SiteID: resp.SiteID, Created: true}
	for _, a := range req.Accounts {
		res.Added = append(res.Added, a.ID)
	}
	return res, nil
}

func (d *adminDirectory) ApplySettings(ctx context.Context, accountID, userID string, settings map[string]string) error {
	if d.opts.ESign == nil {
		return fmt.Errorf("%w: user settings need the eSignature API (AdminOptions.ESign)", errCannotConverge)
	}
	if _, err := d.opts.ESign.UpdateUser(ctx, accountID, userID, docusign.ESignUser{UserSettings: settings}); err != nil {
		return fmt.Errorf("jobs: admin surface: set user settings of %s in account %s through the eSignature API: %w",
			userID, accountID, err)
	}
	return nil
}

func (d *adminDirectory) Close(ctx context.Context, live *LiveUser, accounts []string) ([]string, error) {
	var toClose []string
	for _, acct := range accounts {
		if m := live.Membership(acct); m != nil && m.Status != StatusClosed {
			toClose = append(toClose, m.AccountID)
		}
	}
	if len(toClose) == 0 {
		return nil, nil
	}
	resp, err := d.api.CloseMemberships(ctx, live.ID, toClose)
	if err != nil {
		var pe *docusign.PartialError
		if !errors.As(err, &pe) || resp == nil {
			return nil, fmt.Errorf("jobs: admin close memberships of user %s: %w", live.ID, err)
		}
		// A membership that vanished meanwhile is as good as closed.
		for _, it := range pe.Items {
			if !errors.Is(it, errAdminMembershipAbsent) {
				return nil, fmt.Errorf("jobs: admin close memberships of user %s: %w", live.ID, err)
			}
		}
		var closed []string
		for _, acct := range toClose {
			if !slices.ContainsFunc(pe.Items, func(it *docusign.ItemError) bool { return strings.EqualFold(it.ID, acct) }) {
				closed = append(closed, acct)
			}
		}
		return closed, nil
	}
	return toClose, nil
}
