package jobs

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBuildPlan(t *testing.T) {
	t.Parallel()

	sender := &NamedRef{ID: "2", Name: "DocuSign Sender"}
	viewer := &NamedRef{ID: "3", Name: "DocuSign Viewer"}
	sales := NamedRef{ID: "20", Name: "Sales"}
	eng := NamedRef{ID: "21", Name: "Engineering"}
	want := desiredState{
		Email: "ada@example.com",
		Names: Names{FirstName: "Ada", LastName: "Lovelace"},
		Accounts: []DesiredMembership{
			{AccountID: "A", Profile: sender, Groups: []NamedRef{sales}, JobTitle: "Engineer"},
			{AccountID: "B", Profile: sender, Groups: []NamedRef{}, JobTitle: "Engineer"},
		},
	}
	liveAt := func(mutate func(*LiveUser)) *LiveUser {
		u := &LiveUser{ID: "U", SiteID: 1, Email: "ADA@example.com", FirstName: "Ada", LastName: "Lovelace",
			Memberships: []LiveMembership{
				{AccountID: "a", Status: StatusActive, Profile: *sender, Groups: []NamedRef{sales}, EveryoneGroupID: "19",
					JobTitle: "Engineer", DetailsKnown: true},
				{AccountID: "B", Status: StatusActive, Profile: *sender, Groups: []NamedRef{}, JobTitle: "Engineer", DetailsKnown: true},
			}}
		if mutate != nil {
			mutate(u)
		}
		return u
	}

	tests := []struct {
		name    string
		live    *LiveUser
		applied map[string]AppliedFields
		check   func(t *testing.T, p Plan)
	}{
		{
			name: "absent user is created with every membership",
			live: nil,
			check: func(t *testing.T, p Plan) {
				require.True(t, p.CreateUser)
				require.True(t, p.Writes())
				require.Len(t, p.Accounts, 2)
				for _, a := range p.Accounts {
					require.Equal(t, ActionAdd, a.Action)
				}
			},
		},
		{
			name: "identical state needs no write (email and account id compared case-insensitively)",
			live: liveAt(nil),
			check: func(t *testing.T, p Plan) {
				require.False(t, p.Writes())
				require.False(t, p.EmailChange)
			},
		},
		{
			name: "closed membership is reactivated",
			live: liveAt(func(u *LiveUser) { u.Memberships[1].Status = StatusClosed }),
			check: func(t *testing.T, p Plan) {
				require.Equal(t, ActionNone, p.Accounts[0].Action)
				require.Equal(t, ActionReactivate, p.Accounts[1].Action)
			},
		},
		{
			name: "missing membership is added",
			live: liveAt(func(u *LiveUser) { u.Memberships = u.Memberships[:1] }),
			check: func(t *testing.T, p Plan) {
				require.False(t, p.CreateUser)
				require.Equal(t, ActionAdd, p.Accounts[1].Action)
			},
		},
		{
			name: "only the differing fields are planned",
			live: liveAt(func(u *LiveUser) {
				u.Memberships[0].Profile = *viewer
				u.Memberships[0].Groups = []NamedRef{eng}
			}),
			check: func(t *testing.T, p Plan) {
				a := p.Accounts[0]
				require.Equal(t, ActionUpdate, a.Action)
				require.Equal(t, sender, a.Profile)
				require.Equal(t, []NamedRef{sales}, a.AddGroups)
				require.Equal(t, []NamedRef{eng}, a.RemoveGroups)
				require.Empty(t, a.JobTitle)
				require.Equal(t, "19", a.EveryoneGroupID)
				require.Equal(t, ActionNone, p.Accounts[1].Action)
				require.False(t, p.NamesChange)
			},
		},
		{
			name: "email and names changes",
			live: liveAt(func(u *LiveUser) { u.Email = "old@example.com"; u.LastName = "Byron" }),
			check: func(t *testing.T, p Plan) {
				require.True(t, p.EmailChange)
				require.True(t, p.NamesChange)
				require.True(t, p.Writes())
			},
		},
		{
			name: "unreadable job title is compared with the value last applied",
			live: liveAt(func(u *LiveUser) {
				for i := range u.Memberships {
					u.Memberships[i].DetailsKnown, u.Memberships[i].JobTitle = false, ""
				}
			}),
			applied: map[string]AppliedFields{"a": {JobTitle: "Engineer"}},
			check: func(t *testing.T, p Plan) {
				require.Empty(t, p.Accounts[0].JobTitle, "applied before: not resent")
				require.Equal(t, "Engineer", p.Accounts[1].JobTitle, "never applied: sent")
			},
		},
		{
			name: "an empty desired title never clears one",
			live: liveAt(func(u *LiveUser) { u.Memberships[0].JobTitle = "Boss" }),
			check: func(t *testing.T, p Plan) {
				require.Equal(t, "Engineer", p.Accounts[0].JobTitle)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, buildPlan(want, tt.live, tt.applied))
		})
	}
}

