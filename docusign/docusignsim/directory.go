package docusignsim

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// directory is the one in-memory directory behind both the Admin and the eSignature API. It is
// guarded by Server.mu.
type directory struct {
	org          organization
	accounts     []*account // seed order
	users        []*user    // creation order
	usersByID    map[string]*user
	usersByEmail map[string]*user // lower-case email
	memberships  map[string]*membership
	seq          int
}

type organization struct {
	id               string
	name             string
	defaultAccountID string
	reservedDomains  []reservedDomain
}

type reservedDomain struct {
	id   string
	host string
}

type account struct {
	id             string
	name           string
	environment    string
	externalID     int64
	siteID         int32
	defaultProfile *profile
	profiles       []*profile
	groups         []*group
	everyone       *group
	members        []*membership // order of joining
	created        time.Time
}

type profile struct {
	id       int64
	name     string
	admin    bool
	modified time.Time
}

type group struct {
	id   int64
	name string
	typ  string // Admin spelling: everyone_group, admin_group, custom_group
}

type user struct {
	id               string
	email            string
	userName         string
	firstName        string
	middleName       string
	lastName         string
	language         string
	siteID           int32
	defaultAccountID string
	orgAdmin         bool
	consented        []string
	userinfoMode     string
	created          time.Time
	memberships      map[string]*membership // by account id
	seq              int
}

type membership struct {
	id       string
	user     *user
	account  *account
	status   string // StatusActive, StatusActivationSent, StatusClosed
	profile  *profile
	groupIDs map[int64]bool // always holds the Everyone group
	jobTitle string
	company  string
	settings map[string]any // v2.1 names; values are strings or map[string]string
	created  time.Time
	closed   time.Time
	seq      int
}

func newDirectory(seed *Seed, now time.Time) *directory {
	d := &directory{
		usersByID:    map[string]*user{},
		usersByEmail: map[string]*user{},
		memberships:  map[string]*membership{},
	}
	d.org = organization{
		id:               seed.Organization.ID,
		name:             seed.Organization.Name,
		defaultAccountID: seed.Organization.DefaultAccountID,
	}
	if d.org.defaultAccountID == "" {
		d.org.defaultAccountID = seed.Accounts[0].ID
	}
	for _, host := range seed.Organization.ReservedDomains {
		d.org.reservedDomains = append(d.org.reservedDomains, reservedDomain{
			id:   stableUUID("reserved-domain", seed.Organization.ID, strings.ToLower(host)),
			host: strings.ToLower(host),
		})
	}
	for _, sa := range seed.Accounts {
		a := &account{
			id:          sa.ID,
			name:        sa.Name,
			environment: sa.Environment,
			externalID:  sa.ExternalAccountID,
			siteID:      sa.SiteID,
			created:     now,
		}
		for _, sp := range sa.PermissionProfiles {
			p := &profile{id: sp.ID, name: sp.Name, admin: sp.Admin, modified: now}
			a.profiles = append(a.profiles, p)
			if strings.EqualFold(sp.Name, sa.DefaultPermissionProfile) {
				a.defaultProfile = p
			}
		}
		for _, sg := range sa.Groups {
			typ := sg.Type
			if typ == "" {
				typ = GroupTypeCustom
			}
			g := &group{id: sg.ID, name: sg.Name, typ: typ}
			a.groups = append(a.groups, g)
			if typ == GroupTypeEveryone {
				a.everyone = g
			}
		}
		d.accounts = append(d.accounts, a)
	}
	for _, su := range seed.Users {
		created := su.Created
		if created.IsZero() {
			created = now
		}
		u := d.addUser(su.ID, su.Email, su.UserName, su.FirstName, su.LastName, created)
		u.orgAdmin = su.OrganizationAdmin
		u.consented = slices.Clone(su.ConsentedScopes)
		u.userinfoMode = su.UserinfoMode
		for i, sm := range su.Memberships {
			a := d.account(sm.AccountID)
			p := a.defaultProfile
			if sm.PermissionProfile != "" {
				p = a.profileByName(sm.PermissionProfile)
			}
			status := sm.Status
			if status == "" {
				status = StatusActive
			}
			m := d.addMembership(u, a, p, status, created)
			for _, name := range sm.Groups {
				m.groupIDs[a.groupByName(name).id] = true
			}
			m.jobTitle = sm.JobTitle
			m.company = sm.Company
			if sm.Default || (i == 0 && u.defaultAccountID == "") {
				u.defaultAccountID = a.id
				u.siteID = a.siteID
			}
		}
	}
	return d
}

// addUser creates a user with no memberships. An empty id gets a fresh GUID.
func (d *directory) addUser(id, email, userName, first, last string, now time.Time) *user {
	if id == "" {
		id = newUUID()
	}
	if userName == "" {
		userName = strings.TrimSpace(first + " " + last)
	}
	d.seq++
	u := &user{
		id:          id,
		email:       email,
		userName:    userName,
		firstName:   first,
		lastName:    last,
		created:     now,
		memberships: map[string]*membership{},
		seq:         d.seq,
	}
	d.users = append(d.users, u)
	d.usersByID[strings.ToLower(id)] = u
	d.usersByEmail[strings.ToLower(email)] = u
	return u
}

