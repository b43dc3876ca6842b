package docusign

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// AdminAPI is the Admin API surface: organization-level users and their account memberships. Paths are
// /v2/organizations/{organizationId}/... below Config.AdminBaseURL. Admin ids of permission profiles and groups
// are int64 and differ from eSignature ids. Every call spends the Admin budget account's rate-limit budget.
type AdminAPI struct {
	c *Client
}

// Organization is one organization of List organizations (OrganizationResponse).
type Organization struct {
	ID                         string                `json:"id"`
	Name                       string                `json:"name"`
	Description                string                `json:"description,omitempty"`
	DefaultAccountID           string                `json:"default_account_id"`
	DefaultPermissionProfileID int64                 `json:"default_permission_profile_id"`
	Accounts                   []OrganizationAccount `json:"accounts"`
}

// OrganizationAccount is an account of an organization (OrganizationAccountResponse).
type OrganizationAccount struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	ExternalAccountID int64  `json:"external_account_id"`
	SiteID            int    `json:"site_id"`
}

// OrganizationList is the reply of ListOrganizations.
type OrganizationList struct {
	Organizations []Organization `json:"organizations"`
	Reply         Reply          `json:"-"`
}

// AdminPermissionProfile is an account's permission profile in the Admin API (PermissionProfileResponse).
type AdminPermissionProfile struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

func (p AdminPermissionProfile) refID() string   { return strconv.FormatInt(p.ID, 10) }
func (p AdminPermissionProfile) refName() string { return p.Name }

// AdminGroup is an account's group in the Admin API (MemberGroupResponse). Type is one of invalid, admin_group,
// everyone_group, custom_group.
type AdminGroup struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

func (g AdminGroup) refID() string   { return strconv.FormatInt(g.ID, 10) }
func (g AdminGroup) refName() string { return g.Name }

// AdminIDRef points at a permission profile or group by its Admin API id (PermissionProfileRequest, GroupRequest).
type AdminIDRef struct {
	ID int64 `json:"id"`
}

// AdminDSGroup is a DS group membership listed with a user (DSGroupResponse, subset).
type AdminDSGroup struct {
	DSGroupID string `json:"ds_group_id"`
	AccountID string `json:"account_id"`
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name"`
}

// AdminUser is one row of List users (OrganizationUserResponse): a user and, with an account filter, its
// membership in that account.
type AdminUser struct {
	ID                  string         `json:"id"`
	UserName            string         `json:"user_name"`
	FirstName           string         `json:"first_name"`
	LastName            string         `json:"last_name"`
	UserStatus          string         `json:"user_status"`
	MembershipStatus    string         `json:"membership_status"`
	Email               string         `json:"email"`
	CreatedOn           string         `json:"created_on,omitempty"`
	ClosedOn            string         `json:"closed_on,omitempty"`
	MembershipCreatedOn string         `json:"membership_created_on,omitempty"`
	MembershipClosedOn  string         `json:"membership_closed_on,omitempty"`
	DSGroups            []AdminDSGroup `json:"ds_groups,omitempty"`
	MembershipID        string         `json:"membership_id"`
	LicenseType         string         `json:"license_type,omitempty"`
}

// AdminUserList is the reply of ListUsers, all pages together.
type AdminUserList struct {
	Users []AdminUser
	// Reply is the last page's reply.
	Reply Reply
}

// AdminUserFilter selects users for ListUsers. At least one of Email, AccountID and ReservedDomainID is required.
type AdminUserFilter struct {
	// Email is an exact email address.
	Email string
	// AccountID limits the listing to one account's members.
	AccountID string
	// ReservedDomainID limits the listing to a reserved domain.
	ReservedDomainID string
	// Status is the user status: active, created or closed.
	Status string
	// MembershipStatus is activation_required, activation_sent, active, closed or disabled.
	MembershipStatus string
	// IncludeDSGroups asks for each user's DS groups.
	IncludeDSGroups bool
	// Take is the page size; 0 means 100.
	Take int
}

