package docusignsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Admin API wire types (admin.rest.swagger-v2.1.json definitions; /v2 ids are int64).

type adminPaging struct {
	ResultSetSize          int    `json:"result_set_size"`
	ResultSetStartPosition int    `json:"result_set_start_position"`
	ResultSetEndPosition   int    `json:"result_set_end_position"`
	TotalSetSize           int    `json:"total_set_size"`
	Next                   string `json:"next,omitempty"`
	Previous               string `json:"previous,omitempty"`
}

type organizationsResponse struct {
	Organizations []organizationResponse `json:"organizations"`
}

type organizationResponse struct {
	ID               string                        `json:"id"`
	Name             string                        `json:"name,omitempty"`
	DefaultAccountID string                        `json:"default_account_id,omitempty"`
	CreatedOn        string                        `json:"created_on,omitempty"`
	Accounts         []organizationAccountResponse `json:"accounts"`
	ReservedDomains  []domainResponse              `json:"reserved_domains"`
}

type organizationAccountResponse struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	ExternalAccountID int64  `json:"external_account_id,omitempty"`
	SiteID            int32  `json:"site_id"`
}

type domainResponse struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	HostName string `json:"host_name"`
}

type organizationUsersResponse struct {
	Users  []organizationUserResponse `json:"users"`
	Paging adminPaging                `json:"paging"`
}

type organizationUserResponse struct {
	ID                  string            `json:"id"`
	UserName            string            `json:"user_name"`
	FirstName           string            `json:"first_name"`
	LastName            string            `json:"last_name"`
	UserStatus          string            `json:"user_status"`
	MembershipStatus    string            `json:"membership_status,omitempty"`
	Email               string            `json:"email"`
	CreatedOn           string            `json:"created_on"`
	MembershipCreatedOn string            `json:"membership_created_on,omitempty"`
	MembershipClosedOn  string            `json:"membership_closed_on,omitempty"`
	DSGroups            []dsGroupResponse `json:"ds_groups,omitempty"`
	MembershipID        string            `json:"membership_id,omitempty"`
}

type dsGroupResponse struct {
	DSGroupID         string `json:"ds_group_id"`
	AccountID         string `json:"account_id"`
	SourceProductName string `json:"source_product_name"`
	GroupID           string `json:"group_id"`
	GroupName         string `json:"group_name"`
	IsAdmin           bool   `json:"is_admin"`
	UserCount         int32  `json:"user_count"`
	ExternalAccountID int64  `json:"external_account_id,omitempty"`
	AccountName       string `json:"account_name"`
}

type usersDrilldownResponse struct {
	Users []userDrilldownResponse `json:"users"`
}

type userDrilldownResponse struct {
	ID                  string               `json:"id"`
	SiteID              int32                `json:"site_id"`
	UserName            string               `json:"user_name"`
	FirstName           string               `json:"first_name"`
	LastName            string               `json:"last_name"`
	UserStatus          string               `json:"user_status"`
	DefaultAccountID    string               `json:"default_account_id,omitempty"`
	DefaultAccountName  string               `json:"default_account_name,omitempty"`
	LanguageCulture     string               `json:"language_culture,omitempty"`
	IsOrganizationAdmin bool                 `json:"is_organization_admin"`
	CreatedOn           string               `json:"created_on"`
	Memberships         []membershipResponse `json:"memberships"`
}

type membershipResponse struct {
	ID                string                     `json:"id"`
	Email             string                     `json:"email"`
	AccountID         string                     `json:"account_id"`
	ExternalAccountID string                     `json:"external_account_id,omitempty"`
	AccountName       string                     `json:"account_name"`
	IsExternalAccount bool                       `json:"is_external_account"`
	Status            string                     `json:"status"`
	PermissionProfile *permissionProfileResponse `json:"permission_profile,omitempty"`
	CreatedOn         string                     `json:"created_on"`
	Groups            []memberGroupResponse      `json:"groups"`
	IsAdmin           bool                       `json:"is_admin"`
}

type permissionProfileResponse struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type memberGroupResponse struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type permissionProfileRequest struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

type groupRequest struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type newUserRequest struct {
	Accounts                []newUserRequestAccount `json:"accounts"`
	UserName                string                  `json:"user_name"`
	FirstName               string                  `json:"first_name"`
	LastName                string                  `json:"last_name"`
	Email                   string                  `json:"email"`
	DefaultAccountID        string                  `json:"default_account_id"`
	LanguageCulture         string                  `json:"language_culture"`
	AutoActivateMemberships bool                    `json:"auto_activate_memberships"`
}

