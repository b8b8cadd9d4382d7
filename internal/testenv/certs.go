package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// ClientCert is a self-signed certificate and its RSA key, as an app
// registration's certificate credential is often made.
type ClientCert struct {
	Cert    *x509.Certificate
	Key     *rsa.PrivateKey
	CertPEM []byte // the certificate alone, as uploaded to the app registration
	KeyPEM  []byte // the key alone (PKCS#8)
}

// NewClientCert makes a ClientCert valid from notBefore to notAfter.
func NewClientCert(t testing.TB, cn string, notBefore, notAfter time.Time) ClientCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return ClientCert{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}
}

// PEMFile writes the certificate and its key into one PEM file, the form
// AZURE_CLIENT_CERTIFICATE_PATH takes, and returns its path.
func (c ClientCert) PEMFile(t testing.TB) string {
	t.Helper()
	return WriteFile(t, "client.pem", string(c.CertPEM)+string(c.KeyPEM))
}

// PFXFile writes the certificate and its key as a PKCS#12 file encrypted
// with password the way current tools do (AES-256, PBKDF2, SHA-256 MAC),
// and returns its path.
func (c ClientCert) PFXFile(t testing.TB, password string) string {
	t.Helper()
	pfx, err := pkcs12.Modern2023.Encode(c.Key, c.Cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return WriteFile(t, "client.pfx", string(pfx))
}
