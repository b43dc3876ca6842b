package docusign

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadPrivateKey(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{name: "PKCS#1 PEM", path: write("pkcs1.pem", pkcs1PEM(key))},
		{name: "PKCS#8 PEM", path: write("pkcs8.pem", pkcs8PEM(t, key))},
		{name: "PKCS#1 DER", path: write("pkcs1.der", x509.MarshalPKCS1PrivateKey(key))},
		{name: "missing file", path: filepath.Join(dir, "absent.pem"), wantErr: "no such file"},
		{name: "not a key", path: write("garbage.pem", []byte("hello")), wantErr: "neither PKCS#1 nor PKCS#8"},
		{name: "EC key", path: write("ec.pem", pkcs8PEM(t, ec)), wantErr: "DocuSign needs RSA"},
		{name: "encrypted", path: write("enc.pem", []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")),
			wantErr: "encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := LoadPrivateKey(tt.path)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidPrivateKey)
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), "BEGIN")
				return
			}
			require.NoError(t, err)
			parsed, err := ParsePrivateKey(data)
			require.NoError(t, err)
			require.True(t, key.Equal(parsed))
		})
	}
}

func TestPrivateKeyFromEnvValue(t *testing.T) {
	t.Parallel()
	key := newTestKey(t)
	pem1 := string(pkcs1PEM(key))
	pem8 := string(pkcs8PEM(t, key))
	tests := []struct {
		name    string
		value   string
		wantErr string
	}{
		{name: "PKCS#1 PEM as is", value: pem1},
		{name: "PKCS#8 PEM as is", value: pem8},
		{name: "PEM with literal \\n", value: strings.ReplaceAll(strings.TrimSpace(pem8), "\n", `\n`)},
		{name: "PEM with literal \\r\\n", value: strings.ReplaceAll(strings.TrimSpace(pem1), "\n", `\r\n`)},
		{name: "base64 of PEM", value: base64.StdEncoding.EncodeToString([]byte(pem8))},
		{name: "base64 of DER", value: base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(key))},
		{name: "empty", value: "  ", wantErr: "empty"},
		{name: "garbage", value: "not-a-key!", wantErr: "neither PEM nor base64"},
		{name: "truncated PEM", value: pem1[:len(pem1)/2], wantErr: "malformed PEM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := PrivateKeyFromEnvValue(tt.value)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidPrivateKey)
				require.ErrorContains(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), strings.Split(pem1, "\n")[1])
				return
			}
			require.NoError(t, err)
			require.Contains(t, string(data), "-----BEGIN")
			parsed, err := ParsePrivateKey(data)
			require.NoError(t, err)
			require.True(t, key.Equal(parsed))
		})
	}
}
