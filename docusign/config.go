package docusign

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Hosts of DocuSign's two environments (docusign-api.md §1).
const (
	// DemoAuthBaseURL is the OAuth server of the demo (developer) environment.
	DemoAuthBaseURL = "https://account-d.docusign.com"
	// ProductionAuthBaseURL is the OAuth server of production.
	ProductionAuthBaseURL = "https://account.docusign.com"
	// DemoAdminBaseURL is the Admin API base (with its /management prefix) of the demo environment.
	DemoAdminBaseURL = "https://api-d.docusign.net/management"
	// ProductionAdminBaseURL is the Admin API base (with its /management prefix) of production.
	ProductionAdminBaseURL = "https://api.docusign.net/management"
)

// DefaultScopes are the OAuth scopes requested when Config.Scopes is empty: eSignature, JWT impersonation and the
// Admin API scopes the worker's operations need.
const DefaultScopes = "signature impersonation organization_read user_read user_write account_read group_read permission_read"

// Token renewal margins.
const (
	// DefaultTokenRefreshMargin is how long before its expiry a cached access token is replaced by default.
	DefaultTokenRefreshMargin = 10 * time.Minute
	// MinTokenRefreshMargin is the smallest accepted Config.TokenRefreshMargin.
	MinTokenRefreshMargin = 5 * time.Minute
	// MaxTokenRefreshMargin is the largest accepted Config.TokenRefreshMargin (DocuSign tokens live one hour).
	MaxTokenRefreshMargin = 50 * time.Minute
)

// defaultHTTPTimeout bounds one HTTP exchange when Config.HTTPClient is nil.
const defaultHTTPTimeout = 60 * time.Second

// Environment selects DocuSign's demo or production hosts.
type Environment string

// The two DocuSign environments.
const (
	// EnvironmentDemo is the developer environment (account-d.docusign.com, api-d.docusign.net).
	EnvironmentDemo Environment = "demo"
	// EnvironmentProduction is production (account.docusign.com, api.docusign.net).
	EnvironmentProduction Environment = "production"
)

// SecretBytes holds secret material such as a private key. It prints, formats and marshals as "[REDACTED]" (or
// "[EMPTY]"), so a Config can be logged or printed without leaking the key.
type SecretBytes []byte

const (
	redacted      = "[REDACTED]"
	redactedEmpty = "[EMPTY]"
)

func (s SecretBytes) redacted() string {
	if len(s) == 0 {
		return redactedEmpty
	}
	return redacted
}

// String returns "[REDACTED]" or "[EMPTY]", never the secret.
func (s SecretBytes) String() string { return s.redacted() }

// GoString returns "[REDACTED]" or "[EMPTY]", never the secret.
func (s SecretBytes) GoString() string { return s.redacted() }

// Format prints "[REDACTED]" or "[EMPTY]" for every verb, so %x, %v and %s never show the secret.
func (s SecretBytes) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.redacted())) }

// MarshalJSON encodes the redaction marker instead of the secret.
func (s SecretBytes) MarshalJSON() ([]byte, error) { return []byte(`"` + s.redacted() + `"`), nil }

