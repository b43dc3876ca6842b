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

// eSignature v2.1 wire types (esignature.rest.swagger-v2.1.json; numbers and booleans are
// strings there).

type esGroup struct {
	GroupID             string       `json:"groupId,omitempty"`
	GroupName           string       `json:"groupName,omitempty"`
	GroupType           string       `json:"groupType,omitempty"`
	PermissionProfileID string       `json:"permissionProfileId,omitempty"`
	UsersCount          string       `json:"usersCount,omitempty"`
	ErrorDetails        *esErrorBody `json:"errorDetails,omitempty"`
}

// esUser is userInformation.
type esUser struct {
	UserID                     string         `json:"userId,omitempty"`
	UserName                   string         `json:"userName,omitempty"`
	FirstName                  string         `json:"firstName,omitempty"`
	MiddleName                 string         `json:"middleName,omitempty"`
	LastName                   string         `json:"lastName,omitempty"`
	Email                      string         `json:"email,omitempty"`
	UserType                   string         `json:"userType,omitempty"`
	UserStatus                 string         `json:"userStatus,omitempty"`
	IsAdmin                    string         `json:"isAdmin,omitempty"`
	PermissionProfileID        string         `json:"permissionProfileId,omitempty"`
	PermissionProfileName      string         `json:"permissionProfileName,omitempty"`
	JobTitle                   string         `json:"jobTitle,omitempty"`
	Company                    string         `json:"company,omitempty"`
	CreatedDateTime            string         `json:"createdDateTime,omitempty"`
	UserAddedToAccountDateTime string         `json:"userAddedToAccountDateTime,omitempty"`
	DefaultAccountID           string         `json:"defaultAccountId,omitempty"`
	URI                        string         `json:"uri,omitempty"`
	GroupList                  []esGroup      `json:"groupList,omitempty"`
	UserSettings               map[string]any `json:"userSettings,omitempty"`
	ErrorDetails               *esErrorBody   `json:"errorDetails,omitempty"`
}

// esUserList is userInformationList.
type esUserList struct {
	Users         []esUser `json:"users"`
	ResultSetSize string   `json:"resultSetSize,omitempty"`
	StartPosition string   `json:"startPosition,omitempty"`
	EndPosition   string   `json:"endPosition,omitempty"`
	TotalSetSize  string   `json:"totalSetSize,omitempty"`
	NextURI       string   `json:"nextUri,omitempty"`
	PreviousURI   string   `json:"previousUri,omitempty"`
}

// esUserInfo is userInfo.
type esUserInfo struct {
	UserID       string       `json:"userId,omitempty"`
	UserName     string       `json:"userName,omitempty"`
	Email        string       `json:"email,omitempty"`
	UserStatus   string       `json:"userStatus,omitempty"`
	UserType     string       `json:"userType,omitempty"`
	MembershipID string       `json:"membershipId,omitempty"`
	URI          string       `json:"uri,omitempty"`
	ErrorDetails *esErrorBody `json:"errorDetails,omitempty"`
}

// esUsersResponse is usersResponse.
type esUsersResponse struct {
	Users         []esUserInfo `json:"users"`
	ResultSetSize string       `json:"resultSetSize,omitempty"`
	StartPosition string       `json:"startPosition,omitempty"`
	EndPosition   string       `json:"endPosition,omitempty"`
	TotalSetSize  string       `json:"totalSetSize,omitempty"`
	NextURI       string       `json:"nextUri,omitempty"`
	PreviousURI   string       `json:"previousUri,omitempty"`
}

// esNewUser is newUser.
type esNewUser struct {
	UserID                string       `json:"userId,omitempty"`
	URI                   string       `json:"uri,omitempty"`
	Email                 string       `json:"email,omitempty"`
	UserName              string       `json:"userName,omitempty"`
	UserStatus            string       `json:"userStatus,omitempty"`
	MembershipID          string       `json:"membershipId,omitempty"`
	PermissionProfileID   string       `json:"permissionProfileId,omitempty"`
	PermissionProfileName string       `json:"permissionProfileName,omitempty"`
	CreatedDateTime       string       `json:"createdDateTime,omitempty"`
	ErrorDetails          *esErrorBody `json:"errorDetails,omitempty"`
}

type esNewUsersSummary struct {
	NewUsers []esNewUser `json:"newUsers"`
}