type newUserRequestAccount struct {
	ID                string                    `json:"id"`
	PermissionProfile *permissionProfileRequest `json:"permission_profile"`
	Groups            []groupRequest            `json:"groups"`
	CompanyName       string                    `json:"company_name"`
	JobTitle          string                    `json:"job_title"`
}

type newAccountUserRequest struct {
	PermissionProfile       *permissionProfileRequest `json:"permission_profile"`
	Groups                  []groupRequest            `json:"groups"`
	UserName                string                    `json:"user_name"`
	FirstName               string                    `json:"first_name"`
	LastName                string                    `json:"last_name"`
	Email                   string                    `json:"email"`
	DefaultAccountID        string                    `json:"default_account_id"`
	LanguageCulture         string                    `json:"language_culture"`
	AutoActivateMemberships bool                      `json:"auto_activate_memberships"`
}

type newUserResponse struct {
	ID              string                   `json:"id"`
	SiteID          int32                    `json:"site_id"`
	UserName        string                   `json:"user_name"`
	FirstName       string                   `json:"first_name"`
	LastName        string                   `json:"last_name"`
	Email           string                   `json:"email"`
	LanguageCulture string                   `json:"language_culture,omitempty"`
	Accounts        []newUserResponseAccount `json:"accounts"`
}

type newUserResponseAccount struct {
	ID                string                     `json:"id"`
	SiteID            int32                      `json:"site_id"`
	PermissionProfile *permissionProfileResponse `json:"permission_profile,omitempty"`
	Groups            []memberGroupResponse      `json:"groups"`
	CompanyName       string                     `json:"company_name,omitempty"`
	JobTitle          string                     `json:"job_title,omitempty"`
}

type updateUsersRequest struct {
	Users                                 []updateUserRequest `json:"users"`
	AutoActivateMembershipsOnReactivation bool                `json:"auto_activate_memberships_on_reactivation"`
}

type updateUserRequest struct {
	ID               string                    `json:"id"`
	SiteID           *int32                    `json:"site_id"`
	UserName         *string                   `json:"user_name"`
	FirstName        *string                   `json:"first_name"`
	LastName         *string                   `json:"last_name"`
	Email            *string                   `json:"email"`
	DefaultAccountID *string                   `json:"default_account_id"`
	LanguageCulture  *string                   `json:"language_culture"`
	Memberships      []updateMembershipRequest `json:"memberships"`
}

type updateMembershipRequest struct {
	AccountID         string                    `json:"account_id"`
	PermissionProfile *permissionProfileRequest `json:"permission_profile"`
	Groups            []groupRequest            `json:"groups"` // nil: unchanged; []: only Everyone
	CompanyName       *string                   `json:"company_name"`
	JobTitle          *string                   `json:"job_title"`
}

type usersUpdateResponse struct {
	Success bool                 `json:"success"`
	Users   []userUpdateResponse `json:"users"`
}

type userUpdateResponse struct {
	ID           string          `json:"id"`
	SiteID       int32           `json:"site_id"`
	Email        string          `json:"email,omitempty"`
	ErrorDetails *adminErrorBody `json:"error_details,omitempty"`
}

type updateUsersEmailRequest struct {
	Users []struct {
		ID     string `json:"id"`
		SiteID *int32 `json:"site_id"`
		Email  string `json:"email"`
	} `json:"users"`
}

type deleteMembershipsRequest struct {
	Accounts []struct {
		ID string `json:"id"`
	} `json:"accounts"`
}

type deleteMembershipsResponse struct {
	Success  bool                       `json:"success"`
	Accounts []deleteMembershipResponse `json:"accounts"`
}

type deleteMembershipResponse struct {
	ID           string          `json:"id"`
	ErrorDetails *adminErrorBody `json:"error_details,omitempty"`
}

type forceActivateMembershipRequest struct {
	SiteID *int32 `json:"site_id"`
}

type updateResponse struct {
	Status string `json:"status"`
}

type permissionsResponse struct {
	Permissions []permissionProfileResponse `json:"permissions"`
}

type memberGroupsResponse struct {
	Groups []memberGroupResponse `json:"groups"`
	Paging adminPaging           `json:"paging"`
}