// MarshalText encodes the redaction marker instead of the secret.
func (s SecretBytes) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// Config configures a Client. Set Environment (or AuthBaseURL and AdminBaseURL), IntegrationKey, UserID,
// PrivateKeyPEM and Accounts; everything else has a default. Printing or JSON-encoding a Config never shows the
// private key.
type Config struct {
	// Environment is "demo" or "production". It fills AuthBaseURL and AdminBaseURL when they are empty.
	Environment Environment

	// AuthBaseURL is the OAuth server serving /oauth/token and /oauth/userinfo, e.g.
	// https://account-d.docusign.com. The JWT "aud" claim is its bare host[:port].
	AuthBaseURL string
	// AdminBaseURL is the Admin API base including its /management prefix, e.g.
	// https://api-d.docusign.net/management.
	AdminBaseURL string
	// ESignatureBaseURLs optionally overrides, per account id, the base_uri from userinfo (scheme and host, without
	// /restapi). Meant for tests; in production routing comes from userinfo.
	ESignatureBaseURLs map[string]string

	// IntegrationKey is the OAuth client id (JWT "iss").
	IntegrationKey string
	// UserID is the GUID of the impersonated user (JWT "sub"); for the Admin API an organization administrator.
	UserID string
	// PrivateKeyPEM is the RSA private key of the integration key, PKCS#1 or PKCS#8 PEM. See LoadPrivateKey and
	// PrivateKeyFromEnvValue.
	PrivateKeyPEM SecretBytes
	// Scopes are the OAuth scopes requested; empty means DefaultScopes. Consent must cover all of them.
	Scopes []string
	// ConsentRedirectURI is a redirect URI registered for the integration key. It is only used to build the
	// consent URL shown in consent_required errors; empty leaves a placeholder to replace.
	ConsentRedirectURI string

	// OrganizationID is the DocuSign organization of the Admin API (not an account id). Empty disables the Admin API.
	OrganizationID string
	// Accounts are the account ids the worker manages; each is checked against userinfo by Client.Verify.
	Accounts []string
	// AdminBudgetAccountID is the account whose rate-limit budget Admin API calls spend (the budget key passed to
	// the Hook). Empty means the organization's default account, discovered through List organizations.
	AdminBudgetAccountID string

	// HTTPClient sends every request. Nil means a client with a 60 s timeout.
	HTTPClient *http.Client `json:"-"`
	// Hook is called before and after every API request (not for token and userinfo calls). Nil means none.
	Hook Hook `json:"-"`
	// TokenRefreshMargin is how long before expiry the access token is renewed; 0 means
	// DefaultTokenRefreshMargin. It must lie between MinTokenRefreshMargin and MaxTokenRefreshMargin. A token
	// whose whole lifetime is shorter than twice the margin is renewed at half its lifetime.
	TokenRefreshMargin time.Duration
	// NowFunc returns the current time; nil means time.Now. Tests inject a clock.
	NowFunc func() time.Time `json:"-"`
}

// String describes the configuration without the private key.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "docusign.Config{Environment:%q AuthBaseURL:%q AdminBaseURL:%q", c.Environment, c.AuthBaseURL, c.AdminBaseURL)
	if len(c.ESignatureBaseURLs) > 0 {
		keys := make([]string, 0, len(c.ESignatureBaseURLs))
		for k := range c.ESignatureBaseURLs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString(" ESignatureBaseURLs:{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%q:%q", k, c.ESignatureBaseURLs[k])
		}
		b.WriteString("}")
	}
	fmt.Fprintf(&b, " IntegrationKey:%q UserID:%q PrivateKeyPEM:%s Scopes:%q", c.IntegrationKey, c.UserID,
		c.PrivateKeyPEM.redacted(), c.Scopes)
	fmt.Fprintf(&b, " OrganizationID:%q Accounts:%q AdminBudgetAccountID:%q TokenRefreshMargin:%s",
		c.OrganizationID, c.Accounts, c.AdminBudgetAccountID, c.TokenRefreshMargin)
	fmt.Fprintf(&b, " HTTPClient:%t Hook:%t NowFunc:%t}", c.HTTPClient != nil, c.Hook != nil, c.NowFunc != nil)
	return b.String()
}

// GoString is String, so %#v does not show the private key either.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %d, ...), so no formatting reaches the private key.
func (c Config) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// Validate applies the defaults to a copy of c and reports every problem at once (errors.Join), each naming the
// field and the fix.
func (c Config) Validate() error {
	c.setDefaults()
	return c.validate()
}

