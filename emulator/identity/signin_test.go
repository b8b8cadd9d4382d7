package identity_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// startSignIn mounts the sign-in routes too.
func startSignIn(t *testing.T) *server {
	t.Helper()
	s := startServer(t)
	mux := s.Config.Handler.(*http.ServeMux)
	mux.HandleFunc("/{tenant}/oauth2/v2.0/authorize", s.svc.ServeAuthorize)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.svc.ServeKeys)
	return s
}

// signInFlow is an OpenID Connect client built from well-kept libraries
// (go-oidc, x/oauth2), as an application would use the emulator.
type signInFlow struct {
	provider *oidc.Provider
	conf     oauth2.Config
	ctx      context.Context
}

const redirect = "http://127.0.0.1:9/admin/oidc/callback"

func newSignInFlow(t *testing.T, s *server) *signInFlow {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), s.Client())
	p, err := oidc.NewProvider(ctx, s.URL+"/"+tenant+"/v2.0")
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := p.Endpoint()
	// Said, not detected: detection retries a refused exchange in the other
	// style, and the retry's "already redeemed" hides the first answer.
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &signInFlow{provider: p, ctx: ctx, conf: oauth2.Config{
		ClientID: client, ClientSecret: secret, Endpoint: ep, RedirectURL: redirect,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}}
}

// authorize follows the sign-in page as a person would: GET the page, post
// the user typed, and returns the redirect's query.
func (f *signInFlow) authorize(t *testing.T, s *server, authURL string, form url.Values) url.Values {
	t.Helper()
	resp, body := s.do(t, mustRequest(t, http.MethodGet, authURL))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `name="username"`) {
		t.Fatalf("sign-in page: %d %s", resp.StatusCode, body)
	}
	req := string(body)
	i := strings.Index(req, `name="request" value="`)
	id := req[i+len(`name="request" value="`):]
	id = id[:strings.Index(id, `"`)]
	form.Set("request", id)
	c := s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post, err := c.PostForm(s.URL+"/"+tenant+"/oauth2/v2.0/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	loc, err := url.Parse(post.Header.Get("Location"))
	if post.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("answer to the sign-in page: %d, Location %q", post.StatusCode, post.Header.Get("Location"))
	}
	return loc.Query()
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSignInWithCodeAndPKCE(t *testing.T) {
	s := startSignIn(t)
	f := newSignInFlow(t, s)
	verifier := oauth2.GenerateVerifier()
	authURL := f.conf.AuthCodeURL("the-state", oidc.Nonce("the-nonce"), oauth2.S256ChallengeOption(verifier))
	back := f.authorize(t, s, authURL, url.Values{"username": {"Ann.Lee@contoso.com"}, "name": {"Ann Lee"}, "groups": {"g-1, g-2"}})
	if back.Get("state") != "the-state" || back.Get("code") == "" {
		t.Fatalf("redirect back: %v", back)
	}

	// A wrong verifier is refused and spends the code, as in Entra.
	if _, err := f.conf.Exchange(f.ctx, back.Get("code"), oauth2.VerifierOption("wrong")); err == nil || !strings.Contains(err.Error(), "AADSTS501481") {
		t.Fatalf("exchange with a wrong verifier: %v, want AADSTS501481", err)
	}
	back = f.authorize(t, s, authURL, url.Values{"username": {"Ann.Lee@contoso.com"}, "name": {"Ann Lee"}, "groups": {"g-1, g-2"}})
	tok, err := f.conf.Exchange(f.ctx, back.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.provider.Verifier(&oidc.Config{ClientID: client}).Verify(f.ctx, raw)
	if err != nil {
		t.Fatalf("verify id_token: %v", err)
	}
	var c struct {
		Nonce, Name, Email, OID, TID, Ver string
		User                              string   `json:"preferred_username"`
		Groups                            []string `json:"groups"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if c.Nonce != "the-nonce" || c.User != "Ann.Lee@contoso.com" || c.Name != "Ann Lee" || c.TID != tenant || c.Ver != "2.0" ||
		len(c.OID) != 36 || strings.Join(c.Groups, ",") != "g-1,g-2" || idt.Subject == "" || idt.Issuer != s.URL+"/"+tenant+"/v2.0" {
		t.Errorf("claims: %+v, sub %q, iss %q", c, idt.Subject, idt.Issuer)
	}

	// A code is good once.
	if _, err := f.conf.Exchange(f.ctx, back.Get("code"), oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "AADSTS54005") {
		t.Errorf("second exchange of a code: %v, want AADSTS54005", err)
	}
	// The access token it came with opens no Dataverse.
	if _, err := s.svc.Verify(tok.AccessToken, time.Now()); err == nil {
		t.Error("the sign-in's access token is a Dataverse token")
	}
}

func TestSignInRefusals(t *testing.T) {
	s := startSignIn(t)
	f := newSignInFlow(t, s)
	get := func(u string) int {
		resp, _ := s.do(t, mustRequest(t, http.MethodGet, u))
		return resp.StatusCode
	}
	other := f.conf
	other.ClientID = "someone-else"
	if st := get(other.AuthCodeURL("s")); st != http.StatusBadRequest {
		t.Errorf("an unknown client: %d, want 400 on the page", st)
	}
	other = f.conf
	other.RedirectURL = "javascript:alert(1)"
	if st := get(other.AuthCodeURL("s")); st != http.StatusBadRequest {
		t.Errorf("a redirect URI that is no http(s) URL: %d, want 400", st)
	}
	// Cancel goes back with access_denied.
	back := f.authorize(t, s, f.conf.AuthCodeURL("s"), url.Values{"cancel": {"1"}})
	if back.Get("error") != "access_denied" || back.Get("state") != "s" {
		t.Errorf("cancel: %v", back)
	}
	// A different redirect URI at the token endpoint is refused.
	back = f.authorize(t, s, f.conf.AuthCodeURL("s"), url.Values{"username": {"bo@contoso.com"}})
	moved := f.conf
	moved.RedirectURL = "http://127.0.0.1:9/elsewhere"
	if _, err := moved.Exchange(f.ctx, back.Get("code")); err == nil || !strings.Contains(err.Error(), "AADSTS50148") {
		t.Errorf("exchange with another redirect URI: %v", err)
	}
}