type esGroupInformation struct {
	Groups        []esGroup `json:"groups"`
	ResultSetSize string    `json:"resultSetSize,omitempty"`
	StartPosition string    `json:"startPosition,omitempty"`
	EndPosition   string    `json:"endPosition,omitempty"`
	TotalSetSize  string    `json:"totalSetSize,omitempty"`
	NextURI       string    `json:"nextUri,omitempty"`
	PreviousURI   string    `json:"previousUri,omitempty"`
}

type esPermissionProfile struct {
	PermissionProfileID   string `json:"permissionProfileId"`
	PermissionProfileName string `json:"permissionProfileName"`
	ModifiedDateTime      string `json:"modifiedDateTime,omitempty"`
	UserCount             string `json:"userCount,omitempty"`
}

type esPermissionProfileInformation struct {
	PermissionProfiles []esPermissionProfile `json:"permissionProfiles"`
}

// esUserRequest is a userInformation sent by a client; pointers tell absent from empty.
type esUserRequest struct {
	UserID                *string                    `json:"userId"`
	UserName              *string                    `json:"userName"`
	FirstName             *string                    `json:"firstName"`
	MiddleName            *string                    `json:"middleName"`
	LastName              *string                    `json:"lastName"`
	Email                 *string                    `json:"email"`
	JobTitle              *string                    `json:"jobTitle"`
	Company               *string                    `json:"company"`
	PermissionProfileID   *string                    `json:"permissionProfileId"`
	PermissionProfileName *string                    `json:"permissionProfileName"`
	UserStatus            *string                    `json:"userStatus"`
	GroupList             []esGroupRef               `json:"groupList"` // nil: unchanged
	UserSettings          map[string]json.RawMessage `json:"userSettings"`
}

type esGroupRef struct {
	GroupID   string `json:"groupId"`
	GroupName string `json:"groupName"`
}

type esUserInfoList struct {
	Users []esUserRequest `json:"users"`
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// esTime formats eSignature date-times ("2017-09-15T05:54:36.1265683Z").
func esTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.0000000Z")
}

// esNoDate is the createdDateTime of a failed Users:create item.
const esNoDate = "0001-01-01T08:00:00.0000000Z"

func esStatus(status string) string {
	switch status {
	case StatusActive:
		return "Active"
	case StatusActivationSent:
		return "ActivationSent"
	case StatusClosed:
		return "Closed"
	}
	return status
}

func esGroupType(adminType string) string {
	switch adminType {
	case GroupTypeEveryone:
		return "everyoneGroup"
	case GroupTypeAdmin:
		return "adminGroup"
	default:
		return "customGroup"
	}
}

func esBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func errUserNotFound() *esErrorBody {
	return &esErrorBody{ErrorCode: "USER_NOT_FOUND", Message: "The specified user is not a member of this account."}
}

func (s *Server) esignMux(env string) http.Handler {
	mux := http.NewServeMux()
	const acct = "/restapi/v2.1/accounts/{accountId}"
	routes := []struct {
		pattern, op string
		h           handlerFunc
	}{
		{"GET " + acct + "/users", "Users_GetUsers", s.esListUsers},
		{"POST " + acct + "/users", "Users_PostUsers", s.esCreateUsers},
		{"PUT " + acct + "/users", "Users_PutUsers", s.esUpdateUsers},
		{"DELETE " + acct + "/users", "Users_DeleteUsers", s.esDeleteUsers},
		{"GET " + acct + "/users/{userId}", "User_GetUser", s.esGetUser},
		{"PUT " + acct + "/users/{userId}", "User_PutUser", s.esUpdateUser},
		{"GET " + acct + "/users/{userId}/settings", "UserSettings_GetUserSettings", s.esGetSettings},
		{"PUT " + acct + "/users/{userId}/settings", "UserSettings_PutUserSettings", s.esPutSettings},
		{"GET " + acct + "/groups", "Groups_GetGroups", s.esListGroups},
		{"GET " + acct + "/groups/{groupId}/users", "Groups_GetGroupUsers", s.esGroupUsers},
		{"PUT " + acct + "/groups/{groupId}/users", "Groups_PutGroupUsers", s.esAddGroupUsers},
		{"DELETE " + acct + "/groups/{groupId}/users", "Groups_DeleteGroupUsers", s.esRemoveGroupUsers},
		{"GET " + acct + "/permission_profiles", "PermissionProfiles_GetPermissionProfiles", s.esListProfiles},
		{"GET " + acct + "/permission_profiles/{permissionProfileId}", "PermissionProfiles_GetPermissionProfile", s.esGetProfile},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, s.handle(kindESign, env, rt.op, "signature", rt.h))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-DocuSign-TraceToken", newUUID())
		writeJSON(w, http.StatusNotFound, esErrorBody{
			ErrorCode: "RESOURCE_NOT_FOUND", Message: "No such eSignature resource: " + r.Method + " " + r.URL.Path,
		})
	})
	return mux
}

