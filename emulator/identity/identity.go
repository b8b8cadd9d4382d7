// Package identity is the Entra ID half of the Dataverse emulator: just
// enough of the v2.0 endpoints for the OAuth 2.0 client-credentials flow
// (the tenant's openid-configuration document and its token endpoint, which
// takes the app's secret or a client assertion: a JWT signed with a
// registered certificate's key, or a federated token, assertion.go), with
// Entra's error shapes and AADSTS codes, and the check of the tokens it
// issued; and, for applications that sign people in, the OpenID Connect
// authorization code flow with PKCE: a sign-in page, codes, RS256 id_tokens
// and the key set that verifies them (signin.go).
//
// Tokens are opaque random strings, not JWTs: Dataverse clients must treat
// access tokens as opaque, and an emulator that issued parseable ones would
// let a client depend on their contents unnoticed. They live in memory only,
// so a restarted emulator has forgotten every token it issued, as a
// revocation would make Dataverse do.
//
// The handlers take the tenant from the first segment of the request path,
// so they serve wherever they are mounted as
// /{tenant}/v2.0/.well-known/openid-configuration,
// /{tenant}/oauth2/v2.0/token, /{tenant}/oauth2/v2.0/authorize and
// /{tenant}/discovery/v2.0/keys.
package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultTokenLifetime is the expires_in Entra commonly reports, used when
// Options.Conditions is nil.
const DefaultTokenLifetime = 3599 * time.Second

// Errors Verify returns.
var (
	// ErrUnknownToken is a token this service never issued (or issued before
	// a restart).
	ErrUnknownToken = errors.New("identity: unknown access token")
	// ErrExpiredToken is a token whose lifetime has passed.
	ErrExpiredToken = errors.New("identity: access token expired")
)

// Conditions are the parts of the emulator's live configuration the
// endpoints obey, read afresh for every request.
type Conditions struct {
	// TokenLifetime is the expires_in of new tokens.
	TokenLifetime time.Duration
	// Down makes both endpoints answer 503 temporarily_unavailable.
	Down bool
	// Credentials are the app's certificates and federated identity
	// credentials, accepted besides its secret (assertion.go).
	Credentials Credentials
	// Secrets are further app registrations of the tenant by client id,
	// each signing in with its client secret.
	Secrets map[string]string
}

// Options configure New.
type Options struct {
	// TenantID, ClientID and ClientSecret are the one app registration the
	// token endpoint knows.
	TenantID, ClientID, ClientSecret string
	// ResourceURL is the Dataverse environment URL (https://host:port)
	// whose "<ResourceURL>/.default" scope tokens are issued for. The same
	// port under a loopback name, or under the name a request arrived by,
	// is the same resource.
	ResourceURL string
	// Conditions returns the current conditions; nil means tokens of
	// DefaultTokenLifetime and never down.
	Conditions func() Conditions
	// Issued, if set, is called once for every token issued, for
	// statistics.
	Issued func()
}

// Service serves the endpoints and verifies the tokens they issued. Its
// methods are safe for concurrent use.
type Service struct {
	opts       Options
	tokens     *tokenStore
	signIn     *signIn           // the sign-in flow (signin.go)
	assertions *assertionChecker // client assertions (assertion.go)
}

// New returns a Service for one app registration.
func New(opts Options) *Service {
	if opts.Conditions == nil {
		opts.Conditions = func() Conditions { return Conditions{TokenLifetime: DefaultTokenLifetime} }
	}
	if opts.Issued == nil {
		opts.Issued = func() {}
	}
	return &Service{opts: opts, tokens: newTokenStore(), signIn: newSignIn(), assertions: newAssertionChecker()}
}

// Verify returns the client id a bearer token was issued to, or
// ErrUnknownToken or ErrExpiredToken.
func (s *Service) Verify(token string, now time.Time) (clientID string, err error) {
	return s.tokens.check(token, now)
}

// ServeOpenIDConfiguration is GET /{tenant}/v2.0/.well-known/openid-configuration,
// the document MSAL reads to find the token endpoint.
func (s *Service) ServeOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	if s.opts.Conditions().Down {
		s.writeError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", 50012, "The service is temporarily unavailable (emulator fault: down).")
		return
	}
	tenant := tenantOf(r)
	if tenant != s.opts.TenantID {
		s.writeError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := baseURL(r) + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"grant_types_supported":                 []string{"client_credentials", "authorization_code"},
		"code_challenge_methods_supported":      []string{"plain", "S256"},
		"claims_supported": []string{"sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "name", "preferred_username",
			"email", "oid", "tid", "ver", "groups"},
		"tenant_region_scope": "EU",
		"cloud_instance_name": "microsoftonline.com",
	})
}

