package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// The sign-in half: what an application that signs people in with Entra ID
// (OpenID Connect, authorization code flow, with PKCE) meets —
//
//	GET  /{tenant}/oauth2/v2.0/authorize     a sign-in page where a test user is typed
//	POST /{tenant}/oauth2/v2.0/authorize     that page's answer: a redirect with a code
//	POST /{tenant}/oauth2/v2.0/token         grant_type=authorization_code → an RS256 id_token
//	GET  /{tenant}/discovery/v2.0/keys       the signing key (JWKS)
//
// The one app registration of Options signs people in too (a real
// registration can do both flows). Any http(s) redirect URI is taken, as if
// registered, but the token request must repeat it exactly, as Entra
// checks. There is no password: whoever is typed on the page is signed in,
// which is what a development identity provider is for. The id_token has
// Entra's v2.0 claims: iss, aud, sub (pairwise: per user and app), oid,
// tid, preferred_username, name, email, nonce, iat, nbf, exp, ver, and
// groups when the page was given some.

// Lifetimes of the sign-in flow's pieces.
const (
	pendingLifetime = 10 * time.Minute // between the sign-in page and its answer
	codeLifetime    = 5 * time.Minute  // an authorization code, redeemed once
	idTokenLifetime = time.Hour
)

// signIn keeps the flow's state: pending sign-ins (by the id the page
// posts back), issued codes, and the signing key, made on first use.
type signIn struct {
	mu      sync.Mutex
	pending map[string]authRequest
	codes   map[string]grant

	keyOnce sync.Once
	key     *rsa.PrivateKey
	kid     string
}

// authRequest is what the application asked for on /authorize.
type authRequest struct {
	clientID, redirectURI, state, nonce, scope, challenge, method string
	expires                                                       time.Time
}

// grant is an issued code and who it is for.
type grant struct {
	authRequest
	user    string
	name    string
	groups  []string
	expires time.Time
}

func newSignIn() *signIn {
	return &signIn{pending: map[string]authRequest{}, codes: map[string]grant{}}
}

func (si *signIn) signingKey() (*rsa.PrivateKey, string) {
	si.keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		si.key = k
		sum := sha256.Sum256(k.PublicKey.N.Bytes())
		si.kid = base64.RawURLEncoding.EncodeToString(sum[:12])
	})
	return si.key, si.kid
}

