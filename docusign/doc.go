// Package docusign is the DocuSign REST client of the worker: JWT grant and token cache, userinfo routing, the
// Admin API and the eSignature Users API, typed errors and rate-limit headers.
//
// It is a leaf: it imports only the standard library and golang.org/x/oauth2, and knows nothing of NATS, asynq or
// Redis. A rate limiter plugs in through the [Hook].
//
// # Configuration and start
//
// [New] validates a [Config] (every problem at once) without calling DocuSign; [Client.Verify] then obtains a
// token, reads /oauth/userinfo once and checks that the impersonated user belongs to every configured account. A
// missing account is an [*AccountNotFoundError] naming the accounts the user does belong to; the client never
// falls back to the default account. The private key never appears in errors or when a Config is printed.
//
// # Authentication
//
// Tokens come from the JWT grant (golang.org/x/oauth2/jwt, "aud" = bare auth host, "exp" = iat + 1 h), are cached
// and renewed Config.TokenRefreshMargin (default 10 minutes) before expiry. Token endpoint failures are
// [*AuthError] values matching [ErrConsentRequired], [ErrInvalidGrant], [ErrNoValidKeys], [ErrIssuerNotFound] and
// [ErrUserNotFound]; [IsPermanentAuth] tells configuration problems from transient ones, and the error text says
// what the operator must do.
//
// # Surfaces
//
// [Client.Admin] returns the Admin API (organization-level: create a user with memberships in several accounts,
// update memberships, change email, close and reactivate memberships; ids of profiles and groups are int64).
// [Client.ESignature] returns the eSignature Users API (account-level; every call goes to its account's
// base_uri + /restapi from userinfo; ids are strings). Listing calls follow every page. Permission profiles and
// groups can be named by name or id ([Ref]) and are resolved per account through cached look-ups refreshed once
// on a miss; an unknown one is an [*UnknownRefError].
//
// # Results and errors
//
// Every result carries the [Reply] of its last HTTP exchange: status, trace token and [RateLimit]. A failed reply
// is an [*APIError] (eSignature {"errorCode","message"} and Admin {"error","error_description"} bodies alike;
// unreadable bodies keep status and trace token) matched by code with errors.Is against sentinels such as
// [ErrUserAlreadyExists]; [IsRateLimited] recognises throttling. A 2xx reply that reports failed items (a 201 from
// Users:create with errorDetails, an Admin "success": false) returns the result together with a [*PartialError]
// whose [*ItemError] items match the same sentinels.
//
// # Hook and retries
//
// The [Hook] is called before every API request (to take a rate-limit token; an error aborts the call) and after
// every reply (to report the headers), exactly once each per HTTP request. Token and userinfo calls bypass it.
// The client retries only twice, once each: after a token refresh when a 401 says AUTHORIZATION_INVALID_TOKEN or
// USER_AUTHENTICATION_FAILED (on the Admin API: "unauthorized"), and, for eSignature calls, when a wrong-environment
// error is explained by a changed base_uri in refreshed userinfo. Every other retry belongs to the caller.
//
// # Rate-limit budget of Admin API calls
//
// DocuSign does not document which account's budget organization-level Admin API calls spend. The client assumes
// the organization's default account (discovered through List organizations) unless
// Config.AdminBudgetAccountID names another, and passes it to the Hook as [RequestInfo].AccountID.
package docusign
