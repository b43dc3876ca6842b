package docusignsim

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// maxAssertionLifetime is DocuSign's limit on exp - iat.
const maxAssertionLifetime = 3600

type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

func oauthError(code, desc string) reply {
	return jsonReply(http.StatusBadRequest, oauthErrorBody{Error: code, ErrorDescription: desc})
}

type tokenReply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

type jwtClaims struct {
	Iss   string          `json:"iss"`
	Sub   string          `json:"sub"`
	Aud   json.RawMessage `json:"aud"`
	Iat   *float64        `json:"iat"`
	Exp   *float64        `json:"exp"`
	Scope string          `json:"scope"`
}

// audiences returns the aud claim as a list (it may be a string or an array).
func (c *jwtClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(c.Aud, &many) == nil {
		return many
	}
	return nil
}

// handleToken is POST /oauth/token with the JWT bearer grant. Checks, in order: form and JWT
// shape (invalid_request), iss (issuer_not_found), RS256 signature (no_valid_keys_or_signatures),
// aud (issuer_not_found), iat/exp (invalid_request), sub (user_not_found), consent
// (consent_required).
func (s *Server) handleToken(c *call) reply {
	form, err := url.ParseQuery(string(c.body))
	if err != nil {
		return oauthError("invalid_request", "")
	}
	if form.Get("grant_type") != jwtBearerGrant {
		return oauthError("unsupported_grant_type", "")
	}
	parts := strings.Split(form.Get("assertion"), ".")
	if len(parts) != 3 {
		return oauthError("invalid_request", "")
	}
	var hdr jwtHeader
	var claims jwtClaims
	if decodeSegment(parts[0], &hdr) != nil || decodeSegment(parts[1], &claims) != nil {
		return oauthError("invalid_request", "")
	}
	if claims.Iss != s.seed.IntegrationKey {
		return oauthError("invalid_grant", "issuer_not_found")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || hdr.Alg != "RS256" {
		return oauthError("invalid_grant", "no_valid_keys_or_signatures")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(s.pubKey, crypto.SHA256, digest[:], sig) != nil {
		return oauthError("invalid_grant", "no_valid_keys_or_signatures")
	}
	if !s.audienceOK(claims.audiences()) {
		return oauthError("invalid_grant", "issuer_not_found")
	}
	if claims.Iat == nil || claims.Exp == nil {
		return oauthError("invalid_request", "")
	}
	now := float64(c.now.UnixNano()) / 1e9
	iat, exp := math.Floor(*claims.Iat), math.Floor(*claims.Exp)
	if exp <= now || exp > iat+maxAssertionLifetime || iat > now+300 {
		return oauthError("invalid_request", "")
	}
	u := s.dir.userByID(claims.Sub)
	if claims.Sub == "" || u == nil {
		return oauthError("invalid_grant", "user_not_found")
	}
	scopes := strings.Fields(claims.Scope)
	if len(scopes) == 0 {
		scopes = []string{"signature"}
	}
	for _, sc := range scopes {
		if !slices.Contains(u.consented, sc) {
			return oauthError("consent_required", "")
		}
	}
	if len(s.tokens) > 1000 {
		for k, t := range s.tokens {
			if !c.now.Before(t.expires) {
				delete(s.tokens, k)
			}
		}
	}
	raw := newOpaqueToken()
	s.tokens[raw] = &accessToken{userID: u.id, scopes: scopes, expires: c.now.Add(s.opts.TokenLifetime)}
	return jsonReply(http.StatusOK, tokenReply{
		AccessToken: raw, TokenType: "Bearer", ExpiresIn: int64(s.opts.TokenLifetime / time.Second),
	})
}

func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err //nolint:wrapcheck // only tested for nil
	}
	return json.Unmarshal(data, v) //nolint:wrapcheck // only tested for nil
}

func (s *Server) audienceOK(auds []string) bool {
	for _, a := range auds {
		for _, ok := range s.audiences {
			if strings.EqualFold(a, ok) {
				return true
			}
		}
	}
	return false
}

type userinfoReply struct {
	Sub        string            `json:"sub"`
	Name       string            `json:"name"`
	GivenName  string            `json:"given_name"`
	FamilyName string            `json:"family_name"`
	Created    string            `json:"created"`
	Email      string            `json:"email"`
	Accounts   []userinfoAccount `json:"accounts"`
}

type userinfoAccount struct {
	AccountID    string       `json:"account_id"`
	IsDefault    bool         `json:"is_default"`
	AccountName  string       `json:"account_name"`
	BaseURI      string       `json:"base_uri"`
	Organization *userinfoOrg `json:"organization,omitempty"`
}

type userinfoOrg struct {
	OrganizationID string         `json:"organization_id"`
	Links          []userinfoLink `json:"links"`
}

type userinfoLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// handleUserinfo is GET /oauth/userinfo: the token's user and its active accounts, each with
// the base_uri of the environment hosting it now.
func (s *Server) handleUserinfo(c *call) reply {
	tok := s.lookupToken(bearer(c.r), c.now)
	if tok == nil {
		return jsonReply(http.StatusUnauthorized, oauthErrorBody{
			Error: "invalid_token", ErrorDescription: "The access token is missing, expired or revoked.",
		})
	}
	u := s.dir.userByID(tok.userID)
	if u == nil || u.userinfoMode == UserinfoNotFound {
		return jsonReply(http.StatusNotFound, oauthErrorBody{Error: "user_not_found", ErrorDescription: "UserNotFound"})
	}
	rep := userinfoReply{
		Sub: u.id, Name: u.userName, GivenName: u.firstName, FamilyName: u.lastName,
		Created: u.created.UTC().Format("2006-01-02T15:04:05.99"), Email: u.email,
		Accounts: []userinfoAccount{},
	}
	if u.userinfoMode == UserinfoEmpty {
		return jsonReply(http.StatusOK, rep)
	}
	for _, m := range u.sortedMemberships(s.dir) {
		if m.status != StatusActive {
			continue
		}
		rep.Accounts = append(rep.Accounts, userinfoAccount{
			AccountID:   m.account.id,
			IsDefault:   strings.EqualFold(m.account.id, u.defaultAccountID),
			AccountName: m.account.name,
			BaseURI:     s.envURLs[m.account.environment],
			Organization: &userinfoOrg{
				OrganizationID: s.dir.org.id,
				Links: []userinfoLink{{
					Rel: "self", Href: s.adminURL + "/v2/organizations/" + s.dir.org.id,
				}},
			},
		})
	}
	return jsonReply(http.StatusOK, rep)
}