// esPage reads start_position (default 0) and count (default and maximum 100).
func esPage(q url.Values) (start, count int, err error) {
	start, count = 0, 100
	if v := q.Get("start_position"); v != "" {
		if start, err = strconv.Atoi(v); err != nil || start < 0 {
			return 0, 0, fmt.Errorf("start_position must be a non-negative integer")
		}
	}
	if v := q.Get("count"); v != "" {
		if count, err = strconv.Atoi(v); err != nil || count < 1 {
			return 0, 0, fmt.Errorf("count must be an integer from 1 to 100")
		}
		count = min(count, 100)
	}
	return start, count, nil
}

// esPaging computes the paging fields; nextUri and previousUri are relative to the account
// ("/users?start_position=…"), as DocuSign writes them, and absent at the ends.
type esPagingFields struct {
	size, start, end, total, next, previous string
}

func esPaging(c *call, resource string, start, count, size, total int) esPagingFields {
	p := esPagingFields{
		size: strconv.Itoa(size), start: strconv.Itoa(start), total: strconv.Itoa(total),
		end: strconv.Itoa(max(start+size-1, 0)),
	}
	link := func(at int) string {
		q := c.r.URL.Query()
		q.Set("start_position", strconv.Itoa(at))
		q.Set("count", strconv.Itoa(count))
		return resource + "?" + q.Encode()
	}
	if start+size < total {
		p.next = link(start + size)
	}
	if start > 0 {
		p.previous = link(max(0, start-count))
	}
	return p
}

// esUserView renders a membership as userInformation; full adds groupList and userSettings.
func (s *Server) esUserView(m *membership, full bool) esUser {
	u := m.user
	v := esUser{
		UserID: u.id, UserName: u.userName, FirstName: u.firstName, LastName: u.lastName, Email: u.email,
		UserType: "CompanyUser", UserStatus: esStatus(m.status), IsAdmin: esBool(m.isAdmin()),
		JobTitle: m.jobTitle, Company: m.company, CreatedDateTime: esTime(u.created),
		UserAddedToAccountDateTime: esTime(m.created), URI: "/users/" + u.id,
	}
	if m.profile != nil {
		v.PermissionProfileID = itoa64(m.profile.id)
		v.PermissionProfileName = m.profile.name
	}
	if full {
		v.MiddleName = u.middleName
		v.DefaultAccountID = u.defaultAccountID
		v.GroupList = []esGroup{}
		for _, g := range m.groups() {
			v.GroupList = append(v.GroupList, esGroup{GroupID: itoa64(g.id), GroupName: g.name, GroupType: esGroupType(g.typ)})
		}
		v.UserSettings = cloneSettings(m.settings)
	}
	return v
}

func (s *Server) esUserInfoView(m *membership) esUserInfo {
	return esUserInfo{
		UserID: m.user.id, UserName: m.user.userName, Email: m.user.email, UserStatus: esStatus(m.status),
		UserType: "CompanyUser", MembershipID: m.id, URI: "/users/" + m.user.id,
	}
}

// esMember finds the account membership of a user id (nil when none).
func esMember(c *call, userID string) *membership {
	for _, m := range c.acct.members {
		if strings.EqualFold(m.user.id, userID) {
			return m
		}
	}
	return nil
}

