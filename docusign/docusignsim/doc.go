// Package docusignsim simulates DocuSign for tests, benchmarks and the demo: the OAuth JWT
// grant and userinfo, the Admin API and the eSignature Users API over one in-memory directory,
// accounts spread over several environments, per-account rate limits, and injected faults.
// It is an independent implementation of the wire format (it does not import the client in
// package docusign), so the two cannot share a bug. Field names and types follow DocuSign's
// OpenAPI files (admin.rest.swagger-v2.1.json, esignature.rest.swagger-v2.1.json); the
// behaviour follows docs/docusign-api.md, awkward parts included. Where DocuSign leaves
// behaviour open the simulator picks one and the list under [Assumed behaviour] says so.
//
// Start it in a test with [Start]; cmd/docusign-sim runs it as a process.
//
// # Listeners
//
// Every listener is plain HTTP on loopback by default (Options.*Addr to choose addresses,
// Options.AdvertiseHost for the host name put into URLs):
//
//   - auth ([Server.AuthURL]): POST /oauth/token and GET /oauth/userinfo. The JWT `aud` it
//     accepts is [Server.AuthHost] (host:port, no scheme), the listener's literal address, and
//     the seed's "audiences".
//   - Admin API ([Server.AdminURL], which includes /management; /Management works too).
//   - one eSignature listener per environment of the seed ([Server.EnvironmentURL], the
//     base_uri userinfo returns; the API lives under /restapi/v2.1/accounts/{accountId}).
//   - control ([Server.ControlURL]): the /_sim/ endpoints below.
//
// Every reply of the auth, Admin and eSignature listeners carries X-DocuSign-TraceToken.
//
// # Token endpoint
//
// POST /oauth/token with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and an RS256
// assertion, verified with the configured public key. Checks, in order, and their 400 bodies:
// a malformed form or JWT → {"error":"invalid_request"}; a grant type other than the JWT
// bearer → {"error":"unsupported_grant_type"}; `iss` not the integration key →
// {"error":"invalid_grant","error_description":"issuer_not_found"}; a bad signature or an alg
// other than RS256 → "no_valid_keys_or_signatures"; `aud` not accepted → "issuer_not_found";
// `iat` or `exp` missing, `exp` past, `exp` > `iat`+3600 or `iat` more than 5 minutes ahead
// → {"error":"invalid_request"}; `sub` not a known user → "user_not_found"; a requested scope
// the user has not consented to → {"error":"consent_required"}. A missing `scope` means
// "signature". Success: {"access_token","token_type":"Bearer","expires_in"}, an opaque token
// living Options.TokenLifetime whatever `exp` says.
//
// GET /oauth/userinfo lists the user's active memberships as accounts with account_id,
// is_default, account_name, base_uri (the environment hosting the account now) and
// organization {organization_id, links}. A user's userinfo mode (seed "userinfo_mode",
// [Server.SetUserinfoMode]) reproduces the known quirks: "not_found" answers 404
// {"error":"user_not_found","error_description":"UserNotFound"}, "empty" answers an empty
// accounts list. A missing or dead token gets 401 {"error":"invalid_token"}.
//
// # Authentication and routing errors
//
//   - eSignature, no bearer token: 401 USER_AUTHENTICATION_FAILED; unknown, expired or revoked
//     token: 401 AUTHORIZATION_INVALID_TOKEN (body {"errorCode","message"}).
//   - Admin API, missing or dead token: 401 {"error":"unauthorized","error_description":"Not
//     Authorized"}; a token without the operation's scope, an unknown organization id or a user
//     who is not an organization admin: 403 {"error":"forbidden",...}.
//   - eSignature, token without the signature scope: 403 USER_LACKS_PERMISSIONS.
//   - Wrong environment (docusign-api.md §3): an account not hosted by the listener called
//     answers 400 PARTNER_AUTHENTICATION_FAILED when the user has a membership in some account
//     of that environment, else 400 USER_DOES_NOT_EXIST_IN_SYSTEM. An account hosted there in
//     which the user has no active membership: 400 USER_LACKS_MEMBERSHIP. A member whose
//     permission profile is not an admin profile: 400 USER_LACKS_PERMISSIONS. The account in
//     the path may be the GUID or the external account number. [Server.MoveAccount] (or the
//     control endpoint) moves an account to another environment at run time.
//
// # Admin API
//
// Under /management/v2/organizations/{organizationId} (operationIds in brackets):
// GET /v2/organizations [Organization_Organization_GetListV2];
// GET users with email, account_id or organization_reserved_domain_id (one is required),
// email_user_name_like, status, membership_status, include_ds_groups, start/take/end
// [OrganizationUser_OrganizationUsers_GetV2]; GET users/profile?email=
// [OrganizationUser_OrganizationUsers_GetProfileV2]; POST users [OrganizationUser_Users_AddV2];
// POST accounts/{accountId}/users [OrganizationUser_OrganizationUsers_PostAccountUsersV2];
// POST users/profiles [User_Users_UpdateV2]; POST users/email_addresses
// [User_Users_UpdateEmailAddressesV2]; DELETE users/{userId}/accounts with a JSON body
// [User_Users_CloseMembershipsV2]; POST users/{userId}/memberships/{membershipId}
// [OrganizationUser_Users_ActivateMembershipV2]; GET accounts/{accountId}/permissions
// [Account_Accounts_GetPermissionProfilesV2]; GET accounts/{accountId}/groups with start/take
// [Account_Accounts_GetGroupsV2]. Profile and group ids are int64 and account-specific.
// Paging objects carry result_set_size, result_set_start_position, result_set_end_position,
// total_set_size and absolute next/previous URLs. Errors are {"error","error_description"}:
// invalid input 400 invalid_request (all problems of a request at once, nothing applied),
// duplicate email 400 user_already_exists, a second membership in one account 400
// membership_already_exists, unknown user/membership/account in the path 404 not_found.
// Multi-user replies report per user: users/profiles and email_addresses answer 200 with
// `success` and per-user error_details (user_not_found, invalid_site_id, invalid_request,
// email_already_exists); close answers 200 with `success` and, in `accounts`, only the
// accounts it could not close (membership_not_found). users/profiles and email_addresses need
// the user's site_id.
//
// # eSignature API
//
// Under /restapi/v2.1/accounts/{accountId} on the environment listeners: GET users
// [Users_GetUsers] (email exact and case-insensitive, email_substring, user_name_substring,
// status, group_id, not_group_id, additional_info, count 1–100 default 100, start_position);
// POST users [Users_PostUsers] (201; at most 500 users; per-item errorDetails); PUT users
// [Users_PutUsers]; DELETE users with a body {"users":[{"userId"}]} and ?delete=Groups
// [Users_DeleteUsers]; GET/PUT users/{userId} [User_GetUser, User_PutUser]; GET/PUT
// users/{userId}/settings [UserSettings_GetUserSettings, UserSettings_PutUserSettings];
// GET groups [Groups_GetGroups]; GET/PUT/DELETE groups/{groupId}/users [Groups_GetGroupUsers,
// Groups_PutGroupUsers, Groups_DeleteGroupUsers]; GET permission_profiles and
// permission_profiles/{id} [PermissionProfiles_GetPermissionProfiles,
// PermissionProfiles_GetPermissionProfile]. Numbers and booleans are strings; ids are the
// decimal strings of the Admin ids. List replies carry resultSetSize, startPosition,
// endPosition, totalSetSize and nextUri/previousUri relative to the account
// ("/users?start_position=3&count=3"), omitted at the ends. Users:create items answer
// USER_ALREADY_EXISTS_IN_ACCOUNT (with createdDateTime 0001-01-01T08:00:00.0000000Z and the
// existing userId), INVALID_EMAIL_ADDRESS_FOR_USER, INVALID_USERNAME_FOR_EMAIL,
// INVALID_PERMISSION_PROFILE_ID or INVALID_GROUP_ID; a user id that is not a member of the
// account answers USER_NOT_FOUND (400, or per item); a malformed body INVALID_REQUEST_BODY.
// userSettings use the v2.1 names; values are stored and returned as strings (JSON true →
// "true"); object-valued settings (accountManagementGranular, localePolicy,
// senderEmailNotifications, signerEmailNotifications) merge key by key. A v2-style settings
// list is a malformed body.
//
// # Directory
//
// One directory serves both APIs: users (id, email unique case-insensitively, names, site_id
// of the default account) and memberships per account (status active, activation_sent or
// closed; permission profile; groups, always including the account's Everyone group; job
// title, company, settings). A user's Admin user_status is active when a membership is
// active, closed when all are closed, else created. eSignature statuses are the same
// memberships spelled Active, ActivationSent and Closed.
//
// # Rate limits
//
// Each account has an "hourly" budget (Options.HourlyLimit per Options.Window, default 3000
// per hour) and a burst budget (Options.BurstLimit per Options.BurstWindow, default 500 per
// 30 s). Both windows are fixed and aligned: window start = floor(now/length)*length on Unix
// time, so they reset at the boundary. An eSignature call spends its account's budget; every
// Admin API call spends the budget of Options.AdminBudgetAccountID (default: the organization's
// default account); token and userinfo calls spend nothing. Only authenticated calls admitted
// to an account are charged (401s, 403s and routing errors are not). Every Admin reply and
// every eSignature reply for an account hosted by the listener carries X-RateLimit-Limit,
// X-RateLimit-Remaining, X-RateLimit-Reset (Unix seconds of the window's end, rounded up),
// X-BurstLimit-Limit and X-BurstLimit-Remaining. Over a limit: 429 (400 with
// Options.LegacyLimitStatus) {"errorCode":"HOURLY_APIINVOCATION_LIMIT_EXCEEDED","message":"The
// maximum number of hourly API invocations has been exceeded. The hourly limit is N."} or
// BURST_APIINVOCATION_LIMIT_EXCEEDED with "... burst API invocations ... The burst limit is
// N.", on the Admin API too. The hourly limit is checked first.
//
// A foreign application shares the budget: [Server.SetForeignRate] (Options.ForeignRates,
// POST /_sim/foreign/rate) spends N calls per window at slots window start + k*Window/N,
// counted against the hourly and burst limits; [Server.SpendForeign] (POST
// /_sim/foreign/spend) spends a lump now, accepted up to the hourly budget and raising burst
// use up to (not beyond) the burst limit. Foreign calls are applied lazily, in time order,
// before any call at a later instant and before a dump, so an injected clock works.
//
// # Faults
//
// A [Fault] per operation (an operationId, [OpToken], [OpUserinfo], or [OpAny] "*" for every
// Admin and eSignature operation) adds latency and, per request, draws one number from
// Options.RandFunc: below DropRate the connection is hijacked and closed without a reply;
// below DropRate+ErrorRate the reply is ErrorStatus (default 503, an HTML body as a load
// balancer sends; other 5xx statuses carry the API's JSON error: UNSPECIFIED_ERROR or
// internal_server_error). Limit caps the number of injections. Faults apply after admission,
// so a faulted call has spent budget. Set them by Options.Faults, the -fault flag
// ([ParseFault] syntax "OP:error_rate=0.1,error_status=500,drop_rate=0.05,latency=200ms,limit=3"),
// [Server.SetFault] or POST /_sim/faults.
//
// # Control endpoints
//
// On the control listener (JSON bodies; unknown ids answer 404 {"error"}):
//
//	GET    /_sim/state                          the State (directory, budgets, counters, call log); Server.Dump
//	GET    /_sim/info                           listeners, integration key, accounts; Server.Info
//	GET    /_sim/faults                         installed faults
//	POST   /_sim/faults                         {"operation","error_rate","error_status","drop_rate","latency":"250ms","limit"}
//	DELETE /_sim/faults[?operation=OP]          remove faults (all without operation)
//	POST   /_sim/foreign/rate                   {"account_id","calls_per_window"} (0 stops)
//	POST   /_sim/foreign/spend                  {"account_id","calls"} → {"accepted"}
//	POST   /_sim/tokens/expire                  revoke every access token (forces a refresh)
//	POST   /_sim/accounts/{accountId}/environment  {"environment"}: move an account
//	POST   /_sim/users/{userId}/userinfo        {"mode":""|"not_found"|"empty"}
//	POST   /_sim/memberships/activate           {"user": id or email, "account_id"}: the user accepts the activation email
//	POST   /_sim/counters/reset                 clear request counts, 429 count and call log (not budgets)
//
// # State
//
// [State] holds the directory (users with memberships: status, profile name and id, group
// names and ids, job title, company, settings), per-account budgets (current window: used by
// API clients and by the foreign application, rejections, maximum burst; current burst window;
// lifetime maximum burst; finished windows), request counts per operation, reply counts per
// operation and status (0 = dropped), the 429 count, the installed faults and a call log
// (Options.CallLogLimit). Options.ObserveFunc sees each call record as it happens.
//
// # Seed
//
// A JSON [Seed] ([LoadSeed], [ParseSeed]; testdata/demo-seed.json is embedded as
// [DefaultSeed]): integration_key, public_key_pem or public_key_file (or Options.PublicKeyPEM),
// audiences, environments, organization {id, name, default_account_id, reserved_domains},
// accounts {id, name, environment, external_account_id, site_id, default_permission_profile,
// permission_profiles [{id, name, admin}], groups [{id, name, type}]} and users {id, email,
// user_name, first_name, last_name, organization_admin, consented_scopes, userinfo_mode,
// memberships [{account_id, permission_profile, groups, status, default, job_title,
// company}]}. The demo seed has the accounts "Example Corp" (na2) and "Example Europe Ltd"
// (eu), the claimed domain example.com and one organization admin.
//
// # Assumed behaviour
//
// DocuSign's documentation leaves these open; the simulator does what docs/docusign-api.md
// assumes, or picks the simplest consistent rule:
//
//   - Admin users/profiles: `groups` replaces the membership's groups except Everyone (absent
//     `groups` leaves them; [] keeps only Everyone). The eSignature Users:update groupList does
//     the same.
//   - Admin users/profiles naming a closed membership reactivates it: active when
//     auto_activate_memberships_on_reactivation is true, else activation_sent. A membership the
//     user does not have is a per-user error (memberships are added with POST users or
//     accounts/{accountId}/users).
//   - Closing an already-closed membership (Admin) or user (eSignature) succeeds and changes
//     nothing.
//   - eSignature Users:update with userStatus "Active" reopens a closed user (Active); other
//     userStatus values are ignored.
//   - Admin ActivateMembership makes any membership of the user active and answers
//     {"status":"active"}; its site_id may be the user's or the account's site.
//   - New memberships are active only with auto_activate_memberships (Admin) for the
//     organization's reserved domains, else activation_sent; Options.AutoActivateUnclaimed
//     activates other domains too. eSignature Users:create starts users ActivationSent, except
//     reserved domains (and everything with AutoActivateUnclaimed), which start Active.
//   - Admin POST users with an email that exists in the organization answers 400
//     user_already_exists; POST accounts/{accountId}/users adds the existing user (names in
//     the request are ignored) or creates a new one.
//   - eSignature Users:create for an email known in the organization adds a membership to that
//     user (same userId); for a user who already has a membership in the account, even a
//     closed one, it answers USER_ALREADY_EXISTS_IN_ACCOUNT (uniqueness by email alone).
//   - Admin users/profile for an unknown email answers 200 with no users.
//   - A rejected (429) call does not count against the budget. Admin API calls spend the
//     default account's budget. Unauthenticated and wrong-environment calls are not charged.
//   - Unknown user-setting names (including v2 names such as canEditSharedAddressBook) are
//     ignored, as are sealIdentifiers and the …Metadata fields.
//   - Removing a user from a group they are not in succeeds; the Everyone group's members
//     cannot be changed (400 INVALID_GROUP_ID).
//   - Error codes and texts DocuSign does not document for these cases were chosen here:
//     USER_NOT_FOUND, INVALID_USERNAME_FOR_EMAIL, INVALID_PERMISSION_PROFILE_ID,
//     INVALID_GROUP_ID, RESOURCE_NOT_FOUND, and the Admin error names above.
package docusignsim
