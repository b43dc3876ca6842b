package docusign

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// ESignatureAPI is the eSignature REST API v2.1 Users surface: account-level users, groups and permission
// profiles. Each call goes to its account's base_uri + /restapi (from userinfo) and spends that account's budget.
// Most booleans and numbers are strings in v2.1 ("true", "20").
type ESignatureAPI struct {
	c *Client
}

// ErrorDetails is the eSignature per-item error (errorDetails).
type ErrorDetails struct {
	ErrorCode string `json:"errorCode,omitempty"`
	Message   string `json:"message,omitempty"`
}

// ESignUserSettings are user settings (userSettingsInformation) by their v2.1 names, such as canSendEnvelope,
// canManageTemplates, powerFormMode or locale (the v2 seed pages use other names; see docusign-api.md). Values are
// strings, as the v2.1 schema declares them: "true"/"false" for flags. Settings not named are left as they are.
type ESignUserSettings map[string]string

// UnmarshalJSON keeps the string-valued settings of a reply and skips the rest: replies also carry objects
// (the …Metadata companions, notification settings) that requests never send.
func (s *ESignUserSettings) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err //nolint:wrapcheck // the caller's decode error names the field
	}
	out := make(ESignUserSettings, len(raw))
	for k, v := range raw {
		var str string
		if json.Unmarshal(v, &str) == nil {
			out[k] = str
		}
	}
	*s = out
	return nil
}

// ESignGroup is an account's group (group). In a user's GroupList only GroupID needs to be set.
type ESignGroup struct {
	GroupID             string        `json:"groupId,omitempty"`
	GroupName           string        `json:"groupName,omitempty"`
	GroupType           string        `json:"groupType,omitempty"`
	PermissionProfileID string        `json:"permissionProfileId,omitempty"`
	UsersCount          string        `json:"usersCount,omitempty"`
	ErrorDetails        *ErrorDetails `json:"errorDetails,omitempty"`
}

func (g ESignGroup) refID() string   { return g.GroupID }
func (g ESignGroup) refName() string { return g.GroupName }

// ESignPermissionProfile is an account's permission profile (permissionProfile, subset).
type ESignPermissionProfile struct {
	PermissionProfileID   string `json:"permissionProfileId"`
	PermissionProfileName string `json:"permissionProfileName"`
	ModifiedDateTime      string `json:"modifiedDateTime,omitempty"`
	UserCount             string `json:"userCount,omitempty"`
}

func (p ESignPermissionProfile) refID() string   { return p.PermissionProfileID }
func (p ESignPermissionProfile) refName() string { return p.PermissionProfileName }

// ESignUser is an eSignature user (userInformation, subset), used both to send (create, update) and to receive.
// Empty fields are not sent, so an update leaves them unchanged (a field cannot be cleared this way). UserStatus is
// ActivationRequired, ActivationSent, Active, Closed or Disabled.
type ESignUser struct {
	UserID                     string            `json:"userId,omitempty"`
	UserName                   string            `json:"userName,omitempty"`
	FirstName                  string            `json:"firstName,omitempty"`
	MiddleName                 string            `json:"middleName,omitempty"`
	LastName                   string            `json:"lastName,omitempty"`
	Email                      string            `json:"email,omitempty"`
	UserType                   string            `json:"userType,omitempty"`
	UserStatus                 string            `json:"userStatus,omitempty"`
	IsAdmin                    string            `json:"isAdmin,omitempty"`
	PermissionProfileID        string            `json:"permissionProfileId,omitempty"`
	PermissionProfileName      string            `json:"permissionProfileName,omitempty"`
	GroupList                  []ESignGroup      `json:"groupList,omitempty"`
	UserSettings               ESignUserSettings `json:"userSettings,omitempty"`
	JobTitle                   string            `json:"jobTitle,omitempty"`
	Company                    string            `json:"company,omitempty"`
	CreatedDateTime            string            `json:"createdDateTime,omitempty"`
	UserAddedToAccountDateTime string            `json:"userAddedToAccountDateTime,omitempty"`
	LastLogin                  string            `json:"lastLogin,omitempty"`
	LoginStatus                string            `json:"loginStatus,omitempty"`
	URI                        string            `json:"uri,omitempty"`
	ErrorDetails               *ErrorDetails     `json:"errorDetails,omitempty"`
}

