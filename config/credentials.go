package config

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// How the worker proves to Entra ID that it is the app registration: the
// Azure SDKs' environment variables, exactly one kind at a time.
const (
	CredentialSecret      = "client secret"      // AZURE_CLIENT_SECRET
	CredentialCertificate = "client certificate" // AZURE_CLIENT_CERTIFICATE_PATH (+ _PASSWORD)
	CredentialFederated   = "federated token"    // AZURE_FEDERATED_TOKEN_FILE (workload identity)
)

// maxCredentialFile bounds what is read from a certificate or token file.
const maxCredentialFile = 1 << 20

// CredentialKind names the credential the worker signs in with.
func (d Dataverse) CredentialKind() string {
	switch {
	case d.PrivateKey != nil:
		return CredentialCertificate
	case d.FederatedTokenFile != "":
		return CredentialFederated
	}
	return CredentialSecret
}

// CredentialSource is the variable the worker's credential came from, for
// messages that say what to fix when Entra ID refuses it.
func (d Dataverse) CredentialSource() string {
	switch {
	case d.Emulated:
		return "EMULATOR_CLIENT_SECRET"
	case d.PrivateKey != nil:
		return "AZURE_CLIENT_CERTIFICATE_PATH"
	case d.FederatedTokenFile != "":
		return "AZURE_FEDERATED_TOKEN_FILE"
	}
	return "AZURE_CLIENT_SECRET"
}

// loadCredential reads the app registration's credential into d: exactly
// one of a client secret, a certificate (read and checked now: readable,
// the password right, an RSA private key with its certificate, in date) or
// a federated token file (readable now; read again for every token, as
// Kubernetes rotates it).
func loadCredential(getenv Getenv, d *Dataverse, now time.Time) error {
	secret := getenv("AZURE_CLIENT_SECRET")
	certPath := getenv("AZURE_CLIENT_CERTIFICATE_PATH")
	password := getenv("AZURE_CLIENT_CERTIFICATE_PASSWORD")
	tokenFile := getenv("AZURE_FEDERATED_TOKEN_FILE")

	var set []string
	for _, v := range []struct{ name, value string }{
		{"AZURE_CLIENT_SECRET", secret},
		{"AZURE_CLIENT_CERTIFICATE_PATH", certPath},
		{"AZURE_FEDERATED_TOKEN_FILE", tokenFile},
	} {
		if v.value != "" {
			set = append(set, v.name)
		}
	}
	switch {
	case len(set) == 0:
		return errors.New("AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE: one is required with DATAVERSE_URL (the app registration's client secret, its certificate, or a workload identity token file)")
	case len(set) > 1:
		return fmt.Errorf("%s: set exactly one credential, not these %d together", strings.Join(set, " and "), len(set))
	}
	if password != "" && certPath == "" {
		return errors.New("AZURE_CLIENT_CERTIFICATE_PASSWORD: set without AZURE_CLIENT_CERTIFICATE_PATH")
	}
	switch v := strings.ToLower(getenv("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN")); v {
	case "", "0", "false":
	case "1", "true":
		if certPath == "" {
			return errors.New("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: set without AZURE_CLIENT_CERTIFICATE_PATH")
		}
		d.SendCertificateChain = true
	default:
		return fmt.Errorf("AZURE_CLIENT_SEND_CERTIFICATE_CHAIN: %q is not true or false", v)
	}
	switch {
	case secret != "":
		d.ClientSecret = secret
		return nil
	case tokenFile != "":
		if err := checkFederatedTokenFile(tokenFile); err != nil {
			return err
		}
		d.FederatedTokenFile = tokenFile
		return nil
	}
	certs, key, err := ReadCertificate(certPath, password, now)
	if err != nil {
		return err
	}
	d.CertificatePath, d.Certificates, d.PrivateKey = certPath, certs, key
	return nil
}

// checkFederatedTokenFile makes sure the token file can be read and holds
// something shaped like a JWT. Its expiry is not checked: the file is read
// again for every token, by when the kubelet has refreshed it.
func checkFederatedTokenFile(path string) error {
	data, err := readSmallFile(path)
	if err != nil {
		return fmt.Errorf("AZURE_FEDERATED_TOKEN_FILE: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return fmt.Errorf("AZURE_FEDERATED_TOKEN_FILE: %s is empty; it should hold the workload's service account token (a JWT)", path)
	}
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n\t") {
		return fmt.Errorf("AZURE_FEDERATED_TOKEN_FILE: %s does not hold a JWT (three dot-separated parts)", path)
	}
	return nil
}