// ServeAuthorize is /{tenant}/oauth2/v2.0/authorize: GET shows the sign-in
// page, POST signs the typed user in and redirects back with a code.
func (s *Service) ServeAuthorize(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r)
	if tenant != s.opts.TenantID {
		s.signInError(w, http.StatusBadRequest, 90002, fmt.Sprintf("Tenant '%s' not found.", tenant))
		return
	}
	switch r.Method {
	case http.MethodGet:
		s.showSignIn(w, r)
	case http.MethodPost:
		s.finishSignIn(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Service) showSignIn(w http.ResponseWriter, r *http.Request) {
	if s.opts.Conditions().Down {
		s.signInError(w, http.StatusServiceUnavailable, 50012, "The service is temporarily unavailable (emulator fault: down).")
		return
	}
	q := r.URL.Query()
	req := authRequest{
		clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"), state: q.Get("state"), nonce: q.Get("nonce"),
		scope: q.Get("scope"), challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"),
		expires: time.Now().Add(pendingLifetime),
	}
	// Errors the application cannot be told by redirect (Entra shows them).
	if req.clientID != s.opts.ClientID {
		s.signInError(w, http.StatusBadRequest, 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", req.clientID, s.opts.TenantID))
		return
	}
	if !redirectable(req.redirectURI) {
		s.signInError(w, http.StatusBadRequest, 50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", req.redirectURI, req.clientID))
		return
	}
	// The rest go back to the application, as Entra sends them.
	switch {
	case q.Get("response_type") != "code":
		redirectError(w, r, req, "unsupported_response_type", "AADSTS700054: response_type '"+q.Get("response_type")+"' is not enabled for the application.")
		return
	case !slices.Contains(strings.Fields(req.scope), "openid"):
		redirectError(w, r, req, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'scope' with openid.")
		return
	case req.challenge != "" && req.method != "S256" && req.method != "plain" && req.method != "":
		redirectError(w, r, req, "invalid_request", "AADSTS501491: Invalid code_challenge_method.")
		return
	}
	if req.method == "" && req.challenge != "" {
		req.method = "plain"
	}
	id := randomString(16)
	s.signIn.mu.Lock()
	s.signIn.sweep(time.Now())
	s.signIn.pending[id] = req
	s.signIn.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	_ = signInPage.Execute(w, map[string]string{"Tenant": s.opts.TenantID, "Client": req.clientID, "Request": id, "Hint": q.Get("login_hint")})
}

func (s *Service) finishSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.signInError(w, http.StatusBadRequest, 900144, "The sign-in form could not be read.")
		return
	}
	id := r.PostForm.Get("request")
	s.signIn.mu.Lock()
	req, ok := s.signIn.pending[id]
	delete(s.signIn.pending, id)
	s.signIn.mu.Unlock()
	if !ok || time.Now().After(req.expires) {
		s.signInError(w, http.StatusBadRequest, 50058, "The sign-in request has expired or was already answered. Start the sign-in again from the application.")
		return
	}
	if r.PostForm.Get("cancel") != "" {
		redirectError(w, r, req, "access_denied", "AADSTS65004: User declined to consent to access the app.")
		return
	}
	user := strings.TrimSpace(r.PostForm.Get("username"))
	if user == "" || len(user) > 200 {
		s.signInError(w, http.StatusBadRequest, 50034, "Enter a user name (e.g. ann@contoso.com) to sign in as.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if name == "" {
		name, _, _ = strings.Cut(user, "@")
	}
	var groups []string
	for _, g := range strings.Split(r.PostForm.Get("groups"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	code := randomString(32)
	s.signIn.mu.Lock()
	s.signIn.codes[code] = grant{authRequest: req, user: user, name: name, groups: groups, expires: time.Now().Add(codeLifetime)}
	s.signIn.mu.Unlock()
	back := url.Values{"code": {code}}
	if req.state != "" {
		back.Set("state", req.state)
	}
	http.Redirect(w, r, withQuery(req.redirectURI, back), http.StatusFound)
}

// redeemCode is the token endpoint's authorization_code grant, after the
// client authenticated.
func (s *Service) redeemCode(w http.ResponseWriter, r *http.Request, clientID string, form url.Values) {
	code := form.Get("code")
	s.signIn.mu.Lock()
	g, ok := s.signIn.codes[code]
	delete(s.signIn.codes, code) // once, whatever happens next
	s.signIn.mu.Unlock()
	switch {
	case code == "":
		s.writeError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'code'.")
		return
	case !ok || time.Now().After(g.expires):
		s.writeError(w, r, http.StatusBadRequest, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
		return
	case g.clientID != clientID:
		s.writeError(w, r, http.StatusBadRequest, "invalid_grant", 70000, "The provided authorization code was issued to a different client.")
		return
	case form.Get("redirect_uri") != g.redirectURI:
		s.writeError(w, r, http.StatusBadRequest, "invalid_grant", 50148, "The redirect_uri in the token request does not match the one of the authorization request.")
		return
	case g.challenge != "" && !verifierMatches(form.Get("code_verifier"), g.challenge, g.method):
		s.writeError(w, r, http.StatusBadRequest, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		return
	}
	idToken, err := s.idToken(r, g)
	if err != nil {
		s.writeError(w, r, http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again.")
		return
	}
	s.opts.Issued()
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"scope":          "openid profile email",
		"expires_in":     int(idTokenLifetime / time.Second),
		"ext_expires_in": int(idTokenLifetime / time.Second),
		// An opaque token for Microsoft Graph in Entra; here it opens nothing
		// (it is not a Dataverse token), as the scope asked for no resource.
		"access_token": randomString(32),
		"id_token":     idToken,
	})
}

// idToken signs the v2.0 id_token of a redeemed code.
func (s *Service) idToken(r *http.Request, g grant) (string, error) {
	key, kid := s.signIn.signingKey()
	now := time.Now()
	oid := objectID(s.opts.TenantID, g.user)
	sub := sha256.Sum256([]byte(oid + "|" + g.clientID))
	claims := map[string]any{
		"ver": "2.0", "iss": baseURL(r) + "/" + s.opts.TenantID + "/v2.0", "aud": g.clientID,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(idTokenLifetime).Unix(),
		"sub": base64.RawURLEncoding.EncodeToString(sub[:]), "oid": oid, "tid": s.opts.TenantID,
		"preferred_username": g.user, "name": g.name,
	}
	if strings.Contains(g.user, "@") {
		claims["email"] = g.user
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
	}
	if len(g.groups) > 0 {
		claims["groups"] = g.groups
	}
	header, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": kid})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// ServeKeys is GET /{tenant}/discovery/v2.0/keys: the key id_tokens are
// signed with, as a JSON Web Key Set.
func (s *Service) ServeKeys(w http.ResponseWriter, r *http.Request) {
	key, kid := s.signIn.signingKey()
	pub := key.PublicKey
	x5t := sha1.Sum(pub.N.Bytes()) // a stand-in thumbprint: there is no certificate
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"x5t":    base64.RawURLEncoding.EncodeToString(x5t[:]),
		"n":      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":      base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"issuer": baseURL(r) + "/" + s.opts.TenantID + "/v2.0",
	}}})
}

// objectID is a user's stable object id in the tenant: a GUID derived from
// the tenant and the user name, so signing in twice as one user is one user.
func objectID(tenant, user string) string {
	b := sha256.Sum256([]byte(tenant + "/" + strings.ToLower(user)))
	b[6] = b[6]&0x0f | 0x50 // a name-based (v5-style) GUID
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// verifierMatches checks PKCE (RFC 7636).
func verifierMatches(verifier, challenge, method string) bool {
	if verifier == "" {
		return false
	}
	got := verifier
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// redirectable: an absolute http(s) URI without a fragment.
func redirectable(uri string) bool {
	u, err := url.Parse(uri)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.Fragment == ""
}

func redirectError(w http.ResponseWriter, r *http.Request, req authRequest, code, desc string) {
	v := url.Values{"error": {code}, "error_description": {desc}}
	if req.state != "" {
		v.Set("state", req.state)
	}
	http.Redirect(w, r, withQuery(req.redirectURI, v), http.StatusFound)
}

func withQuery(uri string, v url.Values) string {
	if strings.Contains(uri, "?") {
		return uri + "&" + v.Encode()
	}
	return uri + "?" + v.Encode()
}

// signInError is the page Entra shows for a request it cannot send back.
func (s *Service) signInError(w http.ResponseWriter, status, num int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = errorPage.Execute(w, map[string]string{"Code": fmt.Sprintf("AADSTS%d", num), "Message": msg})
}

// sweep drops expired pending sign-ins and codes; the caller holds mu.
func (si *signIn) sweep(now time.Time) {
	for k, v := range si.pending {
		if now.After(v.expires) {
			delete(si.pending, k)
		}
	}
	for k, v := range si.codes {
		if now.After(v.expires) {
			delete(si.codes, k)
		}
	}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — Dataverse emulator</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
label{display:block;margin:.8rem 0 .2rem;font-weight:600}input{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
button{margin-top:1.2rem;padding:.55rem 1.2rem;font:inherit}small{color:#555}</style></head>
<body><h1>Sign in</h1>
<p>Entra ID emulator, tenant <code>{{.Tenant}}</code>, for application <code>{{.Client}}</code>. Any user typed here is signed in: this is a development identity provider.</p>
<form method="post">
<input type="hidden" name="request" value="{{.Request}}">
<label for="username">User name</label><input id="username" name="username" type="email" autocomplete="username" value="{{.Hint}}" required>
<label for="name">Display name <small>(optional)</small></label><input id="name" name="name" autocomplete="name">
<label for="groups">Group object ids <small>(optional, comma-separated)</small></label><input id="groups" name="groups">
<button type="submit" name="signin" value="1">Sign in</button> <button type="submit" name="cancel" value="1" formnovalidate>Cancel</button>
</form></body></html>`))

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title></head>
<body><h1>Sorry, but we're having trouble signing you in.</h1><p>{{.Code}}: {{.Message}}</p></body></html>`))