// ESignUserResult is the reply of GetUser and UpdateUser.
type ESignUserResult struct {
	ESignUser
	Reply Reply `json:"-"`
}

// ESignUserList is the reply of ListUsers (all pages together) and UpdateUsers.
type ESignUserList struct {
	Users []ESignUser
	// Reply is the last page's reply.
	Reply Reply
}

// ESignUserFilter selects users for ListUsers.
type ESignUserFilter struct {
	// Email is an exact email address. Older accounts can hold several users with one email.
	Email string
	// Status is ActivationRequired, ActivationSent, Active, Closed or Disabled (comma-separated for several).
	Status string
	// GroupID limits the listing to a group's members.
	GroupID string
	// AdditionalInfo asks for the full records, including groupList and userSettings.
	AdditionalInfo bool
	// Count is the page size (1–100); 0 means 100.
	Count int
}

// ESignNewUser is one item of a Users:create reply (newUser). ErrorDetails is set when this user failed.
type ESignNewUser struct {
	UserID                string        `json:"userId"`
	URI                   string        `json:"uri,omitempty"`
	Email                 string        `json:"email"`
	UserName              string        `json:"userName"`
	UserStatus            string        `json:"userStatus,omitempty"`
	MembershipID          string        `json:"membershipId,omitempty"`
	PermissionProfileID   string        `json:"permissionProfileId,omitempty"`
	PermissionProfileName string        `json:"permissionProfileName,omitempty"`
	CreatedDateTime       string        `json:"createdDateTime,omitempty"`
	ErrorDetails          *ErrorDetails `json:"errorDetails,omitempty"`
}

// ESignNewUsers is the reply of CreateUsers: one item per requested user, in order.
type ESignNewUsers struct {
	NewUsers []ESignNewUser `json:"newUsers"`
	Reply    Reply          `json:"-"`
}

// ESignUserInfo is one user of a usersResponse (userInfo): the result of closing users or changing group members.
type ESignUserInfo struct {
	UserID       string        `json:"userId"`
	UserName     string        `json:"userName,omitempty"`
	Email        string        `json:"email,omitempty"`
	UserStatus   string        `json:"userStatus,omitempty"`
	UserType     string        `json:"userType,omitempty"`
	MembershipID string        `json:"membershipId,omitempty"`
	ErrorDetails *ErrorDetails `json:"errorDetails,omitempty"`
}

// ESignUsersResponse is the reply of CloseUsers, AddGroupUsers and RemoveGroupUsers (usersResponse).
type ESignUsersResponse struct {
	Users []ESignUserInfo `json:"users"`
	Reply Reply           `json:"-"`
}

// ESignGroupList is the reply of ListGroups, all pages together.
type ESignGroupList struct {
	Groups []ESignGroup
	// Reply is the last page's reply.
	Reply Reply
}

// ESignPermissionProfileList is the reply of ListPermissionProfiles.
type ESignPermissionProfileList struct {
	PermissionProfiles []ESignPermissionProfile `json:"permissionProfiles"`
	Reply              Reply                    `json:"-"`
}

