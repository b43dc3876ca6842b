package docusignsim_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// Demo seed profile and group ids (account-specific).
const (
	na2Sender   = 10016587
	na2Viewer   = 10016588
	na2Everyone = 7310001
	na2Sales    = 7310002
	na2Eng      = 7310003
	na2Finance  = 7310004
	euSender    = 20233902
	euEng       = 8420013
)

type adminMembership struct {
	ID                string `json:"id"`
	AccountID         string `json:"account_id"`
	Status            string `json:"status"`
	PermissionProfile struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"permission_profile"`
	Groups []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"groups"`
}

type adminProfileBody struct {
	Users []struct {
		ID          string            `json:"id"`
		SiteID      int32             `json:"site_id"`
		UserName    string            `json:"user_name"`
		FirstName   string            `json:"first_name"`
		UserStatus  string            `json:"user_status"`
		Memberships []adminMembership `json:"memberships"`
	} `json:"users"`
}

type adminUpdateBody struct {
	Success bool `json:"success"`
	Users   []struct {
		ID           string            `json:"id"`
		SiteID       int32             `json:"site_id"`
		Email        string            `json:"email"`
		ErrorDetails map[string]string `json:"error_details"`
	} `json:"users"`
}

func TestAdminOrganizationsAndReferenceData(t *testing.T) {
	t.Parallel()
	env := setup(t, nil)
	tok := env.token(t)

	r := env.do(t, http.MethodGet, env.srv.AdminURL()+"/v2/organizations?mode=org_admin", tok, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	orgs := decodeAs[struct {
		Organizations []struct {
			ID               string `json:"id"`
			DefaultAccountID string `json:"default_account_id"`
			Accounts         []struct {
				ID                string `json:"id"`
				ExternalAccountID int64  `json:"external_account_id"`
				SiteID            int32  `json:"site_id"`
			} `json:"accounts"`
			ReservedDomains []struct {
				HostName string `json:"host_name"`
			} `json:"reserved_domains"`
		} `json:"organizations"`
	}](t, r)
	require.Len(t, orgs.Organizations, 1)
	org := orgs.Organizations[0]
	require.Equal(t, demoOrg, org.ID)
	require.Equal(t, demoNA2, org.DefaultAccountID)
	require.Len(t, org.Accounts, 2)
	require.Equal(t, int64(29384756), org.Accounts[1].ExternalAccountID)
	require.Equal(t, int32(2), org.Accounts[1].SiteID)
	require.Equal(t, "example.com", org.ReservedDomains[0].HostName)

	// The spec's basePath spelling works too.
	require.Equal(t, http.StatusOK, env.do(t, http.MethodGet, strings.TrimSuffix(env.srv.AdminURL(), "/management")+"/Management/v2/organizations", tok, nil).status)

	perms := decodeAs[struct {
		Permissions []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"permissions"`
	}](t, env.do(t, http.MethodGet, env.adminURL("/accounts/"+demoEU+"/permissions"), tok, nil))
	require.Len(t, perms.Permissions, 3)
	require.Equal(t, int64(euSender), perms.Permissions[1].ID, "profile ids are account-specific")
	require.Equal(t, "DocuSign Sender", perms.Permissions[1].Name)

	groups := decodeAs[struct {
		Groups []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"groups"`
		Paging struct {
			ResultSetSize int    `json:"result_set_size"`
			TotalSetSize  int    `json:"total_set_size"`
			Next          string `json:"next"`
		} `json:"paging"`
	}](t, env.do(t, http.MethodGet, env.adminURL("/accounts/"+demoNA2+"/groups?start=0&take=2"), tok, nil))
	require.Len(t, groups.Groups, 2)
	require.Equal(t, "everyone_group", groups.Groups[0].Type)
	require.Equal(t, int64(na2Sales), groups.Groups[1].ID)
	require.Equal(t, 4, groups.Paging.TotalSetSize)
	require.Contains(t, groups.Paging.Next, "start=2")

	require.Equal(t, http.StatusNotFound, env.do(t, http.MethodGet, env.adminURL("/accounts/nope/permissions"), tok, nil).status)
}

func TestAdminAuthorization(t *testing.T) {
	t.Parallel()
	env := setup(t, nil)
	readOnly := env.tokenFor(t, env.claims("signature impersonation user_read"))
	r := env.do(t, http.MethodPost, env.adminURL("/users"), readOnly, map[string]any{"email": "x@example.com", "accounts": []any{}})
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, "forbidden", r.json(t)["error"])

	tok := env.token(t)
	r = env.do(t, http.MethodGet, env.srv.AdminURL()+"/v2/organizations/00000000-0000-4000-8000-000000000000/users?email=a@b.c", tok, nil)
	require.Equal(t, http.StatusForbidden, r.status)
	require.Equal(t, http.StatusUnauthorized, env.do(t, http.MethodGet, env.adminURL("/users?email=a@b.c"), "", nil).status)
}