// Membership is one account membership of a user profile (MembershipResponse).
type Membership struct {
	// ID is the membership id, needed to reactivate it (not the account id).
	ID                string `json:"id"`
	Email             string `json:"email"`
	AccountID         string `json:"account_id"`
	ExternalAccountID string `json:"external_account_id,omitempty"`
	AccountName       string `json:"account_name"`
	IsExternalAccount bool   `json:"is_external_account,omitempty"`
	// Status is active, activation_sent, activation_required, closed or disabled.
	Status            string                  `json:"status"`
	PermissionProfile *AdminPermissionProfile `json:"permission_profile,omitempty"`
	CreatedOn         string                  `json:"created_on,omitempty"`
	// ClosedOn appears in DocuSign's examples for closed memberships, though not in the schema.
	ClosedOn    string       `json:"closed_on,omitempty"`
	Groups      []AdminGroup `json:"groups,omitempty"`
	IsAdmin     bool         `json:"is_admin,omitempty"`
	LicenseType string       `json:"license_type,omitempty"`
}

// AdminUserIdentity is an SSO identity of a user (UserIdentityResponse, subset).
type AdminUserIdentity struct {
	ID          string `json:"id"`
	ProviderID  string `json:"provider_id"`
	UserID      string `json:"user_id"`
	ImmutableID string `json:"immutable_id,omitempty"`
}

// AdminUserProfile is a user with all its memberships across the organization's accounts
// (UserDrilldownResponse). Keep SiteID: updates need it.
type AdminUserProfile struct {
	ID                  string              `json:"id"`
	SiteID              int                 `json:"site_id"`
	SiteName            string              `json:"site_name,omitempty"`
	UserName            string              `json:"user_name"`
	FirstName           string              `json:"first_name"`
	LastName            string              `json:"last_name"`
	UserStatus          string              `json:"user_status"`
	DefaultAccountID    string              `json:"default_account_id"`
	DefaultAccountName  string              `json:"default_account_name,omitempty"`
	LanguageCulture     string              `json:"language_culture,omitempty"`
	FederatedStatus     string              `json:"federated_status,omitempty"`
	IsOrganizationAdmin bool                `json:"is_organization_admin"`
	CreatedOn           string              `json:"created_on,omitempty"`
	LastLogin           string              `json:"last_login,omitempty"`
	Memberships         []Membership        `json:"memberships"`
	Identities          []AdminUserIdentity `json:"identities,omitempty"`
}

// Membership returns the membership in the given account (case-insensitive id), or nil.
func (p *AdminUserProfile) Membership(accountID string) *Membership {
	for i := range p.Memberships {
		if strings.EqualFold(p.Memberships[i].AccountID, accountID) {
			return &p.Memberships[i]
		}
	}
	return nil
}

// AdminUserProfiles is the reply of GetUserProfiles: every user with the email, with memberships.
type AdminUserProfiles struct {
	Users []AdminUserProfile `json:"users"`
	Reply Reply              `json:"-"`
}

// NewUserRequest creates a user with memberships in one or more accounts (NewUserRequest). Email and Accounts
// are required. AutoActivateMemberships skips the activation email only for the organization's claimed domains.
type NewUserRequest struct {
	UserName                string           `json:"user_name,omitempty"`
	FirstName               string           `json:"first_name,omitempty"`
	LastName                string           `json:"last_name,omitempty"`
	Email                   string           `json:"email"`
	DefaultAccountID        string           `json:"default_account_id,omitempty"`
	LanguageCulture         string           `json:"language_culture,omitempty"`
	SelectedLanguages       string           `json:"selected_languages,omitempty"`
	AccessCode              string           `json:"access_code,omitempty"`
	FederatedStatus         string           `json:"federated_status,omitempty"`
	AutoActivateMemberships bool             `json:"auto_activate_memberships,omitempty"`
	Accounts                []NewUserAccount `json:"accounts"`
}