// adminTime formats Admin API date-times (RFC 3339, UTC, milliseconds).
func adminTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func (s *Server) adminMux() http.Handler {
	mux := http.NewServeMux()
	const org = "/management/v2/organizations/{organizationId}"
	routes := []struct {
		pattern, op, scope string
		h                  handlerFunc
	}{
		{"GET /management/v2/organizations", "Organization_Organization_GetListV2", "organization_read", s.adminListOrganizations},
		{"GET " + org + "/users", "OrganizationUser_OrganizationUsers_GetV2", "user_read", s.adminListUsers},
		{"GET " + org + "/users/profile", "OrganizationUser_OrganizationUsers_GetProfileV2", "user_read", s.adminUserProfile},
		{"POST " + org + "/users", "OrganizationUser_Users_AddV2", "user_write", s.adminCreateUser},
		{"POST " + org + "/accounts/{accountId}/users", "OrganizationUser_OrganizationUsers_PostAccountUsersV2", "user_write", s.adminAddAccountUser},
		{"POST " + org + "/users/profiles", "User_Users_UpdateV2", "user_write", s.adminUpdateUsers},
		{"POST " + org + "/users/email_addresses", "User_Users_UpdateEmailAddressesV2", "user_write", s.adminUpdateEmails},
		{"DELETE " + org + "/users/{userId}/accounts", "User_Users_CloseMembershipsV2", "user_write", s.adminCloseMemberships},
		{"POST " + org + "/users/{userId}/memberships/{membershipId}", "OrganizationUser_Users_ActivateMembershipV2", "user_write", s.adminActivateMembership},
		{"GET " + org + "/accounts/{accountId}/permissions", "Account_Accounts_GetPermissionProfilesV2", "permission_read", s.adminPermissions},
		{"GET " + org + "/accounts/{accountId}/groups", "Account_Accounts_GetGroupsV2", "group_read", s.adminGroups},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, s.handle(kindAdmin, "", rt.op, rt.scope, rt.h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-DocuSign-TraceToken", newUUID())
		writeJSON(w, http.StatusNotFound, adminErrorBody{Error: "not_found", ErrorDescription: "No such Admin API resource: " + r.Method + " " + r.URL.Path})
	})
	// The OpenAPI file's basePath is /Management; DocuSign's pages use /management. Serve both.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/Management/"); ok {
			r.URL.Path = "/management/" + rest
			r.URL.RawPath = ""
		}
		mux.ServeHTTP(w, r)
	})
}

// adminPage reads start/take (defaults 0 and 20; end is honoured only without take).
func adminPage(q url.Values) (start, take int, err error) {
	start, take = 0, 20
	if v := q.Get("start"); v != "" {
		if start, err = strconv.Atoi(v); err != nil || start < 0 {
			return 0, 0, fmt.Errorf("start must be a non-negative integer")
		}
	}
	switch {
	case q.Get("take") != "":
		if take, err = strconv.Atoi(q.Get("take")); err != nil || take < 1 {
			return 0, 0, fmt.Errorf("take must be a positive integer")
		}
	case q.Get("end") != "":
		end, err := strconv.Atoi(q.Get("end"))
		if err != nil || end < start {
			return 0, 0, fmt.Errorf("end must be an integer not below start")
		}
		take = end - start + 1
	}
	return start, take, nil
}

// adminPagingFor builds the paging object; next and previous are absolute URLs.
func adminPagingFor(c *call, start, take, size, total int) adminPaging {
	p := adminPaging{
		ResultSetSize:          size,
		ResultSetStartPosition: start,
		ResultSetEndPosition:   max(start+size-1, 0),
		TotalSetSize:           total,
	}
	link := func(at int) string {
		q := c.r.URL.Query()
		q.Set("start", strconv.Itoa(at))
		q.Set("take", strconv.Itoa(take))
		q.Del("end")
		return "http://" + c.host + c.r.URL.Path + "?" + q.Encode()
	}
	if start+size < total {
		p.Next = link(start + size)
	}
	if start > 0 {
		p.Previous = link(max(0, start-take))
	}
	return p
}

func pageOf[T any](items []T, start, take int) []T {
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(len(items), start+take)]
}

