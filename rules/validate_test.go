package rules_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jml-sync/docusign-worker/rules"
)

// fakeDirectory is an in-memory rules.Directory that counts its calls and can fail.
type fakeDirectory struct {
	accounts []string
	profiles map[string][]string // account id → names
	groups   map[string][]string
	fail     map[string]error // "accounts", "profiles:<id>", "groups:<id>" → error

	mu    sync.Mutex
	calls map[string]int
}

var _ rules.Directory = (*fakeDirectory)(nil)

func (f *fakeDirectory) call(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[key]++
	return f.fail[key]
}

func (f *fakeDirectory) Accounts(context.Context) ([]string, error) {
	if err := f.call("accounts"); err != nil {
		return nil, err
	}
	return f.accounts, nil
}

// PermissionProfiles matches account ids case-insensitively, as DocuSign does; maps and fail keys are lowercase.
func (f *fakeDirectory) PermissionProfiles(_ context.Context, accountID string) ([]string, error) {
	if err := f.call("profiles:" + strings.ToLower(accountID)); err != nil {
		return nil, err
	}
	return f.profiles[strings.ToLower(accountID)], nil
}

// Groups matches account ids case-insensitively.
func (f *fakeDirectory) Groups(_ context.Context, accountID string) ([]string, error) {
	if err := f.call("groups:" + strings.ToLower(accountID)); err != nil {
		return nil, err
	}
	return f.groups[strings.ToLower(accountID)], nil
}

// demoDirectory is the demo simulator's directory (docusign/docusignsim/testdata/demo-seed.json), which
// testdata/example.yaml is written for.
func demoDirectory() *fakeDirectory {
	const corp, europe = "159b8cdb-5f4a-4f2f-8e61-d9fb90cf2a63", "084fbf3e-ef7a-4ab6-9ad5-961e78d20940"
	profiles := []string{"Account Administrator", "DocuSign Sender", "DocuSign Viewer"}
	groups := []string{"Everyone", "Sales", "Engineering", "Finance"}
	return &fakeDirectory{
		accounts: []string{corp, europe},
		profiles: map[string][]string{corp: profiles, europe: profiles},
		groups:   map[string][]string{corp: groups, europe: groups},
	}
}

func TestValidateExample(t *testing.T) {
	t.Parallel()

	s, err := rules.Load("testdata/example.yaml")
	require.NoError(t, err)
	dir := demoDirectory()
	require.NoError(t, s.Validate(context.Background(), dir))
	// One look-up per account and kind.
	for key, n := range dir.calls {
		require.Equal(t, 1, n, key)
	}
	require.Len(t, dir.calls, 5)
}

const validateFile = `version: 1
match: first
defaults:
  account_id: ACCT-1
  permission_profile: Viewer
rules:
  - name: one
    accounts:
      - account_id: acct-1
        permission_profile: sender
        groups: [Sales, Legal, everyone]
      - account_id: acct-2
        groups: [Sales]
  - name: two
    accounts:
      - account_id: acct-3
        permission_profile: Sender
      - account_id: acct-2
        permission_profile: Admin
        groups: [Board]
`