// NewUserAccount is one membership of a NewUserRequest (NewUserRequestAccountProperties); ID is required.
type NewUserAccount struct {
	ID                string       `json:"id"`
	PermissionProfile *AdminIDRef  `json:"permission_profile,omitempty"`
	Groups            []AdminIDRef `json:"groups,omitempty"`
	CompanyName       string       `json:"company_name,omitempty"`
	JobTitle          string       `json:"job_title,omitempty"`
}

// NewUserResponse is the reply of CreateUser and AddUserToAccount (NewUserResponse).
type NewUserResponse struct {
	ID              string                 `json:"id"`
	SiteID          int                    `json:"site_id"`
	UserName        string                 `json:"user_name"`
	FirstName       string                 `json:"first_name"`
	LastName        string                 `json:"last_name"`
	Email           string                 `json:"email"`
	LanguageCulture string                 `json:"language_culture,omitempty"`
	FederatedStatus string                 `json:"federated_status,omitempty"`
	Accounts        []NewUserAccountResult `json:"accounts"`
	Reply           Reply                  `json:"-"`
}

// NewUserAccountResult is one membership of a NewUserResponse (NewUserResponseAccountProperties).
type NewUserAccountResult struct {
	ID                string                  `json:"id"`
	SiteID            int                     `json:"site_id"`
	PermissionProfile *AdminPermissionProfile `json:"permission_profile,omitempty"`
	Groups            []AdminGroup            `json:"groups,omitempty"`
	CompanyName       string                  `json:"company_name,omitempty"`
	JobTitle          string                  `json:"job_title,omitempty"`
	LicenseType       string                  `json:"license_type,omitempty"`
	LicenseStatus     string                  `json:"license_status,omitempty"`
}

// NewAccountUserRequest adds a user to one account (NewAccountUserRequest); Email is required.
type NewAccountUserRequest struct {
	PermissionProfile       *AdminIDRef  `json:"permission_profile,omitempty"`
	Groups                  []AdminIDRef `json:"groups,omitempty"`
	UserName                string       `json:"user_name,omitempty"`
	FirstName               string       `json:"first_name,omitempty"`
	LastName                string       `json:"last_name,omitempty"`
	Email                   string       `json:"email"`
	DefaultAccountID        string       `json:"default_account_id,omitempty"`
	LanguageCulture         string       `json:"language_culture,omitempty"`
	SelectedLanguages       string       `json:"selected_languages,omitempty"`
	AccessCode              string       `json:"access_code,omitempty"`
	FederatedStatus         string       `json:"federated_status,omitempty"`
	AutoActivateMemberships bool         `json:"auto_activate_memberships,omitempty"`
	LicenseType             string       `json:"license_type,omitempty"`
}

// UpdateUsersRequest updates users' profiles and memberships (UpdateUsersRequest).
type UpdateUsersRequest struct {
	Users []UpdateUserRequest `json:"users"`
	// AutoActivateMembershipsOnReactivation is undocumented; the name suggests rehire support.
	AutoActivateMembershipsOnReactivation bool `json:"auto_activate_memberships_on_reactivation,omitempty"`
}

// UpdateUserRequest is one user of an UpdateUsersRequest (UpdateUserRequest); ID and SiteID are required.
type UpdateUserRequest struct {
	ID                string                    `json:"id"`
	SiteID            int                       `json:"site_id"`
	UserName          string                    `json:"user_name,omitempty"`
	FirstName         string                    `json:"first_name,omitempty"`
	LastName          string                    `json:"last_name,omitempty"`
	Email             string                    `json:"email,omitempty"`
	DefaultAccountID  string                    `json:"default_account_id,omitempty"`
	LanguageCulture   string                    `json:"language_culture,omitempty"`
	SelectedLanguages string                    `json:"selected_languages,omitempty"`
	FederatedStatus   string                    `json:"federated_status,omitempty"`
	Memberships       []UpdateMembershipRequest `json:"memberships,omitempty"`
}