func (s *Server) adminListOrganizations(c *call) reply {
	rep := organizationsResponse{Organizations: []organizationResponse{}}
	member := c.user.orgAdmin
	if c.r.URL.Query().Get("mode") == "account_membership" {
		member = len(c.user.memberships) > 0
	}
	if !member {
		return jsonReply(http.StatusOK, rep)
	}
	o := organizationResponse{
		ID: s.dir.org.id, Name: s.dir.org.name, DefaultAccountID: s.dir.org.defaultAccountID,
		Accounts: []organizationAccountResponse{}, ReservedDomains: []domainResponse{},
	}
	for _, a := range s.dir.accounts {
		o.Accounts = append(o.Accounts, organizationAccountResponse{
			ID: a.id, Name: a.name, ExternalAccountID: a.externalID, SiteID: a.siteID,
		})
	}
	for _, d := range s.dir.org.reservedDomains {
		o.ReservedDomains = append(o.ReservedDomains, domainResponse{ID: d.id, Status: "active", HostName: d.host})
	}
	rep.Organizations = append(rep.Organizations, o)
	return jsonReply(http.StatusOK, rep)
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, strings.ToLower(p))
		}
	}
	return out
}

func (s *Server) adminListUsers(c *call) reply {
	q := c.r.URL.Query()
	email, acctID, domainID := q.Get("email"), q.Get("account_id"), q.Get("organization_reserved_domain_id")
	if email == "" && acctID == "" && domainID == "" {
		return adminError(http.StatusBadRequest, "invalid_request",
			"At least one of email, account_id or organization_reserved_domain_id must be specified.")
	}
	start, take, err := adminPage(q)
	if err != nil {
		return adminError(http.StatusBadRequest, "invalid_request", err.Error())
	}
	var acct *account
	if acctID != "" {
		if acct = s.dir.account(acctID); acct == nil {
			return adminError(http.StatusBadRequest, "invalid_request", "account_id is not an account of this organization.")
		}
	}
	domain := ""
	if domainID != "" {
		for _, d := range s.dir.org.reservedDomains {
			if strings.EqualFold(d.id, domainID) {
				domain = d.host
			}
		}
		if domain == "" {
			return adminError(http.StatusBadRequest, "invalid_request", "organization_reserved_domain_id is not a reserved domain of this organization.")
		}
	}
	like := strings.ToLower(q.Get("email_user_name_like"))
	statuses, memberStatuses := splitList(q.Get("status")), splitList(q.Get("membership_status"))
	withGroups := strings.EqualFold(q.Get("include_ds_groups"), "true")
	var rows []organizationUserResponse
	for _, u := range s.dir.users {
		lowerEmail := strings.ToLower(u.email)
		if email != "" && lowerEmail != strings.ToLower(strings.TrimSpace(email)) {
			continue
		}
		if domain != "" && !strings.HasSuffix(lowerEmail, "@"+domain) {
			continue
		}
		if like != "" && !strings.Contains(lowerEmail, like) && !strings.Contains(strings.ToLower(u.userName), like) {
			continue
		}
		m := s.listedMembership(u, acct)
		if acct != nil && m == nil {
			continue
		}
		if len(statuses) > 0 && !slices.Contains(statuses, u.status()) {
			continue
		}
		if len(memberStatuses) > 0 && (m == nil || !slices.Contains(memberStatuses, m.status)) {
			continue
		}
		row := organizationUserResponse{
			ID: u.id, UserName: u.userName, FirstName: u.firstName, LastName: u.lastName,
			UserStatus: u.status(), Email: u.email, CreatedOn: adminTime(u.created),
		}
		if m != nil {
			row.MembershipStatus = m.status
			row.MembershipID = m.id
			row.MembershipCreatedOn = adminTime(m.created)
			row.MembershipClosedOn = adminTime(m.closed)
			if withGroups {
				for _, g := range m.groups() {
					row.DSGroups = append(row.DSGroups, dsGroupResponse{
						DSGroupID: stableUUID("ds-group", m.account.id, itoa64(g.id)), AccountID: m.account.id,
						SourceProductName: "esign", GroupID: itoa64(g.id), GroupName: g.name,
						IsAdmin: g.typ == GroupTypeAdmin, UserCount: int32(m.account.activeMemberCount(g)), //nolint:gosec // small counts
						ExternalAccountID: m.account.externalID, AccountName: m.account.name,
					})
				}
			}
		}
		rows = append(rows, row)
	}
	page := pageOf(rows, start, take)
	return jsonReply(http.StatusOK, organizationUsersResponse{
		Users: page, Paging: adminPagingFor(c, start, take, len(page), len(rows)),
	})
}

// listedMembership is the membership a users-list row shows: the filtered account's, else the
// user's default account's, else the first.
func (s *Server) listedMembership(u *user, acct *account) *membership {
	if acct != nil {
		return u.membership(acct.id)
	}
	if m := u.membership(u.defaultAccountID); m != nil {
		return m
	}
	ms := u.sortedMemberships(s.dir)
	if len(ms) == 0 {
		return nil
	}
	return ms[0]
}

