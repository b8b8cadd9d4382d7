package emulator

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The identity half of the emulator: just enough of the Entra ID v2.0
// endpoints for the client-credentials flow, with Entra's error shapes.
// Tokens are opaque random strings, not JWTs: Dataverse clients must treat
// access tokens as opaque, and an emulator that issued parseable ones would
// let a client depend on their contents unnoticed.

// identityIDs are the fixed ids WhoAmI reports and rows are owned by.
type identityIDs struct {
	user, businessUnit, organization string
}

// newIdentityIDs derives stable ids from the tenant, so that they survive
// restarts without being stored.
func newIdentityIDs(tenant string) identityIDs {
	id := func(what string) string {
		h := sha256.Sum256([]byte("leadbridge-emulator/" + tenant + "/" + what))
		h[6] = h[6]&0x0f | 0x50 // a name-based (v5-style) GUID
		h[8] = h[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	}
	return identityIDs{user: id("user"), businessUnit: id("businessunit"), organization: id("organization")}
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

type tokenState int

const (
	tokenValid tokenState = iota
	tokenUnknown
	tokenExpired
)

func (ts *tokenStore) check(tok string, now time.Time) (string, tokenState) {
	ts.mu.Lock()
	info, ok := ts.tokens[tok]
	ts.mu.Unlock()
	switch {
	case !ok:
		return "", tokenUnknown
	case !now.Before(info.expires):
		return info.clientID, tokenExpired
	}
	return info.clientID, tokenValid
}

// baseURL is the scheme and host the client used, so that links and the
// issuer match whatever name (127.0.0.1, localhost, a service name) it
// reached the emulator by.
func baseURL(r *http.Request) string { return "https://" + r.Host }

func (s *Server) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	if s.config().Faults.Down {
		s.writeEntraError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", 50012, "The service is temporarily unavailable (emulator fault: down).")
		return
	}
	tenant := r.PathValue("tenant")
	if tenant != s.tenant {
		s.writeEntraError(w, r, http.StatusBadRequest, "invalid_tenant", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := baseURL(r) + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"grant_types_supported":                 []string{"client_credentials"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

// serveToken is POST /{tenant}/oauth2/v2.0/token, client credentials only.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	cfg := s.config()
	if cfg.Faults.Down {
		s.writeEntraError(w, r, http.StatusServiceUnavailable, "temporarily_unavailable", 50012, "The service is temporarily unavailable (emulator fault: down).")
		return
	}
	if r.Method != http.MethodPost {
		s.writeEntraError(w, r, http.StatusBadRequest, "invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests. Received a "+r.Method+" request.")
		return
	}
	tenant := r.PathValue("tenant")
	if tenant != s.tenant {
		s.writeEntraError(w, r, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.writeEntraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
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
		s.writeEntraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	case grant != "client_credentials":
		s.writeEntraError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant))
		return
	case clientID == "":
		s.writeEntraError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	case clientID != s.clientID:
		s.writeEntraError(w, r, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, s.tenant))
		return
	case secret == "" && form.Get("client_assertion") == "":
		s.writeEntraError(w, r, http.StatusUnauthorized, "invalid_client", 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.")
		return
	case subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1:
		s.writeEntraError(w, r, http.StatusUnauthorized, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", s.clientID))
		return
	}
	if status, code, num, msg := s.checkScope(r, form.Get("scope")); status != 0 {
		s.writeEntraError(w, r, status, code, num, msg)
		return
	}
	lifetime := cfg.TokenLifetimeSeconds
	tok := s.tokens.issue(clientID, time.Duration(lifetime)*time.Second, time.Now())
	s.stats.tokenIssued()
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     lifetime,
		"ext_expires_in": lifetime,
		"access_token":   tok,
	})
}

// checkScope wants exactly one resource scope, <environment URL>/.default,
// besides the OpenID scopes MSAL always appends.
func (s *Server) checkScope(r *http.Request, scope string) (int, string, int, string) {
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
		return http.StatusBadRequest, "invalid_resource", 500011, fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, s.tenant)
	}
	return 0, "", 0, ""
}

// isOwnResource accepts the environment URL under any loopback name or the
// name the request came in by, with the emulator's port.
func (s *Server) isOwnResource(r *http.Request, resource string) bool {
	u, err := url.Parse(resource)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || (u.Path != "" && u.Path != "/") {
		return false
	}
	own, _ := url.Parse(s.url)
	if u.Port() != own.Port() {
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

func (s *Server) writeEntraError(w http.ResponseWriter, r *http.Request, status int, code string, num int, desc string) {
	now := time.Now().UTC()
	trace, corr := newGUID(), r.Header.Get("client-request-id")
	if corr == "" {
		corr = newGUID()
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

// authenticate checks the bearer token of a Web API request, returning the
// caller's client id or the 401 Dataverse gives.
func (s *Server) authenticate(r *http.Request, now time.Time) (string, *result) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(auth, "bearer ")
	}
	var res *result
	if ok {
		clientID, state := s.tokens.check(strings.TrimSpace(tok), now)
		switch state {
		case tokenValid:
			return clientID, nil
		case tokenExpired:
			res = apiError(http.StatusUnauthorized, codeTokenExpired, msgAuthRequired)
		}
	}
	if res == nil {
		// Dataverse's body here is unconfirmed (often empty); the envelope
		// with an empty code keeps every Web API error one shape.
		res = apiError(http.StatusUnauthorized, "", "Bearer token is missing or not valid. "+msgAuthRequired)
	}
	base := baseURL(r)
	// Unquoted, comma-separated, as Dataverse sends it (reference §9).
	setRaw(res.header, "WWW-Authenticate", fmt.Sprintf("Bearer authorization_uri=%s/%s/oauth2/authorize, resource_id=%s/", base, s.tenant, base))
	return "", res
}
