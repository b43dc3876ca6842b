// Package rules reads the mapping rules file: a declarative, validated YAML file that says which employees the
// worker manages (scope) and maps their HR attributes to DocuSign accounts, permission profiles, groups and user
// settings.
//
// The package is a leaf: it knows the standard library and YAML, nothing of DocuSign's client, asynq or NATS.
// Parse (or Load) checks a file on its own; Set.Validate checks its names against DocuSign through a Directory the
// caller implements; Set.Evaluate decides for one Employee; Set.Combine applies the precedence between the accounts
// an event carries and the rules' accounts; Store holds the current rules of a running worker and reloads them.
//
// # The file
//
// A complete example is testdata/example.yaml; schema/rules.schema.json (also SchemaJSON) is its JSON Schema.
//
//	version: 1                     # required; the only version
//	match: first                   # required: "first" or "merge" (below)
//	event_accounts: prefer_event   # optional: prefer_event (default), prefer_rules or merge (below)
//	defaults:                      # optional
//	  account_id: "..."            # an in-scope employee whom no rule matches gets this account,
//	  permission_profile: DocuSign Viewer   # this profile (which also fills rule accounts that name none),
//	  groups: [Everyone]           # these groups
//	  settings: {locale: en}       # and these settings
//	scope:                         # optional; absent: every employee is in scope
//	  include: {employment_type: {in: [employee, contractor]}}   # matchers, all must match
//	  exclude: {department: Board} # matchers; if all match, out of scope
//	  include_employees: [E1001]   # employee ids always in scope...
//	  exclude_employees: [E9999]   # ...except these, never in scope
//	  include_email_domains: [corp.example]          # if set, the email's domain must be one of these
//	  exclude_email_domains: [contractors.example]
//	  on_exit: close               # close (default) or ignore (below)
//	rules:                         # ordered
//	  - name: sales-emea           # required, unique (case-insensitively), not "defaults"; shown in audit and plans
//	    description: ...           # optional, free text
//	    when:                      # optional; all matchers must match; absent or {} matches everyone
//	      department: Sales
//	      location: {prefix: "EMEA-"}
//	    accounts:                  # required, at least one
//	      - account_id: "..."      # required; each account once per rule
//	        permission_profile: DocuSign Sender   # optional, by name
//	        groups: [Sales, Everyone]             # optional, by name
//	        settings: {canSendEnvelope: "true"}   # optional
//
// Keys are case-sensitive and unknown keys are errors, so that a typo cannot silently widen the scope or drop a
// condition. Duplicate keys are errors. Anchors may be set but aliases (*name) are not supported: write values
// out. A file holds one YAML document and at most MaxFileSize bytes.
//
// Values are taken as written: a number such as cost_center: 4100 is the text "4100" (quote values with leading
// zeros or that YAML would read otherwise anyway, e.g. "0410"), a YAML boolean (true, False) is the text "true"
// or "false". Leading and trailing spaces are trimmed from every value but regular expressions.
//
// # Matchers
//
// A rule's when, scope.include and scope.exclude are mappings from a field to a matcher. Fields: department,
// job_title, location, employment_type, cost_center, company, email, and attributes.<key> for the free-form HR
// attributes (a string map; the key is matched exactly). A matcher is one of:
//
//	department: Sales                    # a plain value: equals
//	department: {equals: Sales}          # case-insensitive, after trimming spaces
//	department: {in: [Legal, Compliance]}    # equals one of them
//	location: {prefix: "EMEA-"}          # case-insensitive prefix
//	job_title: {regex: "(?i)^.*manager"} # Go RE2 (https://golang.org/s/re2syntax) as written, unanchored:
//	                                     # anchors and case-insensitivity are the author's business
//
// Exactly one operator per field; to combine conditions on one field, write one regex. A missing field (absent or
// empty after trimming) never matches any matcher, not even a regex that matches the empty string, so a rule that
// tests a field only applies to employees whose record has it. Empty values (equals: "", in: [], regex: "") are
// errors, since they would never match (or match everything).
//
// # Match modes
//
// With "match: first" the first rule, in file order, whose when matches decides the accounts. With "match: merge"
// every matching rule contributes: accounts appear in order of first appearance; per account, the groups are the
// union in rule order (each name once, compared exactly), and the permission profile and each setting come from
// the first matching rule that sets them. In both modes, a rule account that ends up without a profile gets
// defaults.permission_profile when set; otherwise it names none, and DocuSign gives the account's default profile.
//
// An in-scope employee whom no rule matches gets the default account (defaults.account_id with its profile,
// groups and settings) and Decision.Rules is ["defaults"]; without a default account, no accounts.
// defaults.groups and defaults.settings apply to the default account only, so they need defaults.account_id.
//
// # Scope
//
// Set.Evaluate decides scope first, in this order; the first step that decides wins, and Decision.ScopeReason
// names it:
//
//  1. exclude_employees lists the employee id: out ("exclude_employees");
//  2. include_employees lists it: in ("include_employees"), whatever the other conditions say;
//  3. exclude_email_domains lists the email's domain: out ("email domain excluded");
//  4. include_email_domains is set and does not list it, or the email is missing: out ("email domain not
//     included");
//  5. include is set and one of its matchers does not match: out ("scope.include not matched");
//  6. exclude is set and all of its matchers match: out ("scope.exclude matched");
//  7. otherwise in ("in scope").
//
// Employee ids and domains are compared case-insensitively. A domain is the part of the email after the last "@";
// it matches exactly, so subdomains are listed one by one. The same id or domain in an include and an exclude list
// is an error, as is an empty include or exclude (remove the key instead).
//
// scope.on_exit says what the worker does with an employee who was in scope and no longer is (Set.OnExit): "close"
// (the default) closes the DocuSign user as for a leaver, "ignore" leaves it alone. An out-of-scope joiner is
// skipped. Both decisions are the caller's; this package only reports them.
//
// # Event accounts
//
// HR events may carry accounts (data.accounts). event_accounts says how they combine with the rules (Set.Combine):
//
//   - prefer_event (default): the event's accounts are used as they are; the rules only when the event has none;
//   - prefer_rules: the rules' result (a rule's or the default account) when there is one, the event's otherwise;
//   - merge: the union by account id, the event's accounts first; for an account in both, the event's permission
//     profile and groups win when it names any (by name or id), the rules' fill them otherwise, and the rules'
//     settings are added.
//
// An employee out of scope gets no accounts, whatever the event carries.
//
// # Settings
//
// settings are eSignature v2.1 user settings, keyed by the property names of userSettingsInformation
// (canSendEnvelope, locale, ...; the list is in settings.go, taken from DocuSign's OpenAPI file), with string
// values. YAML booleans are accepted and normalised to "true" and "false", which is what the API expects; numbers
// are kept as written. The read-only "...Metadata" companions, modifiedBy, modifiedDate, modifiedPage and the
// object- or list-valued properties (e.g. signerEmailNotifications) are rejected. The Admin API cannot set them, so
// on that surface they cost one eSignature Users:update per account.
//
// # Errors
//
// Parse reports every problem of a file at once, as a *ValidationError whose Problems each carry the file, the
// line and a message that says how to fix it (at most MaxProblems; the rest are counted in Omitted); Error lists
// them one per line as "file:line: message". Validate
// reports names DocuSign does not know the same way; a failed look-up (network, authentication, rate limit) is a
// problem whose Err wraps ErrLookup, so the caller can tell "the file is wrong" from "DocuSign could not be
// asked".
//
// # Reload
//
// A Store holds the current *Set in an atomic pointer. Store.Load reads, parses and validates the file and swaps it
// in only when all of that succeeds: an invalid file keeps the old rules and returns every problem (call it at
// start, where an error means "refuse to start", and on SIGHUP). Store.Watch polls the file's content hash and
// loads it when it changes. Set.Version, the file's SHA-256, identifies the rules in audit records and metrics;
// Store.Status counts loads and failures and keeps the last error.
package rules
