package docusign_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/docusign"
	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// Size of the paging seed: enough users for several small pages, enough groups for three pages of 100.
const (
	pagingUsers  = 8
	pagingGroups = 205
)

// pagingSeed is the demo seed plus pagingUsers members of the na2 account (every third one not yet activated)
// and pagingGroups more groups in that account.
func pagingSeed(tb testing.TB) *docusignsim.Seed {
	tb.Helper()
	seed, err := docusignsim.DefaultSeed()
	require.NoError(tb, err)
	na2 := slices.IndexFunc(seed.Accounts, func(a docusignsim.SeedAccount) bool { return a.ID == docusignsim.DemoAccountNA2 })
	require.GreaterOrEqual(tb, na2, 0)
	for i := range pagingGroups {
		seed.Accounts[na2].Groups = append(seed.Accounts[na2].Groups,
			docusignsim.SeedGroup{ID: int64(7400000 + i), Name: fmt.Sprintf("Team %03d", i)})
	}
	for i := range pagingUsers {
		status := docusignsim.StatusActive
		if i%3 == 2 {
			status = docusignsim.StatusActivationSent
		}
		seed.Users = append(seed.Users, docusignsim.SeedUser{
			ID:        fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1),
			Email:     fmt.Sprintf("member%02d@%s", i, docusignsim.DemoClaimedDomain),
			FirstName: "Member", LastName: fmt.Sprintf("%02d", i),
			Memberships: []docusignsim.SeedMembership{{
				AccountID: docusignsim.DemoAccountNA2, Status: status, Groups: []string{"Sales"},
			}},
		})
	}
	return seed
}

// pagingFixture is a simulator with the paging seed, a verified client and the na2 account's members by status.
type pagingFixture struct {
	h       *simHarness
	c       *docusign.Client
	members []string // every member of na2
	active  []string // the active ones
	groups  []string // every group name of na2, sorted
}

func setupPaging(tb testing.TB) *pagingFixture {
	tb.Helper()
	h := startSim(tb, func(o *docusignsim.Options) { o.Seed = pagingSeed(tb) })
	f := &pagingFixture{h: h, c: h.verifiedClient(tb, nil)}
	st := h.sim.Dump()
	pending := 0
	for _, u := range st.Users {
		for _, m := range u.Memberships {
			if m.AccountID != docusignsim.DemoAccountNA2 {
				continue
			}
			f.members = append(f.members, u.ID)
			if m.Status == docusignsim.StatusActive {
				f.active = append(f.active, u.ID)
			} else {
				pending++
			}
		}
	}
	require.Len(tb, f.members, pagingUsers+1)
	require.Positive(tb, pending)
	f.groups = namesOf(simAccount(tb, st, docusignsim.DemoAccountNA2).Groups)
	require.Len(tb, f.groups, pagingGroups+4)
	return f
}

// pages is the number of pages of size needed for n items.
func pages(n, size int) int { return (n + size - 1) / size }

// finish checks the hook against the simulator and the contract.
func (f *pagingFixture) finish(tb testing.TB) {
	tb.Helper()
	requireHookMatchesSimulator(tb, f.h)
	require.NoError(tb, f.h.vt.Err())
}

// TestSimPagingAdminUsers follows Admin user listings over three or more pages: every user arrives once, the
// filter survives the paging.next links, and each page is one request.
func TestSimPagingAdminUsers(t *testing.T) {
	t.Parallel()
	f := setupPaging(t)
	const op = "OrganizationUser_OrganizationUsers_GetV2"
	na2 := docusignsim.DemoAccountNA2
	before := f.h.sim.RequestCount(op)
	list, err := f.c.Admin().ListUsers(t.Context(), docusign.AdminUserFilter{AccountID: na2, Take: 2})
	require.NoError(t, err)
	require.ElementsMatch(t, f.members, adminIDs(list.Users))
	require.GreaterOrEqual(t, pages(len(f.members), 2), 3)
	require.Equal(t, before+pages(len(f.members), 2), f.h.sim.RequestCount(op))

	before = f.h.sim.RequestCount(op)
	list, err = f.c.Admin().ListUsers(t.Context(), docusign.AdminUserFilter{AccountID: na2, MembershipStatus: "active", Take: 2})
	require.NoError(t, err)
	require.ElementsMatch(t, f.active, adminIDs(list.Users), "the filter holds on every page")
	require.GreaterOrEqual(t, pages(len(f.active), 2), 3)
	require.Equal(t, before+pages(len(f.active), 2), f.h.sim.RequestCount(op))
	f.finish(t)
}

