package identity_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/leadbridge/leadbridge/emulator/identity"
)

type testCert struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func newTestCert(t *testing.T, from, to time.Time) testCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "app"}, NotBefore: from, NotAfter: to}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return testCert{c, key}
}

// signJWT makes a compact JWS: RS256, PS256 with an RSA key, ES256 with an
// ECDSA one.
func signJWT(t *testing.T, header, claims map[string]any, key crypto.Signer) string {
	t.Helper()
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	signed := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	switch header["alg"] {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		r, s, e := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), sum[:])
		sig, err = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), e
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func x5t(c *x509.Certificate) string {
	s := sha1.Sum(c.Raw)
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func x5tS256(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func (s *server) assertionForm(assertion string) url.Values {
	return url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {client},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
		"scope":                 {s.URL + "/.default"},
	}
}

// TestCertificateAssertions: a client assertion is accepted only when a
// certificate registered on the app signed it, for this token endpoint,
// about this client, within its time, once; each refusal is Entra's.
func TestCertificateAssertions(t *testing.T) {
	s := startServer(t)
	now := time.Now()
	registered := newTestCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	expired := newTestCert(t, now.Add(-2*time.Hour), now.Add(-time.Hour))
	stranger := newTestCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	s.conditions.Store(&identity.Conditions{TokenLifetime: time.Hour, Credentials: identity.Credentials{
		Certificates: []*x509.Certificate{registered.cert, expired.cert},
	}})
	endpoint := s.URL + "/" + tenant + "/oauth2/v2.0/token"
	claims := func(kv ...any) map[string]any {
		c := map[string]any{"aud": endpoint, "iss": client, "sub": client, "jti": fmt.Sprint(time.Now().UnixNano()),
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	ps256 := map[string]any{"alg": "PS256", "typ": "JWT", "x5t#S256": x5tS256(registered.cert)}
	replayed := signJWT(t, ps256, claims("jti", "used-once"), registered.key)

	for _, tc := range []struct {
		name      string
		assertion string
		status    int
		code      int // 0 = a token
	}{
		{"PS256 with x5t#S256", signJWT(t, ps256, claims(), registered.key), 200, 0},
		{"RS256 with x5t", signJWT(t, map[string]any{"alg": "RS256", "x5t": x5t(registered.cert)}, claims(), registered.key), 200, 0},
		{"thumbprint in standard base64, as MSAL Go sends it", signJWT(t, map[string]any{"alg": "PS256",
			"x5t#S256": base64.StdEncoding.EncodeToString(func() []byte { s := sha256.Sum256(registered.cert.Raw); return s[:] }())}, claims(), registered.key), 200, 0},
		{"with its chain in x5c", signJWT(t, map[string]any{"alg": "PS256", "x5t#S256": x5tS256(registered.cert),
			"x5c": []string{base64.StdEncoding.EncodeToString(registered.cert.Raw)}}, claims(), registered.key), 200, 0},
		{"x5c of another certificate", signJWT(t, map[string]any{"alg": "PS256", "x5t#S256": x5tS256(registered.cert),
			"x5c": []string{base64.StdEncoding.EncodeToString(stranger.cert.Raw)}}, claims(), registered.key), 401, 700027},
		{"audience as a list", signJWT(t, ps256, claims("aud", []string{endpoint}), registered.key), 200, 0},
		{"first use of a jti", replayed, 200, 0},
		{"same jti again", replayed, 400, 50027},
		{"unregistered certificate", signJWT(t, map[string]any{"alg": "PS256", "x5t#S256": x5tS256(stranger.cert)}, claims(), stranger.key), 401, 700027},
		{"registered thumbprint, another key", signJWT(t, ps256, claims(), stranger.key), 401, 700027},
		{"registered certificate expired", signJWT(t, map[string]any{"alg": "PS256", "x5t#S256": x5tS256(expired.cert)}, claims(), expired.key), 401, 700027},
		{"no thumbprint", signJWT(t, map[string]any{"alg": "PS256"}, claims(), registered.key), 401, 700027},
		{"another audience", signJWT(t, ps256, claims("aud", "https://login.example.com/"+tenant+"/oauth2/v2.0/token"), registered.key), 401, 700023},
		{"subject not the client", signJWT(t, ps256, claims("sub", "someone-else"), registered.key), 401, 700021},
		{"expired assertion", signJWT(t, ps256, claims("nbf", now.Add(-time.Hour).Unix(), "exp", now.Add(-10*time.Minute).Unix()), registered.key), 401, 700024},
		{"assertion not valid yet", signJWT(t, ps256, claims("nbf", now.Add(time.Hour).Unix(), "exp", now.Add(2*time.Hour).Unix()), registered.key), 401, 700024},
		{"no exp", signJWT(t, ps256, claims("exp", nil), registered.key), 400, 50027},
		{"no jti", signJWT(t, ps256, claims("jti", nil), registered.key), 400, 50027},
		{"not a JWT", "hello", 400, 50027},
		{"alg none", func() string {
			a := signJWT(t, ps256, claims(), registered.key)
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","x5t#S256":"` + x5tS256(registered.cert) + `"}`))
			return h + a[strings.Index(a, "."):]
		}(), 401, 700027},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.post(t, "/"+tenant+"/oauth2/v2.0/token", s.assertionForm(tc.assertion), "", "")
			var tb tokenBody
			_ = json.Unmarshal(body, &tb)
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			if tc.code == 0 && tb.AccessToken == "" {
				t.Errorf("got %s, want an access token", body)
			}
			if tc.code != 0 && (len(tb.Codes) != 1 || tb.Codes[0] != tc.code || !strings.HasPrefix(tb.Description, fmt.Sprintf("AADSTS%d: ", tc.code))) {
				t.Errorf("got %s, want AADSTS%d", body, tc.code)
			}
		})
	}

	// Secret and assertion together are refused; the secret alone still works.
	f := s.assertionForm(signJWT(t, ps256, claims(), registered.key))
	f.Set("client_secret", secret)
	if resp, body := s.post(t, "/"+tenant+"/oauth2/v2.0/token", f, "", ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("secret and assertion: got %d %s, want 400", resp.StatusCode, body)
	}
	if resp, body := s.post(t, "/"+tenant+"/oauth2/v2.0/token", s.goodForm(), "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("secret alongside a registered certificate: got %d %s, want 200", resp.StatusCode, body)
	}
}

// TestFederatedAssertions: a token from a configured issuer, about the
// configured subject, for the configured audience, signed by the issuer's
// key, is the app's credential; anything else is AADSTS70021 (or a bad
// signature, 700027; an expired token, 700024).
func TestFederatedAssertions(t *testing.T) {
	s := startServer(t)
	issuerKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	const iss, sub = "https://oidc.cluster.example/abc", "system:serviceaccount:leads:worker"
	s.conditions.Store(&identity.Conditions{TokenLifetime: time.Hour, Credentials: identity.Credentials{
		Federated: []identity.FederatedCredential{
			{Name: "aks", Issuer: iss, Subject: sub, IssuerKeys: []crypto.PublicKey{&issuerKey.PublicKey}},
			{Name: "ec", Issuer: "https://ec.example", Subject: sub, Audiences: []string{"api://custom"}, IssuerKeys: []crypto.PublicKey{&ecKey.PublicKey}},
		},
	}})
	now := time.Now()
	token := func(key crypto.Signer, alg string, kv ...any) string {
		c := map[string]any{"iss": iss, "sub": sub, "aud": []string{identity.DefaultFederatedAudience}, "exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "jti": "k8s-reuses-me"}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return signJWT(t, map[string]any{"alg": alg, "kid": "k1"}, c, key)
	}
	sameToken := token(issuerKey, "RS256")
	for _, tc := range []struct {
		name      string
		assertion string
		status    int
		code      int
	}{
		{"service account token", sameToken, 200, 0},
		{"the same token again (the file is re-read, not rotated yet)", sameToken, 200, 0},
		{"ES256 issuer with its own audience", token(ecKey, "ES256", "iss", "https://ec.example", "aud", "api://custom"), 200, 0},
		{"unknown issuer", token(issuerKey, "RS256", "iss", "https://oidc.elsewhere.example"), 401, 70021},
		{"another subject", token(issuerKey, "RS256", "sub", "system:serviceaccount:leads:intruder"), 401, 70021},
		{"another audience", token(issuerKey, "RS256", "aud", "api://other"), 401, 70021},
		{"signed by another key", token(otherKey, "RS256"), 401, 700027},
		{"expired", token(issuerKey, "RS256", "exp", now.Add(-time.Hour).Unix()), 401, 700024},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.post(t, "/"+tenant+"/oauth2/v2.0/token", s.assertionForm(tc.assertion), "", "")
			var tb tokenBody
			_ = json.Unmarshal(body, &tb)
			if resp.StatusCode != tc.status || (tc.code != 0 && (len(tb.Codes) != 1 || tb.Codes[0] != tc.code)) {
				t.Fatalf("got %d %s, want %d AADSTS%d", resp.StatusCode, body, tc.status, tc.code)
			}
			if tc.code == 70021 && !strings.Contains(tb.Description, "Assertion Issuer: '") {
				t.Errorf("description %q does not name the assertion's issuer", tb.Description)
			}
		})
	}
}

