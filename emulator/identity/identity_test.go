package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"

	"github.com/leadbridge/leadbridge/emulator/identity"
)

const (
	tenant = "test-tenant"
	client = "test-client"
	secret = "test-secret"
)

// server is a Service mounted at its two paths on a TLS test server.
type server struct {
	*httptest.Server
	svc        *identity.Service
	issued     atomic.Int64
	conditions atomic.Pointer[identity.Conditions]
}

func startServer(t *testing.T) *server {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	s := &server{Server: ts}
	s.conditions.Store(&identity.Conditions{TokenLifetime: identity.DefaultTokenLifetime})
	s.svc = identity.New(identity.Options{
		TenantID: tenant, ClientID: client, ClientSecret: secret,
		ResourceURL: "https://" + ts.Listener.Addr().String(),
		Conditions:  func() identity.Conditions { return *s.conditions.Load() },
		Issued:      func() { s.issued.Add(1) },
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.svc.ServeOpenIDConfiguration)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/token", s.svc.ServeToken)
	ts.Config.Handler = mux
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return s
}

func (s *server) post(t *testing.T, path string, form url.Values, basicUser, basicPass string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	return s.do(t, req)
}

func (s *server) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func (s *server) goodForm() url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {client},
		"client_secret": {secret},
		"scope":         {s.URL + "/.default openid offline_access profile"},
	}
}