// ReadCertificate reads AZURE_CLIENT_CERTIFICATE_PATH: a PEM file (one or
// more CERTIFICATE blocks and an unencrypted RSA private key) or a PKCS#12
// file (.pfx/.p12) opened with password. It returns the certificate of the
// private key first, then the file's other certificates, and the key. Every
// error names the variable at fault and says what to do.
func ReadCertificate(path, password string, now time.Time) ([]*x509.Certificate, *rsa.PrivateKey, error) {
	data, err := readSmallFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %w", err)
	}
	var certs []*x509.Certificate
	var key any
	if bytes.Contains(data, []byte("-----BEGIN")) {
		if password != "" {
			return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PASSWORD: %s is a PEM file, and leadbridge reads PEM keys unencrypted only; unset the password, or use a PKCS#12 (.pfx) file with it", path)
		}
		certs, key, err = readPEM(path, data)
	} else {
		certs, key, err = readPKCS12(path, data, password)
	}
	if err != nil {
		return nil, nil, err
	}
	if key == nil {
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %s holds no private key; the worker needs the certificate together with its private key", path)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %s holds a private key but no certificate", path)
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: the private key in %s is %s; Entra ID client assertions are signed with RSA keys only", path, keyKind(key))
	}
	leaf := -1
	for i, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&rsaKey.PublicKey) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: no certificate in %s belongs to its private key", path)
	}
	c := certs[leaf]
	switch {
	case now.After(c.NotAfter):
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: the certificate in %s (%s, thumbprint %s) expired on %s; upload a new one to the app registration and point this variable at it",
			path, c.Subject, Thumbprint(c), c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: the certificate in %s (%s, thumbprint %s) is not valid before %s",
			path, c.Subject, Thumbprint(c), c.NotBefore.UTC().Format(time.RFC3339))
	}
	ordered := append([]*x509.Certificate{c}, certs[:leaf]...)
	ordered = append(ordered, certs[leaf+1:]...)
	return ordered, rsaKey, nil
}

// Thumbprint is a certificate's SHA-1 thumbprint in upper-case hex, as the
// Entra admin center lists an app registration's certificates.
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(fmt.Sprintf("%x", sum[:]))
}

func readPEM(path string, data []byte) ([]*x509.Certificate, any, error) {
	var certs []*x509.Certificate
	var key any
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: a certificate in %s cannot be read: %v", path, err)
			}
			certs = append(certs, c)
		case "ENCRYPTED PRIVATE KEY":
			return nil, nil, encryptedPEM(path)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, ok := b.Headers["Proc-Type"]; ok {
				return nil, nil, encryptedPEM(path)
			}
			if key != nil {
				return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %s holds more than one private key", path)
			}
			var err error
			switch b.Type {
			case "PRIVATE KEY":
				key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
			case "RSA PRIVATE KEY":
				key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
			default:
				key, err = x509.ParseECPrivateKey(b.Bytes)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: the private key in %s cannot be read: %v", path, err)
			}
		}
	}
	if certs == nil && key == nil {
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %s holds no PEM certificate or private key", path)
	}
	return certs, key, nil
}

func encryptedPEM(path string) error {
	return fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: the private key in %s is encrypted, which leadbridge does not read from PEM; use a PKCS#12 (.pfx) file with AZURE_CLIENT_CERTIFICATE_PASSWORD, or an unencrypted PEM kept as a secret", path)
}

func readPKCS12(path string, data []byte, password string) ([]*x509.Certificate, any, error) {
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	switch {
	case errors.Is(err, pkcs12.ErrIncorrectPassword), errors.Is(err, pkcs12.ErrDecryption):
		if password == "" {
			return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PASSWORD: %s is protected by a password; set this variable to it", path)
		}
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PASSWORD: wrong password for %s", path)
	case err != nil && strings.Contains(err.Error(), "private key missing"):
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %s holds no private key; the worker needs the certificate together with its private key", path)
	case err != nil:
		return nil, nil, fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %s is neither a PEM file nor a PKCS#12 file leadbridge can read (%v)", path, err)
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}

func keyKind(key any) string {
	t := fmt.Sprintf("%T", key)
	switch {
	case strings.Contains(t, "ecdsa"):
		return "an ECDSA key"
	case strings.Contains(t, "ed25519"):
		return "an Ed25519 key"
	}
	return "a " + t
}

// readSmallFile reads a credential file, refusing one too large to be one.
func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxCredentialFile+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if buf.Len() > maxCredentialFile {
		return nil, fmt.Errorf("%s is larger than %d bytes, too large for a credential", path, maxCredentialFile)
	}
	return buf.Bytes(), nil
}
