package docusign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func joinedErrors(tb testing.TB, err error) []string {
	tb.Helper()
	require.Error(tb, err)
	var joined interface{ Unwrap() []error }
	require.ErrorAs(tb, err, &joined)
	var msgs []string
	for _, e := range joined.Unwrap() {
		msgs = append(msgs, e.Error())
	}
	return msgs
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()

	t.Run("empty config", func(t *testing.T) {
		t.Parallel()
		msgs := joinedErrors(t, Config{}.Validate())
		all := strings.Join(msgs, "\n")
		for _, field := range []string{"AuthBaseURL", "IntegrationKey", "UserID", "PrivateKeyPEM", "Accounts"} {
			require.Contains(t, all, field)
		}
		require.Len(t, msgs, 5)
	})

	t.Run("bad values", func(t *testing.T) {
		t.Parallel()
		cfg := Config{
			Environment:        "staging",
			AuthBaseURL:        "ftp://account-d.docusign.com",
			ESignatureBaseURLs: map[string]string{acctA: "not a url"},
			IntegrationKey:     testIntegrationKey,
			UserID:             "admin@example.test",
			PrivateKeyPEM:      []byte("-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n"),
			Scopes:             []string{"signature", "user_read user_write"},
			OrganizationID:     testOrgID,
			Accounts:           []string{acctA, strings.ToUpper(acctA), ""},
			TokenRefreshMargin: time.Minute,
		}
		msgs := joinedErrors(t, cfg.Validate())
		all := strings.Join(msgs, "\n")
		for _, want := range []string{
			`Environment "staging" is unknown`,
			"AuthBaseURL:",
			"AdminBaseURL is empty but OrganizationID is set",
			"ESignatureBaseURLs[",
			"UserID looks like an email address",
			"PrivateKeyPEM:",
			`Scopes: "user_read user_write" is not a single scope`,
			`Scopes lacks "impersonation"`,
			"twice",
			"Accounts has an empty entry",
			"TokenRefreshMargin 1m0s is out of range",
		} {
			require.Contains(t, all, want)
		}
		require.Len(t, msgs, 11)
	})

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		key := newTestKey(t)
		cfg := Config{Environment: EnvironmentDemo, IntegrationKey: testIntegrationKey, UserID: testUserID,
			PrivateKeyPEM: pkcs1PEM(key), Accounts: []string{acctA}}
		require.NoError(t, cfg.Validate())
	})
}

func TestNewWrapsValidationErrors(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Environment: EnvironmentProduction})
	require.ErrorContains(t, err, "docusign: invalid config:")
	require.ErrorContains(t, err, "IntegrationKey")
}

func TestConfigEnvironmentPresets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       Environment
		wantAuth  string
		wantAdmin string
	}{
		{name: "demo", env: EnvironmentDemo, wantAuth: "https://account-d.docusign.com", wantAdmin: "https://api-d.docusign.net/management"},
		{name: "production", env: EnvironmentProduction, wantAuth: "https://account.docusign.com", wantAdmin: "https://api.docusign.net/management"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Environment: tt.env}
			cfg.setDefaults()
			require.Equal(t, tt.wantAuth, cfg.AuthBaseURL)
			require.Equal(t, tt.wantAdmin, cfg.AdminBaseURL)
			require.Equal(t, strings.Fields(DefaultScopes), cfg.Scopes)
			require.Equal(t, DefaultTokenRefreshMargin, cfg.TokenRefreshMargin)
		})
	}

	t.Run("explicit URLs win", func(t *testing.T) {
		t.Parallel()
		cfg := Config{Environment: EnvironmentDemo, AuthBaseURL: "http://127.0.0.1:1/", AdminBaseURL: "http://127.0.0.1:2/management"}
		cfg.setDefaults()
		require.Equal(t, "http://127.0.0.1:1", cfg.AuthBaseURL)
		require.Equal(t, "http://127.0.0.1:2/management", cfg.AdminBaseURL)
	})
}

func TestConfigNeverShowsPrivateKey(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	keyPEM := pkcs1PEM(key)
	cfg := Config{Environment: EnvironmentDemo, IntegrationKey: testIntegrationKey, UserID: testUserID,
		PrivateKeyPEM: keyPEM, Accounts: []string{acctA}}
	body := strings.Split(string(keyPEM), "\n")[1] // a line of base64 key material
	wrapper := struct {
		DocuSign Config
		Other    string
	}{DocuSign: cfg, Other: "x"}
	jsonCfg, err := json.Marshal(cfg)
	require.NoError(t, err)
	client := mustNew(t, cfg)

	outputs := map[string]string{
		"%v":          fmt.Sprintf("%v", cfg),
		"%+v":         fmt.Sprintf("%+v", cfg),
		"%#v":         fmt.Sprintf("%#v", cfg),
		"%s":          fmt.Sprintf("%s", cfg),
		"%d":          fmt.Sprintf("%d", cfg),
		"%x key":      fmt.Sprintf("%x", cfg.PrivateKeyPEM),
		"%s key":      fmt.Sprintf("%s", cfg.PrivateKeyPEM),
		"pointer":     fmt.Sprintf("%+v", &cfg),
		"wrapper":     fmt.Sprintf("%+v", wrapper),
		"wrapper %#v": fmt.Sprintf("%#v", wrapper),
		"json":        string(jsonCfg),
		"client %+v":  fmt.Sprintf("%+v", client),
		"client %d":   fmt.Sprintf("%d", client),
	}
	for name, out := range outputs {
		require.NotContains(t, out, "PRIVATE KEY", name)
		require.NotContains(t, out, body, name)
		require.NotContains(t, out, base64.StdEncoding.EncodeToString(keyPEM)[:40], name)
	}
	require.Contains(t, outputs["%+v"], "PrivateKeyPEM:[REDACTED]")
	require.Contains(t, outputs["%+v"], testIntegrationKey)
	require.Contains(t, outputs["json"], `"PrivateKeyPEM":"[REDACTED]"`)
	require.Equal(t, "[EMPTY]", SecretBytes(nil).String())
}

func TestNewRejectsNonRSAKey(t *testing.T) {
	t.Parallel()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ecPEM := pkcs8PEM(t, ec)
	_, err = New(Config{Environment: EnvironmentDemo, IntegrationKey: testIntegrationKey, UserID: testUserID,
		PrivateKeyPEM: ecPEM, Accounts: []string{acctA}})
	require.ErrorIs(t, err, ErrInvalidPrivateKey)
	require.ErrorContains(t, err, "DocuSign needs RSA")
	require.NotContains(t, err.Error(), strings.Split(string(ecPEM), "\n")[1])
	require.True(t, errors.Is(err, ErrInvalidPrivateKey))
}