// UpdateMembershipRequest changes one membership (UpdateMembershipRequest); AccountID is required. Empty fields
// are not sent (they stay unchanged). Whether Groups replaces or adds to the membership's groups is undocumented.
type UpdateMembershipRequest struct {
	AccountID         string       `json:"account_id"`
	PermissionProfile *AdminIDRef  `json:"permission_profile,omitempty"`
	Groups            []AdminIDRef `json:"groups,omitempty"`
	CompanyName       string       `json:"company_name,omitempty"`
	JobTitle          string       `json:"job_title,omitempty"`
	SendActivation    *bool        `json:"send_activation,omitempty"`
	AccessCode        string       `json:"access_code,omitempty"`
	LicenseType       string       `json:"license_type,omitempty"`
}

// AdminErrorDetails is the Admin API's per-item error (ErrorDetails).
type AdminErrorDetails struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// UserUpdateResult is one user of a UsersUpdateResponse.
type UserUpdateResult struct {
	ID           string             `json:"id"`
	SiteID       int                `json:"site_id"`
	Email        string             `json:"email,omitempty"`
	ErrorDetails *AdminErrorDetails `json:"error_details,omitempty"`
}

// UsersUpdateResponse is the reply of UpdateUserProfiles and UpdateEmailAddresses. A 200 can report failures:
// check Success and each user's ErrorDetails (the methods return a *PartialError when either says so).
type UsersUpdateResponse struct {
	Success bool               `json:"success"`
	Users   []UserUpdateResult `json:"users"`
	Reply   Reply              `json:"-"`
}

// EmailAddressUpdate changes one user's email (UpdateUserEmailRequest); all fields are required.
type EmailAddressUpdate struct {
	ID     string `json:"id"`
	SiteID int    `json:"site_id"`
	Email  string `json:"email"`
}

// ClosedMembership is one account of a CloseMembershipsResponse; DocuSign lists the ones not closed.
type ClosedMembership struct {
	ID           string             `json:"id"`
	ErrorDetails *AdminErrorDetails `json:"error_details,omitempty"`
}

// CloseMembershipsResponse is the reply of CloseMemberships (DeleteMembershipsResponse).
type CloseMembershipsResponse struct {
	Success  bool               `json:"success"`
	Accounts []ClosedMembership `json:"accounts"`
	Reply    Reply              `json:"-"`
}

// ReactivateResponse is the reply of ReactivateMembership (UpdateResponse).
type ReactivateResponse struct {
	Status string `json:"status"`
	Reply  Reply  `json:"-"`
}

// AdminPermissionProfileList is the reply of ListPermissionProfiles.
type AdminPermissionProfileList struct {
	Permissions []AdminPermissionProfile `json:"permissions"`
	Reply       Reply                    `json:"-"`
}

// AdminGroupList is the reply of ListGroups, all pages together.
type AdminGroupList struct {
	Groups []AdminGroup
	// Reply is the last page's reply.
	Reply Reply
}

