package docusignsim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// demoSeed is the seed shipped with the repository; DefaultSeed parses it.
//
//go:embed testdata/demo-seed.json
var demoSeed []byte //nolint:gochecknoglobals // go:embed needs a package-level variable

// Identifiers of the demo seed (testdata/demo-seed.json), for tests and the demo.
const (
	DemoIntegrationKey = "73bea189-eff3-4ad0-a8fb-4e626580f586"
	DemoOrganizationID = "f792f054-adb5-4657-82bf-3cdbfc7b589a"
	// DemoAdminUserID is the impersonated organization admin (the JWT sub).
	DemoAdminUserID = "31fc1df9-3f9d-482a-8353-1b5eb67f2586"
	// DemoAccountNA2 is "Example Corp" in environment na2, the organization's default account.
	DemoAccountNA2 = "159b8cdb-5f4a-4f2f-8e61-d9fb90cf2a63"
	// DemoAccountEU is "Example Europe Ltd" in environment eu.
	DemoAccountEU = "084fbf3e-ef7a-4ab6-9ad5-961e78d20940"
	// DemoClaimedDomain is the organization's reserved (claimed) email domain.
	DemoClaimedDomain = "example.com"
)

// Group types of the Admin API (MemberGroupResponse.type).
const (
	GroupTypeEveryone = "everyone_group"
	GroupTypeAdmin    = "admin_group"
	GroupTypeCustom   = "custom_group"
)

// Membership statuses, in the Admin API's spelling (the state dump uses them too).
const (
	StatusActive         = "active"
	StatusActivationSent = "activation_sent"
	StatusClosed         = "closed"
)

// Userinfo modes of a seeded user (SeedUser.UserinfoMode, Server.SetUserinfoMode).
const (
	// UserinfoNormal answers userinfo with the user's active accounts.
	UserinfoNormal = ""
	// UserinfoNotFound answers userinfo with 404 (the known DocuSign quirk).
	UserinfoNotFound = "not_found"
	// UserinfoEmpty answers userinfo with an empty accounts list (the other quirk).
	UserinfoEmpty = "empty"
)

// Seed is the initial state of the simulator: the organization, its accounts spread over
// environments, the pre-existing users (at least the impersonated admin) and the integration.
type Seed struct {
	// IntegrationKey is the integration key (client id): the `iss` every assertion must carry.
	IntegrationKey string `json:"integration_key"`
	// PublicKeyPEM is the integration's RSA public key (PKIX or PKCS#1 PEM). Options.PublicKeyPEM
	// overrides it.
	PublicKeyPEM string `json:"public_key_pem,omitempty"`
	// PublicKeyFile names a PEM file holding the public key; LoadSeed resolves it relative to the
	// seed file and fills PublicKeyPEM.
	PublicKeyFile string `json:"public_key_file,omitempty"`
	// Audiences are extra `aud` values accepted besides the auth listener's own host:port (for
	// example "account-d.docusign.com" or the host name a container reaches the simulator by).
	Audiences []string `json:"audiences,omitempty"`
	// Environments names the eSignature environments; each gets its own listener.
	Environments []string `json:"environments"`
	// Organization is the one DocuSign organization the Admin API serves.
	Organization SeedOrganization `json:"organization"`
	// Accounts are the organization's eSignature accounts.
	Accounts []SeedAccount `json:"accounts"`
	// Users are the users that exist before the first call.
	Users []SeedUser `json:"users"`
}

// SeedOrganization describes the organization.
type SeedOrganization struct {
	// ID is the organization id (a GUID, not an account id).
	ID string `json:"id"`
	// Name is the organization's name.
	Name string `json:"name"`
	// DefaultAccountID is the organization's default account; Admin API calls spend its budget.
	DefaultAccountID string `json:"default_account_id"`
	// ReservedDomains are the organization's claimed email domains: only users of these domains
	// are auto-activated by `auto_activate_memberships`.
	ReservedDomains []string `json:"reserved_domains,omitempty"`
}

// SeedAccount describes one eSignature account.
type SeedAccount struct {
	// ID is the account id (GUID).
	ID string `json:"id"`
	// Name is the account name.
	Name string `json:"name"`
	// Environment names the environment (listener) hosting the account.
	Environment string `json:"environment"`
	// ExternalAccountID is the account number; eSignature paths accept it instead of the GUID.
	ExternalAccountID int64 `json:"external_account_id"`
	// SiteID is the account's site.
	SiteID int32 `json:"site_id"`
	// DefaultPermissionProfile names the profile given to new members that name none.
	DefaultPermissionProfile string `json:"default_permission_profile"`
	// PermissionProfiles are the account's permission profiles (ids are account-specific).
	PermissionProfiles []SeedPermissionProfile `json:"permission_profiles"`
	// Groups are the account's groups; exactly one must be of type everyone_group.
	Groups []SeedGroup `json:"groups"`
}

// SeedPermissionProfile is a permission profile of one account.
type SeedPermissionProfile struct {
	// ID is the profile id (int64 in the Admin API, its decimal string in eSignature).
	ID int64 `json:"id"`
	// Name is the profile name, e.g. "DocuSign Sender".
	Name string `json:"name"`
	// Admin marks an administrator profile: its members may call the eSignature Users API.
	Admin bool `json:"admin,omitempty"`
}

