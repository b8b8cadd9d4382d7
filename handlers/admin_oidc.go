package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"
)

// Sign-in with Entra ID: OpenID Connect's authorization code flow with
// PKCE (go-oidc and x/oauth2), in the tenant the worker uses. The flow's
// state, nonce and PKCE verifier wait in Redis for up to oidcFlowTTL under
// a hash of the state; the state also goes into a cookie of this browser,
// so a callback URL made elsewhere (login CSRF) finds no match. The
// id_token must be signed by the tenant's keys, for this app, with this
// flow's nonce and the configured tenant's id, and name a user (or a group
// of theirs) that AdminOIDC.Allowed lets in.

const (
	keyOIDCFlow = "lb:admin:oidc:"
	cookieOIDC  = "lb_admin_oidc"
	oidcFlowTTL = 10 * time.Minute
	// oidcTimeout bounds each call to Entra ID (discovery, keys, token).
	oidcTimeout = 10 * time.Second
)

// entraProblems are what the sign-in page says for the callback's
// outcomes (?error=…); nothing from the request is shown.
var entraProblems = map[string]string{
	"denied":    "Sign-in with Entra ID was cancelled or refused.",
	"expired":   "That sign-in took too long or was started in another browser. Try again.",
	"failed":    "Entra ID did not confirm the sign-in. Try again; if it keeps failing, check the app registration's client secret and redirect URI.",
	"forbidden": "Your account signed in, but it is not allowed into this console. Ask an admin to add you (LEADBRIDGE_ADMIN_OIDC_ALLOWED).",
	"down":      "Entra ID could not be reached. Try again in a minute, or sign in with the password.",
}

// oidcFlow is one sign-in under way.
type oidcFlow struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Next     string `json:"next"`
}

// entra is the discovered provider, made on first use (so that the API
// starts, and serves forms, while Entra ID is unreachable) and kept once
// discovery succeeds.
type entra struct {
	mu       sync.Mutex
	provider *oidc.Provider
}

func (s *server) oidcProvider(ctx context.Context) (*oidc.Provider, error) {
	s.entra.mu.Lock()
	defer s.entra.mu.Unlock()
	if s.entra.provider != nil {
		return s.entra.provider, nil
	}
	ctx, cancel := context.WithTimeout(s.oidcContext(ctx), oidcTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, s.Admin.OIDC.Issuer)
	if err != nil {
		return nil, err
	}
	s.entra.provider = p
	return p, nil
}

// oidcContext carries the client go-oidc and oauth2 must use.
func (s *server) oidcContext(ctx context.Context) context.Context {
	hc := s.Admin.OIDC.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: oidcTimeout}
	}
	return oidc.ClientContext(ctx, hc)
}

