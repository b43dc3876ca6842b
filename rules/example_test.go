package rules_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/jml-sync/docusign-worker/rules"
)

// Evaluate decides scope and accounts for one employee; Combine then applies the precedence with the accounts
// the event carried (none here).
func ExampleSet_Evaluate() {
	s, err := rules.Parse("rules.yaml", []byte(`
version: 1
match: first
defaults:
  account_id: acct-main
  permission_profile: DocuSign Viewer
scope:
  exclude_employees: [E9999]
rules:
  - name: sales-emea
    when:
      department: Sales
      location: {prefix: "EMEA-"}
    accounts:
      - account_id: acct-eu
        permission_profile: DocuSign Sender
        groups: [Sales, Everyone]
        settings: {canSendEnvelope: true}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range []rules.Employee{
		{EmployeeID: "E1001", Department: "sales", Location: "EMEA-Paris"},
		{EmployeeID: "E1002", Department: "Legal"},
		{EmployeeID: "E9999", Department: "Sales", Location: "EMEA-Paris"},
	} {
		d := s.Evaluate(e)
		fmt.Printf("%s in scope: %t (%s), rules %v\n", e.EmployeeID, d.InScope, d.ScopeReason, d.Rules)
		for _, a := range s.Combine(nil, d) {
			fmt.Printf("  %s %q %v %v\n", a.AccountID, a.PermissionProfile, a.Groups, a.Settings)
		}
	}
	// Output:
	// E1001 in scope: true (in scope), rules [sales-emea]
	//   acct-eu "DocuSign Sender" [Sales Everyone] map[canSendEnvelope:true]
	// E1002 in scope: true (in scope), rules [defaults]
	//   acct-main "DocuSign Viewer" [] map[]
	// E9999 in scope: false (exclude_employees), rules []
}

// Parse reports every problem at once, each with its line.
func ExampleParse() {
	_, err := rules.Parse("rules.yaml", []byte(`version: 1
match: frist
rules:
  - name: a
    when: {job_title: {regex: "(manager"}}
    accounts:
      - account_id: acct-main
        settings: {canSendEnvelopes: "true"}
`))
	var ve *rules.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// rules.yaml:2: match "frist" is not a mode; use "first" (the first matching rule wins) or "merge" (every matching rule contributes)
	// rules.yaml:5: rule "a", when.job_title.regex: invalid regular expression "(manager": missing closing ): `(manager`; fix it (Go RE2 syntax, https://golang.org/s/re2syntax)
	// rules.yaml:8: rule "a", account acct-main, settings: unknown user setting "canSendEnvelopes" (did you mean "canSendEnvelope"?); settings are the property names of userSettingsInformation in the eSignature v2.1 API (e.g. canSendEnvelope, locale)
}

// staticDirectory answers Validate from fixed lists.
type staticDirectory map[string][]string

func (d staticDirectory) Accounts(context.Context) ([]string, error) { return d["accounts"], nil }
func (d staticDirectory) PermissionProfiles(_ context.Context, id string) ([]string, error) {
	return d["profiles:"+id], nil
}
func (d staticDirectory) Groups(_ context.Context, id string) ([]string, error) {
	return d["groups:"+id], nil
}

// Validate checks names against DocuSign, each in its own account.
func ExampleSet_Validate() {
	s, err := rules.Parse("rules.yaml", []byte(`version: 1
match: first
rules:
  - name: sales
    accounts:
      - account_id: acct-eu
        permission_profile: docusign sender
        groups: [Sales, Finance]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = s.Validate(context.Background(), staticDirectory{
		"accounts":         {"acct-main", "acct-eu"},
		"profiles:acct-eu": {"DocuSign Sender", "DocuSign Viewer"},
		"groups:acct-eu":   {"Everyone", "Sales"},
		"groups:acct-main": {"Everyone", "Finance"},
	})
	fmt.Println(err)
	// Output:
	// rules: rules.yaml:8: rule "sales": group "Finance" does not exist in account acct-eu (known: "Everyone", "Sales")
}