func TestProjectAndIdentity(t *testing.T) {
	t.Parallel()

	live := &LiveUser{ID: "U", SiteID: 7, Email: "old@example.com", FirstName: "Ada", LastName: "L",
		Memberships: []LiveMembership{{AccountID: "A", Status: StatusClosed, Profile: NamedRef{ID: "3"}, Groups: []NamedRef{}}}}
	p := Plan{Email: "new@example.com", EmailChange: true, Names: Names{FirstName: "Ada", LastName: "L"},
		Accounts: []AccountPlan{
			{Action: ActionReactivate, Desired: DesiredMembership{AccountID: "A", Profile: &NamedRef{ID: "2"}, JobTitle: "Eng"},
				Profile: &NamedRef{ID: "2"}, JobTitle: "Eng"},
			{Action: ActionAdd, Desired: DesiredMembership{AccountID: "B", Groups: []NamedRef{{ID: "9"}}, Company: "Corp"}},
		}}
	a := Applied{UserID: "U", SiteID: 7, Reactivated: []string{"A"}, Added: []string{"B"}, EmailChanged: true}
	after := project(live, p, a)
	require.Equal(t, "new@example.com", after.Email)
	require.Len(t, after.Memberships, 2)
	require.Equal(t, StatusActive, after.Memberships[0].Status)
	require.Equal(t, "2", after.Memberships[0].PermissionProfile.ID)
	require.Equal(t, []NamedRef{{ID: "9"}}, after.Memberships[1].Groups)
	require.Equal(t, StatusClosed, summarize(live).Memberships[0].Status, "before is not modified")

	prev := &Identity{EmployeeID: "E", UserID: "U", Accounts: []string{"C"}, Applied: map[string]AppliedFields{"c": {JobTitle: "x"}}}
	id := nextIdentity(prev, "E", SurfaceAdmin, live, p, a, fixedTime())
	require.Equal(t, "U", id.UserID)
	require.Equal(t, 7, id.SiteID)
	require.Equal(t, "new@example.com", id.Email)
	require.Equal(t, []string{"C", "A", "B"}, id.Accounts)
	require.Equal(t, map[string]AppliedFields{"c": {JobTitle: "x"}, "a": {JobTitle: "Eng"}, "b": {Company: "Corp"}}, id.Applied)

	other := nextIdentity(prev, "E", SurfaceAdmin, nil, Plan{Email: "z@example.com"}, Applied{UserID: "V"}, fixedTime())
	require.Empty(t, other.Applied, "a different user starts afresh")
	require.Empty(t, other.Accounts)
}

func TestWatermarkCompare(t *testing.T) {
	t.Parallel()

	base := Watermark{Effective: fixedTime(), EventTime: fixedTime(), Source: "hris", ID: "b"}
	later := base
	later.Effective = base.Effective.Add(1)
	recordedLater := base
	recordedLater.EventTime = base.EventTime.Add(1)
	otherID := base
	otherID.ID = "c"
	otherTask := base
	otherTask.TaskID = "another"

	tests := []struct {
		name string
		a, b Watermark
		want int
	}{
		{name: "effective time first", a: base, b: later, want: -1},
		{name: "then event time", a: recordedLater, b: base, want: 1},
		{name: "then source and id bytes", a: base, b: otherID, want: -1},
		{name: "same event is not older (task id ignored)", a: base, b: otherTask, want: 0},
		{name: "effective beats event time", a: later, b: recordedLater, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.a.Compare(tt.b))
			require.Equal(t, -tt.want, tt.b.Compare(tt.a))
		})
	}
}

func fixedTime() time.Time { return time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) }