func (c *Config) setDefaults() {
	switch c.Environment {
	case EnvironmentDemo:
		if c.AuthBaseURL == "" {
			c.AuthBaseURL = DemoAuthBaseURL
		}
		if c.AdminBaseURL == "" {
			c.AdminBaseURL = DemoAdminBaseURL
		}
	case EnvironmentProduction:
		if c.AuthBaseURL == "" {
			c.AuthBaseURL = ProductionAuthBaseURL
		}
		if c.AdminBaseURL == "" {
			c.AdminBaseURL = ProductionAdminBaseURL
		}
	}
	c.AuthBaseURL = strings.TrimRight(c.AuthBaseURL, "/")
	c.AdminBaseURL = strings.TrimRight(c.AdminBaseURL, "/")
	if len(c.Scopes) == 0 {
		c.Scopes = strings.Fields(DefaultScopes)
	}
	if c.TokenRefreshMargin == 0 {
		c.TokenRefreshMargin = DefaultTokenRefreshMargin
	}
	if c.NowFunc == nil {
		c.NowFunc = time.Now
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
}

func (c *Config) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch c.Environment {
	case "", EnvironmentDemo, EnvironmentProduction:
	default:
		add("Environment %q is unknown: set it to %q or %q, or leave it empty and set AuthBaseURL and AdminBaseURL",
			c.Environment, EnvironmentDemo, EnvironmentProduction)
	}
	if c.AuthBaseURL == "" {
		add("AuthBaseURL is empty: set Environment to %q or %q, or set AuthBaseURL (e.g. %s)",
			EnvironmentDemo, EnvironmentProduction, DemoAuthBaseURL)
	} else if err := checkBaseURL(c.AuthBaseURL); err != nil {
		add("AuthBaseURL: %w: use the OAuth server's scheme and host, e.g. %s", err, DemoAuthBaseURL)
	}
	if c.OrganizationID != "" && c.AdminBaseURL == "" {
		add("AdminBaseURL is empty but OrganizationID is set: set Environment, or AdminBaseURL (e.g. %s)", DemoAdminBaseURL)
	} else if c.AdminBaseURL != "" {
		if err := checkBaseURL(c.AdminBaseURL); err != nil {
			add("AdminBaseURL: %w: use the Admin API base including /management, e.g. %s", err, DemoAdminBaseURL)
		}
	}
	for id, u := range c.ESignatureBaseURLs {
		if strings.TrimSpace(id) == "" {
			add("ESignatureBaseURLs has an empty account id: key each override by account id")
		}
		if err := checkBaseURL(u); err != nil {
			add("ESignatureBaseURLs[%q]: %w: use the environment's base URI without /restapi, e.g. https://demo.docusign.net", id, err)
		}
	}
	if strings.TrimSpace(c.IntegrationKey) == "" {
		add("IntegrationKey is empty: set it to the integration key (client id) of the app in DocuSign's Apps and Keys page")
	}
	switch {
	case strings.TrimSpace(c.UserID) == "":
		add("UserID is empty: set it to the GUID of the user to impersonate (Apps and Keys page, \"User ID\")")
	case strings.Contains(c.UserID, "@"):
		add("UserID looks like an email address: set it to the user's GUID, not the email")
	}
	if len(c.PrivateKeyPEM) == 0 {
		add("PrivateKeyPEM is empty: load the integration key's RSA private key with LoadPrivateKey or PrivateKeyFromEnvValue")
	} else if _, err := ParsePrivateKey(c.PrivateKeyPEM); err != nil {
		add("PrivateKeyPEM: %w", err)
	}
	hasImpersonation := false
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			add("Scopes: %q is not a single scope: give one scope per element", s)
		}
		if s == "impersonation" {
			hasImpersonation = true
		}
	}
	if !hasImpersonation {
		add("Scopes lacks \"impersonation\": the JWT grant needs it; add it (default: %q)", DefaultScopes)
	}
	if len(c.Accounts) == 0 {
		add("Accounts is empty: list the DocuSign account ids the worker manages")
	}
	seen := make(map[string]bool, len(c.Accounts))
	for _, a := range c.Accounts {
		switch {
		case strings.TrimSpace(a) == "":
			add("Accounts has an empty entry: remove it")
		case seen[strings.ToLower(a)]:
			add("Accounts lists %q twice: remove the duplicate", a)
		}
		seen[strings.ToLower(a)] = true
	}
	if c.TokenRefreshMargin < MinTokenRefreshMargin || c.TokenRefreshMargin > MaxTokenRefreshMargin {
		add("TokenRefreshMargin %s is out of range: use between %s and %s (0 means %s)",
			c.TokenRefreshMargin, MinTokenRefreshMargin, MaxTokenRefreshMargin, DefaultTokenRefreshMargin)
	}
	return errors.Join(errs...)
}

// checkBaseURL accepts an absolute http(s) URL with a host and neither query nor fragment.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%q needs an http or https scheme", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", raw)
	}
	return nil
}
