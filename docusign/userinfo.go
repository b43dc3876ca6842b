package docusign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ErrNoAccounts: userinfo answered 404 or listed no accounts for the impersonated user. DocuSign documents this as
// a known issue for some valid users; the fix is a DocuSign support case.
var ErrNoAccounts = errors.New("docusign: userinfo lists no accounts for the impersonated user " +
	"(a known DocuSign issue for some valid users: check UserID, then open a support case with DocuSign)")

// ErrAccountNotFound: an account is not among the impersonated user's accounts in userinfo.
var ErrAccountNotFound = errors.New("docusign: account not among the impersonated user's accounts")

// UserInfo is the reply of GET /oauth/userinfo: who the impersonated user is and which accounts, on which
// environments (base_uri), it belongs to.
type UserInfo struct {
	// Sub is the user's GUID.
	Sub string `json:"sub"`
	// Name is the user's full name.
	Name string `json:"name"`
	// GivenName is the user's first name.
	GivenName string `json:"given_name"`
	// FamilyName is the user's last name.
	FamilyName string `json:"family_name"`
	// Created is when the user was created, as DocuSign formats it.
	Created string `json:"created"`
	// Email is the user's email address (personal data: do not log above debug).
	Email string `json:"email"`
	// Accounts are the user's accounts.
	Accounts []UserInfoAccount `json:"accounts"`
}

// UserInfoAccount is one account of the impersonated user.
type UserInfoAccount struct {
	// AccountID is the account's GUID.
	AccountID string `json:"account_id"`
	// IsDefault marks the user's default account. The client never routes by it.
	IsDefault bool `json:"is_default"`
	// AccountName is the account's name.
	AccountName string `json:"account_name"`
	// BaseURI is the account's environment, e.g. https://na3.docusign.net; eSignature calls go to BaseURI + /restapi.
	BaseURI string `json:"base_uri"`
	// Organization is the account's organization, when it has one.
	Organization *UserInfoOrganization `json:"organization,omitempty"`
}

// UserInfoOrganization is the organization an account belongs to.
type UserInfoOrganization struct {
	// OrganizationID is the organization's GUID.
	OrganizationID string `json:"organization_id"`
}

// UnmarshalJSON accepts is_default as a JSON boolean or as the string "true"/"false".
func (a *UserInfoAccount) UnmarshalJSON(data []byte) error {
	type plain UserInfoAccount
	var wire struct {
		plain
		IsDefault json.RawMessage `json:"is_default"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return err
	}
	*a = UserInfoAccount(wire.plain)
	switch strings.Trim(strings.ToLower(string(wire.IsDefault)), `"`) {
	case "true":
		a.IsDefault = true
	default:
		a.IsDefault = false
	}
	return nil
}

// Account returns the account with the given id (case-insensitive), or nil.
func (u *UserInfo) Account(accountID string) *UserInfoAccount {
	for i := range u.Accounts {
		if strings.EqualFold(u.Accounts[i].AccountID, accountID) {
			return &u.Accounts[i]
		}
	}
	return nil
}

func (u *UserInfo) clone() *UserInfo {
	c := *u
	c.Accounts = slices.Clone(u.Accounts)
	return &c
}

// AccountNotFoundError reports an account the impersonated user does not belong to, with the accounts it does
// belong to. It is a configuration error; the client never falls back to the default account.
type AccountNotFoundError struct {
	// AccountID is the account asked for.
	AccountID string
	// UserID is the impersonated user.
	UserID string
	// Available are the accounts userinfo lists for the user.
	Available []UserInfoAccount
}

// Error names the missing account and the user's accounts (ids and names).
func (e *AccountNotFoundError) Error() string {
	names := make([]string, 0, len(e.Available))
	for _, a := range e.Available {
		names = append(names, fmt.Sprintf("%s (%q)", a.AccountID, a.AccountName))
	}
	return fmt.Sprintf("docusign: account %s is not among the accounts of impersonated user %s, which belongs to: %s; "+
		"fix Accounts or add the user to the account", e.AccountID, e.UserID, strings.Join(names, ", "))
}

// Unwrap returns ErrAccountNotFound.
func (e *AccountNotFoundError) Unwrap() error { return ErrAccountNotFound }

// UserInfo returns the impersonated user's userinfo, read once and cached. Do not modify the result.
func (c *Client) UserInfo(ctx context.Context) (*UserInfo, error) {
	if ui, _ := c.cachedUserInfo(); ui != nil {
		return ui.clone(), nil
	}
	if err := c.lockUserInfo(ctx); err != nil {
		return nil, err
	}
	defer c.unlockUserInfo()
	if ui, _ := c.cachedUserInfo(); ui != nil {
		return ui.clone(), nil
	}
	ui, err := c.fetchUserInfo(ctx)
	if err != nil {
		return nil, err
	}
	return ui.clone(), nil
}

// RefreshUserInfo reads userinfo again and replaces the cached copy (routing follows the new base_uri values).
func (c *Client) RefreshUserInfo(ctx context.Context) (*UserInfo, error) {
	if err := c.lockUserInfo(ctx); err != nil {
		return nil, err
	}
	defer c.unlockUserInfo()
	ui, err := c.fetchUserInfo(ctx)
	if err != nil {
		return nil, err
	}
	return ui.clone(), nil
}

