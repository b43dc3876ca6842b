package docusignsim_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

type esNewUsers struct {
	NewUsers []struct {
		UserID                string `json:"userId"`
		URI                   string `json:"uri"`
		Email                 string `json:"email"`
		UserName              string `json:"userName"`
		UserStatus            string `json:"userStatus"`
		MembershipID          string `json:"membershipId"`
		PermissionProfileID   string `json:"permissionProfileId"`
		PermissionProfileName string `json:"permissionProfileName"`
		CreatedDateTime       string `json:"createdDateTime"`
		ErrorDetails          *struct {
			ErrorCode string `json:"errorCode"`
			Message   string `json:"message"`
		} `json:"errorDetails"`
	} `json:"newUsers"`
}

type esUserBody struct {
	UserID                string `json:"userId"`
	UserName              string `json:"userName"`
	FirstName             string `json:"firstName"`
	Email                 string `json:"email"`
	UserStatus            string `json:"userStatus"`
	IsAdmin               string `json:"isAdmin"`
	PermissionProfileID   string `json:"permissionProfileId"`
	PermissionProfileName string `json:"permissionProfileName"`
	JobTitle              string `json:"jobTitle"`
	GroupList             []struct {
		GroupID   string `json:"groupId"`
		GroupName string `json:"groupName"`
		GroupType string `json:"groupType"`
	} `json:"groupList"`
	UserSettings map[string]any `json:"userSettings"`
	ErrorDetails *struct {
		ErrorCode string `json:"errorCode"`
	} `json:"errorDetails"`
}

type esListBody struct {
	Users         []esUserBody `json:"users"`
	ResultSetSize string       `json:"resultSetSize"`
	StartPosition string       `json:"startPosition"`
	EndPosition   string       `json:"endPosition"`
	TotalSetSize  string       `json:"totalSetSize"`
	NextURI       string       `json:"nextUri"`
	PreviousURI   string       `json:"previousUri"`
}

func TestESignCreateWithDuplicate(t *testing.T) {
	t.Parallel()
	env := setup(t, nil)
	tok := env.token(t)
	url := env.esURL("na2", demoNA2, "/users")
	body := map[string]any{"newUsers": []map[string]any{
		{"userName": "Grace Hopper", "email": "grace@example.net", "firstName": "Grace", "lastName": "Hopper",
			"permissionProfileId": strconv.Itoa(na2Viewer), "groupList": []map[string]string{{"groupId": strconv.Itoa(na2Sales)}},
			"userSettings": map[string]any{"canSendEnvelope": true, "locale": "fr", "canEditSharedAddressBook": "share"}},
	}}
	r := env.do(t, http.MethodPost, url, tok, body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	first := decodeAs[esNewUsers](t, r)
	require.Len(t, first.NewUsers, 1)
	grace := first.NewUsers[0]
	require.Nil(t, grace.ErrorDetails)
	require.Equal(t, "ActivationSent", grace.UserStatus, "unclaimed domain")
	require.Equal(t, "/users/"+grace.UserID, grace.URI)
	require.Equal(t, "DocuSign Viewer", grace.PermissionProfileName)
	require.NotEmpty(t, grace.MembershipID)

	// Again, with a second, new user: 201 with one failed item.
	body["newUsers"] = append(body["newUsers"].([]map[string]any), map[string]any{"userName": "Alan Turing", "email": "alan@example.com"})
	body["newUsers"].([]map[string]any)[0]["email"] = "GRACE@example.net"
	r = env.do(t, http.MethodPost, url, tok, body)
	require.Equal(t, http.StatusCreated, r.status)
	second := decodeAs[esNewUsers](t, r)
	require.Len(t, second.NewUsers, 2)
	dup := second.NewUsers[0]
	require.NotNil(t, dup.ErrorDetails)
	require.Equal(t, "USER_ALREADY_EXISTS_IN_ACCOUNT", dup.ErrorDetails.ErrorCode)
	require.Equal(t, "0001-01-01T08:00:00.0000000Z", dup.CreatedDateTime)
	require.Equal(t, grace.UserID, dup.UserID)
	require.Nil(t, second.NewUsers[1].ErrorDetails)
	require.Equal(t, "Active", second.NewUsers[1].UserStatus, "claimed domain (assumed)")

	// Per-item validation errors.
	r = env.do(t, http.MethodPost, url, tok, map[string]any{"newUsers": []map[string]any{
		{"userName": "No Mail"},
		{"userName": "Bad Profile", "email": "bp@example.com", "permissionProfileId": strconv.Itoa(euSender)},
		{"userName": "Bad Group", "email": "bg@example.com", "groupList": []map[string]string{{"groupId": "42"}}},
	}})
	require.Equal(t, http.StatusCreated, r.status)
	bad := decodeAs[esNewUsers](t, r)
	require.Equal(t, "INVALID_EMAIL_ADDRESS_FOR_USER", bad.NewUsers[0].ErrorDetails.ErrorCode)
	require.Equal(t, "INVALID_PERMISSION_PROFILE_ID", bad.NewUsers[1].ErrorDetails.ErrorCode)
	require.Equal(t, "INVALID_GROUP_ID", bad.NewUsers[2].ErrorDetails.ErrorCode)

	// More than 500 users in one request.
	many := make([]map[string]any, 501)
	for i := range many {
		many[i] = map[string]any{"userName": "U", "email": fmt.Sprintf("u%d@example.com", i)}
	}
	r = env.do(t, http.MethodPost, url, tok, map[string]any{"newUsers": many})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "INVALID_REQUEST_PARAMETER", r.json(t)["errorCode"])

	// The same user created on the EU account is the same directory user.
	r = env.do(t, http.MethodPost, env.esURL("eu", demoEU, "/users"), tok, map[string]any{"newUsers": []map[string]any{{"userName": "Grace Hopper", "email": "grace@example.net"}}})
	require.Equal(t, http.StatusCreated, r.status)
	require.Equal(t, grace.UserID, decodeAs[esNewUsers](t, r).NewUsers[0].UserID)

	st, ok := env.srv.User("grace@example.net")
	require.True(t, ok)
	m := membershipIn(t, st, demoNA2)
	require.Equal(t, "activation_sent", m.Status)
	require.Equal(t, []string{"Everyone", "Sales"}, groupNames(m))
	require.Equal(t, map[string]any{"canSendEnvelope": "true", "locale": "fr"}, m.Settings, "v2 names dropped, booleans as strings")
}

