package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/leadbridge/leadbridge/emulator/odata"
)

// TestMSALConfidentialClient is the contract the worker relies on: Microsoft's
// own Go library gets a token from the emulator and the Web API accepts it.
func TestMSALConfidentialClient(t *testing.T) {
	t.Setenv("MSAL_FORCE_REGION", "DisableMsalForceRegion")
	h := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	newClient := func(secret string) confidential.Client {
		cred, err := confidential.NewCredFromSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		c, err := confidential.New(h.srv.Authority(), DefaultClientID, cred,
			confidential.WithHTTPClient(h.srv.Client()), confidential.WithInstanceDiscovery(false))
		if err != nil {
			t.Fatalf("confidential.New: %v", err)
		}
		return c
	}
	scopes := []string{h.srv.URL() + "/.default"}

	t.Run("token works on the Web API", func(t *testing.T) {
		h := h.sub(t)
		c := newClient(DefaultClientSecret)
		res, err := c.AcquireTokenByCredential(ctx, scopes)
		if err != nil {
			t.Fatalf("AcquireTokenByCredential: %v", err)
		}
		if until := time.Until(res.ExpiresOn); until < 50*time.Minute {
			t.Errorf("ExpiresOn: got %v from now, want about 3599s", until)
		}
		resp, body := h.apiWithToken(res.AccessToken, http.MethodGet, "WhoAmI", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("WhoAmI: got status %d, want 200; body %s", resp.StatusCode, body)
		}
		who := object(t, body)
		for _, k := range []string{"BusinessUnitId", "UserId", "OrganizationId"} {
			if s, _ := who[k].(string); !odata.IsGUID(s) {
				t.Errorf("WhoAmI %s: got %v, want a GUID", k, who[k])
			}
		}
		// A second acquisition comes from MSAL's cache: no new token issued.
		before := h.srv.Stats().TokensIssued
		if _, err := c.AcquireTokenByCredential(ctx, scopes); err != nil {
			t.Fatal(err)
		}
		if got := h.srv.Stats().TokensIssued; got != before {
			t.Errorf("tokens issued after a cached acquisition: got %d, want %d", got, before)
		}
	})

	t.Run("wrong secret is a 401 CallErr", func(t *testing.T) {
		_, err := newClient("not-the-secret").AcquireTokenByCredential(ctx, scopes)
		var callErr msalerrors.CallErr
		if !errors.As(err, &callErr) {
			t.Fatalf("got error %v, want a CallErr", err)
		}
		if callErr.Resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status: got %d, want 401", callErr.Resp.StatusCode)
		}
		if !strings.Contains(err.Error(), "AADSTS7000215") {
			t.Errorf("error %q does not name AADSTS7000215", err)
		}
	})
}

func TestOpenIDConfiguration(t *testing.T) {
	h := start(t, nil)
	req, _ := http.NewRequest(http.MethodGet, h.srv.Authority()+"/v2.0/.well-known/openid-configuration", nil)
	resp, body := h.send(req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200; body %s", resp.StatusCode, body)
	}
	doc := object(t, body)
	want := map[string]string{
		"issuer":                 h.srv.URL() + "/" + DefaultTenantID + "/v2.0",
		"token_endpoint":         h.srv.URL() + "/" + DefaultTenantID + "/oauth2/v2.0/token",
		"authorization_endpoint": h.srv.URL() + "/" + DefaultTenantID + "/oauth2/v2.0/authorize",
	}
	for k, w := range want {
		if doc[k] != w {
			t.Errorf("%s: got %v, want %s", k, doc[k], w)
		}
	}
}