func (s *Server) adminUserProfile(c *call) reply {
	email := strings.TrimSpace(c.r.URL.Query().Get("email"))
	if email == "" {
		return adminError(http.StatusBadRequest, "invalid_request", "The email query parameter is required.")
	}
	rep := usersDrilldownResponse{Users: []userDrilldownResponse{}}
	if u := s.dir.userByEmail(email); u != nil {
		rep.Users = append(rep.Users, s.drilldown(u))
	}
	return jsonReply(http.StatusOK, rep)
}

func (s *Server) drilldown(u *user) userDrilldownResponse {
	d := userDrilldownResponse{
		ID: u.id, SiteID: u.siteID, UserName: u.userName, FirstName: u.firstName, LastName: u.lastName,
		UserStatus: u.status(), DefaultAccountID: u.defaultAccountID, LanguageCulture: u.language,
		IsOrganizationAdmin: u.orgAdmin, CreatedOn: adminTime(u.created), Memberships: []membershipResponse{},
	}
	if a := s.dir.account(u.defaultAccountID); a != nil {
		d.DefaultAccountName = a.name
	}
	for _, m := range u.sortedMemberships(s.dir) {
		mr := membershipResponse{
			ID: m.id, Email: u.email, AccountID: m.account.id, AccountName: m.account.name,
			Status: m.status, CreatedOn: adminTime(m.created), Groups: groupResponses(m), IsAdmin: m.isAdmin(),
		}
		if m.account.externalID != 0 {
			mr.ExternalAccountID = itoa64(m.account.externalID)
		}
		if m.profile != nil {
			mr.PermissionProfile = &permissionProfileResponse{ID: m.profile.id, Name: m.profile.name}
		}
		d.Memberships = append(d.Memberships, mr)
	}
	return d
}

func groupResponses(m *membership) []memberGroupResponse {
	out := []memberGroupResponse{}
	for _, g := range m.groups() {
		out = append(out, memberGroupResponse{ID: g.id, Name: g.name, Type: g.typ})
	}
	return out
}

// activationStatus is the status of a new membership: active only when auto-activation is asked
// for and the domain is claimed (or AutoActivateUnclaimed is set).
func (s *Server) activationStatus(email string, autoActivate bool) string {
	if autoActivate && (s.dir.claimed(email) || s.opts.AutoActivateUnclaimed) {
		return StatusActive
	}
	return StatusActivationSent
}

// resolveAdminMembership checks a profile and groups given by id in account a; it returns the
// profile (nil: the account default), the group ids and the problems found.
func resolveAdminMembership(a *account, p *permissionProfileRequest, groups []groupRequest) (*profile, []int64, []string) {
	var problems []string
	var prof *profile
	if p != nil {
		if p.ID == 0 {
			problems = append(problems, fmt.Sprintf("account %s: permission_profile.id is required", a.id))
		} else if prof = a.profileByID(p.ID); prof == nil {
			problems = append(problems, fmt.Sprintf("account %s: unknown permission profile id %d", a.id, p.ID))
		}
	}
	ids := make([]int64, 0, len(groups))
	for _, g := range groups {
		if g.ID == 0 {
			problems = append(problems, fmt.Sprintf("account %s: groups[].id is required", a.id))
			continue
		}
		if a.groupByID(g.ID) == nil {
			problems = append(problems, fmt.Sprintf("account %s: unknown group id %d", a.id, g.ID))
			continue
		}
		ids = append(ids, g.ID)
	}
	return prof, ids, problems
}

func validEmail(email string) bool {
	at := strings.IndexByte(email, '@')
	return at > 0 && at < len(email)-1 && !strings.ContainsAny(email, " \t")
}

func (s *Server) newUserResponse(u *user, ms ...*membership) newUserResponse {
	rep := newUserResponse{
		ID: u.id, SiteID: u.siteID, UserName: u.userName, FirstName: u.firstName, LastName: u.lastName,
		Email: u.email, LanguageCulture: u.language, Accounts: []newUserResponseAccount{},
	}
	for _, m := range ms {
		ra := newUserResponseAccount{
			ID: m.account.id, SiteID: m.account.siteID, Groups: groupResponses(m),
			CompanyName: m.company, JobTitle: m.jobTitle,
		}
		if m.profile != nil {
			ra.PermissionProfile = &permissionProfileResponse{ID: m.profile.id, Name: m.profile.name}
		}
		rep.Accounts = append(rep.Accounts, ra)
	}
	return rep
}

