package docusign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxBodyBytes bounds how much of a reply is read.
const maxBodyBytes = 32 << 20

// Client calls DocuSign's Admin API and eSignature API as one impersonated user. It is safe for concurrent use;
// create one per integration key and user with New.
type Client struct {
	cfg    Config
	hook   Hook
	now    func() time.Time
	http   *http.Client
	tokens *tokenManager

	admin *AdminAPI
	esign *ESignatureAPI

	// userinfo cache
	uiSem chan struct{}
	uiMu  sync.Mutex
	ui    *UserInfo
	uiGen uint64

	// Admin budget account, discovered from the organization when not configured
	budgetSem chan struct{}
	budgetMu  sync.Mutex
	budget    string

	adminProfiles refCache[AdminPermissionProfile]
	adminGroups   refCache[AdminGroup]
	esignProfiles refCache[ESignPermissionProfile]
	esignGroups   refCache[ESignGroup]
}

// New validates cfg (reporting every problem at once) and returns a Client. It makes no network call; call Verify
// at start to check credentials, consent and accounts.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("docusign: invalid config: %w", err)
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	cfg.Accounts = slices.Clone(cfg.Accounts)
	overrides := make(map[string]string, len(cfg.ESignatureBaseURLs))
	for id, u := range cfg.ESignatureBaseURLs {
		overrides[strings.ToLower(id)] = strings.TrimRight(u, "/")
	}
	cfg.ESignatureBaseURLs = overrides
	cfg.PrivateKeyPEM = slices.Clone(cfg.PrivateKeyPEM)

	authURL, err := url.Parse(cfg.AuthBaseURL)
	if err != nil {
		return nil, fmt.Errorf("docusign: invalid config: AuthBaseURL: %w", err)
	}
	c := &Client{
		cfg:       cfg,
		hook:      cfg.Hook,
		now:       cfg.NowFunc,
		http:      cfg.HTTPClient,
		tokens:    newTokenManager(cfg, authURL.Host, cfg.PrivateKeyPEM),
		uiSem:     make(chan struct{}, 1),
		budgetSem: make(chan struct{}, 1),
		budget:    cfg.AdminBudgetAccountID,
	}
	if c.hook == nil {
		c.hook = nopHook{}
	}
	for _, rc := range []interface{ init() }{&c.adminProfiles, &c.adminGroups, &c.esignProfiles, &c.esignGroups} {
		rc.init()
	}
	c.admin = &AdminAPI{c: c}
	c.esign = &ESignatureAPI{c: c}
	return c, nil
}

// String describes the client without secrets (key, access token).
func (c *Client) String() string {
	return fmt.Sprintf("docusign.Client{AuthBaseURL:%q UserID:%q Accounts:%q OrganizationID:%q}", c.cfg.AuthBaseURL,
		c.cfg.UserID, c.cfg.Accounts, c.cfg.OrganizationID)
}

// Format prints String for every verb, so no formatting of a Client reaches its key or token.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// Admin returns the Admin API surface (organization-level users and memberships).
func (c *Client) Admin() *AdminAPI { return c.admin }

// ESignature returns the eSignature Users API surface (account-level users, groups, permission profiles).
func (c *Client) ESignature() *ESignatureAPI { return c.esign }

// Accounts returns the configured (managed) account ids.
func (c *Client) Accounts() []string { return slices.Clone(c.cfg.Accounts) }

// Authenticate makes sure a valid access token is cached, minting one through the JWT grant if needed. Failures
// are *AuthError (see IsPermanentAuth) or transport errors. Useful for readiness checks.
func (c *Client) Authenticate(ctx context.Context) error {
	_, err := c.tokens.token(ctx)
	return err
}

