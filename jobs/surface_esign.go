package jobs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jml-sync/docusign-worker/docusign"
)

// ESignatureAPI is the part of *docusign.ESignatureAPI the eSignature
// directory calls.
type ESignatureAPI interface {
	GetUser(ctx context.Context, accountID, userID string) (*docusign.ESignUserResult, error)
	ListUsers(ctx context.Context, accountID string, f docusign.ESignUserFilter) (*docusign.ESignUserList, error)
	CreateUsers(ctx context.Context, accountID string, users []docusign.ESignUser) (*docusign.ESignNewUsers, error)
	UpdateUser(ctx context.Context, accountID, userID string, u docusign.ESignUser) (*docusign.ESignUserResult, error)
	CloseUsers(ctx context.Context, accountID string, userIDs []string) (*docusign.ESignUsersResponse, error)
	AddGroupUsers(ctx context.Context, accountID, groupID string, userIDs []string) (*docusign.ESignUsersResponse, error)
	RemoveGroupUsers(ctx context.Context, accountID, groupID string, userIDs []string) (*docusign.ESignUsersResponse, error)
	ResolvePermissionProfile(ctx context.Context, accountID string, ref docusign.Ref) (docusign.ESignPermissionProfile, error)
	ResolveGroups(ctx context.Context, accountID string, refs []docusign.Ref) ([]docusign.ESignGroup, error)
}

var _ ESignatureAPI = (*docusign.ESignatureAPI)(nil)

// eSignature error codes the directory branches on. USER_NOT_FOUND is not
// in DocuSign's documentation ([unverified] spelling); the simulator uses it
// for a user id that is not a member of the account.
var errESignUserNotFound = &docusign.APIError{ErrorCode: "USER_NOT_FOUND"}

const (
	esignEveryoneGroup = "everyoneGroup"
	esignStatusActive  = "Active"
)

// esignDirectory provisions through the eSignature Users API, account by
// account, each call routed to the account's environment: Users:list by
// email with additional_info (or Users:get by the identity map's user id)
// finds a user; Users:create adds one per account (with profile and
// groups); Users:update changes names, job title, company, profile and
// email; PUT/DELETE groups/{groupId}/users change group membership;
// Users:delete closes. A closed user is reopened by Users:update with
// userStatus "Active" (the simulator's documented assumption; DocuSign does
// not document reactivation through the API).
//
// Names and email are user-level: they are sent with the first account's
// update only. The employee's language is not sent (the locale setting only
// takes DocuSign's own locale codes).
type esignDirectory struct {
	api ESignatureAPI
}

// NewESignatureDirectory returns the eSignature directory over api (usually
// (*docusign.Client).ESignature()).
func NewESignatureDirectory(api ESignatureAPI) Directory {
	return &esignDirectory{api: api}
}

func (d *esignDirectory) Surface() Surface { return SurfaceESignature }

func (d *esignDirectory) Resolve(ctx context.Context, accounts []Membership) ([]DesiredMembership, error) {
	out := make([]DesiredMembership, 0, len(accounts))
	for _, m := range accounts {
		dm := DesiredMembership{AccountID: m.AccountID, Groups: []NamedRef{}}
		if ref, ok := profileRef(m); ok {
			p, err := d.api.ResolvePermissionProfile(ctx, m.AccountID, ref)
			if err != nil {
				return nil, err
			}
			dm.Profile = &NamedRef{ID: p.PermissionProfileID, Name: p.PermissionProfileName}
		}
		groups, err := d.api.ResolveGroups(ctx, m.AccountID, groupRefs(m))
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			if strings.EqualFold(g.GroupType, esignEveryoneGroup) {
				continue
			}
			dm.Groups = appendUnique(dm.Groups, NamedRef{ID: g.GroupID, Name: g.GroupName})
		}
		out = append(out, dm)
	}
	return out, nil
}

// Lookup reads the user account by account: with the identity map's user id
// through Users:get; by email through Users:list (additional_info, for the
// groups) when there is no id or the id is unknown in every account.
func (d *esignDirectory) Lookup(ctx context.Context, q Lookup, accounts []string) (*LiveUser, error) {
	if q.UserID != "" {
		live, err := d.lookupByID(ctx, q.UserID, accounts)
		if err != nil || live != nil {
			return live, err
		}
	}
	email := q.Email
	if email == "" {
		email = q.PriorEmail
	}
	if email == "" {
		return nil, nil
	}
	var live *LiveUser
	for _, acct := range accounts {
		list, err := d.api.ListUsers(ctx, acct, docusign.ESignUserFilter{Email: email, AdditionalInfo: true})
		if err != nil {
			return nil, fmt.Errorf("jobs: esignature look up user in account %s: %w", acct, err)
		}
		u := pickESignUser(list.Users, email, q.UserID)
		if u == nil {
			continue
		}
		live = addESignMembership(live, acct, u)
	}
	return live, nil
}

