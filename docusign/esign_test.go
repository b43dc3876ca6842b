package docusign

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func esPath(rest string) string { return "/v2.1/accounts/" + acctA + rest }

func TestESignCreateUsersReturnsPerItemResults(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "POST", esPath("/users"), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 201, `{"newUsers":[
 {"userId":"u-1","uri":"/users/u-1","email":"ada@example.test","userName":"Ada Lovelace","userStatus":"ActivationSent",
  "membershipId":"m-1","createdDateTime":"2026-03-10T06:00:00.0000000Z","apiPassword":"should-not-be-kept"},
 {"userId":"u-2","uri":"/users/u-2","email":"bob@example.test","userName":"Bob","createdDateTime":"0001-01-01T08:00:00.0000000Z",
  "errorDetails":{"errorCode":"USER_ALREADY_EXISTS_IN_ACCOUNT","message":"Username and email combination already exists for this account."}}]}`,
			rateHeaders(42)...)
	})
	c := mustNew(t, f.testConfig(nil))
	res, err := c.ESignature().CreateUsers(t.Context(), acctA, []ESignUser{
		{UserName: "Ada Lovelace", Email: "ada@example.test", FirstName: "Ada", LastName: "Lovelace", JobTitle: "Engineer",
			Company: "Corp", PermissionProfileID: "12345678", GroupList: []ESignGroup{{GroupID: "87654321"}},
			UserSettings: ESignUserSettings{"locale": "en", "canSendEnvelope": "true", "canManageTemplates": "share",
				"canEditSharedAddressbook": "use_private_and_shared", "bulkSend": "true", "powerFormMode": "user"}},
		{UserName: "Bob", Email: "bob@example.test"},
	})
	require.NotNil(t, res)
	require.Len(t, res.NewUsers, 2, "every item comes back, failed or not")
	require.Equal(t, "m-1", res.NewUsers[0].MembershipID)
	require.Nil(t, res.NewUsers[0].ErrorDetails)
	require.Equal(t, 201, res.Reply.StatusCode)
	require.Equal(t, 42, res.Reply.RateLimit.Remaining)

	require.ErrorIs(t, err, ErrUserAlreadyExists)
	var partial *PartialError
	require.ErrorAs(t, err, &partial)
	require.Equal(t, 2, partial.Total)
	require.Equal(t, []*ItemError{{Index: 1, ID: "u-2", ErrorCode: CodeUserAlreadyExists,
		Message: "Username and email combination already exists for this account."}}, partial.Items)
	require.NotContains(t, err.Error(), "bob@example.test", "no email in error text")
	var item *ItemError
	require.ErrorAs(t, err, &item)
	require.Equal(t, "u-2", item.ID)

	reqs := f.requestsSeen()
	require.Len(t, reqs, 1)
	requireJSONEq(t, `{"newUsers":[
 {"userName":"Ada Lovelace","email":"ada@example.test","firstName":"Ada","lastName":"Lovelace","jobTitle":"Engineer","company":"Corp",
  "permissionProfileId":"12345678","groupList":[{"groupId":"87654321"}],
  "userSettings":{"locale":"en","canSendEnvelope":"true","canManageTemplates":"share","canEditSharedAddressbook":"use_private_and_shared",
   "bulkSend":"true","powerFormMode":"user"}},
 {"userName":"Bob","email":"bob@example.test"}]}`, reqs[0].Body)
}

func TestESignCreateUsersAllOK(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "POST", esPath("/users"), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 201, `{"newUsers":[{"userId":"u-1","email":"ada@example.test","userName":"Ada"}]}`)
	})
	c := mustNew(t, f.testConfig(nil))
	res, err := c.ESignature().CreateUsers(t.Context(), acctA, []ESignUser{{UserName: "Ada", Email: "ada@example.test"}})
	require.NoError(t, err)
	require.Equal(t, "u-1", res.NewUsers[0].UserID)
}

