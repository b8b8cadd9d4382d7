package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

// TestMSALConfidentialClient is the contract the worker relies on: Microsoft's
// own Go library gets a token from the emulator's identity endpoints and the
// Web API accepts it. Package identity tests the endpoints themselves.
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

// Further app registrations sign in with their own secrets, are limited
// apart from the first (limits are per user), and the request log names
// the app each request came from.
func TestFurtherApplications(t *testing.T) {
	const second, secret = "6f1c2d3e-4b5a-4968-8a7b-0c1d2e3f4a5b", "second-app-secret"
	h := start(t, &Config{Limits: Limits{RequestsPerWindow: 2, WindowSeconds: 300},
		Applications: []Application{{ClientID: second, ClientSecret: secret}}})
	token := func(id, sec string) (*http.Response, []byte) {
		return h.postForm("/"+DefaultTenantID+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {sec},
			"scope": {h.srv.URL() + "/.default"},
		}, nil)
	}
	if resp, body := token(second, "wrong"); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "7000215") {
		t.Errorf("wrong secret: got %d %s, want 401 AADSTS7000215", resp.StatusCode, body)
	}
	if resp, body := token("0a0b0c0d-0000-4000-8000-000000000000", secret); resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "700016") {
		t.Errorf("unknown app: got %d %s, want 400 AADSTS700016", resp.StatusCode, body)
	}
	resp, body := token(second, secret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("second app's token: got %d %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	mustUnmarshal(t, body, &tok)

	// The first app spends its two requests; the second still has its own.
	for range 2 {
		if resp, body := h.api(http.MethodGet, "WhoAmI", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("first app: got %d %s", resp.StatusCode, body)
		}
	}
	resp, body = h.api(http.MethodGet, "WhoAmI", nil)
	wantError(t, resp, body, http.StatusTooManyRequests, codeThrottleRequests)
	if resp, body := h.apiWithToken(tok.AccessToken, http.MethodGet, "WhoAmI", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("second app, once the first is throttled: got %d %s, want 200", resp.StatusCode, body)
	}
	apps := map[string]int{}
	for _, r := range h.srv.Requests("") {
		apps[r.AppID]++
	}
	if apps[DefaultClientID] != 3 || apps[second] != 1 {
		t.Errorf("requests by app = %v, want 3 of %s and 1 of %s", apps, DefaultClientID, second)
	}

	// A patch replaces the list: the second app is gone.
	if err := h.srv.UpdateConfig([]byte(`{"applications":[]}`)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := token(second, secret); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("removed app: got %d, want 400", resp.StatusCode)
	}
	for _, bad := range []string{`{"applications":[{"client_id":"x"}]}`, `{"applications":[{"client_id":"x","client_secret":"a"},{"client_id":"x","client_secret":"b"}]}`} {
		if err := h.srv.UpdateConfig([]byte(bad)); err == nil || !strings.Contains(err.Error(), "applications[") {
			t.Errorf("%s: error %v, want one naming the application", bad, err)
		}
	}
}