func (d *esignDirectory) lookupByID(ctx context.Context, userID string, accounts []string) (*LiveUser, error) {
	var live *LiveUser
	for _, acct := range accounts {
		res, err := d.api.GetUser(ctx, acct, userID)
		if err != nil {
			if notAMember(err) {
				continue
			}
			return nil, fmt.Errorf("jobs: esignature get user %s in account %s: %w", userID, acct, err)
		}
		live = addESignMembership(live, acct, &res.ESignUser)
	}
	return live, nil
}

// notAMember reports the replies meaning "this user id has no membership in
// the account".
func notAMember(err error) bool {
	var apiErr *docusign.APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
		return true
	}
	return errors.Is(err, errESignUserNotFound) || errors.Is(err, docusign.ErrUserDoesNotExist) ||
		errors.Is(err, docusign.ErrUserNotInAccount)
}

// pickESignUser chooses among the users listed for an email (older accounts
// can hold several): the identity map's user id, else an open one, else the
// first.
func pickESignUser(users []docusign.ESignUser, email, userID string) *docusign.ESignUser {
	var open, first *docusign.ESignUser
	for i := range users {
		u := &users[i]
		if !strings.EqualFold(strings.TrimSpace(u.Email), strings.TrimSpace(email)) {
			continue
		}
		if userID != "" && strings.EqualFold(u.UserID, userID) {
			return u
		}
		if first == nil {
			first = u
		}
		if open == nil && !strings.EqualFold(u.UserStatus, "Closed") {
			open = u
		}
	}
	if open != nil {
		return open
	}
	return first
}

func addESignMembership(live *LiveUser, acct string, u *docusign.ESignUser) *LiveUser {
	if live == nil {
		live = &LiveUser{ID: u.UserID, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName}
	}
	m := LiveMembership{AccountID: acct, UserID: u.UserID, Status: normalizeStatus(u.UserStatus), Groups: []NamedRef{},
		Profile: NamedRef{ID: u.PermissionProfileID, Name: u.PermissionProfileName}, JobTitle: u.JobTitle,
		Company: u.Company, DetailsKnown: true}
	for _, g := range u.GroupList {
		if strings.EqualFold(g.GroupType, esignEveryoneGroup) {
			m.EveryoneGroupID = g.GroupID
			continue
		}
		m.Groups = append(m.Groups, NamedRef{ID: g.GroupID, Name: g.GroupName})
	}
	live.Memberships = append(live.Memberships, m)
	return live
}