// TestMSALCertificateAndAssertionCallback: MSAL Go's own certificate
// credential and assertion callback get tokens, and an unregistered
// certificate gets AADSTS700027 through MSAL.
func TestMSALCertificateAndAssertionCallback(t *testing.T) {
	t.Setenv("MSAL_FORCE_REGION", "DisableMsalForceRegion")
	s := startServer(t)
	now := time.Now()
	registered := newTestCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	stranger := newTestCert(t, now.Add(-time.Hour), now.Add(time.Hour))
	issuerKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	const iss, sub = "https://oidc.cluster.example/abc", "system:serviceaccount:leads:worker"
	s.conditions.Store(&identity.Conditions{TokenLifetime: time.Hour, Credentials: identity.Credentials{
		Certificates: []*x509.Certificate{registered.cert},
		Federated:    []identity.FederatedCredential{{Issuer: iss, Subject: sub, IssuerKeys: []crypto.PublicKey{&issuerKey.PublicKey}}},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acquire := func(cred confidential.Credential, opts ...confidential.Option) error {
		c, err := confidential.New(s.URL+"/"+tenant, client, cred, append(opts, confidential.WithHTTPClient(s.Client()), confidential.WithInstanceDiscovery(false))...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.AcquireTokenByCredential(ctx, []string{s.URL + "/.default"})
		return err
	}
	cred, err := confidential.NewCredFromCert([]*x509.Certificate{registered.cert}, registered.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := acquire(cred); err != nil {
		t.Errorf("registered certificate: %v", err)
	}
	if err := acquire(cred, confidential.WithX5C()); err != nil {
		t.Errorf("registered certificate with its chain (x5c): %v", err)
	}
	fed := confidential.NewCredFromAssertionCallback(func(context.Context, confidential.AssertionRequestOptions) (string, error) {
		return signJWT(t, map[string]any{"alg": "RS256"}, map[string]any{"iss": iss, "sub": sub, "aud": identity.DefaultFederatedAudience,
			"exp": time.Now().Add(time.Hour).Unix()}, issuerKey), nil
	})
	if err := acquire(fed); err != nil {
		t.Errorf("federated token: %v", err)
	}
	cred, _ = confidential.NewCredFromCert([]*x509.Certificate{stranger.cert}, stranger.key)
	err = acquire(cred)
	var callErr msalerrors.CallErr
	if !errors.As(err, &callErr) || callErr.Resp.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("unregistered certificate: got %v, want 401 AADSTS700027", err)
	}
}