func (s *Server) adminCreateUser(c *call) reply {
	var req newUserRequest
	if err := decodeBody(c, &req); err != nil {
		return adminError(http.StatusBadRequest, "invalid_request", "The request body is invalid: "+err.Error())
	}
	var problems []string
	if !validEmail(req.Email) {
		problems = append(problems, "email is required and must be an email address")
	}
	if len(req.Accounts) == 0 {
		problems = append(problems, "accounts is required")
	}
	type planned struct {
		a      *account
		prof   *profile
		groups []int64
		req    newUserRequestAccount
	}
	var plan []planned
	seen := map[*account]bool{}
	for _, ra := range req.Accounts {
		a := s.dir.account(ra.ID)
		if a == nil {
			problems = append(problems, fmt.Sprintf("accounts[].id %q is not an account of this organization", ra.ID))
			continue
		}
		if seen[a] {
			problems = append(problems, fmt.Sprintf("account %s is listed twice", a.id))
		}
		seen[a] = true
		prof, groups, p := resolveAdminMembership(a, ra.PermissionProfile, ra.Groups)
		problems = append(problems, p...)
		plan = append(plan, planned{a: a, prof: prof, groups: groups, req: ra})
	}
	if req.DefaultAccountID != "" && (s.dir.account(req.DefaultAccountID) == nil || !seen[s.dir.account(req.DefaultAccountID)]) {
		problems = append(problems, "default_account_id must be one of accounts[].id")
	}
	if len(problems) > 0 {
		return adminError(http.StatusBadRequest, "invalid_request", strings.Join(problems, "; "))
	}
	if s.dir.userByEmail(req.Email) != nil {
		return adminError(http.StatusBadRequest, "user_already_exists",
			"A user with this email address already exists in the organization.")
	}
	status := s.activationStatus(req.Email, req.AutoActivateMemberships)
	u := s.dir.addUser("", strings.TrimSpace(req.Email), req.UserName, req.FirstName, req.LastName, c.now)
	u.language = req.LanguageCulture
	var ms []*membership
	for _, p := range plan {
		m := s.dir.addMembership(u, p.a, p.prof, status, c.now)
		m.replaceGroups(p.groups)
		m.company, m.jobTitle = p.req.CompanyName, p.req.JobTitle
		ms = append(ms, m)
	}
	if req.DefaultAccountID != "" {
		a := s.dir.account(req.DefaultAccountID)
		u.defaultAccountID, u.siteID = a.id, a.siteID
	}
	return jsonReply(http.StatusOK, s.newUserResponse(u, ms...))
}

func (s *Server) adminAddAccountUser(c *call) reply {
	a := s.dir.account(c.r.PathValue("accountId"))
	if a == nil {
		return adminError(http.StatusNotFound, "not_found", "The account is not an account of this organization.")
	}
	var req newAccountUserRequest
	if err := decodeBody(c, &req); err != nil {
		return adminError(http.StatusBadRequest, "invalid_request", "The request body is invalid: "+err.Error())
	}
	if !validEmail(req.Email) {
		return adminError(http.StatusBadRequest, "invalid_request", "email is required and must be an email address")
	}
	prof, groups, problems := resolveAdminMembership(a, req.PermissionProfile, req.Groups)
	if len(problems) > 0 {
		return adminError(http.StatusBadRequest, "invalid_request", strings.Join(problems, "; "))
	}
	u := s.dir.userByEmail(req.Email)
	if u != nil && u.membership(a.id) != nil {
		return adminError(http.StatusBadRequest, "membership_already_exists",
			fmt.Sprintf("The user already has a membership in account %s (status %s).", a.id, u.membership(a.id).status))
	}
	if u == nil {
		u = s.dir.addUser("", strings.TrimSpace(req.Email), req.UserName, req.FirstName, req.LastName, c.now)
		u.language = req.LanguageCulture
	}
	m := s.dir.addMembership(u, a, prof, s.activationStatus(req.Email, req.AutoActivateMemberships), c.now)
	m.replaceGroups(groups)
	return jsonReply(http.StatusOK, s.newUserResponse(u, m))
}

func userError(code, desc string) *adminErrorBody {
	return &adminErrorBody{Error: code, ErrorDescription: desc}
}

