package docusign

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const orgsJSON = `{"organizations":[
 {"id":"ffffffff-0000-0000-0000-000000000000","name":"Other","default_account_id":"eeeeeeee-0000-0000-0000-00000000000e"},
 {"id":"` + testOrgID + `","name":"Example Org","default_account_id":"` + acctDefault + `","default_permission_profile_id":12,
  "accounts":[{"id":"` + acctA + `","name":"Example Europe","external_account_id":17000001,"site_id":1}]}]}`

func orgPath(rest string) string { return "/v2/organizations/" + testOrgID + rest }

func TestAdminBudgetAccountDiscovery(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleAdmin("GET", "/v2/organizations", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, orgsJSON)
	})
	f.handleAdmin("GET", orgPath("/accounts/{accountId}/permissions"), func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"permissions":[{"id":1,"name":"DocuSign Sender"}]}`)
	})
	hook := &recordingHook{}
	cfg := f.testConfig(nil)
	cfg.AdminBudgetAccountID = ""
	cfg.Hook = hook
	c := mustNew(t, cfg)
	ctx := t.Context()
	require.NoError(t, c.Verify(ctx))
	_, err := c.Admin().ListPermissionProfiles(ctx, acctA)
	require.NoError(t, err)
	orgs, err := c.Admin().ListOrganizations(ctx)
	require.NoError(t, err)
	require.Len(t, orgs.Organizations, 2)
	require.Equal(t, 1, orgs.Organizations[1].Accounts[0].SiteID)
	require.Equal(t, int64(17000001), orgs.Organizations[1].Accounts[0].ExternalAccountID)

	before, _, _ := hook.snapshot()
	require.Len(t, before, 3)
	require.Equal(t, "Organization_Organization_GetListV2", before[0].Operation)
	require.Equal(t, acctA, before[0].AccountID, "discovery spends the first configured account's budget")
	require.Equal(t, acctDefault, before[1].AccountID, "Admin calls spend the organization's default account")
	require.Equal(t, acctDefault, before[2].AccountID)
}

func TestAdminBudgetAccountDiscoveryFailsForUnknownOrganization(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	f.handleAdmin("GET", "/v2/organizations", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, `{"organizations":[{"id":"ffffffff-0000-0000-0000-000000000000","name":"Other"}]}`)
	})
	cfg := f.testConfig(nil)
	cfg.AdminBudgetAccountID = ""
	c := mustNew(t, cfg)
	err := c.Verify(t.Context())
	require.ErrorContains(t, err, "organization "+testOrgID+" is not among the organizations")
	require.ErrorContains(t, err, `"Other"`)
}

func TestAdminNotConfigured(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	cfg := f.testConfig(nil)
	cfg.OrganizationID = ""
	c := mustNew(t, cfg)
	_, err := c.Admin().GetUserProfiles(t.Context(), "ada@example.test")
	require.ErrorIs(t, err, ErrAdminNotConfigured)
	require.Empty(t, f.requestsSeen())
}

// adminUsersPage serves users [start, start+take) of total, with paging as the Admin API sends it.
func adminUsersPage(total int, withNext bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		take, _ := strconv.Atoi(r.URL.Query().Get("take"))
		var users []string
		for i := start; i < total && i < start+take; i++ {
			users = append(users, fmt.Sprintf(`{"id":"user-%d","email":"u%d@example.test","membership_status":"active","membership_id":"m-%d"}`, i, i, i))
		}
		next := ""
		if withNext && start+take < total {
			// Relative on odd pages, absolute with a foreign host on even ones: only the query is used.
			if (start/take)%2 == 0 {
				next = fmt.Sprintf("/v2/organizations/%s/users?start=%d&take=%d", testOrgID, start+take, take)
			} else {
				next = fmt.Sprintf("https://elsewhere.example/v2/organizations/%s/users?start=%d&take=%d", testOrgID, start+take, take)
			}
		}
		end := min(start+take, total) - 1
		writeJSON(w, 200, fmt.Sprintf(`{"users":[%s],"paging":{"result_set_size":%d,"result_set_start_position":%d,
"result_set_end_position":%d,"total_set_size":%d,"next":%q}}`, strings.Join(users, ","), len(users), start, end, total, next))
	}
}

func TestAdminListUsersFollowsEveryPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		withNext bool
	}{
		{name: "paging.next", withNext: true},
		{name: "start += result_set_size", withNext: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.handleAdmin("GET", orgPath("/users"), adminUsersPage(7, tt.withNext))
			c := mustNew(t, f.testConfig(nil))
			res, err := c.Admin().ListUsers(t.Context(), AdminUserFilter{AccountID: acctA, MembershipStatus: "active", Take: 2})
			require.NoError(t, err)
			require.Len(t, res.Users, 7)
			for i, u := range res.Users {
				require.Equal(t, fmt.Sprintf("user-%d", i), u.ID)
			}
			reqs := f.requestsSeen()
			require.Len(t, reqs, 4)
			for i, r := range reqs {
				require.Equal(t, "auth", r.Server, "never the host from paging.next")
				require.Equal(t, strconv.Itoa(i*2), r.Query.Get("start"))
				require.Equal(t, "2", r.Query.Get("take"))
				require.Equal(t, acctA, r.Query.Get("account_id"), "filters survive paging")
				require.Equal(t, "active", r.Query.Get("membership_status"))
			}
		})
	}
}

func TestAdminListUsersNeedsAFilter(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	c := mustNew(t, f.testConfig(nil))
	_, err := c.Admin().ListUsers(t.Context(), AdminUserFilter{Status: "active"})
	require.ErrorContains(t, err, "set Email, AccountID or ReservedDomainID")
	require.Empty(t, f.requestsSeen())
}

func TestAdminListGroupsPaging(t *testing.T) {
	t.Parallel()
	f := newFakeDocuSign(t)
	const total = 250
	f.handleAdmin("GET", orgPath("/accounts/"+acctA+"/groups"), func(w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		take, _ := strconv.Atoi(r.URL.Query().Get("take"))
		var groups []string
		for i := start; i < total && i < start+take; i++ {
			groups = append(groups, fmt.Sprintf(`{"id":%d,"name":"Group %d","type":"custom_group"}`, 1000+i, i))
		}
		writeJSON(w, 200, fmt.Sprintf(`{"groups":[%s],"paging":{"result_set_size":%d,"result_set_start_position":%d,"result_set_end_position":%d,"total_set_size":%d}}`,
			strings.Join(groups, ","), len(groups), start, min(start+take, total)-1, total))
	})
	c := mustNew(t, f.testConfig(nil))
	res, err := c.Admin().ListGroups(t.Context(), acctA)
	require.NoError(t, err)
	require.Len(t, res.Groups, total)
	require.Equal(t, int64(1249), res.Groups[249].ID)
	require.Len(t, f.requestsSeen(), 3)
}

func TestAdminOperationsSendTheDocumentedShapes(t *testing.T) {
	t.Parallel()
	sendFalse := false
	tests := []struct {
		name     string
		method   string
		path     string
		reply    string
		call     func(ctx context.Context, c *Client) (any, error)
		wantBody string
		wantQ    map[string]string
		check    func(t *testing.T, res any)
	}{
		{
			name: "CreateUser", method: "POST", path: orgPath("/users"),
			reply: `{"id":"u-1","site_id":1,"email":"ada@example.test","accounts":[{"id":"` + acctA + `","site_id":1,
				"permission_profile":{"id":12345678,"name":"DocuSign Sender"},"groups":[{"id":87654321,"name":"Everyone","type":"everyone_group"}]}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().CreateUser(ctx, NewUserRequest{UserName: "Ada Lovelace", FirstName: "Ada",
					LastName: "Lovelace", Email: "ada@example.test", DefaultAccountID: acctA, AutoActivateMemberships: true,
					Accounts: []NewUserAccount{{ID: acctA, PermissionProfile: &AdminIDRef{ID: 12345678},
						Groups: []AdminIDRef{{ID: 87654321}}, CompanyName: "Corp", JobTitle: "Engineer"}}})
			},
			wantBody: `{"user_name":"Ada Lovelace","first_name":"Ada","last_name":"Lovelace","email":"ada@example.test",
				"default_account_id":"` + acctA + `","auto_activate_memberships":true,"accounts":[{"id":"` + acctA + `",
				"permission_profile":{"id":12345678},"groups":[{"id":87654321}],"company_name":"Corp","job_title":"Engineer"}]}`,
			check: func(t *testing.T, res any) {
				r := res.(*NewUserResponse)
				require.Equal(t, "u-1", r.ID)
				require.Equal(t, 1, r.SiteID)
				require.Equal(t, int64(12345678), r.Accounts[0].PermissionProfile.ID)
				require.Equal(t, "everyone_group", r.Accounts[0].Groups[0].Type)
				require.Equal(t, 200, r.Reply.StatusCode)
			},
		},
		{
			name: "AddUserToAccount", method: "POST", path: orgPath("/accounts/" + acctB + "/users"),
			reply: `{"id":"u-1","site_id":1,"accounts":[{"id":"` + acctB + `"}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().AddUserToAccount(ctx, acctB, NewAccountUserRequest{Email: "ada@example.test",
					PermissionProfile: &AdminIDRef{ID: 5}, Groups: []AdminIDRef{{ID: 6}, {ID: 7}}})
			},
			wantBody: `{"email":"ada@example.test","permission_profile":{"id":5},"groups":[{"id":6},{"id":7}]}`,
			check:    func(t *testing.T, res any) { require.Equal(t, acctB, res.(*NewUserResponse).Accounts[0].ID) },
		},
		{
			name: "GetUserProfiles", method: "GET", path: orgPath("/users/profile"),
			reply: `{"users":[{"id":"u-1","site_id":1,"user_status":"active","memberships":[{"id":"m-1","account_id":"` + acctA + `",
				"status":"closed","closed_on":"2026-01-01T00:00:00Z","permission_profile":{"id":12,"name":"Sender"},"groups":[{"id":3,"name":"Everyone"}]}]}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().GetUserProfiles(ctx, "ada+x@example.test")
			},
			wantQ: map[string]string{"email": "ada+x@example.test"},
			check: func(t *testing.T, res any) {
				r := res.(*AdminUserProfiles)
				m := r.Users[0].Membership(strings.ToUpper(acctA))
				require.NotNil(t, m)
				require.Equal(t, "m-1", m.ID)
				require.Equal(t, "closed", m.Status)
				require.Equal(t, int64(12), m.PermissionProfile.ID)
				require.Nil(t, r.Users[0].Membership(acctB))
			},
		},
		{
			name: "UpdateUserProfiles", method: "POST", path: orgPath("/users/profiles"),
			reply: `{"success":true,"users":[{"id":"u-1","site_id":1}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().UpdateUserProfiles(ctx, UpdateUsersRequest{AutoActivateMembershipsOnReactivation: true,
					Users: []UpdateUserRequest{{ID: "u-1", SiteID: 1, FirstName: "Ada", Memberships: []UpdateMembershipRequest{
						{AccountID: acctA, PermissionProfile: &AdminIDRef{ID: 9}, Groups: []AdminIDRef{{ID: 4}}, JobTitle: "CTO",
							SendActivation: &sendFalse}}}}})
			},
			wantBody: `{"users":[{"id":"u-1","site_id":1,"first_name":"Ada","memberships":[{"account_id":"` + acctA + `",
				"permission_profile":{"id":9},"groups":[{"id":4}],"job_title":"CTO","send_activation":false}]}],
				"auto_activate_memberships_on_reactivation":true}`,
			check: func(t *testing.T, res any) { require.True(t, res.(*UsersUpdateResponse).Success) },
		},
		{
			name: "UpdateEmailAddresses", method: "POST", path: orgPath("/users/email_addresses"),
			reply: `{"success":true,"users":[{"id":"u-1","site_id":1,"email":"new@example.test"}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().UpdateEmailAddresses(ctx, []EmailAddressUpdate{{ID: "u-1", SiteID: 1, Email: "new@example.test"}})
			},
			wantBody: `{"users":[{"id":"u-1","site_id":1,"email":"new@example.test"}]}`,
			check: func(t *testing.T, res any) {
				require.Equal(t, "new@example.test", res.(*UsersUpdateResponse).Users[0].Email)
			},
		},
		{
			name: "CloseMemberships sends its DELETE body", method: "DELETE", path: orgPath("/users/u-1/accounts"),
			reply: `{"success":true,"accounts":[]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().CloseMemberships(ctx, "u-1", []string{acctA, acctB})
			},
			wantBody: `{"accounts":[{"id":"` + acctA + `"},{"id":"` + acctB + `"}]}`,
			check:    func(t *testing.T, res any) { require.True(t, res.(*CloseMembershipsResponse).Success) },
		},
		{
			name: "ReactivateMembership", method: "POST", path: orgPath("/users/u-1/memberships/m-1"),
			reply: `{"status":"active"}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().ReactivateMembership(ctx, "u-1", "m-1", 1)
			},
			wantBody: `{"site_id":1}`,
			check:    func(t *testing.T, res any) { require.Equal(t, "active", res.(*ReactivateResponse).Status) },
		},
		{
			name: "ListPermissionProfiles", method: "GET", path: orgPath("/accounts/" + acctA + "/permissions"),
			reply: `{"permissions":[{"id":1665537,"name":"DocuSign Sender"},{"id":1665538,"name":"Account Administrator"}]}`,
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Admin().ListPermissionProfiles(ctx, acctA) },
			check: func(t *testing.T, res any) {
				require.Equal(t, []AdminPermissionProfile{{ID: 1665537, Name: "DocuSign Sender"}, {ID: 1665538, Name: "Account Administrator"}},
					res.(*AdminPermissionProfileList).Permissions)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.handleAdmin(tt.method, tt.path, func(w http.ResponseWriter, r *http.Request) {
				if tt.wantBody != "" {
					require.Equal(t, "application/json", r.Header.Get("Content-Type"))
				}
				writeJSON(w, 200, tt.reply, rateHeaders(100)...)
			})
			c := mustNew(t, f.testConfig(nil))
			res, err := tt.call(t.Context(), c)
			require.NoError(t, err)
			reqs := f.requestsSeen()
			require.Len(t, reqs, 1)
			require.Equal(t, tt.method, reqs[0].Method)
			require.Equal(t, "/management"+tt.path, reqs[0].Path)
			if tt.wantBody != "" {
				requireJSONEq(t, tt.wantBody, reqs[0].Body)
			} else {
				require.Empty(t, reqs[0].Body)
			}
			for k, v := range tt.wantQ {
				require.Equal(t, v, reqs[0].Query.Get(k))
			}
			tt.check(t, res)
		})
	}
}

func TestAdminPerItemFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		method    string
		path      string
		reply     string
		call      func(ctx context.Context, c *Client) (any, error)
		wantItems []*ItemError
	}{
		{
			name: "update with error_details", method: "POST", path: orgPath("/users/profiles"),
			reply: `{"success":false,"users":[{"id":"u-1","site_id":1},{"id":"u-2","site_id":1,
				"error_details":{"error":"USER_LACKS_MEMBERSHIP","error_description":"no membership"}}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().UpdateUserProfiles(ctx, UpdateUsersRequest{Users: []UpdateUserRequest{{ID: "u-1", SiteID: 1}, {ID: "u-2", SiteID: 1}}})
			},
			wantItems: []*ItemError{{Index: 1, ID: "u-2", ErrorCode: "USER_LACKS_MEMBERSHIP", Message: "no membership"}},
		},
		{
			name: "success true but an item failed", method: "POST", path: orgPath("/users/email_addresses"),
			reply: `{"success":true,"users":[{"id":"u-1","site_id":1,"error_details":{"error":"invalid_request","error_description":"email in use"}}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().UpdateEmailAddresses(ctx, []EmailAddressUpdate{{ID: "u-1", SiteID: 1, Email: "x@example.test"}})
			},
			wantItems: []*ItemError{{Index: 0, ID: "u-1", ErrorCode: "invalid_request", Message: "email in use"}},
		},
		{
			name: "success false without details", method: "POST", path: orgPath("/users/profiles"),
			reply: `{"success":false,"users":[{"id":"u-1","site_id":1}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().UpdateUserProfiles(ctx, UpdateUsersRequest{Users: []UpdateUserRequest{{ID: "u-1", SiteID: 1}}})
			},
			wantItems: []*ItemError{{Index: -1, ErrorCode: CodeUnsuccessful, Message: "the reply says success=false without naming a failed item"}},
		},
		{
			name: "close with a failed account", method: "DELETE", path: orgPath("/users/u-1/accounts"),
			reply: `{"success":false,"accounts":[{"id":"` + acctB + `","error_details":{"error":"not_found","error_description":"membership not found"}}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Admin().CloseMemberships(ctx, "u-1", []string{acctA, acctB})
			},
			wantItems: []*ItemError{{Index: 0, ID: acctB, ErrorCode: "not_found", Message: "membership not found"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeDocuSign(t)
			f.handleAdmin(tt.method, tt.path, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, tt.reply) })
			c := mustNew(t, f.testConfig(nil))
			res, err := tt.call(t.Context(), c)
			require.NotNil(t, res, "the result comes back with the per-item error")
			var partial *PartialError
			require.ErrorAs(t, err, &partial)
			require.Equal(t, tt.wantItems, partial.Items)
			require.Equal(t, 200, partial.StatusCode)
			require.Equal(t, "trace-200", partial.TraceToken)
			if tt.wantItems[0].ErrorCode == CodeUserLacksMembership {
				require.ErrorIs(t, err, ErrUserLacksMembership)
			}
		})
	}
}