func validateDirectory() *fakeDirectory {
	return &fakeDirectory{
		accounts: []string{"acct-1", "ACCT-2"},
		profiles: map[string][]string{
			"acct-1": {"Sender", "Viewer"},
			"acct-2": {"Sender", "Admin", "ADMIN"},
		},
		groups: map[string][]string{
			"acct-1": {"Sales", "Everyone"},
			"acct-2": {"Sales", "Legal"},
		},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()

	s := MustParse(t, validateFile)
	dir := validateDirectory()
	err := s.Validate(context.Background(), dir)
	var ve *rules.ValidationError
	require.ErrorAs(t, err, &ve)
	require.NotErrorIs(t, err, rules.ErrLookup)
	require.False(t, ve.LookupOnly())

	// Resolved without a problem: "sender" and "everyone" (case-insensitive, unambiguous), "Admin" (exact, although
	// "ADMIN" exists too), defaults' "Viewer" in ACCT-1, "Sales" in acct-2.
	problems := ve.Problems
	require.Equal(t, []int{5, 11, 16, 20}, lines(problems), err.Error())
	// defaults.permission_profile fills acct-2 of rule one, which has no "Viewer".
	requireProblem(t, problems, 5, `defaults.permission_profile (filling rule "one", account acct-2)`,
		`permission profile "Viewer" does not exist in account acct-2`, `known: "Sender", "Admin", "ADMIN"`,
		"it exists in account acct-1, but permission profiles are per account")
	requireProblem(t, problems, 11, `rule "one": group "Legal" does not exist in account acct-1`,
		"it exists in account ACCT-2")
	requireProblem(t, problems, 16, `rule "two": account acct-3 is not one the impersonated user can reach`,
		`("acct-1", "ACCT-2")`)
	requireProblem(t, problems, 20, `rule "two": group "Board" does not exist in account acct-2 (known: "Sales", "Legal")`)

	require.Len(t, strings.Split(err.Error(), "\n"), 5)
	require.True(t, strings.HasPrefix(err.Error(), "rules: 4 problems:\nrules.yaml:5: "), err.Error())
	// One look-up per account and kind, in the directory's spelling; none for the unknown account.
	require.Equal(t, map[string]int{"accounts": 1, "profiles:acct-1": 1, "profiles:acct-2": 1, "groups:acct-1": 1,
		"groups:acct-2": 1}, dir.calls)
}

func TestValidateAmbiguousName(t *testing.T) {
	t.Parallel()

	s := MustParse(t, header+"rules:\n  - name: a\n    accounts:\n      - account_id: A\n        permission_profile: admin\n")
	dir := &fakeDirectory{accounts: []string{"A"}, profiles: map[string][]string{"a": {"Admin", "ADMIN"}}}
	err := s.Validate(context.Background(), dir)
	var ve *rules.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 1)
	requireProblem(t, ve.Problems, 7, `permission profile "admin" matches several in account A only by case ("Admin", "ADMIN")`)
}

func TestValidateLookupErrors(t *testing.T) {
	t.Parallel()

	network := errors.New("dial tcp: connection refused")
	tests := []struct {
		name       string
		fail       map[string]error
		lookupOnly bool
		lines      []int
		parts      []string
	}{
		{
			// Every account is then looked up as written; acct-3 has no profiles in the fake.
			name:  "accounts look-up fails: names are still checked",
			fail:  map[string]error{"accounts": network},
			lines: []int{0, 5, 11, 17, 20},
			parts: []string{"could not list the accounts", "connection refused", "account ids were not checked",
				`permission profile "Sender" does not exist in account acct-3 (known: none)`},
		},
		{
			name:  "profiles of one account",
			fail:  map[string]error{"profiles:acct-2": network},
			lines: []int{5, 11, 16, 20},
			parts: []string{"rules.yaml:5: could not look up the permission profiles of account ACCT-2",
				"its permission profile names were not checked"},
		},
		{
			name: "every name look-up fails",
			fail: map[string]error{"profiles:acct-1": network, "profiles:acct-2": network, "groups:acct-1": network,
				"groups:acct-2": network},
			lookupOnly: false, // acct-3 is still unknown
			lines:      []int{5, 5, 11, 13, 16},
			parts:      []string{"rules.yaml:11: could not look up the groups of account acct-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := MustParse(t, validateFile)
			dir := validateDirectory()
			dir.fail = tt.fail
			err := s.Validate(context.Background(), dir)
			require.ErrorIs(t, err, rules.ErrLookup)
			require.ErrorIs(t, err, network)
			var ve *rules.ValidationError
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tt.lookupOnly, ve.LookupOnly())
			require.Equal(t, tt.lines, lines(ve.Problems), err.Error())
			for _, part := range tt.parts {
				require.Contains(t, err.Error(), part)
			}
		})
	}

	// Only look-up failures: LookupOnly, so a watcher retries.
	s := MustParse(t, header+"rules:\n  - name: a\n    accounts:\n      - account_id: A\n        groups: [G]\n")
	dir := &fakeDirectory{accounts: []string{"A"}, fail: map[string]error{"groups:a": network}}
	err := s.Validate(context.Background(), dir)
	var ve *rules.ValidationError
	require.ErrorAs(t, err, &ve)
	require.True(t, ve.LookupOnly())
	require.Equal(t, []int{7}, lines(ve.Problems))
}