func (s *Server) esListUsers(c *call) reply {
	q := c.r.URL.Query()
	start, count, err := esPage(q)
	if err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", err.Error())
	}
	email, emailSub := strings.ToLower(strings.TrimSpace(q.Get("email"))), strings.ToLower(q.Get("email_substring"))
	if email != "" && emailSub != "" {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", "Use either email or email_substring, not both.")
	}
	nameSub := strings.ToLower(q.Get("user_name_substring"))
	statuses := splitList(q.Get("status"))
	inGroups, notGroups := splitList(q.Get("group_id")), splitList(q.Get("not_group_id"))
	full := strings.EqualFold(q.Get("additional_info"), "true")
	var rows []*membership
	for _, m := range c.acct.members {
		lowerEmail := strings.ToLower(m.user.email)
		switch {
		case email != "" && lowerEmail != email,
			emailSub != "" && !strings.Contains(lowerEmail, emailSub),
			nameSub != "" && !strings.Contains(strings.ToLower(m.user.userName), nameSub),
			len(statuses) > 0 && !slices.Contains(statuses, strings.ToLower(esStatus(m.status))),
			len(inGroups) > 0 && !inAnyGroup(m, inGroups),
			len(notGroups) > 0 && inAnyGroup(m, notGroups):
			continue
		}
		rows = append(rows, m)
	}
	page := pageOf(rows, start, count)
	rep := esUserList{Users: []esUser{}}
	for _, m := range page {
		rep.Users = append(rep.Users, s.esUserView(m, full))
	}
	p := esPaging(c, "/users", start, count, len(page), len(rows))
	rep.ResultSetSize, rep.StartPosition, rep.EndPosition, rep.TotalSetSize = p.size, p.start, p.end, p.total
	rep.NextURI, rep.PreviousURI = p.next, p.previous
	return jsonReply(http.StatusOK, rep)
}

func inAnyGroup(m *membership, ids []string) bool {
	for _, id := range ids {
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && m.groupIDs[n] {
			return true
		}
	}
	return false
}

// esPlan is a validated change of one user in one account.
type esPlan struct {
	prof     *profile
	groups   []int64
	setGroup bool
	settings map[string]any
}

// esResolve validates the profile, groups and settings of a request item.
func esResolve(a *account, ur *esUserRequest) (esPlan, *esErrorBody) {
	var plan esPlan
	switch {
	case deref(ur.PermissionProfileID) != "":
		id, err := strconv.ParseInt(*ur.PermissionProfileID, 10, 64)
		if err == nil {
			plan.prof = a.profileByID(id)
		}
		if plan.prof == nil {
			return plan, &esErrorBody{ErrorCode: "INVALID_PERMISSION_PROFILE_ID",
				Message: fmt.Sprintf("Permission profile %q does not exist in this account.", *ur.PermissionProfileID)}
		}
	case deref(ur.PermissionProfileName) != "":
		if plan.prof = a.profileByName(*ur.PermissionProfileName); plan.prof == nil {
			return plan, &esErrorBody{ErrorCode: "INVALID_PERMISSION_PROFILE_ID",
				Message: fmt.Sprintf("Permission profile %q does not exist in this account.", *ur.PermissionProfileName)}
		}
	}
	if ur.GroupList != nil {
		plan.setGroup = true
		for _, gr := range ur.GroupList {
			var g *group
			if id, err := strconv.ParseInt(gr.GroupID, 10, 64); err == nil {
				g = a.groupByID(id)
			} else if gr.GroupID == "" && gr.GroupName != "" {
				g = a.groupByName(gr.GroupName)
			}
			if g == nil {
				return plan, &esErrorBody{ErrorCode: "INVALID_GROUP_ID",
					Message: fmt.Sprintf("Group %q does not exist in this account.", gr.GroupID+gr.GroupName)}
			}
			plan.groups = append(plan.groups, g.id)
		}
	}
	settings, err := normalizeSettings(ur.UserSettings)
	if err != nil {
		return plan, &esErrorBody{ErrorCode: "INVALID_REQUEST_BODY", Message: "userSettings: " + err.Error()}
	}
	plan.settings = settings
	return plan, nil
}

func (p esPlan) apply(m *membership) {
	if p.prof != nil {
		m.profile = p.prof
	}
	if p.setGroup {
		m.replaceGroups(p.groups) // assumed: groupList replaces all but Everyone
	}
	mergeSettings(m.settings, p.settings)
}

func (s *Server) esCreateUsers(c *call) reply {
	var req struct {
		NewUsers []esUserRequest `json:"newUsers"`
	}
	if err := decodeBody(c, &req); err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted. "+err.Error())
	}
	if len(req.NewUsers) == 0 {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "newUsers is required.")
	}
	if len(req.NewUsers) > 500 {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", "A request can add at most 500 users.")
	}
	rep := esNewUsersSummary{NewUsers: []esNewUser{}}
	for i := range req.NewUsers {
		rep.NewUsers = append(rep.NewUsers, s.esCreateOne(c, &req.NewUsers[i]))
	}
	return jsonReply(http.StatusCreated, rep)
}