// SeedGroup is a group of one account.
type SeedGroup struct {
	// ID is the group id (int64 in the Admin API, its decimal string in eSignature).
	ID int64 `json:"id"`
	// Name is the group name.
	Name string `json:"name"`
	// Type is everyone_group, admin_group or custom_group (default).
	Type string `json:"type,omitempty"`
}

// SeedUser is a user existing at start, e.g. the impersonated admin.
type SeedUser struct {
	// ID is the user id (GUID): the JWT `sub`.
	ID string `json:"id"`
	// Email is the user's email address.
	Email string `json:"email"`
	// UserName is the full name; default "first last".
	UserName string `json:"user_name,omitempty"`
	// FirstName is the given name.
	FirstName string `json:"first_name,omitempty"`
	// LastName is the family name.
	LastName string `json:"last_name,omitempty"`
	// OrganizationAdmin lets the user call the Admin API.
	OrganizationAdmin bool `json:"organization_admin,omitempty"`
	// ConsentedScopes are the scopes the user consented to for the integration key; a token
	// request for any other scope fails with consent_required.
	ConsentedScopes []string `json:"consented_scopes,omitempty"`
	// UserinfoMode is "", "not_found" or "empty" (see the Userinfo… constants).
	UserinfoMode string `json:"userinfo_mode,omitempty"`
	// Created is when the user was created (default: the simulator's start).
	Created time.Time `json:"created,omitzero"`
	// Memberships are the user's account memberships.
	Memberships []SeedMembership `json:"memberships,omitempty"`
}

// SeedMembership is a membership of a seeded user.
type SeedMembership struct {
	// AccountID is the account.
	AccountID string `json:"account_id"`
	// PermissionProfile names the profile (default: the account's default profile).
	PermissionProfile string `json:"permission_profile,omitempty"`
	// Groups names the groups besides Everyone.
	Groups []string `json:"groups,omitempty"`
	// Status is active (default), activation_sent or closed.
	Status string `json:"status,omitempty"`
	// Default marks the user's default account (default: the first membership).
	Default bool `json:"default,omitempty"`
	// JobTitle is the job title in this account.
	JobTitle string `json:"job_title,omitempty"`
	// Company is the company name in this account.
	Company string `json:"company,omitempty"`
}

// DefaultSeed returns a fresh copy of the demo seed shipped in testdata/demo-seed.json: two
// accounts in the environments "na2" and "eu", each with the profiles "Account Administrator",
// "DocuSign Sender", "DocuSign Viewer" and the groups "Everyone", "Sales", "Engineering",
// "Finance" (with account-specific ids), and one impersonated organization admin. It carries no
// public key: pass Options.PublicKeyPEM.
func DefaultSeed() (*Seed, error) {
	return ParseSeed(demoSeed)
}

// ParseSeed decodes a JSON seed and validates it. Unknown fields are an error (they are typos).
func ParseSeed(data []byte) (*Seed, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var seed Seed
	if err := dec.Decode(&seed); err != nil {
		return nil, fmt.Errorf("docusignsim: decode seed: %w", err)
	}
	if err := seed.Validate(); err != nil {
		return nil, err
	}
	return &seed, nil
}

// LoadSeed reads and validates a JSON seed file. A public_key_file is read relative to the
// seed file's directory into PublicKeyPEM.
func LoadSeed(path string) (*Seed, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the operator names the seed file
	if err != nil {
		return nil, fmt.Errorf("docusignsim: read seed: %w", err)
	}
	seed, err := ParseSeed(data)
	if err != nil {
		return nil, fmt.Errorf("%w (seed file %s)", err, path)
	}
	if seed.PublicKeyFile != "" && seed.PublicKeyPEM == "" {
		keyPath := seed.PublicKeyFile
		if !filepath.IsAbs(keyPath) {
			keyPath = filepath.Join(filepath.Dir(path), keyPath)
		}
		pem, err := os.ReadFile(keyPath) //nolint:gosec // named by the operator's seed
		if err != nil {
			return nil, fmt.Errorf("docusignsim: read seed public key: %w", err)
		}
		seed.PublicKeyPEM = string(pem)
	}
	return seed, nil
}