func (s *server) oauthConfig(c echo.Context, p *oidc.Provider) oauth2.Config {
	base := s.Admin.PublicURL
	if base == "" {
		base = c.Scheme() + "://" + c.Request().Host
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	return oauth2.Config{
		ClientID: s.Admin.OIDC.ClientID, ClientSecret: s.Admin.OIDC.ClientSecret, Endpoint: ep,
		RedirectURL: base + "/admin/oidc/callback",
		Scopes:      []string{oidc.ScopeOpenID, "profile", "email"},
	}
}

// oidcStart is GET /admin/oidc/start: off to Entra ID's sign-in.
func (s *server) oidcStart(c echo.Context) error {
	if s.Admin.OIDC == nil {
		return echo.NewHTTPError(http.StatusNotFound, "Sign-in with Entra ID is not configured.")
	}
	ctx := c.Request().Context()
	p, err := s.oidcProvider(ctx)
	if err != nil {
		s.Log.Warn("entra id discovery failed", "err", err, "request_id", requestID(c))
		return signInAgain(c, "down", c.QueryParam("next"))
	}
	state := randomToken()
	flow := oidcFlow{Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Next: localNext(c.QueryParam("next"))}
	data, _ := json.Marshal(flow)
	if err := s.Redis.Set(ctx, hashKey(keyOIDCFlow, state), data, oidcFlowTTL).Err(); err != nil {
		return adminErr(err)
	}
	c.SetCookie(&http.Cookie{Name: cookieOIDC, Value: state, Path: "/admin/oidc", MaxAge: int(oidcFlowTTL.Seconds()),
		HttpOnly: true, Secure: secureCookies(c), SameSite: http.SameSiteLaxMode})
	conf := s.oauthConfig(c, p)
	return c.Redirect(http.StatusSeeOther, conf.AuthCodeURL(state, oidc.Nonce(flow.Nonce), oauth2.S256ChallengeOption(flow.Verifier),
		oauth2.SetAuthURLParam("response_mode", "query"), oauth2.SetAuthURLParam("prompt", "select_account")))
}

// oidcCallback is GET /admin/oidc/callback, where Entra ID sends the
// browser back with a code (or an error).
func (s *server) oidcCallback(c echo.Context) error {
	if s.Admin.OIDC == nil {
		return echo.NewHTTPError(http.StatusNotFound, "Sign-in with Entra ID is not configured.")
	}
	ctx := c.Request().Context()
	state := c.QueryParam("state")
	ck, err := c.Cookie(cookieOIDC)
	c.SetCookie(&http.Cookie{Name: cookieOIDC, Path: "/admin/oidc", MaxAge: -1, HttpOnly: true, Secure: secureCookies(c), SameSite: http.SameSiteLaxMode})
	if err != nil || state == "" || len(state) > 100 || !sameToken(state, ck.Value) {
		return c.Redirect(http.StatusSeeOther, "/admin/login?error=expired")
	}
	data, err := s.Redis.GetDel(ctx, hashKey(keyOIDCFlow, state)).Bytes()
	if errors.Is(err, redis.Nil) {
		return c.Redirect(http.StatusSeeOther, "/admin/login?error=expired")
	}
	if err != nil {
		return adminErr(err)
	}
	var flow oidcFlow
	if err := json.Unmarshal(data, &flow); err != nil {
		return c.Redirect(http.StatusSeeOther, "/admin/login?error=expired")
	}
	if e := c.QueryParam("error"); e != "" {
		// The description may name the user; the log gets Entra's code only.
		s.Log.Warn("entra id sign-in refused by the provider", "error", truncate(e, 64), "request_id", requestID(c))
		return signInAgain(c, "denied", flow.Next)
	}
	p, err := s.oidcProvider(ctx)
	if err != nil {
		return signInAgain(c, "down", flow.Next)
	}
	conf := s.oauthConfig(c, p)
	tctx, cancel := context.WithTimeout(s.oidcContext(ctx), oidcTimeout)
	defer cancel()
	tok, err := conf.Exchange(tctx, c.QueryParam("code"), oauth2.VerifierOption(flow.Verifier))
	if err != nil {
		s.Log.Warn("entra id code exchange failed", "err", oauthError(err), "request_id", requestID(c))
		return signInAgain(c, "failed", flow.Next)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: s.Admin.OIDC.ClientID}).Verify(tctx, raw)
	if err != nil {
		s.Log.Warn("entra id token refused", "err", err, "request_id", requestID(c))
		return signInAgain(c, "failed", flow.Next)
	}
	var claims struct {
		Nonce  string   `json:"nonce"`
		TID    string   `json:"tid"`
		OID    string   `json:"oid"`
		User   string   `json:"preferred_username"`
		Email  string   `json:"email"`
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil || !sameToken(claims.Nonce, flow.Nonce) || claims.TID != s.Admin.OIDC.TenantID {
		s.Log.Warn("entra id token refused: nonce or tenant", "request_id", requestID(c))
		return signInAgain(c, "failed", flow.Next)
	}
	if !s.oidcAllowed(claims.User, claims.Email, claims.OID, claims.Groups) {
		s.Log.Warn("entra id user not allowed into the console", "oid", claims.OID, "request_id", requestID(c))
		return signInAgain(c, "forbidden", flow.Next)
	}
	user := claims.User
	if user == "" {
		user = claims.OID
	}
	if err := s.startSession(c, truncate(user, 200), truncate(claims.Name, 200), "entra"); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, localNext(flow.Next))
}

// oidcAllowed: "*", or the user name, e-mail or object id listed
// (case-insensitive), or "group:<id>" of one of the user's groups.
func (s *server) oidcAllowed(user, email, oid string, groups []string) bool {
	for _, a := range s.Admin.OIDC.Allowed {
		if g, ok := strings.CutPrefix(a, "group:"); ok {
			if slices.Contains(groups, g) {
				return true
			}
			continue
		}
		if a == "*" || (user != "" && strings.EqualFold(a, user)) || (email != "" && strings.EqualFold(a, email)) || (oid != "" && strings.EqualFold(a, oid)) {
			return true
		}
	}
	return false
}

var aadsts = regexp.MustCompile(`AADSTS\d+`)

// oauthError is an exchange error without the token endpoint's response
// body (which may quote the user).
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return strings.TrimSpace("token endpoint answered " + re.ErrorCode + " " + aadsts.FindString(re.ErrorDescription))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return "exchange failed"
}

// signInAgain sends the browser back to the sign-in page with a problem,
// keeping where it was going.
func signInAgain(c echo.Context, problem, next string) error {
	return c.Redirect(http.StatusSeeOther, "/admin/login?"+url.Values{"error": {problem}, "next": {localNext(next)}}.Encode())
}