func (s *Server) esCreateOne(c *call, ur *esUserRequest) esNewUser {
	email, userName := strings.TrimSpace(deref(ur.Email)), deref(ur.UserName)
	item := esNewUser{Email: email, UserName: userName}
	if !validEmail(email) {
		item.ErrorDetails = &esErrorBody{ErrorCode: "INVALID_EMAIL_ADDRESS_FOR_USER", Message: "The email address is missing or invalid."}
		return item
	}
	if strings.TrimSpace(userName) == "" {
		item.ErrorDetails = &esErrorBody{ErrorCode: "INVALID_USERNAME_FOR_EMAIL", Message: "A user name is required."}
		return item
	}
	u := s.dir.userByEmail(email)
	if u != nil && u.membership(c.acct.id) != nil {
		item.UserID, item.URI, item.CreatedDateTime = u.id, "/users/"+u.id, esNoDate
		item.ErrorDetails = &esErrorBody{
			ErrorCode: "USER_ALREADY_EXISTS_IN_ACCOUNT",
			Message:   "Username and email combination already exists for this account.",
		}
		return item
	}
	plan, errDetails := esResolve(c.acct, ur)
	if errDetails != nil {
		item.ErrorDetails = errDetails
		return item
	}
	if u == nil {
		u = s.dir.addUser("", email, userName, deref(ur.FirstName), deref(ur.LastName), c.now)
		u.middleName = deref(ur.MiddleName)
	}
	status := StatusActivationSent
	if s.dir.claimed(email) || s.opts.AutoActivateUnclaimed {
		status = StatusActive // assumed: claimed domains skip activation, as with the Admin API
	}
	m := s.dir.addMembership(u, c.acct, plan.prof, status, c.now)
	plan.apply(m)
	m.jobTitle, m.company = deref(ur.JobTitle), deref(ur.Company)
	return esNewUser{
		UserID: u.id, URI: "/users/" + u.id, Email: u.email, UserName: u.userName,
		UserStatus: esStatus(m.status), MembershipID: m.id, PermissionProfileID: itoa64(m.profile.id),
		PermissionProfileName: m.profile.name, CreatedDateTime: esTime(m.created),
	}
}

func (s *Server) esGetUser(c *call) reply {
	m := esMember(c, c.r.PathValue("userId"))
	if m == nil {
		e := errUserNotFound()
		return esError(http.StatusBadRequest, e.ErrorCode, e.Message)
	}
	return jsonReply(http.StatusOK, s.esUserView(m, true))
}

// esUpdate validates a whole item, then applies it; it returns the error of a rejected item.
func (s *Server) esUpdate(c *call, m *membership, ur *esUserRequest) *esErrorBody {
	plan, errDetails := esResolve(c.acct, ur)
	if errDetails != nil {
		return errDetails
	}
	if ur.Email != nil {
		if !validEmail(*ur.Email) {
			return &esErrorBody{ErrorCode: "INVALID_EMAIL_ADDRESS_FOR_USER", Message: "The email address is invalid."}
		}
		if other := s.dir.userByEmail(*ur.Email); other != nil && other != m.user {
			return &esErrorBody{ErrorCode: "INVALID_EMAIL_ADDRESS_FOR_USER", Message: "Another user already has this email address."}
		}
		s.dir.setEmail(m.user, *ur.Email)
	}
	u := m.user
	for _, f := range []struct {
		src *string
		dst *string
	}{
		{ur.UserName, &u.userName}, {ur.FirstName, &u.firstName}, {ur.MiddleName, &u.middleName},
		{ur.LastName, &u.lastName}, {ur.JobTitle, &m.jobTitle}, {ur.Company, &m.company},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	plan.apply(m)
	if strings.EqualFold(deref(ur.UserStatus), "Active") && m.status == StatusClosed {
		m.reopen(StatusActive) // assumed: Users:update with userStatus Active reopens a closed user
	}
	return nil
}

func (s *Server) esUpdateUser(c *call) reply {
	m := esMember(c, c.r.PathValue("userId"))
	if m == nil {
		e := errUserNotFound()
		return esError(http.StatusBadRequest, e.ErrorCode, e.Message)
	}
	var ur esUserRequest
	if err := decodeBody(c, &ur); err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted. "+err.Error())
	}
	if e := s.esUpdate(c, m, &ur); e != nil {
		return esError(http.StatusBadRequest, e.ErrorCode, e.Message)
	}
	return jsonReply(http.StatusOK, s.esUserView(m, true))
}