// addMembership adds u to a with the profile p (nil: the account default) and the Everyone group.
func (d *directory) addMembership(u *user, a *account, p *profile, status string, now time.Time) *membership {
	if p == nil {
		p = a.defaultProfile
	}
	d.seq++
	m := &membership{
		id:       newUUID(),
		user:     u,
		account:  a,
		status:   status,
		profile:  p,
		groupIDs: map[int64]bool{a.everyone.id: true},
		settings: map[string]any{},
		created:  now,
		seq:      d.seq,
	}
	if status == StatusClosed {
		m.closed = now
	}
	u.memberships[strings.ToLower(a.id)] = m
	a.members = append(a.members, m)
	d.memberships[strings.ToLower(m.id)] = m
	if u.defaultAccountID == "" {
		u.defaultAccountID = a.id
		u.siteID = a.siteID
	}
	return m
}

func (d *directory) account(id string) *account {
	for _, a := range d.accounts {
		if strings.EqualFold(a.id, id) {
			return a
		}
	}
	return nil
}

// accountByRef resolves an eSignature path's account: its GUID or its external number.
func (d *directory) accountByRef(ref string) *account {
	if a := d.account(ref); a != nil {
		return a
	}
	if n, err := strconv.ParseInt(ref, 10, 64); err == nil && n != 0 {
		for _, a := range d.accounts {
			if a.externalID == n {
				return a
			}
		}
	}
	return nil
}

func (d *directory) userByID(id string) *user {
	return d.usersByID[strings.ToLower(id)]
}

func (d *directory) userByEmail(email string) *user {
	return d.usersByEmail[strings.ToLower(strings.TrimSpace(email))]
}

func (d *directory) membershipByID(id string) *membership {
	return d.memberships[strings.ToLower(id)]
}

// setEmail changes a user's email; it reports false when another user has it.
func (d *directory) setEmail(u *user, email string) bool {
	key := strings.ToLower(strings.TrimSpace(email))
	if other := d.usersByEmail[key]; other != nil && other != u {
		return false
	}
	delete(d.usersByEmail, strings.ToLower(u.email))
	u.email = strings.TrimSpace(email)
	d.usersByEmail[key] = u
	return true
}

// claimed reports whether the email's domain is one of the organization's reserved domains.
func (d *directory) claimed(email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	domain := strings.ToLower(email[at+1:])
	for _, rd := range d.org.reservedDomains {
		if rd.host == domain {
			return true
		}
	}
	return false
}

func (u *user) membership(accountID string) *membership {
	return u.memberships[strings.ToLower(accountID)]
}

// sortedMemberships lists the user's memberships in account (seed) order.
func (u *user) sortedMemberships(d *directory) []*membership {
	var out []*membership
	for _, a := range d.accounts {
		if m := u.membership(a.id); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// status is the Admin API user_status: active when any membership is active, closed when all
// are closed, else created.
func (u *user) status() string {
	if len(u.memberships) == 0 {
		return "created"
	}
	allClosed := true
	for _, m := range u.memberships {
		if m.status == StatusActive {
			return StatusActive
		}
		if m.status != StatusClosed {
			allClosed = false
		}
	}
	if allClosed {
		return StatusClosed
	}
	return "created"
}

func (a *account) profileByID(id int64) *profile {
	for _, p := range a.profiles {
		if p.id == id {
			return p
		}
	}
	return nil
}

func (a *account) profileByName(name string) *profile {
	for _, p := range a.profiles {
		if strings.EqualFold(p.name, name) {
			return p
		}
	}
	return nil
}

func (a *account) groupByID(id int64) *group {
	for _, g := range a.groups {
		if g.id == id {
			return g
		}
	}
	return nil
}

func (a *account) groupByName(name string) *group {
	for _, g := range a.groups {
		if strings.EqualFold(g.name, name) {
			return g
		}
	}
	return nil
}

// groups lists the membership's groups in the account's group order.
func (m *membership) groups() []*group {
	var out []*group
	for _, g := range m.account.groups {
		if m.groupIDs[g.id] {
			out = append(out, g)
		}
	}
	return out
}

// replaceGroups sets the membership's groups besides Everyone to ids (assumed semantics of the
// Admin `groups` and eSignature `groupList` updates).
func (m *membership) replaceGroups(ids []int64) {
	m.groupIDs = map[int64]bool{m.account.everyone.id: true}
	for _, id := range ids {
		m.groupIDs[id] = true
	}
}

func (m *membership) close(now time.Time) {
	if m.status == StatusClosed {
		return
	}
	m.status = StatusClosed
	m.closed = now
}

func (m *membership) reopen(status string) {
	m.status = status
	m.closed = time.Time{}
}

// isAdmin reports whether the membership's profile is an administrator profile.
func (m *membership) isAdmin() bool {
	return m.profile != nil && m.profile.admin
}

// activeMemberCount counts the group's members that are not closed.
func (a *account) activeMemberCount(g *group) int {
	n := 0
	for _, m := range a.members {
		if m.status != StatusClosed && m.groupIDs[g.id] {
			n++
		}
	}
	return n
}

func (a *account) profileUserCount(p *profile) int {
	n := 0
	for _, m := range a.members {
		if m.status != StatusClosed && m.profile == p {
			n++
		}
	}
	return n
}