func (c *Client) lockUserInfo(ctx context.Context) error {
	select {
	case c.uiSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("docusign: userinfo: %w", ctx.Err())
	}
}

func (c *Client) unlockUserInfo() { <-c.uiSem }

func (c *Client) cachedUserInfo() (*UserInfo, uint64) {
	c.uiMu.Lock()
	defer c.uiMu.Unlock()
	return c.ui, c.uiGen
}

// fetchUserInfo calls GET /oauth/userinfo (outside the Hook) and caches the result. Callers hold uiSem.
func (c *Client) fetchUserInfo(ctx context.Context) (*UserInfo, error) {
	for attempt := 1; ; attempt++ {
		access, err := c.tokens.token(ctx)
		if err != nil {
			return nil, err
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.AuthBaseURL+"/oauth/userinfo", nil)
		if err != nil {
			return nil, fmt.Errorf("docusign: userinfo: %w", err)
		}
		hreq.Header.Set("Accept", "application/json")
		hreq.Header.Set("Authorization", "Bearer "+access)
		resp, err := c.http.Do(hreq)
		if err != nil {
			return nil, fmt.Errorf("docusign: userinfo: %w", err)
		}
		raw, readErr := readBody(resp.Body)
		op := request{api: APIOAuth, op: "UserInfo"}
		switch {
		case resp.StatusCode == http.StatusUnauthorized && attempt == 1:
			c.tokens.invalidate(access)
			continue
		case resp.StatusCode == http.StatusNotFound:
			apiErr := decodeError(APIOAuth, op.op, resp.StatusCode, resp.Header, raw, c.now())
			return nil, fmt.Errorf("docusign: userinfo for user %s: %w: %w", c.cfg.UserID, ErrNoAccounts, apiErr)
		case resp.StatusCode < 200 || resp.StatusCode > 299:
			return nil, decodeError(APIOAuth, op.op, resp.StatusCode, resp.Header, raw, c.now())
		case readErr != nil:
			return nil, unparseable(op, resp, c.now(), "read response body: "+readErr.Error())
		}
		var ui UserInfo
		if err := json.Unmarshal(raw, &ui); err != nil {
			return nil, unparseable(op, resp, c.now(), "decode response body: "+err.Error())
		}
		if len(ui.Accounts) == 0 {
			return nil, fmt.Errorf("docusign: userinfo for user %s: %w", c.cfg.UserID, ErrNoAccounts)
		}
		c.uiMu.Lock()
		c.ui = &ui
		c.uiGen++
		c.uiMu.Unlock()
		return &ui, nil
	}
}

// route returns the eSignature base (base_uri + /restapi) of an account and the userinfo generation it came from.
func (c *Client) route(ctx context.Context, accountID string) (string, uint64, error) {
	if override, ok := c.cfg.ESignatureBaseURLs[strings.ToLower(accountID)]; ok {
		return override + "/restapi", 0, nil
	}
	ui, gen := c.cachedUserInfo()
	if ui == nil {
		if _, err := c.UserInfo(ctx); err != nil {
			return "", 0, err
		}
		ui, gen = c.cachedUserInfo()
	}
	base, err := c.baseOf(ui, accountID)
	return base, gen, err
}

func (c *Client) baseOf(ui *UserInfo, accountID string) (string, error) {
	acct := ui.Account(accountID)
	if acct == nil {
		return "", &AccountNotFoundError{AccountID: accountID, UserID: c.cfg.UserID, Available: slices.Clone(ui.Accounts)}
	}
	base := strings.TrimRight(acct.BaseURI, "/")
	if err := checkBaseURL(base); err != nil {
		return "", fmt.Errorf("docusign: userinfo base_uri of account %s: %w", accountID, err)
	}
	return base + "/restapi", nil
}

// refreshRoute handles a wrong-environment error: unless another call refreshed userinfo since this request was
// routed, it reads userinfo again; it reports whether the account's base now differs from usedBase.
func (c *Client) refreshRoute(ctx context.Context, accountID, usedBase string, usedGen uint64) (bool, error) {
	if _, ok := c.cfg.ESignatureBaseURLs[strings.ToLower(accountID)]; ok {
		return false, nil
	}
	if err := c.lockUserInfo(ctx); err != nil {
		return false, err
	}
	defer c.unlockUserInfo()
	ui, gen := c.cachedUserInfo()
	if ui == nil || gen == usedGen {
		var err error
		if ui, err = c.fetchUserInfo(ctx); err != nil {
			return false, err
		}
	}
	base, err := c.baseOf(ui, accountID)
	if err != nil {
		return false, err
	}
	return base != usedBase, nil
}

// esignPath builds an escaped path below /restapi for an account: /v2.1/accounts/{accountId}/{segments...}.
func esignPath(accountID string, segments ...string) string {
	var b strings.Builder
	b.WriteString("/v2.1/accounts/")
	b.WriteString(url.PathEscape(accountID))
	for _, s := range segments {
		b.WriteString("/")
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}
