package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/leadbridge/leadbridge/emulator/identity"
)

// identityIDs are the fixed ids WhoAmI reports and rows are owned by: the
// Dataverse side of the one application user the emulator knows.
type identityIDs struct {
	user, businessUnit, organization string
}

// newIdentityIDs derives stable ids from the tenant, so that they survive
// restarts without being stored.
func newIdentityIDs(tenant string) identityIDs {
	return identityIDs{user: nameGUID(tenant, "user"), businessUnit: nameGUID(tenant, "businessunit"), organization: nameGUID(tenant, "organization")}
}

// identityConditions is what the identity endpoints take from the live
// configuration.
func (s *Server) identityConditions() identity.Conditions {
	s.cfgMu.RLock()
	cfg, creds := s.cfg, s.creds
	s.cfgMu.RUnlock()
	var secrets map[string]string
	if len(cfg.Applications) > 0 {
		secrets = make(map[string]string, len(cfg.Applications))
		for _, a := range cfg.Applications {
			secrets[a.ClientID] = a.ClientSecret
		}
	}
	return identity.Conditions{
		TokenLifetime: time.Duration(cfg.TokenLifetimeSeconds) * time.Second,
		Down:          cfg.Faults.Down,
		Credentials:   creds,
		Secrets:       secrets,
	}
}

// baseURL is the scheme and host the client used, so that links match
// whatever name (127.0.0.1, localhost, a service name) it reached the
// emulator by.
func baseURL(r *http.Request) string { return "https://" + r.Host }

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
		clientID, err := s.identity.Verify(strings.TrimSpace(tok), now)
		switch {
		case err == nil:
			return clientID, nil
		case errors.Is(err, identity.ErrExpiredToken):
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