func (s *Server) adminUpdateUsers(c *call) reply {
	var req updateUsersRequest
	if err := decodeBody(c, &req); err != nil {
		return adminError(http.StatusBadRequest, "invalid_request", "The request body is invalid: "+err.Error())
	}
	if len(req.Users) == 0 {
		return adminError(http.StatusBadRequest, "invalid_request", "users is required")
	}
	rep := usersUpdateResponse{Success: true, Users: []userUpdateResponse{}}
	for _, ur := range req.Users {
		res := s.updateAdminUser(c, ur, req.AutoActivateMembershipsOnReactivation)
		if res.ErrorDetails != nil {
			rep.Success = false
		}
		rep.Users = append(rep.Users, res)
	}
	return jsonReply(http.StatusOK, rep)
}

// updateAdminUser validates one users/profiles item completely, then applies it.
func (s *Server) updateAdminUser(c *call, ur updateUserRequest, autoActivate bool) userUpdateResponse {
	res := userUpdateResponse{ID: ur.ID}
	u := s.dir.userByID(ur.ID)
	if u == nil {
		res.ErrorDetails = userError("user_not_found", "No user with this id exists in the organization.")
		return res
	}
	res.SiteID, res.Email = u.siteID, u.email
	if ur.SiteID == nil {
		res.ErrorDetails = userError("invalid_request", "site_id is required.")
		return res
	}
	if *ur.SiteID != u.siteID {
		res.ErrorDetails = userError("invalid_site_id", fmt.Sprintf("site_id %d is not the user's site.", *ur.SiteID))
		return res
	}
	type change struct {
		m      *membership
		prof   *profile
		groups []int64
		req    updateMembershipRequest
	}
	var changes []change
	var problems []string
	for _, mr := range ur.Memberships {
		if mr.AccountID == "" {
			problems = append(problems, "memberships[].account_id is required")
			continue
		}
		m := u.membership(mr.AccountID)
		if m == nil {
			problems = append(problems, fmt.Sprintf("the user has no membership in account %s", mr.AccountID))
			continue
		}
		prof, groups, p := resolveAdminMembership(m.account, mr.PermissionProfile, mr.Groups)
		problems = append(problems, p...)
		changes = append(changes, change{m: m, prof: prof, groups: groups, req: mr})
	}
	if ur.Email != nil {
		if !validEmail(*ur.Email) {
			problems = append(problems, "email is not an email address")
		} else if other := s.dir.userByEmail(*ur.Email); other != nil && other != u {
			problems = append(problems, "another user already has this email address")
		}
	}
	if ur.DefaultAccountID != nil && u.membership(*ur.DefaultAccountID) == nil {
		problems = append(problems, "default_account_id is not an account of the user")
	}
	if len(problems) > 0 {
		res.ErrorDetails = userError("invalid_request", strings.Join(problems, "; "))
		return res
	}
	if ur.UserName != nil {
		u.userName = *ur.UserName
	}
	if ur.FirstName != nil {
		u.firstName = *ur.FirstName
	}
	if ur.LastName != nil {
		u.lastName = *ur.LastName
	}
	if ur.LanguageCulture != nil {
		u.language = *ur.LanguageCulture
	}
	if ur.Email != nil {
		s.dir.setEmail(u, *ur.Email)
	}
	if ur.DefaultAccountID != nil {
		u.defaultAccountID = u.membership(*ur.DefaultAccountID).account.id
	}
	for _, ch := range changes {
		if ch.prof != nil {
			ch.m.profile = ch.prof
		}
		if ch.req.Groups != nil {
			ch.m.replaceGroups(ch.groups) // assumed: groups replace all but Everyone
		}
		if ch.req.JobTitle != nil {
			ch.m.jobTitle = *ch.req.JobTitle
		}
		if ch.req.CompanyName != nil {
			ch.m.company = *ch.req.CompanyName
		}
		if ch.m.status == StatusClosed { // assumed: naming a closed membership reactivates it
			if autoActivate {
				ch.m.reopen(StatusActive)
			} else {
				ch.m.reopen(StatusActivationSent)
			}
		}
	}
	res.Email = u.email
	return res
}