func TestESignUserLifecycle(t *testing.T) {
	t.Parallel()
	env := setup(t, func(o *docusignsim.Options) { o.AutoActivateUnclaimed = true })
	tok := env.token(t)
	r := env.do(t, http.MethodPost, env.esURL("na2", demoNA2, "/users"), tok, map[string]any{"newUsers": []map[string]any{
		{"userName": "Katherine Johnson", "email": "kj@example.org", "firstName": "Katherine", "lastName": "Johnson"},
	}})
	require.Equal(t, http.StatusCreated, r.status)
	id := decodeAs[esNewUsers](t, r).NewUsers[0].UserID
	userURL := env.esURL("na2", demoNA2, "/users/"+id)

	got := decodeAs[esUserBody](t, env.do(t, http.MethodGet, userURL, tok, nil))
	require.Equal(t, "Active", got.UserStatus, "AutoActivateUnclaimed")
	require.Equal(t, "False", got.IsAdmin)
	require.Equal(t, strconv.Itoa(na2Sender), got.PermissionProfileID)
	require.Len(t, got.GroupList, 1)
	require.Equal(t, "everyoneGroup", got.GroupList[0].GroupType)

	// Update: names, profile, groups (replace), settings.
	r = env.do(t, http.MethodPut, userURL, tok, map[string]any{
		"firstName": "Kate", "jobTitle": "Mathematician", "permissionProfileId": strconv.Itoa(na2Viewer),
		"groupList":    []map[string]string{{"groupId": strconv.Itoa(na2Eng)}, {"groupId": strconv.Itoa(na2Finance)}},
		"userSettings": map[string]any{"canSendEnvelope": "false", "senderEmailNotifications": map[string]any{"envelopeComplete": true}},
	})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	got = decodeAs[esUserBody](t, r)
	require.Equal(t, "Kate", got.FirstName)
	require.Equal(t, "DocuSign Viewer", got.PermissionProfileName)
	require.Equal(t, "Mathematician", got.JobTitle)
	require.Len(t, got.GroupList, 3)
	require.Equal(t, "false", got.UserSettings["canSendEnvelope"])
	require.Equal(t, map[string]any{"envelopeComplete": "true"}, got.UserSettings["senderEmailNotifications"])

	r = env.do(t, http.MethodPut, userURL, tok, map[string]any{"groupList": []map[string]string{{"groupId": "1"}}})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "INVALID_GROUP_ID", r.json(t)["errorCode"])

	// Settings endpoints.
	r = env.do(t, http.MethodPut, userURL+"/settings", tok, map[string]any{"locale": "de"})
	require.Equal(t, http.StatusOK, r.status)
	require.Empty(t, r.body)
	settings := env.do(t, http.MethodGet, userURL+"/settings", tok, nil).json(t)
	require.Equal(t, "de", settings["locale"])
	require.Equal(t, "false", settings["canSendEnvelope"])

	// Group members: add, remove, per-user errors.
	groupURL := env.esURL("na2", demoNA2, "/groups/"+strconv.Itoa(na2Sales)+"/users")
	r = env.do(t, http.MethodPut, groupURL, tok, map[string]any{"users": []map[string]string{{"userId": id}, {"userId": "00000000-0000-4000-8000-0000000000ff"}}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	users := r.json(t)["users"].([]any)
	require.Nil(t, users[0].(map[string]any)["errorDetails"])
	require.Equal(t, "USER_NOT_FOUND", users[1].(map[string]any)["errorDetails"].(map[string]any)["errorCode"])
	members := env.do(t, http.MethodGet, groupURL, tok, nil).json(t)
	require.Equal(t, "1", members["totalSetSize"])
	r = env.do(t, http.MethodDelete, env.esURL("na2", demoNA2, "/groups/"+strconv.Itoa(na2Eng)+"/users"), tok, map[string]any{"users": []map[string]string{{"userId": id}}})
	require.Equal(t, http.StatusOK, r.status)
	r = env.do(t, http.MethodDelete, env.esURL("na2", demoNA2, "/groups/"+strconv.Itoa(na2Everyone)+"/users"), tok, map[string]any{"users": []map[string]string{{"userId": id}}})
	require.Equal(t, http.StatusBadRequest, r.status)
	st, _ := env.srv.User("kj@example.org")
	require.Equal(t, []string{"Everyone", "Sales", "Finance"}, groupNames(membershipIn(t, st, demoNA2)))

	// Groups and profiles lists.
	groups := env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/groups"), tok, nil).json(t)
	require.Equal(t, "4", groups["totalSetSize"])
	sales := groups["groups"].([]any)[1].(map[string]any)
	require.Equal(t, "Sales", sales["groupName"])
	require.Equal(t, "1", sales["usersCount"])
	profiles := env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/permission_profiles?include=user_count"), tok, nil).json(t)
	viewer := profiles["permissionProfiles"].([]any)[2].(map[string]any)
	require.Equal(t, strconv.Itoa(na2Viewer), viewer["permissionProfileId"])
	require.Equal(t, "1", viewer["userCount"])

	// Close (twice: assumed success) then reopen with userStatus Active (assumed).
	for range 2 {
		r = env.do(t, http.MethodDelete, env.esURL("na2", demoNA2, "/users"), tok, map[string]any{"users": []map[string]string{{"userId": id}}})
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		closed := r.json(t)["users"].([]any)[0].(map[string]any)
		require.Equal(t, "Closed", closed["userStatus"])
		require.Nil(t, closed["errorDetails"])
	}
	require.Equal(t, "Closed", decodeAs[esUserBody](t, env.do(t, http.MethodGet, userURL, tok, nil)).UserStatus)
	r = env.do(t, http.MethodPut, env.esURL("na2", demoNA2, "/users"), tok, map[string]any{"users": []map[string]any{
		{"userId": id, "userStatus": "Active"}, {"userId": "00000000-0000-4000-8000-0000000000ee", "firstName": "X"},
	}})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	list := decodeAs[esListBody](t, r)
	require.Equal(t, "Active", list.Users[0].UserStatus)
	require.Equal(t, "USER_NOT_FOUND", list.Users[1].ErrorDetails.ErrorCode)

	r = env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/users/00000000-0000-4000-8000-0000000000ee"), tok, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "USER_NOT_FOUND", r.json(t)["errorCode"])
}

func TestESignListFilters(t *testing.T) {
	t.Parallel()
	env := setup(t, nil)
	tok := env.token(t)
	r := env.do(t, http.MethodPost, env.esURL("eu", demoEU, "/users"), tok, map[string]any{"newUsers": []map[string]any{
		{"userName": "One", "email": "one@example.com"}, {"userName": "Two", "email": "two@example.net"},
	}})
	require.Equal(t, http.StatusCreated, r.status)

	list := decodeAs[esListBody](t, env.do(t, http.MethodGet, env.esURL("eu", demoEU, "/users?email=TWO@example.net"), tok, nil))
	require.Len(t, list.Users, 1)
	require.Equal(t, "two@example.net", list.Users[0].Email)
	require.Nil(t, list.Users[0].GroupList, "no additional_info: no groupList")

	list = decodeAs[esListBody](t, env.do(t, http.MethodGet, env.esURL("eu", demoEU, "/users?status=ActivationSent&additional_info=true"), tok, nil))
	require.Len(t, list.Users, 1)
	require.Equal(t, "two@example.net", list.Users[0].Email)
	require.NotEmpty(t, list.Users[0].GroupList)

	r = env.do(t, http.MethodGet, env.esURL("eu", demoEU, "/users?email=a@b.c&email_substring=b"), tok, nil)
	require.Equal(t, http.StatusBadRequest, r.status)
}

// TestPaging follows eSignature nextUri and Admin paging.next over more than three pages.
func TestPaging(t *testing.T) {
	t.Parallel()
	env := setup(t, nil)
	tok := env.token(t)
	var newUsers []map[string]any
	for i := range 8 {
		newUsers = append(newUsers, map[string]any{"userName": fmt.Sprintf("User %d", i), "email": fmt.Sprintf("user%d@example.com", i)})
	}
	require.Equal(t, http.StatusCreated, env.do(t, http.MethodPost, env.esURL("na2", demoNA2, "/users"), tok, map[string]any{"newUsers": newUsers}).status)

	// eSignature: 9 users (admin + 8), pages of 3.
	base := env.esURL("na2", demoNA2, "")
	next := "/users?count=3"
	var emails []string
	pages := 0
	for next != "" {
		list := decodeAs[esListBody](t, env.do(t, http.MethodGet, base+next, tok, nil))
		require.Equal(t, "9", list.TotalSetSize)
		require.Equal(t, strconv.Itoa(pages*3), list.StartPosition)
		require.Equal(t, strconv.Itoa(pages*3+2), list.EndPosition)
		require.Equal(t, "3", list.ResultSetSize)
		if pages > 0 {
			require.NotEmpty(t, list.PreviousURI)
		}
		for _, u := range list.Users {
			emails = append(emails, u.Email)
		}
		require.True(t, list.NextURI == "" || strings.HasPrefix(list.NextURI, "/users?"), list.NextURI)
		next = list.NextURI
		pages++
	}
	require.Equal(t, 3, pages)
	require.Len(t, emails, 9)
	require.Equal(t, "docusign.admin@example.com", emails[0])
	require.Equal(t, "user7@example.com", emails[8])

	// Admin: the same users by account_id, pages of 2, following the absolute next URL.
	type adminList struct {
		Users []struct {
			Email string `json:"email"`
		} `json:"users"`
		Paging struct {
			ResultSetSize          int    `json:"result_set_size"`
			ResultSetStartPosition int    `json:"result_set_start_position"`
			ResultSetEndPosition   int    `json:"result_set_end_position"`
			TotalSetSize           int    `json:"total_set_size"`
			Next                   string `json:"next"`
		} `json:"paging"`
	}
	target := env.adminURL("/users?account_id=" + demoNA2 + "&take=2")
	var adminEmails []string
	pages = 0
	for target != "" {
		page := decodeAs[adminList](t, env.do(t, http.MethodGet, target, tok, nil))
		require.Equal(t, 9, page.Paging.TotalSetSize)
		require.Equal(t, pages*2, page.Paging.ResultSetStartPosition)
		for _, u := range page.Users {
			adminEmails = append(adminEmails, u.Email)
		}
		target = page.Paging.Next
		pages++
	}
	require.Equal(t, 5, pages)
	require.Equal(t, emails, adminEmails)

	r := env.do(t, http.MethodGet, env.adminURL("/users"), tok, nil)
	require.Equal(t, http.StatusBadRequest, r.status, "a filter is required")
}

// TestSeededUsersAndFilters starts from a seed with pre-existing members (profiles and groups by
// name) and exercises the group filters, profile look-up and email changes.
func TestSeededUsersAndFilters(t *testing.T) {
	t.Parallel()
	seed, err := docusignsim.DefaultSeed()
	require.NoError(t, err)
	seed.Users = append(seed.Users,
		docusignsim.SeedUser{ID: "0c8a6c02-7f57-4b7e-9a0d-8f5d3c2b1a01", Email: "sam@example.com", FirstName: "Sam", LastName: "Sales",
			Memberships: []docusignsim.SeedMembership{{AccountID: demoNA2, PermissionProfile: "DocuSign Viewer", Groups: []string{"Sales"}, JobTitle: "Rep"}}},
		docusignsim.SeedUser{ID: "0c8a6c02-7f57-4b7e-9a0d-8f5d3c2b1a02", Email: "eve@example.com", FirstName: "Eve", LastName: "Eng",
			Memberships: []docusignsim.SeedMembership{
				{AccountID: demoEU, Groups: []string{"engineering"}, Default: true},
				{AccountID: demoNA2, Groups: []string{"Engineering"}, Status: "closed"},
			}},
	)
	env := setup(t, func(o *docusignsim.Options) { o.Seed = seed })
	tok := env.token(t)

	list := decodeAs[esListBody](t, env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/users?group_id="+strconv.Itoa(na2Sales)), tok, nil))
	require.Len(t, list.Users, 1)
	require.Equal(t, "sam@example.com", list.Users[0].Email)
	require.Equal(t, "Rep", list.Users[0].JobTitle)
	require.Equal(t, "Sam Sales", list.Users[0].UserName, "user_name defaults to first and last name")
	list = decodeAs[esListBody](t, env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/users?not_group_id="+strconv.Itoa(na2Sales)+"&status=closed"), tok, nil))
	require.Len(t, list.Users, 1)
	require.Equal(t, "eve@example.com", list.Users[0].Email)
	require.Equal(t, "Closed", list.Users[0].UserStatus)

	// Admin list by email shows the default account's membership.
	admin := env.do(t, http.MethodGet, env.adminURL("/users?email=eve@example.com"), tok, nil).json(t)
	row := admin["users"].([]any)[0].(map[string]any)
	require.Equal(t, "active", row["membership_status"])
	require.Equal(t, "active", row["user_status"])

	prof := env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/permission_profiles/"+strconv.Itoa(na2Viewer)+"?include=user_count"), tok, nil).json(t)
	require.Equal(t, "DocuSign Viewer", prof["permissionProfileName"])
	require.Equal(t, "1", prof["userCount"])
	r := env.do(t, http.MethodGet, env.esURL("na2", demoNA2, "/permission_profiles/"+strconv.Itoa(euSender)), tok, nil)
	require.Equal(t, http.StatusBadRequest, r.status, "ids are account-specific")

	samURL := env.esURL("na2", demoNA2, "/users/0c8a6c02-7f57-4b7e-9a0d-8f5d3c2b1a01")
	r = env.do(t, http.MethodPut, samURL, tok, map[string]any{"email": "eve@example.com"})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "INVALID_EMAIL_ADDRESS_FOR_USER", r.json(t)["errorCode"])
	r = env.do(t, http.MethodPut, samURL, tok, map[string]any{"email": "samuel@example.com"})
	require.Equal(t, http.StatusOK, r.status)
	_, found := env.srv.User("samuel@example.com")
	require.True(t, found)
	r = env.do(t, http.MethodPut, samURL, tok, "not an object")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "INVALID_REQUEST_BODY", r.json(t)["errorCode"])
	r = env.do(t, http.MethodPut, samURL, tok, map[string]any{"userSettings": []map[string]string{{"name": "locale", "value": "fr"}}})
	require.Equal(t, http.StatusBadRequest, r.status, "the v2 settings list is not v2.1")
}
