package handlers_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/handlers"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// TestAdminEntraCallbackBelongsToItsBrowser: a callback URL carried to
// another browser (login CSRF) signs nobody in, nor does one used twice.
func TestAdminEntraCallbackBelongsToItsBrowser(t *testing.T) {
	t.Parallel()
	emu := testenv.StartEmulator(t)
	k := newConsole(t, envOptions{admin: handlers.AdminConfig{OIDC: &handlers.AdminOIDC{
		Issuer: emu.Authority() + "/v2.0", TenantID: emulator.DefaultTenantID,
		ClientID: emulator.DefaultClientID, ClientSecret: emulator.DefaultClientSecret,
		Allowed: []string{"ann@contoso.com"}, HTTPClient: emu.Client(),
	}}})

	// The attacker's own browser goes to Entra ID and back with a code…
	attacker := newClient()
	resp, _ := k.do(attacker, http.MethodGet, "/admin/oidc/start", nil)
	authorize := resp.Header.Get("Location")
	if !strings.HasPrefix(authorize, emu.Authority()+"/oauth2/v2.0/authorize?") || !strings.Contains(authorize, "code_challenge_method=S256") {
		t.Fatalf("start: %d to %q, want Entra ID's authorize endpoint with PKCE", resp.StatusCode, authorize)
	}
	callback := signInAtEmulator(t, emu, authorize, "ann@contoso.com")

	// …and hands the callback to the victim: no session for the victim.
	victim := newClient()
	resp, _ = k.do(victim, http.MethodGet, strings.TrimPrefix(callback, k.srv.URL), nil)
	if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=expired") {
		t.Errorf("the callback in another browser: to %q, want the sign-in page saying expired", loc)
	}
	if resp, _ := k.do(victim, http.MethodGet, "/admin", nil); resp.StatusCode != http.StatusSeeOther {
		t.Error("the other browser got a session")
	}
	// In its own browser it works once…
	resp, _ = k.do(attacker, http.MethodGet, strings.TrimPrefix(callback, k.srv.URL), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		t.Fatalf("the callback in its browser: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// …and not twice (the state is spent).
	again := newClient()
	k.do(again, http.MethodGet, "/admin/oidc/start", nil) // a fresh state cookie, not the spent one
	if resp, _ := k.do(attacker, http.MethodGet, strings.TrimPrefix(callback, k.srv.URL), nil); !strings.Contains(resp.Header.Get("Location"), "error=expired") {
		t.Errorf("the callback replayed: to %q, want expired", resp.Header.Get("Location"))
	}
	// The password form is not offered, nor taken, when only Entra ID is on.
	if _, page := k.do(newClient(), http.MethodGet, "/admin/login", nil); strings.Contains(page, `name="password"`) || !strings.Contains(page, "Sign in with Microsoft Entra ID") {
		t.Error("the sign-in page with only Entra ID configured")
	}
	if resp, _ := k.do(newClient(), http.MethodPost, "/admin/login", url.Values{"user": {"ann@contoso.com"}, "password": {"anything at all"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("password sign-in with none configured: %d, want 404", resp.StatusCode)
	}
}

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// signInAtEmulator fills the emulator's sign-in page as user and returns
// where it sends the browser back to.
func signInAtEmulator(t *testing.T, emu *testenv.Emulator, authorize, user string) string {
	t.Helper()
	c := emu.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	m := requestField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the emulator's sign-in page: %d %s", resp.StatusCode, body)
	}
	resp, err = c.PostForm(emu.Authority()+"/oauth2/v2.0/authorize", url.Values{"request": {m[1]}, "username": {user}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Location")
}
