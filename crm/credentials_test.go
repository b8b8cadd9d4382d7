package crm

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// TestCertificateSignIn: a client with a certificate instead of a secret
// signs in to the emulator (which checks MSAL's assertion) once the
// certificate is registered; before, the AuthError names the credential's
// source and carries Entra's AADSTS700027. Each call carries the request id
// of its context, as a GUID.
func TestCertificateSignIn(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	now := time.Now()
	cc := testenv.NewClientCert(t, "crm-test", now.Add(-time.Hour), now.Add(time.Hour))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(emu.CACertPEM())
	c, err := New(Config{
		URL: emu.URL(), TenantID: emulator.DefaultTenantID, ClientID: emulator.DefaultClientID,
		Certificates: []*x509.Certificate{cc.Cert}, PrivateKey: cc.Key, CredentialSource: "AZURE_CLIENT_CERTIFICATE_PATH",
		AuthorityHost: emu.URL(), RootCAs: pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WhoAmI(testContext(t))
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "AZURE_CLIENT_CERTIFICATE_PATH") || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("WhoAmI with an unregistered certificate = %v, want a 401 AuthError naming AZURE_CLIENT_CERTIFICATE_PATH with AADSTS700027", err)
	}
	patch, _ := json.Marshal(map[string]any{"certificates": []string{string(cc.CertPEM)}})
	emu.Configure(string(patch))
	if _, err := c.WhoAmI(WithRequestID(testContext(t), "crm-test-request")); err != nil {
		t.Fatalf("WhoAmI with the registered certificate: %v", err)
	}
	calls := emu.Requests(ClientRequestID("crm-test-request"))
	if len(calls) != 1 || calls[0].Path != "/api/data/v9.2/WhoAmI" || calls[0].Status != http.StatusOK {
		t.Errorf("calls with the request id's GUID: got %+v, want the one WhoAmI", calls)
	}
}

func TestCredentialNeedsExactlyOne(t *testing.T) {
	now := time.Now()
	cc := testenv.NewClientCert(t, "crm-test", now.Add(-time.Hour), now.Add(time.Hour))
	for _, cfg := range []Config{
		{URL: "https://contoso.crm.dynamics.com"},
		{URL: "https://contoso.crm.dynamics.com", ClientSecret: "s", FederatedTokenFile: "/t"},
		{URL: "https://contoso.crm.dynamics.com", ClientSecret: "s", Certificates: []*x509.Certificate{cc.Cert}, PrivateKey: cc.Key},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New with secret %q, key %v, token file %q: accepted, want exactly one credential", cfg.ClientSecret, cfg.PrivateKey != nil, cfg.FederatedTokenFile)
		}
	}
}