// orgPath is /v2/organizations/{organizationId} followed by the escaped segments.
func (a *AdminAPI) orgPath(segments ...string) string {
	var b strings.Builder
	b.WriteString("/v2/organizations/")
	b.WriteString(url.PathEscape(a.c.cfg.OrganizationID))
	for _, s := range segments {
		b.WriteString("/")
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// ListOrganizations lists the impersonated user's organizations (GET /v2/organizations,
// Organization_Organization_GetListV2). It needs the Admin API configured (OrganizationID).
func (a *AdminAPI) ListOrganizations(ctx context.Context) (*OrganizationList, error) {
	return a.listOrganizations(ctx, a.c.discoveryBudget())
}

func (a *AdminAPI) listOrganizations(ctx context.Context, budget string) (*OrganizationList, error) {
	var out OrganizationList
	reply, err := a.c.do(ctx, request{api: APIAdmin, op: "Organization_Organization_GetListV2", method: http.MethodGet,
		budget: budget, path: "/v2/organizations"}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	return &out, nil
}

// ListUsers lists users matching f, following every page (GET …/users, OrganizationUser_OrganizationUsers_GetV2).
func (a *AdminAPI) ListUsers(ctx context.Context, f AdminUserFilter) (*AdminUserList, error) {
	const op = "OrganizationUser_OrganizationUsers_GetV2"
	if f.Email == "" && f.AccountID == "" && f.ReservedDomainID == "" {
		return nil, fmt.Errorf("docusign: admin %s: set Email, AccountID or ReservedDomainID", op)
	}
	take := f.Take
	if take <= 0 {
		take = 100
	}
	q := url.Values{"start": {"0"}, "take": {strconv.Itoa(take)}}
	setIf(q, "email", f.Email)
	setIf(q, "account_id", f.AccountID)
	setIf(q, "organization_reserved_domain_id", f.ReservedDomainID)
	setIf(q, "status", f.Status)
	setIf(q, "membership_status", f.MembershipStatus)
	if f.IncludeDSGroups {
		q.Set("include_ds_groups", "true")
	}
	var all AdminUserList
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, errTooManyPages(APIAdmin, op)
		}
		var out struct {
			Users  []AdminUser  `json:"users"`
			Paging *adminPaging `json:"paging"`
		}
		reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodGet, path: a.orgPath("users"), query: q}, &out)
		if err != nil {
			return nil, err
		}
		all.Users = append(all.Users, out.Users...)
		all.Reply = reply
		next, ok := nextAdminQuery(q, out.Paging, len(out.Users))
		if !ok {
			return &all, nil
		}
		q = next
	}
}

// GetUserProfiles returns every user with the email and all their memberships (GET …/users/profile?email=,
// OrganizationUser_OrganizationUsers_GetProfileV2).
func (a *AdminAPI) GetUserProfiles(ctx context.Context, email string) (*AdminUserProfiles, error) {
	const op = "OrganizationUser_OrganizationUsers_GetProfileV2"
	if email == "" {
		return nil, fmt.Errorf("docusign: admin %s: email is empty", op)
	}
	var out AdminUserProfiles
	reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodGet, path: a.orgPath("users", "profile"),
		query: url.Values{"email": {email}}}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	return &out, nil
}

// CreateUser creates a user with memberships in req.Accounts in one call (POST …/users,
// OrganizationUser_Users_AddV2).
func (a *AdminAPI) CreateUser(ctx context.Context, req NewUserRequest) (*NewUserResponse, error) {
	const op = "OrganizationUser_Users_AddV2"
	if req.Email == "" || len(req.Accounts) == 0 {
		return nil, fmt.Errorf("docusign: admin %s: Email and Accounts are required", op)
	}
	var out NewUserResponse
	reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodPost, path: a.orgPath("users"), body: req}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	return &out, nil
}

// AddUserToAccount adds a user (new or existing, by email) to one account (POST …/accounts/{accountId}/users,
// OrganizationUser_OrganizationUsers_PostAccountUsersV2).
func (a *AdminAPI) AddUserToAccount(ctx context.Context, accountID string, req NewAccountUserRequest) (*NewUserResponse, error) {
	const op = "OrganizationUser_OrganizationUsers_PostAccountUsersV2"
	if accountID == "" || req.Email == "" {
		return nil, fmt.Errorf("docusign: admin %s: account id and Email are required", op)
	}
	var out NewUserResponse
	reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodPost,
		path: a.orgPath("accounts", accountID, "users"), body: req}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	return &out, nil
}

// UpdateUserProfiles updates users' names and memberships (POST …/users/profiles, User_Users_UpdateV2). A 200
// with "success": false or per-user error_details returns the result together with a *PartialError.
func (a *AdminAPI) UpdateUserProfiles(ctx context.Context, req UpdateUsersRequest) (*UsersUpdateResponse, error) {
	const op = "User_Users_UpdateV2"
	if len(req.Users) == 0 {
		return nil, fmt.Errorf("docusign: admin %s: no users", op)
	}
	return a.updateUsers(ctx, op, a.orgPath("users", "profiles"), req)
}