// Validate reports every problem of the seed at once.
func (s *Seed) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if s.IntegrationKey == "" {
		add("integration_key is required")
	}
	if len(s.Environments) == 0 {
		add("at least one environment is required")
	}
	envs := map[string]bool{}
	for _, e := range s.Environments {
		if e == "" || strings.ContainsAny(e, " /") {
			add("environment name %q is invalid", e)
		}
		if envs[e] {
			add("environment %q is listed twice", e)
		}
		envs[e] = true
	}
	if s.Organization.ID == "" {
		add("organization.id is required")
	}
	accounts := map[string]*SeedAccount{}
	externalIDs := map[int64]bool{}
	for i := range s.Accounts {
		a := &s.Accounts[i]
		errs = append(errs, validateSeedAccount(a, envs)...)
		key := strings.ToLower(a.ID)
		if accounts[key] != nil {
			add("account %s is listed twice", a.ID)
		}
		accounts[key] = a
		if a.ExternalAccountID != 0 {
			if externalIDs[a.ExternalAccountID] {
				add("external_account_id %d is used twice", a.ExternalAccountID)
			}
			externalIDs[a.ExternalAccountID] = true
		}
	}
	if len(s.Accounts) == 0 {
		add("at least one account is required")
	}
	if s.Organization.DefaultAccountID != "" && accounts[strings.ToLower(s.Organization.DefaultAccountID)] == nil {
		add("organization.default_account_id %s is not a seeded account", s.Organization.DefaultAccountID)
	}
	userIDs := map[string]bool{}
	emails := map[string]bool{}
	for i := range s.Users {
		u := &s.Users[i]
		errs = append(errs, validateSeedUser(u, accounts)...)
		if userIDs[strings.ToLower(u.ID)] {
			add("user %s is listed twice", u.ID)
		}
		userIDs[strings.ToLower(u.ID)] = true
		if emails[strings.ToLower(u.Email)] {
			add("user email of %s is used twice", u.ID)
		}
		emails[strings.ToLower(u.Email)] = true
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("docusignsim: invalid seed: %w", errors.Join(errs...))
}

func validateSeedAccount(a *SeedAccount, envs map[string]bool) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("account %s: "+format, append([]any{a.ID}, args...)...))
	}
	if a.ID == "" {
		add("id is required")
	}
	if !envs[a.Environment] {
		add("environment %q is not listed in environments", a.Environment)
	}
	profileNames := map[string]bool{}
	ids := map[int64]bool{}
	for _, p := range a.PermissionProfiles {
		if p.ID <= 0 || p.Name == "" {
			add("permission profile %q needs a positive id and a name", p.Name)
		}
		if ids[p.ID] {
			add("permission profile id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if profileNames[strings.ToLower(p.Name)] {
			add("permission profile %q is listed twice", p.Name)
		}
		profileNames[strings.ToLower(p.Name)] = true
	}
	if len(a.PermissionProfiles) == 0 {
		add("at least one permission profile is required")
	}
	if !profileNames[strings.ToLower(a.DefaultPermissionProfile)] {
		add("default_permission_profile %q is not one of its profiles", a.DefaultPermissionProfile)
	}
	everyone := 0
	groupIDs := map[int64]bool{}
	groupNames := map[string]bool{}
	for _, g := range a.Groups {
		if g.ID <= 0 || g.Name == "" {
			add("group %q needs a positive id and a name", g.Name)
		}
		if groupIDs[g.ID] {
			add("group id %d is used twice", g.ID)
		}
		groupIDs[g.ID] = true
		if groupNames[strings.ToLower(g.Name)] {
			add("group %q is listed twice", g.Name)
		}
		groupNames[strings.ToLower(g.Name)] = true
		switch g.Type {
		case GroupTypeEveryone:
			everyone++
		case "", GroupTypeAdmin, GroupTypeCustom:
		default:
			add("group %q has unknown type %q", g.Name, g.Type)
		}
	}
	if everyone != 1 {
		add("exactly one group of type everyone_group is required, found %d", everyone)
	}
	return errs
}

func validateSeedUser(u *SeedUser, accounts map[string]*SeedAccount) []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("user %s: "+format, append([]any{u.ID}, args...)...))
	}
	if u.ID == "" || u.Email == "" || !strings.Contains(u.Email, "@") {
		add("id and a valid email are required")
	}
	switch u.UserinfoMode {
	case UserinfoNormal, UserinfoNotFound, UserinfoEmpty:
	default:
		add("unknown userinfo_mode %q", u.UserinfoMode)
	}
	seen := map[string]bool{}
	for _, m := range u.Memberships {
		a := accounts[strings.ToLower(m.AccountID)]
		if a == nil {
			add("membership in unknown account %s", m.AccountID)
			continue
		}
		if seen[strings.ToLower(m.AccountID)] {
			add("two memberships in account %s", m.AccountID)
		}
		seen[strings.ToLower(m.AccountID)] = true
		if m.PermissionProfile != "" && !hasProfile(a, m.PermissionProfile) {
			add("unknown permission profile %q in account %s", m.PermissionProfile, a.ID)
		}
		for _, g := range m.Groups {
			if !hasGroup(a, g) {
				add("unknown group %q in account %s", g, a.ID)
			}
		}
		switch m.Status {
		case "", StatusActive, StatusActivationSent, StatusClosed:
		default:
			add("membership status %q is not active, activation_sent or closed", m.Status)
		}
	}
	return errs
}

func hasProfile(a *SeedAccount, name string) bool {
	for _, p := range a.PermissionProfiles {
		if strings.EqualFold(p.Name, name) {
			return true
		}
	}
	return false
}

func hasGroup(a *SeedAccount, name string) bool {
	for _, g := range a.Groups {
		if strings.EqualFold(g.Name, name) {
			return true
		}
	}
	return false
}
