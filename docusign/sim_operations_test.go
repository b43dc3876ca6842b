package docusign_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// TestSimEveryOperation runs every operation of both surfaces once or more against the simulator, checks each
// outcome in the simulator's directory, and ends by checking that the validating transport saw every operationId,
// under the same name the client reports to its hook.
func TestSimEveryOperation(t *testing.T) {
	t.Parallel()
	h := startSim(t, nil)
	ctx := t.Context()
	c := h.verifiedClient(t, nil)
	admin := c.Admin()
	na2, eu := docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU
	seed := h.sim.Dump()
	na2Acct, euAcct := simAccount(t, seed, na2), simAccount(t, seed, eu)

	// Organizations.
	orgs, err := admin.ListOrganizations(ctx)
	require.NoError(t, err)
	require.Len(t, orgs.Organizations, 1)
	org := orgs.Organizations[0]
	require.Equal(t, docusignsim.DemoOrganizationID, org.ID)
	require.Equal(t, seed.Organization.DefaultAccountID, org.DefaultAccountID)
	require.Len(t, org.Accounts, 2)
	for _, a := range org.Accounts {
		require.Equal(t, int(simAccount(t, seed, a.ID).SiteID), a.SiteID, a.ID)
	}

	// Admin reference data: listed, then resolved by name and by id (ids differ per account).
	adminProfiles, err := admin.ListPermissionProfiles(ctx, eu)
	require.NoError(t, err)
	require.Len(t, adminProfiles.Permissions, len(euAcct.PermissionProfiles))
	for _, p := range adminProfiles.Permissions {
		require.Equal(t, idOf(t, euAcct.PermissionProfiles, p.Name), p.ID, p.Name)
	}
	adminGroups, err := admin.ListGroups(ctx, eu)
	require.NoError(t, err)
	require.Len(t, adminGroups.Groups, len(euAcct.Groups))
	for _, g := range adminGroups.Groups {
		require.Equal(t, idOf(t, euAcct.Groups, g.Name), g.ID, g.Name)
	}
	senderNA2, err := admin.ResolvePermissionProfile(ctx, na2, docusign.RefByName("DocuSign Sender"))
	require.NoError(t, err)
	require.Equal(t, idOf(t, na2Acct.PermissionProfiles, "DocuSign Sender"), senderNA2.ID)
	viewerNA2, err := admin.ResolvePermissionProfile(ctx, na2, docusign.RefByName("docusign viewer"))
	require.NoError(t, err)
	require.Equal(t, idOf(t, na2Acct.PermissionProfiles, "DocuSign Viewer"), viewerNA2.ID, "case-insensitive name")
	viewerEU, err := admin.ResolvePermissionProfile(ctx, eu,
		docusign.RefByID(strconv.FormatInt(idOf(t, euAcct.PermissionProfiles, "DocuSign Viewer"), 10)))
	require.NoError(t, err)
	require.Equal(t, "DocuSign Viewer", viewerEU.Name)
	require.NotEqual(t, viewerNA2.ID, viewerEU.ID)
	groupsNA2, err := admin.ResolveGroups(ctx, na2, []docusign.Ref{docusign.RefByName("Sales"),
		docusign.RefByName("Engineering"), docusign.RefByName("Finance")})
	require.NoError(t, err)
	salesNA2, engNA2, finNA2 := groupsNA2[0], groupsNA2[1], groupsNA2[2]
	require.Equal(t, idOf(t, na2Acct.Groups, "Finance"), finNA2.ID)
	groupsEU, err := admin.ResolveGroups(ctx, eu, []docusign.Ref{docusign.RefByName("Engineering"), docusign.RefByName("Sales")})
	require.NoError(t, err)
	engEU, salesEU := groupsEU[0], groupsEU[1]
	require.Equal(t, idOf(t, euAcct.Groups, "Engineering"), engEU.ID)
	require.NotEqual(t, salesNA2.ID, salesEU.ID)

	// Cached look-ups cost nothing; an unknown name costs exactly one refresh and names what the account has.
	groupCalls := h.sim.RequestCount("Account_Accounts_GetGroupsV2")
	_, err = admin.ResolveGroups(ctx, na2, []docusign.Ref{docusign.RefByName("Sales")})
	require.NoError(t, err)
	require.Equal(t, groupCalls, h.sim.RequestCount("Account_Accounts_GetGroupsV2"))
	_, err = admin.ResolveGroups(ctx, na2, []docusign.Ref{docusign.RefByName("Marketing")})
	require.ErrorIs(t, err, docusign.ErrUnknownGroup)
	var unknown *docusign.UnknownRefError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, na2, unknown.AccountID)
	require.Contains(t, unknown.Known, `"Sales" (`+strconv.FormatInt(salesNA2.ID, 10)+`)`)
	require.Contains(t, err.Error(), na2)
	require.Equal(t, groupCalls+1, h.sim.RequestCount("Account_Accounts_GetGroupsV2"))

	// Joiner: one Admin call creates memberships in two accounts.
	adaEmail := "ada.lovelace@" + docusignsim.DemoClaimedDomain
	created, err := admin.CreateUser(ctx, docusign.NewUserRequest{
		UserName: "Ada Lovelace", FirstName: "Ada", LastName: "Lovelace", Email: adaEmail,
		DefaultAccountID: na2, AutoActivateMemberships: true,
		Accounts: []docusign.NewUserAccount{
			{ID: na2, PermissionProfile: &docusign.AdminIDRef{ID: senderNA2.ID}, Groups: []docusign.AdminIDRef{{ID: salesNA2.ID}},
				JobTitle: "Analyst", CompanyName: "Example Corp"},
			{ID: eu, PermissionProfile: &docusign.AdminIDRef{ID: viewerEU.ID}, Groups: []docusign.AdminIDRef{{ID: engEU.ID}}},
		},
	})
	require.NoError(t, err)
	require.Len(t, created.Accounts, 2)
	ada := simUser(t, h.sim.Dump(), adaEmail)
	require.Equal(t, ada.ID, created.ID)
	require.Equal(t, int(ada.SiteID), created.SiteID)
	adaNA2, adaEU := simMembership(t, ada, na2), simMembership(t, ada, eu)
	require.Equal(t, docusignsim.StatusActive, adaNA2.Status, "claimed domain with auto_activate_memberships")
	require.Equal(t, "DocuSign Sender", adaNA2.PermissionProfile.Name)
	require.Equal(t, []string{"Everyone", "Sales"}, namesOf(adaNA2.Groups))
	require.Equal(t, "Analyst", adaNA2.JobTitle)
	require.Equal(t, docusignsim.StatusActive, adaEU.Status)
	require.Equal(t, "DocuSign Viewer", adaEU.PermissionProfile.Name)
	require.Equal(t, []string{"Engineering", "Everyone"}, namesOf(adaEU.Groups))

	// Look-ups by email.
	profiles, err := admin.GetUserProfiles(ctx, adaEmail)
	require.NoError(t, err)
	require.Len(t, profiles.Users, 1)
	profile := profiles.Users[0]
	require.Equal(t, ada.ID, profile.ID)
	require.Equal(t, int(ada.SiteID), profile.SiteID)
	require.Len(t, profile.Memberships, 2)
	euMembership := profile.Membership(eu)
	require.NotNil(t, euMembership)
	require.Equal(t, adaEU.ID, euMembership.ID)
	require.Equal(t, "active", euMembership.Status)
	require.NotNil(t, euMembership.PermissionProfile)
	require.Equal(t, viewerEU.ID, euMembership.PermissionProfile.ID)
	byEmail, err := admin.ListUsers(ctx, docusign.AdminUserFilter{Email: adaEmail})
	require.NoError(t, err)
	require.Len(t, byEmail.Users, 1)
	require.Equal(t, ada.ID, byEmail.Users[0].ID)
	require.Equal(t, "active", byEmail.Users[0].UserStatus)
	byAccount, err := admin.ListUsers(ctx, docusign.AdminUserFilter{AccountID: eu, MembershipStatus: "active", IncludeDSGroups: true})
	require.NoError(t, err)
	ids := map[string]docusign.AdminUser{}
	for _, u := range byAccount.Users {
		ids[u.ID] = u
	}
	require.Len(t, ids, 2)
	require.Contains(t, ids, docusignsim.DemoAdminUserID)
	require.Equal(t, adaEU.ID, ids[ada.ID].MembershipID)

	// Add a new user to one account (unclaimed domain: activation email), then the same user to another account.
	bobEmail := "bob.builder@contractor.example"
	added, err := admin.AddUserToAccount(ctx, eu, docusign.NewAccountUserRequest{
		Email: bobEmail, UserName: "Bob Builder", FirstName: "Bob", LastName: "Builder",
		PermissionProfile: &docusign.AdminIDRef{ID: viewerEU.ID}, Groups: []docusign.AdminIDRef{{ID: salesEU.ID}},
		AutoActivateMemberships: true,
	})
	require.NoError(t, err)
	addedAgain, err := admin.AddUserToAccount(ctx, na2, docusign.NewAccountUserRequest{Email: bobEmail})
	require.NoError(t, err)
	require.Equal(t, added.ID, addedAgain.ID, "an existing user is added, not created again")
	bob := simUser(t, h.sim.Dump(), bobEmail)
	require.Equal(t, added.ID, bob.ID)
	require.Equal(t, docusignsim.StatusActivationSent, simMembership(t, bob, eu).Status, "unclaimed domain")
	require.Equal(t, "DocuSign Viewer", simMembership(t, bob, eu).PermissionProfile.Name)
	require.Equal(t, []string{"Everyone", "Sales"}, namesOf(simMembership(t, bob, eu).Groups))
	require.Equal(t, "DocuSign Sender", simMembership(t, bob, na2).PermissionProfile.Name, "the account's default profile")

	// Mover: names and one membership's profile, groups and job title.
	updated, err := admin.UpdateUserProfiles(ctx, docusign.UpdateUsersRequest{Users: []docusign.UpdateUserRequest{{
		ID: ada.ID, SiteID: profile.SiteID, FirstName: "Augusta Ada",
		Memberships: []docusign.UpdateMembershipRequest{{
			AccountID: na2, PermissionProfile: &docusign.AdminIDRef{ID: viewerNA2.ID},
			Groups: []docusign.AdminIDRef{{ID: engNA2.ID}, {ID: finNA2.ID}}, JobTitle: "Engineer",
		}},
	}}})
	require.NoError(t, err)
	require.True(t, updated.Success)
	ada = simUser(t, h.sim.Dump(), adaEmail)
	require.Equal(t, "Augusta Ada", ada.FirstName)
	adaNA2 = simMembership(t, ada, na2)
	require.Equal(t, "DocuSign Viewer", adaNA2.PermissionProfile.Name)
	require.Equal(t, []string{"Engineering", "Everyone", "Finance"}, namesOf(adaNA2.Groups))
	require.Equal(t, "Engineer", adaNA2.JobTitle)
	require.Equal(t, "DocuSign Viewer", simMembership(t, ada, eu).PermissionProfile.Name, "other membership untouched")

	// Email change.
	adaNewEmail := "ada.king@" + docusignsim.DemoClaimedDomain
	emails, err := admin.UpdateEmailAddresses(ctx, []docusign.EmailAddressUpdate{{ID: ada.ID, SiteID: profile.SiteID, Email: adaNewEmail}})
	require.NoError(t, err)
	require.True(t, emails.Success)
	require.Equal(t, ada.ID, simUser(t, h.sim.Dump(), adaNewEmail).ID)

	// Leaver: close one membership; rehire: reactivate it by membership id.
	closed, err := admin.CloseMemberships(ctx, ada.ID, []string{eu})
	require.NoError(t, err)
	require.True(t, closed.Success)
	ada = simUser(t, h.sim.Dump(), adaNewEmail)
	require.Equal(t, docusignsim.StatusClosed, simMembership(t, ada, eu).Status)
	require.NotNil(t, simMembership(t, ada, eu).ClosedOn)
	require.Equal(t, docusignsim.StatusActive, simMembership(t, ada, na2).Status)
	reactivated, err := admin.ReactivateMembership(ctx, ada.ID, euMembership.ID, profile.SiteID)
	require.NoError(t, err)
	require.Equal(t, "active", reactivated.Status)
	require.Equal(t, docusignsim.StatusActive, simMembership(t, simUser(t, h.sim.Dump(), adaNewEmail), eu).Status)

	esignEveryOperation(t, h, c)

	covered := h.vt.Covered()
	for _, op := range clientOperations() {
		require.Positive(t, covered[op], "operation %s not exercised", op)
	}
	require.Equal(t, covered, h.hook.afterCounts(), "the client names each request by the spec's operationId")
	requireHookMatchesSimulator(t, h)
	require.NoError(t, h.vt.Err())
}