// TestSimPagingESignatureUsers follows eSignature user listings over three or more pages: every user arrives
// once, the status filter and additional_info survive the nextUri links, and each page is one request.
func TestSimPagingESignatureUsers(t *testing.T) {
	t.Parallel()
	f := setupPaging(t)
	const op = "Users_GetUsers"
	na2 := docusignsim.DemoAccountNA2
	before := f.h.sim.RequestCount(op)
	list, err := f.c.ESignature().ListUsers(t.Context(), na2, docusign.ESignUserFilter{Count: 3})
	require.NoError(t, err)
	require.ElementsMatch(t, f.members, esignIDs(list.Users))
	require.GreaterOrEqual(t, pages(len(f.members), 3), 3)
	require.Equal(t, before+pages(len(f.members), 3), f.h.sim.RequestCount(op))

	before = f.h.sim.RequestCount(op)
	list, err = f.c.ESignature().ListUsers(t.Context(), na2, docusign.ESignUserFilter{Status: "Active", Count: 2, AdditionalInfo: true})
	require.NoError(t, err)
	require.ElementsMatch(t, f.active, esignIDs(list.Users), "the filter holds on every page")
	for _, u := range list.Users {
		require.NotEmpty(t, u.GroupList, "additional_info holds on every page")
	}
	require.GreaterOrEqual(t, pages(len(f.active), 2), 3)
	require.Equal(t, before+pages(len(f.active), 2), f.h.sim.RequestCount(op))
	f.finish(t)
}

// TestSimPagingGroups follows both surfaces' group listings (pages of 100) over three pages, and resolves a
// group that only the last page holds.
func TestSimPagingGroups(t *testing.T) {
	t.Parallel()
	f := setupPaging(t)
	ctx := t.Context()
	na2 := docusignsim.DemoAccountNA2

	before := f.h.sim.RequestCount("Groups_GetGroups")
	esList, err := f.c.ESignature().ListGroups(ctx, na2)
	require.NoError(t, err)
	names := make([]string, 0, len(esList.Groups))
	for _, g := range esList.Groups {
		names = append(names, g.GroupName)
	}
	slices.Sort(names)
	require.Equal(t, f.groups, names)
	require.Equal(t, before+3, f.h.sim.RequestCount("Groups_GetGroups"))

	before = f.h.sim.RequestCount("Account_Accounts_GetGroupsV2")
	adminList, err := f.c.Admin().ListGroups(ctx, na2)
	require.NoError(t, err)
	names = names[:0]
	for _, g := range adminList.Groups {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	require.Equal(t, f.groups, names)
	require.Equal(t, before+3, f.h.sim.RequestCount("Account_Accounts_GetGroupsV2"))

	last := fmt.Sprintf("Team %03d", pagingGroups-1)
	esGroups, err := f.c.ESignature().ResolveGroups(ctx, na2, []docusign.Ref{docusign.RefByName(last)})
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(7400000+pagingGroups-1), esGroups[0].GroupID)
	adminGroups, err := f.c.Admin().ResolveGroups(ctx, na2, []docusign.Ref{docusign.RefByName(last)})
	require.NoError(t, err)
	require.Equal(t, int64(7400000+pagingGroups-1), adminGroups[0].ID)
	f.finish(t)
}

func adminIDs(users []docusign.AdminUser) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		out = append(out, u.ID)
	}
	return out
}

func esignIDs(users []docusign.ESignUser) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		out = append(out, u.UserID)
	}
	return out
}
