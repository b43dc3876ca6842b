package docusignsim

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// State is the simulator's state as Dump and GET /_sim/state return it.
type State struct {
	// Time is the simulator clock when the dump was taken.
	Time         time.Time         `json:"time"`
	Organization OrganizationState `json:"organization"`
	Accounts     []AccountState    `json:"accounts"`
	// Users lists every user in creation order.
	Users []UserState `json:"users"`
	// Budgets lists the rate-limit state of every account that has one, by account id.
	Budgets []BudgetState `json:"budgets"`
	// Requests counts requests per operation (all outcomes, including 401, 429 and faults).
	Requests map[string]int `json:"requests"`
	// Responses counts replies per operation and HTTP status ("0": dropped connection).
	Responses map[string]map[string]int `json:"responses"`
	// TooManyRequests counts over-the-limit replies (429, or 400 with LegacyLimitStatus).
	TooManyRequests int `json:"too_many_requests"`
	// Faults are the installed faults.
	Faults []Fault `json:"faults"`
	// Calls is the call log, oldest first (bounded by Options.CallLogLimit).
	Calls []CallRecord `json:"calls"`
}

// OrganizationState describes the organization.
type OrganizationState struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	DefaultAccountID string   `json:"default_account_id"`
	ReservedDomains  []string `json:"reserved_domains"`
}

// AccountState describes one account.
type AccountState struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Environment        string    `json:"environment"`
	ExternalAccountID  int64     `json:"external_account_id"`
	SiteID             int32     `json:"site_id"`
	PermissionProfiles []NamedID `json:"permission_profiles"`
	Groups             []NamedID `json:"groups"`
}