// GetUser reads one user (GET /v2.1/accounts/{accountId}/users/{userId}, User_GetUser). The v2.1 reference says
// additional_info has no effect here; use ListUsers with AdditionalInfo for the full record.
func (e *ESignatureAPI) GetUser(ctx context.Context, accountID, userID string) (*ESignUserResult, error) {
	const op = "User_GetUser"
	if accountID == "" || userID == "" {
		return nil, fmt.Errorf("docusign: esignature %s: account id and user id are required", op)
	}
	var out ESignUserResult
	reply, err := e.c.do(ctx, request{api: APIESignature, op: op, method: http.MethodGet, accountID: accountID,
		path: esignPath(accountID, "users", userID)}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	return &out, nil
}

// ListUsers lists an account's users matching f, following every page (GET …/users, Users_GetUsers).
func (e *ESignatureAPI) ListUsers(ctx context.Context, accountID string, f ESignUserFilter) (*ESignUserList, error) {
	const op = "Users_GetUsers"
	if accountID == "" {
		return nil, fmt.Errorf("docusign: esignature %s: account id is empty", op)
	}
	count := f.Count
	if count <= 0 || count > 100 {
		count = 100
	}
	q := url.Values{"start_position": {"0"}, "count": {strconv.Itoa(count)}}
	setIf(q, "email", f.Email)
	setIf(q, "status", f.Status)
	setIf(q, "group_id", f.GroupID)
	if f.AdditionalInfo {
		q.Set("additional_info", "true")
	}
	var all ESignUserList
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, errTooManyPages(APIESignature, op)
		}
		var out struct {
			esignPaging
			Users []ESignUser `json:"users"`
		}
		reply, err := e.c.do(ctx, request{api: APIESignature, op: op, method: http.MethodGet, accountID: accountID,
			path: esignPath(accountID, "users"), query: q}, &out)
		if err != nil {
			return nil, err
		}
		all.Users = append(all.Users, out.Users...)
		all.Reply = reply
		next, ok := nextESignQuery(q, out.esignPaging, len(out.Users))
		if !ok {
			return &all, nil
		}
		q = next
	}
}

// maxNewUsers is DocuSign's limit of users per Users:create request.
const maxNewUsers = 500