type tokenBody struct {
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	ExtExpires  int    `json:"ext_expires_in"`
	AccessToken string `json:"access_token"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

func TestTokenEndpoint(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name      string
		tenant    string
		edit      func(url.Values)
		basic     bool
		status    int
		errCode   string
		aadsts    int
		wantToken bool
	}{
		{name: "secret in form", status: 200, wantToken: true},
		{name: "secret as HTTP Basic", basic: true, edit: func(v url.Values) { v.Del("client_secret"); v.Del("client_id") }, status: 200, wantToken: true},
		{name: "localhost resource", edit: func(v url.Values) {
			v.Set("scope", strings.Replace(s.URL, "127.0.0.1", "localhost", 1)+"/.default")
		}, status: 200, wantToken: true},
		{name: "wrong secret", edit: func(v url.Values) { v.Set("client_secret", "nope") }, status: 401, errCode: "invalid_client", aadsts: 7000215},
		{name: "no secret", edit: func(v url.Values) { v.Del("client_secret") }, status: 401, errCode: "invalid_client", aadsts: 7000216},
		{name: "unknown client", edit: func(v url.Values) { v.Set("client_id", "someone-else") }, status: 400, errCode: "unauthorized_client", aadsts: 700016},
		{name: "unknown tenant", tenant: "other-tenant", status: 400, errCode: "invalid_request", aadsts: 90002},
		{name: "bad grant type", edit: func(v url.Values) { v.Set("grant_type", "password") }, status: 400, errCode: "unsupported_grant_type", aadsts: 70003},
		{name: "no grant type", edit: func(v url.Values) { v.Del("grant_type") }, status: 400, errCode: "invalid_request", aadsts: 900144},
		{name: "no scope", edit: func(v url.Values) { v.Del("scope") }, status: 400, errCode: "invalid_request", aadsts: 900144},
		{name: "two resources", edit: func(v url.Values) { v.Set("scope", s.URL+"/.default https://other/.default") }, status: 400, errCode: "invalid_scope", aadsts: 70011},
		{name: "scope without .default", edit: func(v url.Values) { v.Set("scope", s.URL+"/user_impersonation") }, status: 400, errCode: "invalid_scope", aadsts: 1002012},
		{name: "other resource", edit: func(v url.Values) { v.Set("scope", "https://contoso.crm.dynamics.com/.default") }, status: 400, errCode: "invalid_resource", aadsts: 500011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := s.goodForm()
			if tt.edit != nil {
				tt.edit(form)
			}
			tn := tenant
			if tt.tenant != "" {
				tn = tt.tenant
			}
			user, pass := "", ""
			if tt.basic {
				user, pass = client, secret
			}
			before := s.issued.Load()
			resp, body := s.post(t, "/"+tn+"/oauth2/v2.0/token", form, user, pass)
			if resp.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			var got tokenBody
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if tt.wantToken {
				if got.TokenType != "Bearer" || got.ExpiresIn != 3599 || got.ExtExpires != 3599 || len(got.AccessToken) < 32 {
					t.Errorf("got %+v, want a Bearer token for 3599s", got)
				}
				if id, err := s.svc.Verify(got.AccessToken, time.Now()); err != nil || id != client {
					t.Errorf("Verify(issued token) = %q, %v; want %q", id, err, client)
				}
				if n := s.issued.Load() - before; n != 1 {
					t.Errorf("Issued called %d times, want 1", n)
				}
				return
			}
			if got.Error != tt.errCode {
				t.Errorf("error: got %q, want %q", got.Error, tt.errCode)
			}
			if len(got.Codes) != 1 || got.Codes[0] != tt.aadsts {
				t.Errorf("error_codes: got %v, want [%d]", got.Codes, tt.aadsts)
			}
			if !strings.HasPrefix(got.Description, "AADSTS") {
				t.Errorf("error_description: got %q, want it to start with AADSTS", got.Description)
			}
			if n := s.issued.Load() - before; n != 0 {
				t.Errorf("Issued called %d times for a refusal, want 0", n)
			}
		})
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	s := startServer(t)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/"+tenant+"/v2.0/.well-known/openid-configuration", nil)
	resp, body := s.do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200; body %s", resp.StatusCode, body)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"issuer":                 s.URL + "/" + tenant + "/v2.0",
		"token_endpoint":         s.URL + "/" + tenant + "/oauth2/v2.0/token",
		"authorization_endpoint": s.URL + "/" + tenant + "/oauth2/v2.0/authorize",
	}
	for k, w := range want {
		if doc[k] != w {
			t.Errorf("%s: got %v, want %s", k, doc[k], w)
		}
	}
	req, _ = http.NewRequest(http.MethodGet, s.URL+"/other/v2.0/.well-known/openid-configuration", nil)
	if resp, body := s.do(t, req); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_tenant") {
		t.Errorf("unknown tenant: got %d %s, want 400 invalid_tenant", resp.StatusCode, body)
	}
}

func TestConditions(t *testing.T) {
	s := startServer(t)

	t.Run("lifetime", func(t *testing.T) {
		s.conditions.Store(&identity.Conditions{TokenLifetime: 10 * time.Second})
		issuedAt := time.Now()
		_, body := s.post(t, "/"+tenant+"/oauth2/v2.0/token", s.goodForm(), "", "")
		var got tokenBody
		if err := json.Unmarshal(body, &got); err != nil || got.ExpiresIn != 10 {
			t.Fatalf("got %s, want expires_in 10", body)
		}
		if _, err := s.svc.Verify(got.AccessToken, issuedAt.Add(9*time.Second)); err != nil {
			t.Errorf("Verify before expiry: %v", err)
		}
		if _, err := s.svc.Verify(got.AccessToken, time.Now().Add(10*time.Second)); !errors.Is(err, identity.ErrExpiredToken) {
			t.Errorf("Verify after expiry: got %v, want ErrExpiredToken", err)
		}
		if _, err := s.svc.Verify("forged", time.Now()); !errors.Is(err, identity.ErrUnknownToken) {
			t.Errorf("Verify(forged): got %v, want ErrUnknownToken", err)
		}
	})

	t.Run("down", func(t *testing.T) {
		s.conditions.Store(&identity.Conditions{TokenLifetime: time.Minute, Down: true})
		resp, body := s.post(t, "/"+tenant+"/oauth2/v2.0/token", s.goodForm(), "", "")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "temporarily_unavailable") {
			t.Errorf("token while down: got %d %s, want 503 temporarily_unavailable", resp.StatusCode, body)
		}
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/"+tenant+"/v2.0/.well-known/openid-configuration", nil)
		if resp, _ := s.do(t, req); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("openid-configuration while down: got %d, want 503", resp.StatusCode)
		}
	})
}

// TestMSAL: Microsoft's own Go library, as leadbridge's worker uses it, gets
// a token, and understands a refusal.
func TestMSAL(t *testing.T) {
	t.Setenv("MSAL_FORCE_REGION", "DisableMsalForceRegion")
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	newClient := func(sec string) confidential.Client {
		cred, err := confidential.NewCredFromSecret(sec)
		if err != nil {
			t.Fatal(err)
		}
		c, err := confidential.New(s.URL+"/"+tenant, client, cred,
			confidential.WithHTTPClient(s.Client()), confidential.WithInstanceDiscovery(false))
		if err != nil {
			t.Fatalf("confidential.New: %v", err)
		}
		return c
	}
	scopes := []string{s.URL + "/.default"}

	res, err := newClient(secret).AcquireTokenByCredential(ctx, scopes)
	if err != nil {
		t.Fatalf("AcquireTokenByCredential: %v", err)
	}
	if id, err := s.svc.Verify(res.AccessToken, time.Now()); err != nil || id != client {
		t.Errorf("Verify(MSAL's token) = %q, %v; want %q", id, err, client)
	}

	_, err = newClient("not-the-secret").AcquireTokenByCredential(ctx, scopes)
	var callErr msalerrors.CallErr
	if !errors.As(err, &callErr) {
		t.Fatalf("wrong secret: got error %v, want a CallErr", err)
	}
	if callErr.Resp.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: got %d %v, want 401 AADSTS7000215", callErr.Resp.StatusCode, err)
	}
}