// NamedID is a permission profile or group: its account-specific id and its name.
type NamedID struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// UserState describes one user of the directory.
type UserState struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	UserName  string `json:"user_name"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	SiteID    int32  `json:"site_id"`
	// Status is the Admin API user_status: active, created or closed.
	Status            string            `json:"status"`
	DefaultAccountID  string            `json:"default_account_id"`
	OrganizationAdmin bool              `json:"organization_admin"`
	Memberships       []MembershipState `json:"memberships"`
}

// MembershipState describes one membership of a user.
type MembershipState struct {
	ID        string `json:"id"`
	AccountID string `json:"account_id"`
	// Status is active, activation_sent or closed.
	Status            string         `json:"status"`
	PermissionProfile NamedID        `json:"permission_profile"`
	Groups            []NamedID      `json:"groups"`
	JobTitle          string         `json:"job_title"`
	Company           string         `json:"company"`
	Settings          map[string]any `json:"settings"`
	CreatedOn         time.Time      `json:"created_on"`
	ClosedOn          *time.Time     `json:"closed_on,omitempty"`
}

// BudgetState is one account's rate-limit state.
type BudgetState struct {
	AccountID string `json:"account_id"`
	// Current is the current hourly window.
	Current WindowStats `json:"current"`
	// HourlyLimit and BurstLimit are the configured limits.
	HourlyLimit int `json:"hourly_limit"`
	BurstLimit  int `json:"burst_limit"`
	// Remaining is what X-RateLimit-Remaining would say now.
	Remaining int `json:"remaining"`
	// BurstWindowStart, BurstUsed and BurstUsedOurs describe the current burst window.
	BurstWindowStart time.Time `json:"burst_window_start"`
	BurstUsed        int       `json:"burst_used"`
	BurstUsedOurs    int       `json:"burst_used_ours"`
	// MaxBurst and MaxBurstOurs are the most calls accepted in one burst window over the
	// simulator's life (all sources, and API clients only).
	MaxBurst     int `json:"max_burst"`
	MaxBurstOurs int `json:"max_burst_ours"`
	// Rejected counts over-the-limit replies to API clients on this account.
	Rejected int `json:"rejected"`
	// ForeignRate is the steady foreign spend in calls per window (0: none).
	ForeignRate int `json:"foreign_rate"`
	// History lists the finished windows that saw activity, oldest first.
	History []WindowStats `json:"history"`
}

// WindowStats are the counters of one hourly window.
type WindowStats struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// UsedOurs counts accepted calls of API clients; UsedForeign accepted foreign calls.
	UsedOurs    int `json:"used_ours"`
	UsedForeign int `json:"used_foreign"`
	// RejectedHourly and RejectedBurst count API client calls refused by each limit.
	RejectedHourly int `json:"rejected_hourly"`
	RejectedBurst  int `json:"rejected_burst"`
	// ForeignRejected counts foreign calls that did not fit.
	ForeignRejected int `json:"foreign_rejected"`
	// MaxBurst is the most calls (all sources) accepted in one burst window of this window;
	// MaxBurstOurs the same for API clients alone.
	MaxBurst     int `json:"max_burst"`
	MaxBurstOurs int `json:"max_burst_ours"`
}

// Dump returns a snapshot of the whole state: directory, budgets (foreign spend caught up to
// now), counters and call log.
func (s *Server) Dump() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.NowFunc()
	st := State{
		Time: now.UTC(),
		Organization: OrganizationState{
			ID: s.dir.org.id, Name: s.dir.org.name, DefaultAccountID: s.dir.org.defaultAccountID,
			ReservedDomains: []string{},
		},
		Accounts:        []AccountState{},
		Users:           []UserState{},
		Budgets:         []BudgetState{},
		Requests:        maps.Clone(s.requests),
		Responses:       map[string]map[string]int{},
		TooManyRequests: s.tooMany,
		Faults:          []Fault{},
		Calls:           []CallRecord{},
	}
	if s.opts.CallLogLimit > 0 {
		st.Calls = append(st.Calls, s.calls[max(0, len(s.calls)-s.opts.CallLogLimit):]...)
	}
	for _, d := range s.dir.org.reservedDomains {
		st.Organization.ReservedDomains = append(st.Organization.ReservedDomains, d.host)
	}
	for _, a := range s.dir.accounts {
		as := AccountState{
			ID: a.id, Name: a.name, Environment: a.environment, ExternalAccountID: a.externalID, SiteID: a.siteID,
			PermissionProfiles: []NamedID{}, Groups: []NamedID{},
		}
		for _, p := range a.profiles {
			as.PermissionProfiles = append(as.PermissionProfiles, NamedID{ID: p.id, Name: p.name})
		}
		for _, g := range a.groups {
			as.Groups = append(as.Groups, NamedID{ID: g.id, Name: g.name})
		}
		st.Accounts = append(st.Accounts, as)
	}
	for _, u := range s.dir.users {
		st.Users = append(st.Users, s.userState(u))
	}
	ids := slices.Sorted(maps.Keys(s.budgets))
	for _, id := range ids {
		st.Budgets = append(st.Budgets, s.budgetState(s.budgets[id], now.UnixNano()))
	}
	for op, byStatus := range s.responses {
		m := map[string]int{}
		for status, n := range byStatus {
			m[strconv.Itoa(status)] = n
		}
		st.Responses[op] = m
	}
	for _, f := range s.faults {
		st.Faults = append(st.Faults, f)
	}
	slices.SortFunc(st.Faults, func(a, b Fault) int { return strings.Compare(a.Operation, b.Operation) })
	return st
}

func (s *Server) userState(u *user) UserState {
	us := UserState{
		ID: u.id, Email: u.email, UserName: u.userName, FirstName: u.firstName, LastName: u.lastName,
		SiteID: u.siteID, Status: u.status(), DefaultAccountID: u.defaultAccountID,
		OrganizationAdmin: u.orgAdmin, Memberships: []MembershipState{},
	}
	for _, m := range u.sortedMemberships(s.dir) {
		ms := MembershipState{
			ID: m.id, AccountID: m.account.id, Status: m.status, Groups: []NamedID{},
			JobTitle: m.jobTitle, Company: m.company, Settings: cloneSettings(m.settings), CreatedOn: m.created.UTC(),
		}
		if m.profile != nil {
			ms.PermissionProfile = NamedID{ID: m.profile.id, Name: m.profile.name}
		}
		for _, g := range m.groups() {
			ms.Groups = append(ms.Groups, NamedID{ID: g.id, Name: g.name})
		}
		if !m.closed.IsZero() {
			closed := m.closed.UTC()
			ms.ClosedOn = &closed
		}
		us.Memberships = append(us.Memberships, ms)
	}
	return us
}

func (s *Server) budgetState(b *budget, now int64) BudgetState {
	s.catchUp(b, now)
	s.roll(b, now)
	return BudgetState{
		AccountID:        b.accountID,
		Current:          b.windowStats(s.opts),
		HourlyLimit:      s.opts.HourlyLimit,
		BurstLimit:       s.opts.BurstLimit,
		Remaining:        max(0, s.opts.HourlyLimit-b.usedOurs-b.usedForeign),
		BurstWindowStart: time.Unix(0, b.burstStart).UTC(),
		BurstUsed:        b.burstUsed,
		BurstUsedOurs:    b.burstOurs,
		MaxBurst:         b.allMaxBurst,
		MaxBurstOurs:     b.allMaxBurstOurs,
		Rejected:         b.rejectedTotal,
		ForeignRate:      b.foreignRate,
		History:          append([]WindowStats{}, b.history...),
	}
}

// User returns the state of the user with this email (case-insensitive), if any.
func (s *Server) User(email string) (UserState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.dir.userByEmail(email)
	if u == nil {
		return UserState{}, false
	}
	return s.userState(u), true
}

// User returns the user whose email matches (case-insensitively) in the dump.
func (st State) User(email string) (UserState, bool) {
	for _, u := range st.Users {
		if strings.EqualFold(u.Email, email) {
			return u, true
		}
	}
	return UserState{}, false
}

// Budget returns the rate-limit state of an account in the dump.
func (st State) Budget(accountID string) (BudgetState, bool) {
	for _, b := range st.Budgets {
		if b.AccountID == accountID {
			return b, true
		}
	}
	return BudgetState{}, false
}

// Membership returns the user's membership in an account.
func (u UserState) Membership(accountID string) (MembershipState, bool) {
	for _, m := range u.Memberships {
		if m.AccountID == accountID {
			return m, true
		}
	}
	return MembershipState{}, false
}