// esignUsersPage serves users [start, start+count) of total with v2.1 string paging fields; nextUri is relative.
func esignUsersPage(total int, withNextURI bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.Atoi(r.URL.Query().Get("start_position"))
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		var users []string
		for i := start; i < total && i < start+count; i++ {
			users = append(users, fmt.Sprintf(`{"userId":"user-%d","userName":"User %d","email":"u%d@example.test","userStatus":"Active"}`, i, i, i))
		}
		next := "null"
		if withNextURI && start+count < total {
			next = strconv.Quote(fmt.Sprintf("/v2.1/accounts/%s/users?start_position=%d&count=%d", acctA, start+count, count))
		}
		writeJSON(w, 200, fmt.Sprintf(`{"users":[%s],"resultSetSize":"%d","startPosition":"%d","endPosition":"%d","totalSetSize":"%d","nextUri":%s}`,
			strings.Join(users, ","), len(users), start, min(start+count, total)-1, total, next))
	}
}

func TestESignListUsersFollowsEveryPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		withNextURI bool
	}{
		{name: "nextUri", withNextURI: true},
		{name: "totals only", withNextURI: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.handleESign(f.envAMux, "GET", esPath("/users"), esignUsersPage(7, tt.withNextURI))
			c := mustNew(t, f.testConfig(nil))
			res, err := c.ESignature().ListUsers(t.Context(), acctA, ESignUserFilter{Email: "u@example.test", Status: "Active",
				AdditionalInfo: true, Count: 3})
			require.NoError(t, err)
			require.Len(t, res.Users, 7)
			require.Equal(t, "user-6", res.Users[6].UserID)
			reqs := f.requestsSeen()
			require.Len(t, reqs, 3)
			for i, r := range reqs {
				require.Equal(t, strconv.Itoa(i*3), r.Query.Get("start_position"))
				require.Equal(t, "3", r.Query.Get("count"))
				require.Equal(t, "u@example.test", r.Query.Get("email"))
				require.Equal(t, "Active", r.Query.Get("status"))
				require.Equal(t, "true", r.Query.Get("additional_info"))
			}
		})
	}
}

func TestESignListGroupsFollowsEveryPage(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	const total = 230
	f.handleESign(f.envAMux, "GET", esPath("/groups"), func(w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.Atoi(r.URL.Query().Get("start_position"))
		count, _ := strconv.Atoi(r.URL.Query().Get("count"))
		var groups []string
		for i := start; i < total && i < start+count; i++ {
			groups = append(groups, fmt.Sprintf(`{"groupId":"%d","groupName":"Group %d","groupType":"customGroup","usersCount":"0"}`, 500+i, i))
		}
		next := ""
		if start+count < total {
			next = fmt.Sprintf("https://elsewhere.example/restapi/v2.1/accounts/%s/groups?start_position=%d&count=%d", acctA, start+count, count)
		}
		writeJSON(w, 200, fmt.Sprintf(`{"groups":[%s],"resultSetSize":"%d","startPosition":"%d","endPosition":"%d","totalSetSize":"%d","nextUri":%q}`,
			strings.Join(groups, ","), len(groups), start, min(start+count, total)-1, total, next))
	})
	c := mustNew(t, f.testConfig(nil))
	res, err := c.ESignature().ListGroups(t.Context(), acctA)
	require.NoError(t, err)
	require.Len(t, res.Groups, total)
	require.Equal(t, "729", res.Groups[229].GroupID)
	reqs := f.requestsSeen()
	require.Len(t, reqs, 3)
	for _, r := range reqs {
		require.Equal(t, "envA", r.Server, "never the host from nextUri")
	}
}

func TestESignUsersBodiesAndPerUserErrors(t *testing.T) {
	t.Parallel()
	const failedReply = `{"users":[{"userId":"u-1","userStatus":"Closed"},
 {"userId":"u-2","errorDetails":{"errorCode":"USER_DOES_NOT_BELONG_TO_SPECIFIED_ACCOUNT","message":"The specified User is not a member of the specified Account."}}]}`
	tests := []struct {
		name   string
		method string
		path   string
		call   func(ctx context.Context, c *Client) (*ESignUsersResponse, error)
	}{
		{name: "CloseUsers", method: "DELETE", path: esPath("/users"),
			call: func(ctx context.Context, c *Client) (*ESignUsersResponse, error) {
				return c.ESignature().CloseUsers(ctx, acctA, []string{"u-1", "u-2"})
			}},
		{name: "AddGroupUsers", method: "PUT", path: esPath("/groups/g-9/users"),
			call: func(ctx context.Context, c *Client) (*ESignUsersResponse, error) {
				return c.ESignature().AddGroupUsers(ctx, acctA, "g-9", []string{"u-1", "u-2"})
			}},
		{name: "RemoveGroupUsers", method: "DELETE", path: esPath("/groups/g-9/users"),
			call: func(ctx context.Context, c *Client) (*ESignUsersResponse, error) {
				return c.ESignature().RemoveGroupUsers(ctx, acctA, "g-9", []string{"u-1", "u-2"})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.handleESign(f.envAMux, tt.method, tt.path, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, failedReply) })
			c := mustNew(t, f.testConfig(nil))
			res, err := tt.call(t.Context(), c)
			require.NotNil(t, res)
			require.Len(t, res.Users, 2)
			require.ErrorIs(t, err, ErrUserNotInAccount)
			var partial *PartialError
			require.ErrorAs(t, err, &partial)
			require.Len(t, partial.Items, 1)
			require.Equal(t, "u-2", partial.Items[0].ID)
			reqs := f.requestsSeen()
			require.Len(t, reqs, 1)
			require.Equal(t, tt.method, reqs[0].Method)
			requireJSONEq(t, `{"users":[{"userId":"u-1"},{"userId":"u-2"}]}`, reqs[0].Body)
		})
	}
}