func (s *Server) adminUpdateEmails(c *call) reply {
	var req updateUsersEmailRequest
	if err := decodeBody(c, &req); err != nil {
		return adminError(http.StatusBadRequest, "invalid_request", "The request body is invalid: "+err.Error())
	}
	if len(req.Users) == 0 {
		return adminError(http.StatusBadRequest, "invalid_request", "users is required")
	}
	rep := usersUpdateResponse{Success: true, Users: []userUpdateResponse{}}
	for _, ur := range req.Users {
		res := userUpdateResponse{ID: ur.ID, Email: ur.Email}
		u := s.dir.userByID(ur.ID)
		switch {
		case u == nil:
			res.ErrorDetails = userError("user_not_found", "No user with this id exists in the organization.")
		case ur.SiteID == nil || *ur.SiteID != u.siteID:
			res.SiteID = u.siteID
			res.ErrorDetails = userError("invalid_site_id", "site_id is missing or is not the user's site.")
		case !validEmail(ur.Email):
			res.SiteID = u.siteID
			res.ErrorDetails = userError("invalid_request", "email is not an email address.")
		case !s.dir.setEmail(u, ur.Email):
			res.SiteID = u.siteID
			res.ErrorDetails = userError("email_already_exists", "Another user already has this email address.")
		default:
			res.SiteID, res.Email = u.siteID, u.email
		}
		if res.ErrorDetails != nil {
			rep.Success = false
		}
		rep.Users = append(rep.Users, res)
	}
	return jsonReply(http.StatusOK, rep)
}

func (s *Server) adminCloseMemberships(c *call) reply {
	u := s.dir.userByID(c.r.PathValue("userId"))
	if u == nil {
		return adminError(http.StatusNotFound, "not_found", "No user with this id exists in the organization.")
	}
	var req deleteMembershipsRequest
	if err := decodeBody(c, &req); err != nil {
		return adminError(http.StatusBadRequest, "invalid_request", "The request body is invalid: "+err.Error())
	}
	if len(req.Accounts) == 0 {
		return adminError(http.StatusBadRequest, "invalid_request", "accounts is required")
	}
	rep := deleteMembershipsResponse{Success: true, Accounts: []deleteMembershipResponse{}}
	for _, ra := range req.Accounts {
		m := u.membership(ra.ID)
		if m == nil {
			rep.Success = false
			rep.Accounts = append(rep.Accounts, deleteMembershipResponse{
				ID: ra.ID, ErrorDetails: userError("membership_not_found", "The user has no membership in this account."),
			})
			continue
		}
		m.close(c.now) // assumed: closing a closed membership succeeds and changes nothing
	}
	return jsonReply(http.StatusOK, rep)
}

func (s *Server) adminActivateMembership(c *call) reply {
	u := s.dir.userByID(c.r.PathValue("userId"))
	m := s.dir.membershipByID(c.r.PathValue("membershipId"))
	if u == nil || m == nil || m.user != u {
		return adminError(http.StatusNotFound, "not_found", "No such membership of this user.")
	}
	var req forceActivateMembershipRequest
	if err := decodeBody(c, &req); err != nil {
		return adminError(http.StatusBadRequest, "invalid_request", "The request body is invalid: "+err.Error())
	}
	if req.SiteID == nil || (*req.SiteID != u.siteID && *req.SiteID != m.account.siteID) {
		return adminError(http.StatusBadRequest, "invalid_request", "site_id is missing or is not the user's site.")
	}
	m.reopen(StatusActive)
	return jsonReply(http.StatusOK, updateResponse{Status: StatusActive})
}

func (s *Server) adminPermissions(c *call) reply {
	a := s.dir.account(c.r.PathValue("accountId"))
	if a == nil {
		return adminError(http.StatusNotFound, "not_found", "The account is not an account of this organization.")
	}
	rep := permissionsResponse{Permissions: []permissionProfileResponse{}}
	for _, p := range a.profiles {
		rep.Permissions = append(rep.Permissions, permissionProfileResponse{ID: p.id, Name: p.name})
	}
	return jsonReply(http.StatusOK, rep)
}

func (s *Server) adminGroups(c *call) reply {
	a := s.dir.account(c.r.PathValue("accountId"))
	if a == nil {
		return adminError(http.StatusNotFound, "not_found", "The account is not an account of this organization.")
	}
	start, take, err := adminPage(c.r.URL.Query())
	if err != nil {
		return adminError(http.StatusBadRequest, "invalid_request", err.Error())
	}
	all := make([]memberGroupResponse, 0, len(a.groups))
	for _, g := range a.groups {
		all = append(all, memberGroupResponse{ID: g.id, Name: g.name, Type: g.typ})
	}
	page := pageOf(all, start, take)
	return jsonReply(http.StatusOK, memberGroupsResponse{
		Groups: page, Paging: adminPagingFor(c, start, take, len(page), len(all)),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