func TestTokenEndpoint(t *testing.T) {
	h := start(t, nil)
	good := func() url.Values {
		return url.Values{
			"grant_type":    {"client_credentials"},
			"client_id":     {DefaultClientID},
			"client_secret": {DefaultClientSecret},
			"scope":         {h.srv.URL() + "/.default openid offline_access profile"},
		}
	}
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
			v.Set("scope", strings.Replace(h.srv.URL(), "127.0.0.1", "localhost", 1)+"/.default")
		}, status: 200, wantToken: true},
		{name: "wrong secret", edit: func(v url.Values) { v.Set("client_secret", "nope") }, status: 401, errCode: "invalid_client", aadsts: 7000215},
		{name: "no secret", edit: func(v url.Values) { v.Del("client_secret") }, status: 401, errCode: "invalid_client", aadsts: 7000216},
		{name: "unknown client", edit: func(v url.Values) { v.Set("client_id", "someone-else") }, status: 400, errCode: "unauthorized_client", aadsts: 700016},
		{name: "unknown tenant", tenant: "other-tenant", status: 400, errCode: "invalid_request", aadsts: 90002},
		{name: "bad grant type", edit: func(v url.Values) { v.Set("grant_type", "password") }, status: 400, errCode: "unsupported_grant_type", aadsts: 70003},
		{name: "scope without .default", edit: func(v url.Values) { v.Set("scope", h.srv.URL()+"/user_impersonation") }, status: 400, errCode: "invalid_scope", aadsts: 1002012},
		{name: "other resource", edit: func(v url.Values) { v.Set("scope", "https://contoso.crm.dynamics.com/.default") }, status: 400, errCode: "invalid_resource", aadsts: 500011},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			form := good()
			if tt.edit != nil {
				tt.edit(form)
			}
			tenant := DefaultTenantID
			if tt.tenant != "" {
				tenant = tt.tenant
			}
			hdr := http.Header{}
			if tt.basic {
				req, _ := http.NewRequest("POST", "/", nil)
				req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
				hdr.Set("Authorization", req.Header.Get("Authorization"))
			}
			resp, body := h.postForm("/"+tenant+"/oauth2/v2.0/token", form, hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			var got struct {
				TokenType   string `json:"token_type"`
				ExpiresIn   int    `json:"expires_in"`
				ExtExpires  int    `json:"ext_expires_in"`
				AccessToken string `json:"access_token"`
				Error       string `json:"error"`
				Description string `json:"error_description"`
				Codes       []int  `json:"error_codes"`
			}
			mustUnmarshal(t, body, &got)
			if tt.wantToken {
				if got.TokenType != "Bearer" || got.ExpiresIn != defaultTokenLifetime || got.ExtExpires != defaultTokenLifetime || len(got.AccessToken) < 32 {
					t.Errorf("got %+v, want a Bearer token for %ds", got, defaultTokenLifetime)
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
		})
	}
}

func TestWebAPIAuthentication(t *testing.T) {
	h := start(t, &Config{TokenLifetimeSeconds: 1})
	wantChallenge := "Bearer authorization_uri=" + h.srv.URL() + "/" + DefaultTenantID + "/oauth2/authorize, resource_id=" + h.srv.URL() + "/"

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{name: "no token", token: "", code: ""},
		{name: "unknown token", token: "forged", code: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			resp, body := h.apiWithToken(tt.token, http.MethodGet, "leads", nil)
			wantError(t, resp, body, http.StatusUnauthorized, tt.code)
			if got := resp.Header.Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, wantChallenge)
			}
			if got := resp.Header.Get("OData-Version"); got != "4.0" {
				t.Errorf("OData-Version: got %q, want 4.0", got)
			}
		})
	}

	t.Run("expired token", func(t *testing.T) {
		h := h.sub(t)
		// The harness token lives one second; poll until it is refused.
		var resp *http.Response
		var body []byte
		eventually(t, "token expiry", func() bool {
			resp, body = h.api(http.MethodGet, "leads", nil)
			return resp.StatusCode == http.StatusUnauthorized
		})
		msg := wantError(t, resp, body, http.StatusUnauthorized, codeTokenExpired)
		if msg != msgAuthRequired {
			t.Errorf("message: got %q, want %q", msg, msgAuthRequired)
		}
	})
}

func TestTokenLifetimeFromConfig(t *testing.T) {
	h := start(t, nil)
	if err := h.srv.UpdateConfig([]byte(`{"token_lifetime_seconds":600}`)); err != nil {
		t.Fatal(err)
	}
	resp, body := h.postForm("/"+DefaultTenantID+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {DefaultClientID},
		"client_secret": {DefaultClientSecret}, "scope": {h.srv.URL() + "/.default"},
	}, nil)
	var got struct {
		ExpiresIn int `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if got.ExpiresIn != 600 {
		t.Errorf("expires_in: got %d, want 600", got.ExpiresIn)
	}
}