func TestESignUpdateUsers(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "PUT", esPath("/users/u-1"), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"userId":"u-1","firstName":"Ada","jobTitle":"CTO","permissionProfileId":"7"}`)
	})
	f.handleESign(f.envAMux, "PUT", esPath("/users"), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"users":[{"userId":"u-1"},{"userId":"u-2","errorDetails":{"errorCode":"USER_LACKS_PERMISSIONS","message":"no"}}]}`)
	})
	f.handleESign(f.envAMux, "GET", esPath("/permission_profiles"), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"permissionProfiles":[{"permissionProfileId":"1665537","permissionProfileName":"DocuSign Sender","userCount":"3"}]}`)
	})
	c := mustNew(t, f.testConfig(nil))
	ctx := t.Context()
	one, err := c.ESignature().UpdateUser(ctx, acctA, "u-1", ESignUser{FirstName: "Ada", JobTitle: "CTO", PermissionProfileID: "7",
		GroupList: []ESignGroup{{GroupID: "1"}, {GroupID: "2"}}})
	require.NoError(t, err)
	require.Equal(t, "CTO", one.JobTitle)

	many, err := c.ESignature().UpdateUsers(ctx, acctA, []ESignUser{{UserID: "u-1", LastName: "L"}, {UserID: "u-2", Company: "C"}})
	require.ErrorIs(t, err, ErrUserLacksPermissions)
	require.Len(t, many.Users, 2)

	profiles, err := c.ESignature().ListPermissionProfiles(ctx, acctA)
	require.NoError(t, err)
	require.Equal(t, "1665537", profiles.PermissionProfiles[0].PermissionProfileID)

	reqs := f.requestsSeen()
	require.Len(t, reqs, 3)
	requireJSONEq(t, `{"firstName":"Ada","jobTitle":"CTO","permissionProfileId":"7","groupList":[{"groupId":"1"},{"groupId":"2"}]}`, reqs[0].Body)
	requireJSONEq(t, `{"users":[{"userId":"u-1","lastName":"L"},{"userId":"u-2","company":"C"}]}`, reqs[1].Body)
}

func TestESignUpdateUserItemError(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleESign(f.envAMux, "PUT", esPath("/users/u-1"), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"userId":"u-1","errorDetails":{"errorCode":"USER_LACKS_PERMISSIONS","message":"no"}}`)
	})
	c := mustNew(t, f.testConfig(nil))
	res, err := c.ESignature().UpdateUser(t.Context(), acctA, "u-1", ESignUser{FirstName: "Ada"})
	require.ErrorIs(t, err, ErrUserLacksPermissions)
	require.NotNil(t, res)
}

func TestESignUserSettingsDecodeKeepsStrings(t *testing.T) {
	t.Parallel()
	var u ESignUser
	require.NoError(t, json.Unmarshal([]byte(`{"userId":"u1","userSettings":{"locale":"en","canSendEnvelope":"true",`+
		`"canSendEnvelopeMetadata":{"rights":"editable","options":["true","false"]},"signerEmailNotifications":{"envelopeVoided":"true"}}}`), &u))
	require.Equal(t, ESignUserSettings{"locale": "en", "canSendEnvelope": "true"}, u.UserSettings)
}