// ServeToken is POST /{tenant}/oauth2/v2.0/token, client credentials only,
// with the secret in the form or as HTTP Basic credentials, or a client
// assertion: a JWT signed with a registered certificate's key, or a
// federated token (assertion.go).
func (s *Service) ServeToken(w http.ResponseWriter, r *http.Request) {
	cond := s.opts.Conditions()
	if cond.Down {
		s.writeError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", 50012, "The service is temporarily unavailable (emulator fault: down).")
		return
	}
	if r.Method != http.MethodPost {
		s.writeError(w, r, http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests. Received a "+r.Method+" request.")
		return
	}
	tenant := tenantOf(r)
	if tenant != s.opts.TenantID {
		s.writeError(w, r, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	form := r.PostForm
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: Basic credentials are form-encoded first.
		u, _ = url.QueryUnescape(u)
		p, _ = url.QueryUnescape(p)
		if clientID == "" {
			clientID = u
		}
		if secret == "" {
			secret = p
		}
	}
	grant := form.Get("grant_type")
	switch {
	case grant == "":
		s.writeError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	case grant != "client_credentials" && grant != "authorization_code":
		s.writeError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
		return
	case clientID == "":
		s.writeError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	case clientID != s.opts.ClientID && cond.Secrets[clientID] == "":
		s.writeError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, s.opts.TenantID))
		return
	case secret == "" && form.Get("client_assertion") == "":
		s.writeError(w, r, http.StatusUnauthorized, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	case secret != "" && form.Get("client_assertion") != "":
		s.writeError(w, r, http.StatusBadRequest, "invalid_request", 7000216, "Only one of 'client_assertion' or 'client_secret' may be presented.")
		return
	case clientID != s.opts.ClientID:
		// A further registration signs in with its secret only.
		if subtle.ConstantTimeCompare([]byte(secret), []byte(cond.Secrets[clientID])) != 1 {
			s.writeError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID))
			return
		}
	case secret == "":
		base := baseURL(r) + "/" + tenant
		endpoints := []string{base + "/oauth2/v2.0/token", base + "/oauth2/token"}
		if rf := s.assertions.check(form, clientID, endpoints, cond.Credentials, time.Now()); rf != nil {
			s.writeError(w, r, rf.status, rf.code, rf.num, rf.desc)
			return
		}
	case subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1:
		s.writeError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", s.opts.ClientID))
		return
	}
	if grant == "authorization_code" {
		s.redeemCode(w, r, clientID, form)
		return
	}
	if status, code, num, msg := s.checkScope(r, form.Get("scope")); status != 0 {
		s.writeError(w, r, status, code, num, msg)
		return
	}
	tok := s.tokens.issue(clientID, cond.TokenLifetime, time.Now())
	s.opts.Issued()
	seconds := int(cond.TokenLifetime / time.Second)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     seconds,
		"ext_expires_in": seconds,
		"access_token":   tok,
	})
}

// checkScope wants exactly one resource scope, <environment URL>/.default,
// besides the OpenID scopes MSAL always appends.
func (s *Service) checkScope(r *http.Request, scope string) (int, string, int, string) {
	var resources []string
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "offline_access", "profile", "email":
			continue
		}
		resources = append(resources, sc)
	}
	if len(resources) == 0 {
		return http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
	}
	if len(resources) > 1 {
		return http.StatusBadRequest, "invalid_scope", 70011, fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)
	}
	sc := resources[0]
	resource, ok := strings.CutSuffix(sc, "/.default")
	if !ok {
		return http.StatusBadRequest, "invalid_scope", 1002012, fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", sc)
	}
	if !s.isOwnResource(r, strings.TrimSuffix(resource, "/")) {
		return http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, s.opts.TenantID)
	}
	return 0, "", 0, ""
}

// isOwnResource accepts the environment URL under any loopback name or the
// name the request came in by, with the environment's port.
func (s *Service) isOwnResource(r *http.Request, resource string) bool {
	u, err := url.Parse(resource)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || (u.Path != "" && u.Path != "/") {
		return false
	}
	own, err := url.Parse(s.opts.ResourceURL)
	if err != nil || u.Port() != own.Port() {
		return false
	}
	reqHost, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		reqHost = r.Host
	}
	switch h := strings.ToLower(u.Hostname()); h {
	case "localhost", "127.0.0.1", "::1", own.Hostname(), strings.ToLower(strings.Trim(reqHost, "[]")):
		return true
	}
	return false
}

// writeError writes Entra's error body: an OAuth error code, an AADSTS
// number and description with trace and correlation ids.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, status int, code string, num int, desc string) {
	now := time.Now().UTC()
	trace, corr := newTraceID(), r.Header.Get("client-request-id")
	if corr == "" {
		corr = newTraceID()
	}
	stamp := now.Format("2006-01-02 15:04:05Z")
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s", num, desc, trace, corr, stamp),
		"error_codes":       []int{num},
		"timestamp":         stamp,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         baseURL(r) + "/error?code=" + fmt.Sprint(num),
	})
}

// tenantOf is the first segment of the request path.
func tenantOf(r *http.Request) string {
	tenant, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return tenant
}

// baseURL is the scheme and host the client used, so that the issuer and
// endpoints match whatever name (127.0.0.1, localhost, a service name) it
// reached the emulator by.
func baseURL(r *http.Request) string { return "https://" + r.Host }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings, numbers and string slices
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// newTraceID is a random GUID, the shape of Entra's trace and correlation
// ids.
func newTraceID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type tokenInfo struct {
	clientID string
	expires  time.Time
}

type tokenStore struct {
	mu     sync.Mutex
	tokens map[string]tokenInfo
	issued int // since the last sweep
}

func newTokenStore() *tokenStore { return &tokenStore{tokens: map[string]tokenInfo{}} }

func (ts *tokenStore) issue(clientID string, lifetime time.Duration, now time.Time) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.tokens[tok] = tokenInfo{clientID: clientID, expires: now.Add(lifetime)}
	// Sweep expired tokens now and then, so a long run with short token
	// lifetimes does not grow without bound.
	if ts.issued++; ts.issued >= 1000 {
		ts.issued = 0
		for k, v := range ts.tokens {
			if now.After(v.expires.Add(time.Hour)) {
				delete(ts.tokens, k)
			}
		}
	}
	return tok
}

func (ts *tokenStore) check(tok string, now time.Time) (string, error) {
	ts.mu.Lock()
	info, ok := ts.tokens[tok]
	ts.mu.Unlock()
	switch {
	case !ok:
		return "", ErrUnknownToken
	case !now.Before(info.expires):
		return "", ErrExpiredToken
	}
	return info.clientID, nil
}