// Verify checks the configuration against DocuSign and warms the caches: it obtains a token, reads userinfo,
// checks that the impersonated user belongs to every configured account (each missing one is an
// *AccountNotFoundError naming the accounts the user does belong to) and, when the Admin API is configured without
// AdminBudgetAccountID, discovers the organization's default account. Call it once at start.
func (c *Client) Verify(ctx context.Context) error {
	ui, err := c.UserInfo(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range c.cfg.Accounts {
		if ui.Account(id) == nil {
			errs = append(errs, &AccountNotFoundError{AccountID: id, UserID: c.cfg.UserID, Available: slices.Clone(ui.Accounts)})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if c.cfg.OrganizationID != "" {
		if _, err := c.adminBudgetAccount(ctx); err != nil {
			return err
		}
	}
	return nil
}

// request is one API call before routing.
type request struct {
	api       API
	op        string
	method    string
	accountID string // eSignature: the account (route and budget key)
	budget    string // Admin: budget key override (organization discovery)
	path      string // escaped path below the base (/restapi for eSignature, /management for Admin)
	query     url.Values
	body      any
}

// do sends req, decodes a 2xx reply into out and returns the reply's metadata. It retries once after a token
// refresh (a 401 for which isTokenRejected holds) and, for eSignature calls, once when a wrong-environment error is
// explained by a changed base_uri in refreshed userinfo. Nothing else is retried.
func (c *Client) do(ctx context.Context, req request, out any) (Reply, error) {
	var body []byte
	if req.body != nil {
		var err error
		if body, err = json.Marshal(req.body); err != nil {
			return Reply{}, fmt.Errorf("docusign: %s %s: encode request: %w", req.api, req.op, err)
		}
	}
	budget := req.accountID
	if req.api == APIAdmin {
		if c.cfg.OrganizationID == "" {
			return Reply{}, fmt.Errorf("docusign: %s %s: %w", req.api, req.op, ErrAdminNotConfigured)
		}
		budget = req.budget
		if budget == "" {
			var err error
			if budget, err = c.adminBudgetAccount(ctx); err != nil {
				return Reply{}, err
			}
		}
	}
	tokenRetried, routeRetried := false, false
	for attempt := 1; ; attempt++ {
		base, gen, err := c.baseURL(ctx, req)
		if err != nil {
			return Reply{}, err
		}
		access, err := c.tokens.token(ctx)
		if err != nil {
			return Reply{}, err
		}
		info := RequestInfo{API: req.api, Operation: req.op, AccountID: budget, Method: req.method, Attempt: attempt}
		if err := c.hook.BeforeRequest(ctx, info); err != nil {
			return Reply{}, fmt.Errorf("docusign: %s %s: hook: %w", req.api, req.op, err)
		}
		reply, apiErr, err := c.send(ctx, info, base, access, req, body, out)
		if err != nil {
			return Reply{}, err
		}
		if apiErr == nil {
			return reply, nil
		}
		if apiErr.StatusCode == http.StatusUnauthorized && !tokenRetried && isTokenRejected(req.api, apiErr.ErrorCode) {
			tokenRetried = true
			c.tokens.invalidate(access)
			continue
		}
		if req.api == APIESignature && !routeRetried && isWrongEnvironmentCode(apiErr.ErrorCode) {
			routeRetried = true
			changed, rerr := c.refreshRoute(ctx, req.accountID, base, gen)
			if rerr != nil {
				return reply, fmt.Errorf("%w (userinfo refresh after this error failed: %w)", apiErr, rerr)
			}
			if changed {
				continue
			}
		}
		return reply, apiErr
	}
}

// adminCodeUnauthorized is the Admin API's error for a missing, expired or revoked access token
// ({"error":"unauthorized","error_description":"Not Authorized"}, docusign-api.md §4).
const adminCodeUnauthorized = "unauthorized"

// isTokenRejected reports whether a 401 with this code says the access token is no longer accepted, so that a new
// token may succeed: AUTHORIZATION_INVALID_TOKEN or USER_AUTHENTICATION_FAILED (eSignature), "unauthorized" (Admin).
func isTokenRejected(api API, code string) bool {
	if api == APIAdmin && code == adminCodeUnauthorized {
		return true
	}
	return code == CodeInvalidToken || code == CodeUserAuthenticationFailed
}

// baseURL is the base a request's path is appended to, with the userinfo generation it was read from.
func (c *Client) baseURL(ctx context.Context, req request) (string, uint64, error) {
	if req.api == APIAdmin {
		return c.cfg.AdminBaseURL, 0, nil
	}
	return c.route(ctx, req.accountID)
}

// send performs one HTTP exchange and reports it to the hook. A transport error is returned as err; a failed
// reply (non-2xx or undecodable 2xx) as apiErr.
func (c *Client) send(ctx context.Context, info RequestInfo, base, access string, req request, body []byte,
	out any) (Reply, *APIError, error) {
	target := base + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, target, rd)
	if err != nil {
		return Reply{}, nil, fmt.Errorf("docusign: %s %s: build request: %w", req.api, req.op, redactURLError(err))
	}
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("Authorization", "Bearer "+access)
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(hreq)
	if err != nil {
		err = fmt.Errorf("docusign: %s %s: %w", req.api, req.op, redactURLError(err))
		c.hook.AfterResponse(ctx, info, ResponseInfo{Duration: time.Since(start), Err: err})
		return Reply{}, nil, err
	}
	raw, readErr := readBody(resp.Body)
	duration := time.Since(start)
	now := c.now()
	reply := Reply{
		StatusCode: resp.StatusCode,
		TraceToken: strings.TrimSpace(resp.Header.Get(HeaderTraceToken)),
		RateLimit:  ParseRateLimit(resp.Header, now),
	}
	var apiErr *APIError
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		apiErr = decodeError(req.api, req.op, resp.StatusCode, resp.Header, raw, now)
		if readErr != nil && apiErr.ErrorCode == CodeUnparseableResponse {
			apiErr.Message = "read response body: " + readErr.Error()
		}
	case readErr != nil:
		apiErr = unparseable(req, resp, now, "read response body: "+readErr.Error())
	case out != nil:
		if err := json.Unmarshal(raw, out); err != nil {
			apiErr = unparseable(req, resp, now, "decode response body: "+err.Error())
		}
	}
	result := ResponseInfo{StatusCode: reply.StatusCode, RateLimit: reply.RateLimit, TraceToken: reply.TraceToken,
		Duration: duration}
	if apiErr != nil {
		result.ErrorCode, result.Err = apiErr.ErrorCode, apiErr
	}
	c.hook.AfterResponse(ctx, info, result)
	return reply, apiErr, nil
}

func unparseable(req request, resp *http.Response, now time.Time, msg string) *APIError {
	return &APIError{
		StatusCode: resp.StatusCode,
		ErrorCode:  CodeUnparseableResponse,
		Message:    truncate(msg, maxMessageLen),
		TraceToken: strings.TrimSpace(resp.Header.Get(HeaderTraceToken)),
		RateLimit:  ParseRateLimit(resp.Header, now),
		API:        req.api,
		Operation:  req.op,
	}
}

func readBody(r io.ReadCloser) ([]byte, error) {
	defer func() { _ = r.Close() }()
	raw, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return raw, err
	}
	if len(raw) > maxBodyBytes {
		return raw[:maxBodyBytes], fmt.Errorf("body exceeds %d bytes", maxBodyBytes)
	}
	return raw, nil
}

