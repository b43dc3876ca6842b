package docusign

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrInvalidPrivateKey reports a private key that is missing, unreadable, encrypted or not RSA. Errors wrapping it
// never contain key material.
var ErrInvalidPrivateKey = errors.New("docusign: invalid private key")

// ParsePrivateKey parses an RSA private key in PEM form ("RSA PRIVATE KEY" = PKCS#1 or "PRIVATE KEY" = PKCS#8) or
// as raw DER. Errors never contain key material.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidPrivateKey)
	}
	der := data // raw DER is binary: trimming could cut a final byte that happens to be whitespace
	if block, _ := pem.Decode(trimmed); block != nil {
		if strings.Contains(block.Type, "ENCRYPTED") || block.Headers["Proc-Type"] != "" {
			return nil, fmt.Errorf("%w: the PEM block is encrypted; decrypt it (openssl rsa -in key.pem -out plain.pem)",
				ErrInvalidPrivateKey)
		}
		der = block.Bytes
	} else if bytes.Contains(trimmed, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("%w: malformed PEM (check the BEGIN/END lines and the line breaks)", ErrInvalidPrivateKey)
	}
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: neither PKCS#1 nor PKCS#8", ErrInvalidPrivateKey)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: PKCS#8 key is %T, DocuSign needs RSA", ErrInvalidPrivateKey, parsed)
	}
	return key, nil
}

// LoadPrivateKey reads an RSA private key (PKCS#1 or PKCS#8 PEM) from a file, checks that it parses and returns the
// file's bytes for Config.PrivateKeyPEM. Errors name the path but never contain key material.
func LoadPrivateKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path) //nolint:gosec // the path is operator configuration
	if err != nil {
		var pathErr *os.PathError
		if errors.As(err, &pathErr) {
			return nil, fmt.Errorf("%w: read %s: %w", ErrInvalidPrivateKey, path, pathErr.Err)
		}
		return nil, fmt.Errorf("%w: read %s: %w", ErrInvalidPrivateKey, path, err)
	}
	if _, err := ParsePrivateKey(data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// PrivateKeyFromEnvValue accepts the value of an environment variable holding the key: the PEM text itself, the
// PEM with its line breaks written as literal "\n", or the PEM (or DER) encoded in base64. It returns PEM bytes for
// Config.PrivateKeyPEM. Errors never contain the value.
func PrivateKeyFromEnvValue(value string) ([]byte, error) {
	v := strings.TrimSpace(value)
	if v == "" {
		return nil, fmt.Errorf("%w: the environment value is empty", ErrInvalidPrivateKey)
	}
	if strings.Contains(v, "-----BEGIN") {
		v = strings.ReplaceAll(v, `\r\n`, "\n")
		v = strings.ReplaceAll(v, `\n`, "\n")
		data := []byte(v + "\n")
		if _, err := ParsePrivateKey(data); err != nil {
			return nil, err
		}
		return data, nil
	}
	decoded, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
	if err != nil {
		return nil, fmt.Errorf("%w: the environment value is neither PEM nor base64", ErrInvalidPrivateKey)
	}
	key, err := ParsePrivateKey(decoded)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(decoded, []byte("-----BEGIN")) {
		return decoded, nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), nil
}
