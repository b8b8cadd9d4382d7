package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
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