// CreateUsers creates users in an account (POST …/users, Users_PostUsers); each needs UserName and Email. A 201
// can hold failed items (e.g. USER_ALREADY_EXISTS_IN_ACCOUNT): the result is then returned together with a
// *PartialError, so errors.Is(err, ErrUserAlreadyExists) works for a one-user create.
func (e *ESignatureAPI) CreateUsers(ctx context.Context, accountID string, users []ESignUser) (*ESignNewUsers, error) {
	const op = "Users_PostUsers"
	if accountID == "" || len(users) == 0 || len(users) > maxNewUsers {
		return nil, fmt.Errorf("docusign: esignature %s: need an account id and 1 to %d users", op, maxNewUsers)
	}
	body := struct {
		NewUsers []ESignUser `json:"newUsers"`
	}{NewUsers: users}
	var out ESignNewUsers
	reply, err := e.c.do(ctx, request{api: APIESignature, op: op, method: http.MethodPost, accountID: accountID,
		path: esignPath(accountID, "users"), body: body}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	var items []*ItemError
	for i, u := range out.NewUsers {
		if ie := esignItemError(i, u.UserID, u.ErrorDetails); ie != nil {
			items = append(items, ie)
		}
	}
	return &out, esignPartial(op, reply, len(out.NewUsers), items)
}

// UpdateUser updates one user (PUT …/users/{userId}, User_PutUser): names, job title, company, permission
// profile, groups, settings. errorDetails in the reply come back as a *PartialError with the result.
func (e *ESignatureAPI) UpdateUser(ctx context.Context, accountID, userID string, u ESignUser) (*ESignUserResult, error) {
	const op = "User_PutUser"
	if accountID == "" || userID == "" {
		return nil, fmt.Errorf("docusign: esignature %s: account id and user id are required", op)
	}
	var out ESignUserResult
	reply, err := e.c.do(ctx, request{api: APIESignature, op: op, method: http.MethodPut, accountID: accountID,
		path: esignPath(accountID, "users", userID), body: u}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	var items []*ItemError
	if ie := esignItemError(0, userID, out.ErrorDetails); ie != nil {
		items = append(items, ie)
	}
	return &out, esignPartial(op, reply, 1, items)
}

// UpdateUsers updates several users, each identified by UserID (PUT …/users, Users_PutUsers). Per-user
// errorDetails come back as a *PartialError with the result.
func (e *ESignatureAPI) UpdateUsers(ctx context.Context, accountID string, users []ESignUser) (*ESignUserList, error) {
	const op = "Users_PutUsers"
	if accountID == "" || len(users) == 0 {
		return nil, fmt.Errorf("docusign: esignature %s: need an account id and users", op)
	}
	body := struct {
		Users []ESignUser `json:"users"`
	}{Users: users}
	var out struct {
		Users []ESignUser `json:"users"`
	}
	reply, err := e.c.do(ctx, request{api: APIESignature, op: op, method: http.MethodPut, accountID: accountID,
		path: esignPath(accountID, "users"), body: body}, &out)
	if err != nil {
		return nil, err
	}
	res := &ESignUserList{Users: out.Users, Reply: reply}
	var items []*ItemError
	for i, u := range out.Users {
		if ie := esignItemError(i, u.UserID, u.ErrorDetails); ie != nil {
			items = append(items, ie)
		}
	}
	return res, esignPartial(op, reply, len(out.Users), items)
}

// CloseUsers closes users in an account (DELETE …/users with body {"users":[{"userId"}]}, Users_DeleteUsers).
// DocuSign never deletes users; closing is reversible. Per-user errorDetails come back as a *PartialError with the
// result.
func (e *ESignatureAPI) CloseUsers(ctx context.Context, accountID string, userIDs []string) (*ESignUsersResponse, error) {
	const op = "Users_DeleteUsers"
	return e.usersCall(ctx, op, http.MethodDelete, accountID, esignPath(accountID, "users"), userIDs)
}

// AddGroupUsers adds users to a group (PUT …/groups/{groupId}/users, Groups_PutGroupUsers). Per-user errorDetails
// come back as a *PartialError with the result.
func (e *ESignatureAPI) AddGroupUsers(ctx context.Context, accountID, groupID string, userIDs []string) (*ESignUsersResponse, error) {
	const op = "Groups_PutGroupUsers"
	if groupID == "" {
		return nil, fmt.Errorf("docusign: esignature %s: group id is empty", op)
	}
	return e.usersCall(ctx, op, http.MethodPut, accountID, esignPath(accountID, "groups", groupID, "users"), userIDs)
}

// RemoveGroupUsers removes users from a group (DELETE …/groups/{groupId}/users with a JSON body,
// Groups_DeleteGroupUsers). Per-user errorDetails come back as a *PartialError with the result.
func (e *ESignatureAPI) RemoveGroupUsers(ctx context.Context, accountID, groupID string, userIDs []string) (*ESignUsersResponse, error) {
	const op = "Groups_DeleteGroupUsers"
	if groupID == "" {
		return nil, fmt.Errorf("docusign: esignature %s: group id is empty", op)
	}
	return e.usersCall(ctx, op, http.MethodDelete, accountID, esignPath(accountID, "groups", groupID, "users"), userIDs)
}

// usersCall sends a userInfoList {"users":[{"userId"}]} and checks the usersResponse per user.
func (e *ESignatureAPI) usersCall(ctx context.Context, op, method, accountID, path string, userIDs []string) (*ESignUsersResponse, error) {
	if accountID == "" || len(userIDs) == 0 {
		return nil, fmt.Errorf("docusign: esignature %s: need an account id and user ids", op)
	}
	type userRef struct {
		UserID string `json:"userId"`
	}
	body := struct {
		Users []userRef `json:"users"`
	}{}
	for _, id := range userIDs {
		body.Users = append(body.Users, userRef{UserID: id})
	}
	var out ESignUsersResponse
	reply, err := e.c.do(ctx, request{api: APIESignature, op: op, method: method, accountID: accountID, path: path,
		body: body}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	var items []*ItemError
	for i, u := range out.Users {
		if ie := esignItemError(i, u.UserID, u.ErrorDetails); ie != nil {
			items = append(items, ie)
		}
	}
	return &out, esignPartial(op, reply, len(userIDs), items)
}

// ListGroups lists an account's groups, following every page (GET …/groups, Groups_GetGroups). Prefer
// ResolveGroups, which caches.
func (e *ESignatureAPI) ListGroups(ctx context.Context, accountID string) (*ESignGroupList, error) {
	const op = "Groups_GetGroups"
	if accountID == "" {
		return nil, fmt.Errorf("docusign: esignature %s: account id is empty", op)
	}
	q := url.Values{"start_position": {"0"}, "count": {"100"}}
	var all ESignGroupList
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, errTooManyPages(APIESignature, op)
		}
		var out struct {
			esignPaging
			Groups []ESignGroup `json:"groups"`
		}
		reply, err := e.c.do(ctx, request{api: APIESignature, op: op, method: http.MethodGet, accountID: accountID,
			path: esignPath(accountID, "groups"), query: q}, &out)
		if err != nil {
			return nil, err
		}
		all.Groups = append(all.Groups, out.Groups...)
		all.Reply = reply
		next, ok := nextESignQuery(q, out.esignPaging, len(out.Groups))
		if !ok {
			return &all, nil
		}
		q = next
	}
}

// ListPermissionProfiles lists an account's permission profiles (GET …/permission_profiles,
// PermissionProfiles_GetPermissionProfiles). Prefer ResolvePermissionProfile, which caches.
func (e *ESignatureAPI) ListPermissionProfiles(ctx context.Context, accountID string) (*ESignPermissionProfileList, error) {
	const op = "PermissionProfiles_GetPermissionProfiles"
	if accountID == "" {
		return nil, fmt.Errorf("docusign: esignature %s: account id is empty", op)
	}
	var out ESignPermissionProfileList
	reply, err := e.c.do(ctx, request{api: APIESignature, op: op, method: http.MethodGet, accountID: accountID,
		path: esignPath(accountID, "permission_profiles")}, &out)
	if err != nil {
		return nil, err
	}
	out.Reply = reply
	return &out, nil
}

// ResolvePermissionProfile finds an account's permission profile by name or eSignature id through a per-account
// cache, refreshed once on a miss. An unknown profile is an *UnknownRefError (errors.Is
// ErrUnknownPermissionProfile).
func (e *ESignatureAPI) ResolvePermissionProfile(ctx context.Context, accountID string, ref Ref) (ESignPermissionProfile, error) {
	got, err := resolveRefs(ctx, &e.c.esignProfiles, APIESignature, KindPermissionProfile, accountID, []Ref{ref}, nil,
		func(ctx context.Context) ([]ESignPermissionProfile, error) {
			list, err := e.ListPermissionProfiles(ctx, accountID)
			if err != nil {
				return nil, err
			}
			return list.PermissionProfiles, nil
		})
	if err != nil {
		return ESignPermissionProfile{}, err
	}
	return got[0], nil
}

// ResolveGroups finds an account's groups by name or eSignature id through a per-account cache, refreshed at most
// once per call on a miss. The first unknown group is an *UnknownRefError (errors.Is ErrUnknownGroup).
func (e *ESignatureAPI) ResolveGroups(ctx context.Context, accountID string, refs []Ref) ([]ESignGroup, error) {
	return resolveRefs(ctx, &e.c.esignGroups, APIESignature, KindGroup, accountID, refs, nil,
		func(ctx context.Context) ([]ESignGroup, error) {
			list, err := e.ListGroups(ctx, accountID)
			if err != nil {
				return nil, err
			}
			return list.Groups, nil
		})
}

func esignItemError(index int, id string, d *ErrorDetails) *ItemError {
	if d == nil || (d.ErrorCode == "" && d.Message == "") {
		return nil
	}
	return &ItemError{Index: index, ID: id, ErrorCode: d.ErrorCode, Message: truncate(d.Message, maxMessageLen)}
}

func esignPartial(op string, reply Reply, total int, items []*ItemError) error {
	if len(items) == 0 {
		return nil
	}
	return &PartialError{API: APIESignature, Operation: op, StatusCode: reply.StatusCode, TraceToken: reply.TraceToken,
		Total: total, Items: items}
}