// UpdateEmailAddresses changes users' email addresses (POST …/users/email_addresses,
// User_Users_UpdateEmailAddressesV2). Per-user failures come back as a *PartialError with the result.
func (a *AdminAPI) UpdateEmailAddresses(ctx context.Context, users []EmailAddressUpdate) (*UsersUpdateResponse, error) {
	const op = "User_Users_UpdateEmailAddressesV2"
	if len(users) == 0 {
		return nil, fmt.Errorf("docusign: admin %s: no users", op)
	}
	body := struct {
		Users []EmailAddressUpdate `json:"users"`
	}{Users: users}
	return a.updateUsers(ctx, op, a.orgPath("users", "email_addresses"), body)
}

func (a *AdminAPI) updateUsers(ctx context.Context, op, path string, body any) (*UsersUpdateResponse, error) {
	var out UsersUpdateResponse
	reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodPost, path: path, body: body}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	items := make([]*ItemError, 0)
	for i, u := range out.Users {
		if ie := adminItemError(i, u.ID, u.ErrorDetails); ie != nil {
			items = append(items, ie)
		}
	}
	return &out, adminPartial(op, reply, out.Success, len(out.Users), items)
}

// CloseMemberships closes the user's memberships in the given accounts (DELETE …/users/{userId}/accounts with a
// JSON body, User_Users_CloseMembershipsV2). Accounts DocuSign did not close come back as a *PartialError with the
// result.
func (a *AdminAPI) CloseMemberships(ctx context.Context, userID string, accountIDs []string) (*CloseMembershipsResponse, error) {
	const op = "User_Users_CloseMembershipsV2"
	if userID == "" || len(accountIDs) == 0 {
		return nil, fmt.Errorf("docusign: admin %s: user id and accounts are required", op)
	}
	type accountRef struct {
		ID string `json:"id"`
	}
	body := struct {
		Accounts []accountRef `json:"accounts"`
	}{}
	for _, id := range accountIDs {
		body.Accounts = append(body.Accounts, accountRef{ID: id})
	}
	var out CloseMembershipsResponse
	reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodDelete,
		path: a.orgPath("users", userID, "accounts"), body: body}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	items := make([]*ItemError, 0)
	for i, acct := range out.Accounts {
		if ie := adminItemError(i, acct.ID, acct.ErrorDetails); ie != nil {
			items = append(items, ie)
		}
	}
	return &out, adminPartial(op, reply, out.Success, len(accountIDs), items)
}

// ReactivateMembership reactivates a closed membership by its membership id (not the account id)
// (POST …/users/{userId}/memberships/{membershipId}, OrganizationUser_Users_ActivateMembershipV2).
func (a *AdminAPI) ReactivateMembership(ctx context.Context, userID, membershipID string, siteID int) (*ReactivateResponse, error) {
	const op = "OrganizationUser_Users_ActivateMembershipV2"
	if userID == "" || membershipID == "" {
		return nil, fmt.Errorf("docusign: admin %s: user id and membership id are required", op)
	}
	body := struct {
		SiteID int `json:"site_id"`
	}{SiteID: siteID}
	var out ReactivateResponse
	reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodPost,
		path: a.orgPath("users", userID, "memberships", membershipID), body: body}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	return &out, nil
}

// ListPermissionProfiles lists an account's permission profiles with their Admin API ids
// (GET …/accounts/{accountId}/permissions, Account_Accounts_GetPermissionProfilesV2). Prefer
// ResolvePermissionProfile, which caches.
func (a *AdminAPI) ListPermissionProfiles(ctx context.Context, accountID string) (*AdminPermissionProfileList, error) {
	const op = "Account_Accounts_GetPermissionProfilesV2"
	if accountID == "" {
		return nil, fmt.Errorf("docusign: admin %s: account id is empty", op)
	}
	var out AdminPermissionProfileList
	reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodGet,
		path: a.orgPath("accounts", accountID, "permissions")}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	return &out, nil
}