func (s *Server) esUpdateUsers(c *call) reply {
	var req esUserInfoList
	if err := decodeBody(c, &req); err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted. "+err.Error())
	}
	if len(req.Users) == 0 {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "users is required.")
	}
	rep := esUserList{Users: []esUser{}}
	for i := range req.Users {
		ur := &req.Users[i]
		m := esMember(c, deref(ur.UserID))
		if m == nil {
			rep.Users = append(rep.Users, esUser{UserID: deref(ur.UserID), ErrorDetails: errUserNotFound()})
			continue
		}
		if e := s.esUpdate(c, m, ur); e != nil {
			rep.Users = append(rep.Users, esUser{UserID: m.user.id, ErrorDetails: e})
			continue
		}
		rep.Users = append(rep.Users, s.esUserView(m, true))
	}
	n := strconv.Itoa(len(rep.Users))
	rep.ResultSetSize, rep.TotalSetSize, rep.StartPosition, rep.EndPosition = n, n, "0", strconv.Itoa(max(len(rep.Users)-1, 0))
	return jsonReply(http.StatusOK, rep)
}

func (s *Server) esDeleteUsers(c *call) reply {
	var req esUserInfoList
	if err := decodeBody(c, &req); err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted. "+err.Error())
	}
	if len(req.Users) == 0 {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "users is required.")
	}
	dropGroups := slices.Contains(splitList(c.r.URL.Query().Get("delete")), "groups")
	rep := esUsersResponse{Users: []esUserInfo{}}
	for _, ur := range req.Users {
		m := esMember(c, deref(ur.UserID))
		if m == nil {
			rep.Users = append(rep.Users, esUserInfo{UserID: deref(ur.UserID), ErrorDetails: errUserNotFound()})
			continue
		}
		m.close(c.now) // assumed: closing a closed user succeeds
		if dropGroups {
			m.replaceGroups(nil)
		}
		rep.Users = append(rep.Users, s.esUserInfoView(m))
	}
	return jsonReply(http.StatusOK, rep)
}

func (s *Server) esGetSettings(c *call) reply {
	m := esMember(c, c.r.PathValue("userId"))
	if m == nil {
		e := errUserNotFound()
		return esError(http.StatusBadRequest, e.ErrorCode, e.Message)
	}
	return jsonReply(http.StatusOK, cloneSettings(m.settings))
}

func (s *Server) esPutSettings(c *call) reply {
	m := esMember(c, c.r.PathValue("userId"))
	if m == nil {
		e := errUserNotFound()
		return esError(http.StatusBadRequest, e.ErrorCode, e.Message)
	}
	var raw map[string]json.RawMessage
	if err := decodeBody(c, &raw); err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted. "+err.Error())
	}
	settings, err := normalizeSettings(raw)
	if err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", err.Error())
	}
	mergeSettings(m.settings, settings)
	return reply{status: http.StatusOK}
}

func (s *Server) esListGroups(c *call) reply {
	q := c.r.URL.Query()
	start, count, err := esPage(q)
	if err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", err.Error())
	}
	typ, search := q.Get("group_type"), strings.ToLower(q.Get("search_text"))
	withCount := !strings.EqualFold(q.Get("include_usercount"), "false")
	var all []esGroup
	for _, g := range c.acct.groups {
		if typ != "" && !strings.EqualFold(typ, esGroupType(g.typ)) {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(g.name), search) {
			continue
		}
		eg := esGroup{GroupID: itoa64(g.id), GroupName: g.name, GroupType: esGroupType(g.typ)}
		if withCount {
			eg.UsersCount = strconv.Itoa(c.acct.activeMemberCount(g))
		}
		all = append(all, eg)
	}
	page := pageOf(all, start, count)
	p := esPaging(c, "/groups", start, count, len(page), len(all))
	return jsonReply(http.StatusOK, esGroupInformation{
		Groups: page, ResultSetSize: p.size, StartPosition: p.start, EndPosition: p.end, TotalSetSize: p.total,
		NextURI: p.next, PreviousURI: p.previous,
	})
}