// redactURLError drops the query (which can hold an email address) from a *url.Error's URL.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if i := strings.IndexByte(ue.URL, '?'); i >= 0 {
			ue.URL = ue.URL[:i] + "?…"
		}
	}
	return err
}

// ErrAdminNotConfigured is returned by Admin API calls when Config.OrganizationID is empty.
var ErrAdminNotConfigured = errors.New("docusign: Admin API not configured: set OrganizationID")

// adminBudgetAccount returns the budget key of Admin API calls: Config.AdminBudgetAccountID, or the default
// account of the configured organization (discovered once through List organizations).
func (c *Client) adminBudgetAccount(ctx context.Context) (string, error) {
	if b := c.knownBudget(); b != "" {
		return b, nil
	}
	select {
	case c.budgetSem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("docusign: discover Admin budget account: %w", ctx.Err())
	}
	defer func() { <-c.budgetSem }()
	if b := c.knownBudget(); b != "" {
		return b, nil
	}
	orgs, err := c.admin.listOrganizations(ctx, c.discoveryBudget())
	if err != nil {
		return "", fmt.Errorf("docusign: discover Admin budget account: %w", err)
	}
	for _, org := range orgs.Organizations {
		if !strings.EqualFold(org.ID, c.cfg.OrganizationID) {
			continue
		}
		if org.DefaultAccountID == "" {
			return "", fmt.Errorf("docusign: organization %s has no default account: set AdminBudgetAccountID", org.ID)
		}
		c.budgetMu.Lock()
		c.budget = org.DefaultAccountID
		c.budgetMu.Unlock()
		return org.DefaultAccountID, nil
	}
	ids := make([]string, 0, len(orgs.Organizations))
	for _, org := range orgs.Organizations {
		ids = append(ids, fmt.Sprintf("%s (%q)", org.ID, org.Name))
	}
	if len(ids) == 0 {
		ids = append(ids, "none")
	}
	return "", fmt.Errorf("docusign: organization %s is not among the organizations of user %s, which are: %s; fix "+
		"OrganizationID or impersonate an organization administrator", c.cfg.OrganizationID, c.cfg.UserID, strings.Join(ids, ", "))
}

func (c *Client) knownBudget() string {
	c.budgetMu.Lock()
	defer c.budgetMu.Unlock()
	return c.budget
}

// discoveryBudget is the budget key of List organizations while the organization's default account is unknown:
// the first configured account.
func (c *Client) discoveryBudget() string {
	if b := c.knownBudget(); b != "" {
		return b
	}
	if len(c.cfg.Accounts) > 0 {
		return c.cfg.Accounts[0]
	}
	return ""
}