// ListGroups lists an account's groups with their Admin API ids, following every page
// (GET …/accounts/{accountId}/groups, Account_Accounts_GetGroupsV2). Prefer ResolveGroups, which caches.
func (a *AdminAPI) ListGroups(ctx context.Context, accountID string) (*AdminGroupList, error) {
	const op = "Account_Accounts_GetGroupsV2"
	if accountID == "" {
		return nil, fmt.Errorf("docusign: admin %s: account id is empty", op)
	}
	q := url.Values{"start": {"0"}, "take": {"100"}}
	var all AdminGroupList
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, errTooManyPages(APIAdmin, op)
		}
		var out struct {
			Groups []AdminGroup `json:"groups"`
			Paging *adminPaging `json:"paging"`
		}
		reply, err := a.c.do(ctx, request{api: APIAdmin, op: op, method: http.MethodGet,
			path: a.orgPath("accounts", accountID, "groups"), query: q}, &out)
		if err != nil {
			return nil, err
		}
		all.Groups = append(all.Groups, out.Groups...)
		all.Reply = reply
		next, ok := nextAdminQuery(q, out.Paging, len(out.Groups))
		if !ok {
			return &all, nil
		}
		q = next
	}
}

// ResolvePermissionProfile finds an account's permission profile by name or Admin id through a per-account cache,
// refreshed once on a miss. An unknown profile is an *UnknownRefError (errors.Is ErrUnknownPermissionProfile).
func (a *AdminAPI) ResolvePermissionProfile(ctx context.Context, accountID string, ref Ref) (AdminPermissionProfile, error) {
	got, err := resolveRefs(ctx, &a.c.adminProfiles, APIAdmin, KindPermissionProfile, accountID, []Ref{ref},
		checkAdminID, func(ctx context.Context) ([]AdminPermissionProfile, error) {
			list, err := a.ListPermissionProfiles(ctx, accountID)
			if err != nil {
				return nil, err
			}
			return list.Permissions, nil
		})
	if err != nil {
		return AdminPermissionProfile{}, err
	}
	return got[0], nil
}

// ResolveGroups finds an account's groups by name or Admin id through a per-account cache, refreshed at most once
// per call on a miss. The first unknown group is an *UnknownRefError (errors.Is ErrUnknownGroup).
func (a *AdminAPI) ResolveGroups(ctx context.Context, accountID string, refs []Ref) ([]AdminGroup, error) {
	return resolveRefs(ctx, &a.c.adminGroups, APIAdmin, KindGroup, accountID, refs, checkAdminID,
		func(ctx context.Context) ([]AdminGroup, error) {
			list, err := a.ListGroups(ctx, accountID)
			if err != nil {
				return nil, err
			}
			return list.Groups, nil
		})
}

func checkAdminID(id string) error {
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return errors.New("Admin API ids are integers")
	}
	return nil
}

func adminItemError(index int, id string, d *AdminErrorDetails) *ItemError {
	if d == nil || (d.Error == "" && d.ErrorDescription == "") {
		return nil
	}
	return &ItemError{Index: index, ID: id, ErrorCode: d.Error, Message: truncate(d.ErrorDescription, maxMessageLen)}
}

// adminPartial returns a *PartialError when an Admin reply reports failed items or "success": false.
func adminPartial(op string, reply Reply, success bool, total int, items []*ItemError) error {
	if success && len(items) == 0 {
		return nil
	}
	if len(items) == 0 {
		items = append(items, &ItemError{Index: -1, ErrorCode: CodeUnsuccessful,
			Message: "the reply says success=false without naming a failed item"})
	}
	return &PartialError{API: APIAdmin, Operation: op, StatusCode: reply.StatusCode, TraceToken: reply.TraceToken,
		Total: total, Items: items}
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}