// esignEveryOperation is the eSignature half of TestSimEveryOperation.
func esignEveryOperation(t *testing.T, h *simHarness, c *docusign.Client) {
	t.Helper()
	ctx := t.Context()
	es := c.ESignature()
	na2, eu := docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU
	seed := h.sim.Dump()
	na2Acct, euAcct := simAccount(t, seed, na2), simAccount(t, seed, eu)
	idStr := func(ids []docusignsim.NamedID, name string) string { return strconv.FormatInt(idOf(t, ids, name), 10) }

	// Reference data: eSignature ids are strings, the same numbers as the Admin ids of the account.
	profiles, err := es.ListPermissionProfiles(ctx, eu)
	require.NoError(t, err)
	require.Len(t, profiles.PermissionProfiles, len(euAcct.PermissionProfiles))
	for _, p := range profiles.PermissionProfiles {
		require.Equal(t, idStr(euAcct.PermissionProfiles, p.PermissionProfileName), p.PermissionProfileID)
	}
	groups, err := es.ListGroups(ctx, eu)
	require.NoError(t, err)
	require.Len(t, groups.Groups, len(euAcct.Groups))
	for _, g := range groups.Groups {
		require.Equal(t, idStr(euAcct.Groups, g.GroupName), g.GroupID)
	}
	sender, err := es.ResolvePermissionProfile(ctx, na2, docusign.RefByName("DocuSign Sender"))
	require.NoError(t, err)
	require.Equal(t, idStr(na2Acct.PermissionProfiles, "DocuSign Sender"), sender.PermissionProfileID)
	viewer, err := es.ResolvePermissionProfile(ctx, na2, docusign.RefByID(idStr(na2Acct.PermissionProfiles, "DocuSign Viewer")))
	require.NoError(t, err)
	require.Equal(t, "DocuSign Viewer", viewer.PermissionProfileName)
	resolved, err := es.ResolveGroups(ctx, na2, []docusign.Ref{docusign.RefByName("Sales"),
		docusign.RefByID(idStr(na2Acct.Groups, "Finance"))})
	require.NoError(t, err)
	sales, finance := resolved[0], resolved[1]
	require.Equal(t, idStr(na2Acct.Groups, "Sales"), sales.GroupID)
	require.Equal(t, "Finance", finance.GroupName)
	_, err = es.ResolvePermissionProfile(ctx, eu, docusign.RefByName("Auditor"))
	require.ErrorIs(t, err, docusign.ErrUnknownPermissionProfile)
	var unknown *docusign.UnknownRefError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, eu, unknown.AccountID)
	require.Contains(t, unknown.Known, `"DocuSign Sender" (`+idStr(euAcct.PermissionProfiles, "DocuSign Sender")+`)`)

	// Joiners: one request, two users, with profile, groups and v2.1 settings (string values).
	graceEmail := "grace.hopper@" + docusignsim.DemoClaimedDomain
	linusEmail := "linus@contractor.example"
	newUsers, err := es.CreateUsers(ctx, na2, []docusign.ESignUser{
		{UserName: "Grace Hopper", FirstName: "Grace", LastName: "Hopper", Email: graceEmail,
			PermissionProfileID: sender.PermissionProfileID, GroupList: []docusign.ESignGroup{{GroupID: sales.GroupID}},
			JobTitle: "Admiral", UserSettings: docusign.ESignUserSettings{"locale": "en", "canSendEnvelope": "true"}},
		{UserName: "Linus Contractor", Email: linusEmail},
	})
	require.NoError(t, err)
	require.Len(t, newUsers.NewUsers, 2)
	st := h.sim.Dump()
	grace, linus := simUser(t, st, graceEmail), simUser(t, st, linusEmail)
	require.Equal(t, grace.ID, newUsers.NewUsers[0].UserID)
	require.Equal(t, linus.ID, newUsers.NewUsers[1].UserID)
	graceNA2 := simMembership(t, grace, na2)
	require.Equal(t, docusignsim.StatusActive, graceNA2.Status)
	require.Equal(t, "DocuSign Sender", graceNA2.PermissionProfile.Name)
	require.Equal(t, []string{"Everyone", "Sales"}, namesOf(graceNA2.Groups))
	require.Equal(t, "Admiral", graceNA2.JobTitle)
	require.Equal(t, "en", graceNA2.Settings["locale"])
	require.Equal(t, "true", graceNA2.Settings["canSendEnvelope"])
	require.Equal(t, docusignsim.StatusActivationSent, simMembership(t, linus, na2).Status)

	// Reads.
	got, err := es.GetUser(ctx, na2, grace.ID)
	require.NoError(t, err)
	require.Equal(t, graceEmail, got.Email)
	require.Equal(t, "Active", got.UserStatus)
	require.Equal(t, sender.PermissionProfileID, got.PermissionProfileID)
	listed, err := es.ListUsers(ctx, na2, docusign.ESignUserFilter{Email: graceEmail, AdditionalInfo: true})
	require.NoError(t, err)
	require.Len(t, listed.Users, 1)
	require.Equal(t, grace.ID, listed.Users[0].UserID)
	require.NotNil(t, listed.Users[0].UserSettings)
	require.Equal(t, "en", listed.Users[0].UserSettings["locale"])
	listedGroups := make([]string, 0, len(listed.Users[0].GroupList))
	for _, g := range listed.Users[0].GroupList {
		listedGroups = append(listedGroups, g.GroupName)
	}
	require.ElementsMatch(t, []string{"Everyone", "Sales"}, listedGroups)

	// Movers: one user, then several.
	_, err = es.UpdateUser(ctx, na2, grace.ID, docusign.ESignUser{JobTitle: "Rear Admiral", PermissionProfileID: viewer.PermissionProfileID})
	require.NoError(t, err)
	graceNA2 = simMembership(t, simUser(t, h.sim.Dump(), graceEmail), na2)
	require.Equal(t, "Rear Admiral", graceNA2.JobTitle)
	require.Equal(t, "DocuSign Viewer", graceNA2.PermissionProfile.Name)
	updated, err := es.UpdateUsers(ctx, na2, []docusign.ESignUser{{UserID: grace.ID, Company: "US Navy"}, {UserID: linus.ID, LastName: "Torvalds"}})
	require.NoError(t, err)
	require.Len(t, updated.Users, 2)
	st = h.sim.Dump()
	require.Equal(t, "US Navy", simMembership(t, simUser(t, st, graceEmail), na2).Company)
	require.Equal(t, "Torvalds", simUser(t, st, linusEmail).LastName)

	// Group members.
	_, err = es.AddGroupUsers(ctx, na2, finance.GroupID, []string{grace.ID, linus.ID})
	require.NoError(t, err)
	_, err = es.RemoveGroupUsers(ctx, na2, sales.GroupID, []string{grace.ID})
	require.NoError(t, err)
	st = h.sim.Dump()
	require.Equal(t, []string{"Everyone", "Finance"}, namesOf(simMembership(t, simUser(t, st, graceEmail), na2).Groups))
	require.Equal(t, []string{"Everyone", "Finance"}, namesOf(simMembership(t, simUser(t, st, linusEmail), na2).Groups))

	// Leaver.
	closed, err := es.CloseUsers(ctx, na2, []string{linus.ID})
	require.NoError(t, err)
	require.Len(t, closed.Users, 1)
	require.Equal(t, "Closed", closed.Users[0].UserStatus)
	require.Equal(t, docusignsim.StatusClosed, simMembership(t, simUser(t, h.sim.Dump(), linusEmail), na2).Status)

	// The other account lives on the other environment's listener.
	hedyEmail := "hedy.lamarr@" + docusignsim.DemoClaimedDomain
	_, err = es.CreateUsers(ctx, eu, []docusign.ESignUser{{UserName: "Hedy Lamarr", Email: hedyEmail}})
	require.NoError(t, err)
	st = h.sim.Dump()
	require.Equal(t, docusignsim.StatusActive, simMembership(t, simUser(t, st, hedyEmail), eu).Status)
	require.Equal(t, "eu", lastCall(t, st, "Users_PostUsers").Environment)
}