func (d *esignDirectory) Apply(ctx context.Context, live *LiveUser, p Plan) (Applied, error) {
	var res Applied
	if live != nil {
		res.UserID = live.ID
	}
	emailPending, namesPending := p.EmailChange, p.NamesChange
	// Existing memberships first, so that an email change is done before a
	// membership is added by the new email.
	for _, ap := range p.Accounts {
		if ap.Action == ActionAdd || p.CreateUser {
			continue
		}
		m := live.Membership(ap.Desired.AccountID)
		if m == nil {
			continue
		}
		body := docusign.ESignUser{PermissionProfileID: profileID(ap.Profile), JobTitle: ap.JobTitle, Company: ap.Company}
		if ap.Action == ActionReactivate {
			body.UserStatus = esignStatusActive
		}
		userLevel := false
		if emailPending {
			body.Email, userLevel = p.Email, true
		}
		if namesPending {
			body.FirstName, body.LastName, body.UserName, userLevel = p.Names.FirstName, p.Names.LastName, p.Names.UserName(), true
		}
		if esignUpdateNeeded(body) {
			if _, err := d.api.UpdateUser(ctx, m.AccountID, m.UserID, body); err != nil {
				return res, fmt.Errorf("jobs: esignature update user %s in account %s: %w", m.UserID, m.AccountID, err)
			}
			if userLevel {
				res.EmailChanged = res.EmailChanged || emailPending
				res.NamesChanged = res.NamesChanged || namesPending
				emailPending, namesPending = false, false
			}
		}
		for _, g := range ap.AddGroups {
			if _, err := d.api.AddGroupUsers(ctx, m.AccountID, g.ID, []string{m.UserID}); err != nil {
				return res, fmt.Errorf("jobs: esignature add user %s to group %s in account %s: %w", m.UserID, g.ID, m.AccountID, err)
			}
		}
		for _, g := range ap.RemoveGroups {
			if _, err := d.api.RemoveGroupUsers(ctx, m.AccountID, g.ID, []string{m.UserID}); err != nil {
				return res, fmt.Errorf("jobs: esignature remove user %s from group %s in account %s: %w", m.UserID, g.ID, m.AccountID, err)
			}
		}
		switch ap.Action {
		case ActionReactivate:
			res.Reactivated = append(res.Reactivated, m.AccountID)
		case ActionUpdate:
			res.Updated = append(res.Updated, m.AccountID)
		}
	}
	if emailPending || namesPending {
		// No existing membership carried the user-level change; every
		// membership is added below with the desired email and names.
		res.EmailChanged, res.NamesChanged = emailPending, namesPending
	}
	for _, ap := range p.Accounts {
		if ap.Action != ActionAdd {
			continue
		}
		id, err := d.create(ctx, p, ap.Desired)
		if err != nil {
			return res, err
		}
		if res.UserID == "" {
			res.UserID = id
		}
		if id != res.UserID {
			if res.AccountUserIDs == nil {
				res.AccountUserIDs = map[string]string{}
			}
			res.AccountUserIDs[strings.ToLower(ap.Desired.AccountID)] = id
		}
		res.Added = append(res.Added, ap.Desired.AccountID)
	}
	res.Created = p.CreateUser && len(res.Added) > 0
	return res, nil
}

func (d *esignDirectory) ApplySettings(ctx context.Context, accountID, userID string, settings map[string]string) error {
	if _, err := d.api.UpdateUser(ctx, accountID, userID, docusign.ESignUser{UserSettings: settings}); err != nil {
		return fmt.Errorf("jobs: esignature set user settings of %s in account %s: %w", userID, accountID, err)
	}
	return nil
}

// esignUpdateNeeded reports whether an update body sets any field.
func esignUpdateNeeded(u docusign.ESignUser) bool {
	return u.PermissionProfileID != "" || u.JobTitle != "" || u.Company != "" || u.UserStatus != "" || u.Email != "" ||
		u.FirstName != "" || u.LastName != "" || u.UserName != ""
}

func profileID(r *NamedRef) string {
	if r == nil {
		return ""
	}
	return r.ID
}

// create adds the user to one account with the complete membership.
func (d *esignDirectory) create(ctx context.Context, p Plan, dm DesiredMembership) (string, error) {
	u := docusign.ESignUser{UserName: p.Names.UserName(), Email: p.Email, FirstName: p.Names.FirstName,
		LastName: p.Names.LastName, JobTitle: dm.JobTitle, Company: dm.Company, PermissionProfileID: profileID(dm.Profile)}
	for _, g := range dm.Groups {
		u.GroupList = append(u.GroupList, docusign.ESignGroup{GroupID: g.ID})
	}
	resp, err := d.api.CreateUsers(ctx, dm.AccountID, []docusign.ESignUser{u})
	if err != nil {
		if errors.Is(err, docusign.ErrUserAlreadyExists) {
			return "", fmt.Errorf("jobs: esignature create user in account %s: %w: %w", dm.AccountID, ErrAlreadyExists, err)
		}
		return "", fmt.Errorf("jobs: esignature create user in account %s: %w", dm.AccountID, err)
	}
	if len(resp.NewUsers) == 0 {
		return "", fmt.Errorf("jobs: esignature create user in account %s: empty reply", dm.AccountID)
	}
	return resp.NewUsers[0].UserID, nil
}

func (d *esignDirectory) Close(ctx context.Context, live *LiveUser, accounts []string) ([]string, error) {
	var closed []string
	for _, acct := range accounts {
		m := live.Membership(acct)
		if m == nil || m.Status == StatusClosed {
			continue
		}
		if _, err := d.api.CloseUsers(ctx, m.AccountID, []string{m.UserID}); err != nil {
			if notAMember(err) {
				continue // gone meanwhile: as good as closed
			}
			return closed, fmt.Errorf("jobs: esignature close user %s in account %s: %w", m.UserID, m.AccountID, err)
		}
		closed = append(closed, m.AccountID)
	}
	return closed, nil
}
