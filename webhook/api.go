package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/leadbridge/leadbridge/internal/yamlnode"
	"go.yaml.in/yaml/v3"
)

// API is where and as whom a worker reads the leads of a source whose
// deliveries carry ids only (Lead.Fetch): Meta's Graph API for
// meta-leadgen, HubSpot's CRM API for hubspot-v3's Webhooks-API events.
// Nothing here calls it; the worker does, and maps the answer with
// MapFetched.
type API struct {
	// BaseURL is the API's root, without a trailing slash:
	// https://graph.facebook.com or https://api.hubapi.com unless
	// configured (graph_url, api_url). Plain http is allowed only for a
	// loopback host, where tests run a local stand-in.
	BaseURL string
	// Version is the Graph API version in the path (graph_version), e.g.
	// v23.0; empty for HubSpot, whose paths carry their own.
	Version string
	// Token is the access token (access_token): for Meta a Page or system
	// user token with leads_retrieval, sent as Graph documents it, in the
	// access_token query parameter; for HubSpot a private app's token, sent
	// as a bearer token. Never in a log or an error.
	Token Secret
}

// Default API settings.
const (
	DefaultGraphURL     = "https://graph.facebook.com"
	DefaultGraphVersion = "v23.0"
	DefaultHubSpotURL   = "https://api.hubapi.com"
)

// graphVersion is what a Graph API version looks like.
var graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// Expose returns the secret itself, for the one caller that must send it:
// the worker's request to the platform's API. Everything else keeps it
// redacted.
func (s Secret) Expose() string { return string(s.b) }

// Set reports whether the secret was configured.
func (s Secret) Set() bool { return len(s.b) > 0 }

// decodeAPI reads the API settings of the kinds that fetch thin leads:
// meta-leadgen (access_token required, graph_url, graph_version) and
// hubspot-v3 (access_token, needed only for Webhooks-API subscriptions, and
// api_url). Errors start with the key at fault.
func (s *Source) decodeAPI(values map[string]*yaml.Node, resolve func(string) (string, error)) []error {
	var errs []error
	fail := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	text := func(key string) string {
		v := values[key]
		if v == nil {
			return ""
		}
		t, ok := yamlnode.String(v)
		if !ok || t == "" {
			fail(key, "must be a string")
		}
		return t
	}
	var base, baseKey string
	switch s.Kind {
	case KindMetaLeadgen:
		base, baseKey = text("graph_url"), "graph_url"
		if base == "" {
			base = DefaultGraphURL
		}
		s.API.Version = DefaultGraphVersion
		if v := text("graph_version"); v != "" {
			if !graphVersion.MatchString(v) {
				fail("graph_version", "%q is not a Graph API version such as %s", v, DefaultGraphVersion)
			}
			s.API.Version = v
		}
	case KindHubSpotV3:
		base, baseKey = text("api_url"), "api_url"
		if base == "" {
			base = DefaultHubSpotURL
		}
	default:
		return nil
	}
	if err := checkBaseURL(base); err != nil {
		fail(baseKey, "%v", err)
	}
	s.API.BaseURL = strings.TrimRight(base, "/")

	switch n := values["access_token"]; {
	case n == nil && s.Kind == KindMetaLeadgen:
		fail("access_token", "missing: a Page (or system user) access token with leads_retrieval, as env:NAME or file:/path; the leads are read with it from the Graph API")
	case n == nil:
	case n.Kind == yaml.SequenceNode:
		fail("access_token", `must be one "env:NAME" or "file:/path", not a list`)
	default:
		tok, serrs := secrets(n, resolve, "access_token", "", 0)
		errs = append(errs, serrs...)
		if len(tok) == 1 {
			s.API.Token = tok[0]
		}
	}
	return errs
}

// checkBaseURL accepts an https URL with no query or fragment, or an http
// one on a loopback host (a token must not cross a network in clear text).
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not a base URL such as https://host", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || net.ParseIP(h).IsLoopback() {
			return nil
		}
	}
	return errors.New("must be https (plain http only on a loopback address, for a local stand-in)")
}

// FetchProperties lists the HubSpot properties the source's mapping reads
// (properties.<name>…), in order and once each, for the CRM API's
// properties parameter: HubSpot returns only a few properties unless asked.
func (s *Source) FetchProperties() []string {
	var out []string
	names := make([]string, 0, len(s.Fields))
	for n := range s.Fields {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, alt := range s.Fields[n].alts {
			if len(alt) >= 2 && alt[0].kind == stepKey && alt[0].key == "properties" && alt[1].kind == stepKey {
				if !slices.Contains(out, alt[1].key) {
					out = append(out, alt[1].key)
				}
			}
		}
	}
	return out
}
