package docusignsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrNoPublicKey is returned by Start when neither Options nor the seed supply a public key.
var ErrNoPublicKey = errors.New("docusignsim: no RSA public key configured (Options.PublicKeyPEM or the seed's public_key_pem / public_key_file)")

// GenerateKeyPair creates an RSA 2048 key pair for an integration: the private key as PKCS#1 PEM
// ("RSA PRIVATE KEY", the form DocuSign hands out) and the public key as PKIX PEM ("PUBLIC KEY").
func GenerateKeyPair() (privatePEM, publicPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("docusignsim: generate RSA key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("docusignsim: marshal public key: %w", err)
	}
	privatePEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	publicPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	return privatePEM, publicPEM, nil
}

// parsePublicKey reads an RSA public key from PEM: PKIX ("PUBLIC KEY"), PKCS#1
// ("RSA PUBLIC KEY") or a certificate.
func parsePublicKey(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("docusignsim: public key: no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("docusignsim: public key: %w", err)
		}
		rsaKey, ok := key.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("docusignsim: public key is %T, not RSA", key)
		}
		return rsaKey, nil
	case "RSA PUBLIC KEY":
		key, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("docusignsim: public key: %w", err)
		}
		return key, nil
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("docusignsim: public key certificate: %w", err)
		}
		rsaKey, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("docusignsim: certificate key is %T, not RSA", cert.PublicKey)
		}
		return rsaKey, nil
	default:
		return nil, fmt.Errorf("docusignsim: public key: unexpected PEM block %q (a private key?)", block.Type)
	}
}