// TestAdminUserLifecycle walks joiner → lookup → mover → email change → leaver → rehire.
func TestAdminUserLifecycle(t *testing.T) {
	t.Parallel()
	env := setup(t, nil)
	tok := env.token(t)

	create := map[string]any{
		"user_name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com",
		"auto_activate_memberships": true,
		"accounts": []map[string]any{
			{"id": demoNA2, "permission_profile": map[string]any{"id": na2Sender}, "groups": []map[string]any{{"id": na2Eng}}, "job_title": "Engineer"},
			{"id": demoEU, "groups": []map[string]any{{"id": euEng}}},
		},
	}
	r := env.do(t, http.MethodPost, env.adminURL("/users"), tok, create)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	created := decodeAs[struct {
		ID       string `json:"id"`
		SiteID   int32  `json:"site_id"`
		Email    string `json:"email"`
		Accounts []struct {
			ID                string `json:"id"`
			PermissionProfile struct {
				ID   int64  `json:"id"`
				Name string `json:"name"`
			} `json:"permission_profile"`
			Groups []struct {
				Name string `json:"name"`
			} `json:"groups"`
		} `json:"accounts"`
	}](t, r)
	require.NotEmpty(t, created.ID)
	require.Equal(t, int32(1), created.SiteID)
	require.Len(t, created.Accounts, 2)
	require.Equal(t, "DocuSign Sender", created.Accounts[0].PermissionProfile.Name)
	require.Equal(t, int64(euSender), created.Accounts[1].PermissionProfile.ID, "default profile of the EU account")
	require.Len(t, created.Accounts[0].Groups, 2)

	// Duplicate (case-insensitive email).
	create["email"] = "ada@EXAMPLE.com"
	r = env.do(t, http.MethodPost, env.adminURL("/users"), tok, create)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "user_already_exists", r.json(t)["error"])

	// Invalid references are refused as a whole.
	r = env.do(t, http.MethodPost, env.adminURL("/users"), tok, map[string]any{
		"email": "bad@example.com", "accounts": []map[string]any{{"id": demoNA2, "permission_profile": map[string]any{"id": euSender}}},
	})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.json(t)["error_description"], "unknown permission profile")
	_, found := env.srv.User("bad@example.com")
	require.False(t, found)

	// Lookup by email: both memberships, with ids and site.
	profile := decodeAs[adminProfileBody](t, env.do(t, http.MethodGet, env.adminURL("/users/profile?email="+url.QueryEscape("ADA@example.com")), tok, nil))
	require.Len(t, profile.Users, 1)
	u := profile.Users[0]
	require.Equal(t, created.ID, u.ID)
	require.Equal(t, "active", u.UserStatus)
	require.Len(t, u.Memberships, 2)
	na2 := u.Memberships[0]
	require.Equal(t, demoNA2, na2.AccountID)
	require.Equal(t, "active", na2.Status, "claimed domain + auto_activate_memberships")
	require.NotEmpty(t, na2.ID)
	require.Equal(t, int64(na2Sender), na2.PermissionProfile.ID)
	require.Equal(t, "Everyone", na2.Groups[0].Name)
	require.Equal(t, "everyone_group", na2.Groups[0].Type)
	require.Equal(t, "Engineering", na2.Groups[1].Name)

	// Mover: profile, groups (replace), names, job title.
	upd := map[string]any{"users": []map[string]any{{
		"id": created.ID, "site_id": u.SiteID, "first_name": "Augusta",
		"memberships": []map[string]any{{
			"account_id": demoNA2, "permission_profile": map[string]any{"id": na2Viewer},
			"groups": []map[string]any{{"id": na2Sales}, {"id": na2Finance}}, "job_title": "Analyst",
		}},
	}}}
	ur := decodeAs[adminUpdateBody](t, env.do(t, http.MethodPost, env.adminURL("/users/profiles"), tok, upd))
	require.True(t, ur.Success)
	require.Nil(t, ur.Users[0].ErrorDetails)
	st, _ := env.srv.User("ada@example.com")
	m := membershipIn(t, st, demoNA2)
	require.Equal(t, "DocuSign Viewer", m.PermissionProfile.Name)
	require.Equal(t, []string{"Everyone", "Sales", "Finance"}, groupNames(m), "assumed: groups replace all but Everyone")
	require.Equal(t, "Analyst", m.JobTitle)
	require.Equal(t, "Augusta", st.FirstName)

	// Wrong site id and unknown membership: per-user error_details, success false.
	upd = map[string]any{"users": []map[string]any{
		{"id": created.ID, "site_id": 7},
		{"id": created.ID, "site_id": u.SiteID, "memberships": []map[string]any{{"account_id": "00000000-0000-4000-8000-00000000000a"}}},
		{"id": "00000000-0000-4000-8000-00000000000b", "site_id": 1},
	}}
	ur = decodeAs[adminUpdateBody](t, env.do(t, http.MethodPost, env.adminURL("/users/profiles"), tok, upd))
	require.False(t, ur.Success)
	require.Len(t, ur.Users, 3)
	require.Equal(t, "invalid_site_id", ur.Users[0].ErrorDetails["error"])
	require.Equal(t, "invalid_request", ur.Users[1].ErrorDetails["error"])
	require.Equal(t, "user_not_found", ur.Users[2].ErrorDetails["error"])

	// Email change.
	ur = decodeAs[adminUpdateBody](t, env.do(t, http.MethodPost, env.adminURL("/users/email_addresses"), tok, map[string]any{
		"users": []map[string]any{{"id": created.ID, "site_id": u.SiteID, "email": "augusta@example.com"}},
	}))
	require.True(t, ur.Success)
	require.Equal(t, "augusta@example.com", ur.Users[0].Email)
	_, found = env.srv.User("ada@example.com")
	require.False(t, found)
	ur = decodeAs[adminUpdateBody](t, env.do(t, http.MethodPost, env.adminURL("/users/email_addresses"), tok, map[string]any{
		"users": []map[string]any{{"id": created.ID, "site_id": u.SiteID, "email": "docusign.admin@example.com"}},
	}))
	require.False(t, ur.Success)
	require.Equal(t, "email_already_exists", ur.Users[0].ErrorDetails["error"])

	// Leaver: close NA2 (twice: the second is a success) and an unknown account.
	closeBody := map[string]any{"accounts": []map[string]any{{"id": demoNA2}}}
	for range 2 {
		r = env.do(t, http.MethodDelete, env.adminURL("/users/"+created.ID+"/accounts"), tok, closeBody)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		require.JSONEq(t, `{"success":true,"accounts":[]}`, string(r.body))
	}
	r = env.do(t, http.MethodDelete, env.adminURL("/users/"+created.ID+"/accounts"), tok,
		map[string]any{"accounts": []map[string]any{{"id": "00000000-0000-4000-8000-00000000000c"}}})
	require.Equal(t, http.StatusOK, r.status)
	closeRes := r.json(t)
	require.Equal(t, false, closeRes["success"])
	require.Equal(t, "membership_not_found", closeRes["accounts"].([]any)[0].(map[string]any)["error_details"].(map[string]any)["error"])

	st, _ = env.srv.User("augusta@example.com")
	require.Equal(t, "closed", membershipIn(t, st, demoNA2).Status)
	require.NotNil(t, membershipIn(t, st, demoNA2).ClosedOn)
	require.Equal(t, "active", membershipIn(t, st, demoEU).Status)

	// The users list filters by membership status and shows the membership id.
	list := decodeAs[struct {
		Users []struct {
			ID               string `json:"id"`
			MembershipStatus string `json:"membership_status"`
			MembershipID     string `json:"membership_id"`
		} `json:"users"`
	}](t, env.do(t, http.MethodGet, env.adminURL("/users?account_id="+demoNA2+"&membership_status=closed"), tok, nil))
	require.Len(t, list.Users, 1)
	require.Equal(t, created.ID, list.Users[0].ID)
	require.Equal(t, na2.ID, list.Users[0].MembershipID)

	// Rehire: reactivate the membership by its membership id.
	r = env.do(t, http.MethodPost, env.adminURL("/users/"+created.ID+"/memberships/"+na2.ID), tok, map[string]any{"site_id": u.SiteID})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.JSONEq(t, `{"status":"active"}`, string(r.body))
	st, _ = env.srv.User("augusta@example.com")
	require.Equal(t, "active", membershipIn(t, st, demoNA2).Status)
	require.Nil(t, membershipIn(t, st, demoNA2).ClosedOn)
	r = env.do(t, http.MethodPost, env.adminURL("/users/"+created.ID+"/memberships/"+demoNA2), tok, map[string]any{"site_id": u.SiteID})
	require.Equal(t, http.StatusNotFound, r.status, "an account id is not a membership id")
}

func TestAdminActivationAndAddToAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		email       string
		auto        bool
		unclaimedOK bool
		want        string
	}{
		{name: "claimed domain, auto-activate", email: "a@example.com", auto: true, want: "active"},
		{name: "claimed domain, no auto-activate", email: "b@example.com", want: "activation_sent"},
		{name: "unclaimed domain, auto-activate", email: "c@example.net", auto: true, want: "activation_sent"},
		{name: "unclaimed domain, option set", email: "d@example.net", auto: true, unclaimedOK: true, want: "active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := setup(t, func(o *docusignsim.Options) { o.AutoActivateUnclaimed = tt.unclaimedOK })
			tok := env.token(t)
			r := env.do(t, http.MethodPost, env.adminURL("/accounts/"+demoEU+"/users"), tok, map[string]any{
				"email": tt.email, "first_name": "F", "last_name": "L", "auto_activate_memberships": tt.auto,
				"permission_profile": map[string]any{"id": euSender},
			})
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			st, ok := env.srv.User(tt.email)
			require.True(t, ok)
			require.Equal(t, tt.want, membershipIn(t, st, demoEU).Status)

			// Adding the same user again to the same account is refused; to another account works.
			r = env.do(t, http.MethodPost, env.adminURL("/accounts/"+demoEU+"/users"), tok, map[string]any{"email": tt.email})
			require.Equal(t, http.StatusBadRequest, r.status)
			require.Equal(t, "membership_already_exists", r.json(t)["error"])
			r = env.do(t, http.MethodPost, env.adminURL("/accounts/"+demoNA2+"/users"), tok, map[string]any{"email": tt.email})
			require.Equal(t, http.StatusOK, r.status)
			st, _ = env.srv.User(tt.email)
			require.Len(t, st.Memberships, 2)
			require.Equal(t, st.ID, r.json(t)["id"], "the existing user gets the membership")
		})
	}
}
