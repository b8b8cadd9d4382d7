package config_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

var dataverseEnv = map[string]string{
	"DATAVERSE_URL":   "https://contoso.crm.dynamics.com",
	"AZURE_TENANT_ID": "tenant",
	"AZURE_CLIENT_ID": "client",
}

// Each kind of credential is read into the configuration the worker gets.
func TestWorkerCredentials(t *testing.T) {
	now := time.Now()
	cc := testenv.NewClientCert(t, "leadbridge", now.Add(-time.Hour), now.Add(24*time.Hour))
	jwt := testenv.WriteFile(t, "token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		kind string
	}{
		{"secret", with(dataverseEnv, "AZURE_CLIENT_SECRET", "s3cret"), config.CredentialSecret},
		{"PEM certificate", with(dataverseEnv, "AZURE_CLIENT_CERTIFICATE_PATH", cc.PEMFile(t)), config.CredentialCertificate},
		{"PKCS#12 certificate", with(dataverseEnv, "AZURE_CLIENT_CERTIFICATE_PATH", cc.PFXFile(t, "pfx-pass"), "AZURE_CLIENT_CERTIFICATE_PASSWORD", "pfx-pass"), config.CredentialCertificate},
		{"certificate with its chain", with(dataverseEnv, "AZURE_CLIENT_CERTIFICATE_PATH", cc.PEMFile(t), "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "TRUE"), config.CredentialCertificate},
		{"PKCS#12 without a password", with(dataverseEnv, "AZURE_CLIENT_CERTIFICATE_PATH", cc.PFXFile(t, "")), config.CredentialCertificate},
		{"federated token", with(dataverseEnv, "AZURE_FEDERATED_TOKEN_FILE", jwt), config.CredentialFederated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.LoadWorker(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			d := c.Dataverse
			if got := d.CredentialKind(); got != tc.kind {
				t.Errorf("credential: got %s, want %s", got, tc.kind)
			}
			if want := tc.env["AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"] != ""; d.SendCertificateChain != want {
				t.Errorf("SendCertificateChain: got %v, want %v", d.SendCertificateChain, want)
			}
			if tc.kind == config.CredentialCertificate {
				if d.PrivateKey == nil || len(d.Certificates) != 1 || !d.Certificates[0].Equal(cc.Cert) || !d.PrivateKey.Equal(cc.Key) {
					t.Errorf("certificate: got %d certificates and key %v, want the file's certificate and key", len(d.Certificates), d.PrivateKey != nil)
				}
			}
		})
	}
}

// Every way a credential can be wrong is refused at start with a message
// that names the variable to fix.
func TestWorkerCredentialsRefused(t *testing.T) {
	now := time.Now()
	cc := testenv.NewClientCert(t, "leadbridge", now.Add(-time.Hour), now.Add(24*time.Hour))
	expired := testenv.NewClientCert(t, "old", now.Add(-48*time.Hour), now.Add(-time.Hour))
	future := testenv.NewClientCert(t, "future", now.Add(time.Hour), now.Add(48*time.Hour))
	other := testenv.NewClientCert(t, "other", now.Add(-time.Hour), now.Add(24*time.Hour))
	pfx := cc.PFXFile(t, "right")
	legacyPFX, err := pkcs12.LegacyDES.Encode(cc.Key, cc.Cert, nil, "right")
	if err != nil {
		t.Fatal(err)
	}
	certOnlyPFX, err := pkcs12.Modern2023.EncodeTrustStore([]*x509.Certificate{cc.Cert}, "right")
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := string(cc.CertPEM) + string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	encPEM := string(cc.CertPEM) + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n"
	cert := func(path string, kv ...string) map[string]string {
		return with(dataverseEnv, append([]string{"AZURE_CLIENT_CERTIFICATE_PATH", path}, kv...)...)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no credential", dataverseEnv, []string{"AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE", "required"}},
		{"secret and certificate", cert(cc.PEMFile(t), "AZURE_CLIENT_SECRET", "s"), []string{"AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH", "one credential"}},
		{"certificate and federated token", cert(cc.PEMFile(t), "AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"), []string{"AZURE_CLIENT_CERTIFICATE_PATH and AZURE_FEDERATED_TOKEN_FILE"}},
		{"password without a certificate", with(dataverseEnv, "AZURE_CLIENT_SECRET", "s", "AZURE_CLIENT_CERTIFICATE_PASSWORD", "p"), []string{"AZURE_CLIENT_CERTIFICATE_PASSWORD", "without AZURE_CLIENT_CERTIFICATE_PATH"}},
		{"unreadable file", cert("/nonexistent/client.pem"), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "no such file"}},
		{"wrong password", cert(pfx, "AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong"), []string{"AZURE_CLIENT_CERTIFICATE_PASSWORD: wrong password"}},
		{"wrong password, legacy PKCS#12", cert(testenv.WriteFile(t, "legacy.pfx", string(legacyPFX)), "AZURE_CLIENT_CERTIFICATE_PASSWORD", "wrong"), []string{"AZURE_CLIENT_CERTIFICATE_PASSWORD: wrong password"}},
		{"password missing", cert(pfx), []string{"AZURE_CLIENT_CERTIFICATE_PASSWORD", "protected by a password"}},
		{"PKCS#12 without a key", cert(testenv.WriteFile(t, "certonly.pfx", string(certOnlyPFX)), "AZURE_CLIENT_CERTIFICATE_PASSWORD", "right"), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "no private key"}},
		{"PEM without a key", cert(testenv.WriteFile(t, "cert.pem", string(cc.CertPEM))), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "no private key"}},
		{"PEM without a certificate", cert(testenv.WriteFile(t, "key.pem", string(cc.KeyPEM))), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "no certificate"}},
		{"key of another certificate", cert(testenv.WriteFile(t, "mixed.pem", string(cc.CertPEM)+string(other.KeyPEM))), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "belongs to its private key"}},
		{"ECDSA key", cert(testenv.WriteFile(t, "ec.pem", ecPEM)), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "ECDSA", "RSA keys only"}},
		{"encrypted PEM key", cert(testenv.WriteFile(t, "enc.pem", encPEM)), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "encrypted"}},
		{"password with a PEM", cert(cc.PEMFile(t), "AZURE_CLIENT_CERTIFICATE_PASSWORD", "p"), []string{"AZURE_CLIENT_CERTIFICATE_PASSWORD", "PEM"}},
		{"expired certificate", cert(expired.PEMFile(t)), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "expired on", config.Thumbprint(expired.Cert)}},
		{"certificate not yet valid", cert(future.PEMFile(t)), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "not valid before"}},
		{"neither PEM nor PKCS#12", cert(testenv.WriteFile(t, "junk.pfx", "not a certificate")), []string{"AZURE_CLIENT_CERTIFICATE_PATH", "neither a PEM file nor a PKCS#12"}},
		{"certificate chain without a certificate", with(dataverseEnv, "AZURE_CLIENT_SECRET", "s", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "true"), []string{"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "without AZURE_CLIENT_CERTIFICATE_PATH"}},
		{"certificate chain neither true nor false", cert(cc.PEMFile(t), "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "yes"), []string{"AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "not true or false"}},
		{"missing token file", with(dataverseEnv, "AZURE_FEDERATED_TOKEN_FILE", "/nonexistent/token"), []string{"AZURE_FEDERATED_TOKEN_FILE", "no such file"}},
		{"empty token file", with(dataverseEnv, "AZURE_FEDERATED_TOKEN_FILE", testenv.WriteFile(t, "empty", "\n")), []string{"AZURE_FEDERATED_TOKEN_FILE", "is empty"}},
		{"token file without a JWT", with(dataverseEnv, "AZURE_FEDERATED_TOKEN_FILE", testenv.WriteFile(t, "notjwt", "hello")), []string{"AZURE_FEDERATED_TOKEN_FILE", "JWT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.LoadWorker(env(tc.env))
			wantError(t, err, tc.want...)
		})
	}
}