func (s *Server) esGroup(c *call) (*group, *reply) {
	id, err := strconv.ParseInt(c.r.PathValue("groupId"), 10, 64)
	var g *group
	if err == nil {
		g = c.acct.groupByID(id)
	}
	if g == nil {
		rep := esError(http.StatusBadRequest, "INVALID_GROUP_ID", "The group does not exist in this account.")
		return nil, &rep
	}
	return g, nil
}

func (s *Server) esGroupUsers(c *call) reply {
	g, rej := s.esGroup(c)
	if rej != nil {
		return *rej
	}
	start, count, err := esPage(c.r.URL.Query())
	if err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_PARAMETER", err.Error())
	}
	var all []esUserInfo
	for _, m := range c.acct.members {
		if m.status != StatusClosed && m.groupIDs[g.id] {
			all = append(all, s.esUserInfoView(m))
		}
	}
	page := pageOf(all, start, count)
	p := esPaging(c, "/groups/"+itoa64(g.id)+"/users", start, count, len(page), len(all))
	return jsonReply(http.StatusOK, esUsersResponse{
		Users: page, ResultSetSize: p.size, StartPosition: p.start, EndPosition: p.end, TotalSetSize: p.total,
		NextURI: p.next, PreviousURI: p.previous,
	})
}

func (s *Server) esChangeGroupUsers(c *call, add bool) reply {
	g, rej := s.esGroup(c)
	if rej != nil {
		return *rej
	}
	if g.typ == GroupTypeEveryone {
		return esError(http.StatusBadRequest, "INVALID_GROUP_ID", "The members of the Everyone group cannot be changed.")
	}
	var req esUserInfoList
	if err := decodeBody(c, &req); err != nil {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "The request body is missing or improperly formatted. "+err.Error())
	}
	if len(req.Users) == 0 {
		return esError(http.StatusBadRequest, "INVALID_REQUEST_BODY", "users is required.")
	}
	rep := esUsersResponse{Users: []esUserInfo{}}
	for _, ur := range req.Users {
		m := esMember(c, deref(ur.UserID))
		if m == nil {
			rep.Users = append(rep.Users, esUserInfo{UserID: deref(ur.UserID), ErrorDetails: errUserNotFound()})
			continue
		}
		if add {
			m.groupIDs[g.id] = true
		} else {
			delete(m.groupIDs, g.id) // assumed: removing a non-member succeeds
		}
		rep.Users = append(rep.Users, s.esUserInfoView(m))
	}
	return jsonReply(http.StatusOK, rep)
}

func (s *Server) esAddGroupUsers(c *call) reply    { return s.esChangeGroupUsers(c, true) }
func (s *Server) esRemoveGroupUsers(c *call) reply { return s.esChangeGroupUsers(c, false) }

func (s *Server) esProfileView(c *call, p *profile, withCount bool) esPermissionProfile {
	v := esPermissionProfile{
		PermissionProfileID: itoa64(p.id), PermissionProfileName: p.name, ModifiedDateTime: esTime(p.modified),
	}
	if withCount {
		v.UserCount = strconv.Itoa(c.acct.profileUserCount(p))
	}
	return v
}

func (s *Server) esListProfiles(c *call) reply {
	withCount := slices.Contains(splitList(c.r.URL.Query().Get("include")), "user_count")
	rep := esPermissionProfileInformation{PermissionProfiles: []esPermissionProfile{}}
	for _, p := range c.acct.profiles {
		rep.PermissionProfiles = append(rep.PermissionProfiles, s.esProfileView(c, p, withCount))
	}
	return jsonReply(http.StatusOK, rep)
}

func (s *Server) esGetProfile(c *call) reply {
	id, err := strconv.ParseInt(c.r.PathValue("permissionProfileId"), 10, 64)
	var p *profile
	if err == nil {
		p = c.acct.profileByID(id)
	}
	if p == nil {
		return esError(http.StatusBadRequest, "INVALID_PERMISSION_PROFILE_ID", "The permission profile does not exist in this account.")
	}
	withCount := slices.Contains(splitList(c.r.URL.Query().Get("include")), "user_count")
	return jsonReply(http.StatusOK, s.esProfileView(c, p, withCount))
}