// TestOpenSSLMadeFiles reads the files OpenSSL 3 writes by default and with
// -legacy (testdata/openssl/README.md says how they were made).
func TestOpenSSLMadeFiles(t *testing.T) {
	dir := "testdata/openssl/"
	for _, tc := range []struct{ file, password, wantErr string }{
		{"modern.pfx", "test-only", ""},
		{"legacy.pfx", "test-only", ""},
		{"pkcs8.pem", "", ""},
		{"pkcs1.pem", "", ""},
		{"modern.pfx", "wrong", "AZURE_CLIENT_CERTIFICATE_PASSWORD: wrong password"},
		{"legacy.pfx", "", "AZURE_CLIENT_CERTIFICATE_PASSWORD"},
		{"encrypted.pem", "", "is encrypted"},
	} {
		certs, key, err := config.ReadCertificate(dir+tc.file, tc.password, time.Now())
		switch {
		case tc.wantErr == "" && (err != nil || key == nil || len(certs) != 1 || certs[0].Subject.CommonName != "leadbridge-test-only"):
			t.Errorf("%s: got %d certificates, key %v, error %v; want the certificate and its key", tc.file, len(certs), key != nil, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s with password %q: got %v, want an error with %q", tc.file, tc.password, err, tc.wantErr)
		}
	}
}
