package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/internal/yamlnode"

	"go.yaml.in/yaml/v3"
)

// sourceID is what a source id may be: it is a path segment of
// /hooks/{source}.
var sourceID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// headerName is what a configured header name may be.
var headerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// commonSettings are the YAML keys every kind takes.
var commonSettings = []string{"kind", "secret", "form", "fields", "events", "rate_limit"}

// LoadSources reads the sources section of the YAML file. n is the value of
// the sources key: a mapping of source id to settings (nil, or a null node,
// means no sources). resolve turns a secret reference into the secret and
// must refuse a secret written in clear text (config.ResolveSecret, bound to
// the environment, does both). formIDs are the forms a source may name.
//
// Decoding is strict: an unknown key, a key the kind does not take, a secret
// that is not a reference, a path that does not parse or an unknown form is
// an error. Every error starts with its YAML path, e.g.
// "sources.hubspot-workflow.secret[1]: environment variable X is empty"; all
// of them are returned, joined, and no sources with them.
//
// The settings of a source:
//
//	kind:             one of the Kind constants (required)
//	secret:           env:NAME or file:/path, or a list of them (required)
//	form:             the form the leads go through (required)
//	fields:           {form_field: path}; the kind's defaults when left out
//	events:           [event types that carry a lead]; the kind's defaults when left out
//	verify_token:     meta-leadgen: env:/file: reference(s) for hub.verify_token (required)
//	header:           generic-hmac: signature header (required); token and
//	                  unbounce: header holding the token
//	prefix:           generic-hmac: text before the signature
//	encoding:         generic-hmac: hex (default) or base64
//	timestamp_header: generic-hmac: sign "<timestamp>.<body>", ±5 minutes
//	id_header:        generic-hmac, token: header with the delivery id
//	username:         token: HTTP Basic user name (the secret is the password)
//	access_token:     meta-leadgen (required), hubspot-v3: env:/file: reference of
//	                  the token the worker reads thin leads with (see API)
//	graph_url:        meta-leadgen: Graph API base URL (https://graph.facebook.com)
//	graph_version:    meta-leadgen: Graph API version (v23.0)
//	api_url:          hubspot-v3: CRM API base URL (https://api.hubapi.com)
func LoadSources(n *yaml.Node, resolve func(ref string) (string, error), formIDs []string) (map[string]*Source, error) {
	n = yamlnode.Deref(n)
	if n == nil || n.Tag == "!!null" {
		return map[string]*Source{}, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("sources: must be a mapping of source id to settings")
	}
	sources := map[string]*Source{}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		id := n.Content[i].Value
		if !sourceID.MatchString(id) {
			errs = append(errs, fmt.Errorf("sources.%s: a source id is lower-case letters, digits, - and _ (it is part of the URL /hooks/{source})", id))
			continue
		}
		if _, dup := sources[id]; dup {
			errs = append(errs, fmt.Errorf("sources.%s: line %d: defined twice", id, n.Content[i].Line))
			continue
		}
		s, serrs := decodeSource(id, yamlnode.Deref(n.Content[i+1]), resolve, formIDs)
		for _, e := range serrs {
			errs = append(errs, fmt.Errorf("sources.%s.%v", id, e))
		}
		if len(serrs) == 0 {
			sources[id] = s
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sources, nil
}

// decodeSource reads one source's settings. Its errors start with the key at
// fault ("secret[1]: …"); the caller prefixes "sources.<id>.".
func decodeSource(id string, n *yaml.Node, resolve func(string) (string, error), formIDs []string) (*Source, []error) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, []error{errors.New("kind: a source is a mapping of settings with at least kind, secret and form")}
	}
	var errs []error
	fail := func(key string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	values := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if _, dup := values[k.Value]; dup {
			fail(k.Value, "line %d: given twice", k.Line)
			continue
		}
		values[k.Value] = yamlnode.Deref(n.Content[i+1])
	}

	s := &Source{ID: id}
	kind, ok := yamlnode.String(values["kind"])
	info, known := kinds[Kind(kind)]
	switch {
	case values["kind"] == nil:
		fail("kind", "missing (one of %s)", strings.Join(kindNames(), ", "))
		return nil, errs
	case !ok || !known:
		fail("kind", "unknown kind %q (want one of %s)", kind, strings.Join(kindNames(), ", "))
		return nil, errs
	}
	s.Kind = Kind(kind)

	// Keys first, in file order, so that a misspelt key is reported even
	// when other settings are wrong too.
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		switch {
		case slices.Contains(commonSettings, k.Value), slices.Contains(info.settings, k.Value):
		case slices.Contains(allSettings(), k.Value):
			fail(k.Value, "line %d: not a setting of kind %s", k.Line, kind)
		default:
			fail(k.Value, "line %d: unknown setting (a source takes %s)", k.Line, strings.Join(settingsOf(info), ", "))
		}
	}

	var serrs []error
	s.Secrets, serrs = secrets(values["secret"], resolve, "secret", s.Kind, info.minSecret)
	errs = append(errs, serrs...)
	if values["secret"] == nil {
		fail("secret", "missing: env:NAME, file:/path or a list of them")
	}

	switch f, ok := yamlnode.String(values["form"]); {
	case values["form"] == nil:
		fail("form", "missing: the form whose fields and delivery settings the leads use")
	case !ok || f == "":
		fail("form", "must be a form id")
	case !slices.Contains(formIDs, f):
		fail("form", "no form %q", f)
	default:
		s.Form = f
	}

	errs = append(errs, s.decodeFields(values["fields"], info)...)

	s.Events = info.events
	if v := values["events"]; v != nil {
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			fail("events", "must be a list of event types")
		} else {
			s.Events = nil
			for i, e := range v.Content {
				if t, ok := yamlnode.String(yamlnode.Deref(e)); ok && t != "" {
					s.Events = append(s.Events, t)
				} else {
					fail(fmt.Sprintf("events[%d]", i), "must be an event type")
				}
			}
		}
	}

	if v := values["rate_limit"]; v != nil {
		t, ok := yamlnode.String(v)
		r, err := flood.ParseRate(t)
		switch {
		case !ok:
			fail("rate_limit", "must be a rate like 600/minute")
		case err != nil:
			fail("rate_limit", "%v", err)
		default:
			s.RateLimit = r
		}
	}

	str := func(key string) string {
		v := values[key]
		if v == nil || !slices.Contains(info.settings, key) {
			return ""
		}
		t, ok := yamlnode.String(v)
		if !ok {
			fail(key, "must be a string")
		}
		return t
	}
	header := func(key string) string {
		h := str(key)
		if h != "" && !headerName.MatchString(h) {
			fail(key, "%q is not a header name", h)
		}
		return h
	}
	s.Header = header("header")
	s.Prefix = str("prefix")
	s.Encoding = str("encoding")
	s.TimestampHeader = header("timestamp_header")
	s.IDHeader = header("id_header")
	s.Username = str("username")

	switch s.Kind {
	case KindGenericHMAC:
		if s.Header == "" {
			fail("header", "missing: the header that carries the signature, e.g. X-Hub-Signature-256")
		}
		switch s.Encoding {
		case "":
			s.Encoding = "hex"
		case "hex", "base64":
		default:
			fail("encoding", "must be hex or base64")
		}
	case KindToken:
		if s.Header != "" && s.Username != "" {
			fail("username", "a token source uses either a header or HTTP Basic (username), not both")
		}
	case KindMetaLeadgen:
		if values["verify_token"] == nil {
			fail("verify_token", "missing: the token typed in the App Dashboard, as env:NAME or file:/path")
		} else {
			s.VerifyTokens, serrs = secrets(values["verify_token"], resolve, "verify_token", "", 0)
			errs = append(errs, serrs...)
		}
	}
	errs = append(errs, s.decodeAPI(values, resolve)...)
	return s, errs
}

// allSettings are the keys any kind takes.
func allSettings() []string {
	var all []string
	for _, info := range kinds {
		all = append(all, info.settings...)
	}
	return all
}

func settingsOf(info kindInfo) []string {
	return append(slices.Clone(commonSettings), info.settings...)
}

// secrets resolves a secret setting: one reference or a list of them. For
// standard-webhooks and svix the secret is a whsec_ key and is decoded here,
// so a mistyped one fails at start-up rather than at the first delivery.
func secrets(n *yaml.Node, resolve func(string) (string, error), key string, kind Kind, min int) ([]Secret, []error) {
	if n == nil {
		return nil, nil
	}
	refs := []*yaml.Node{n}
	list := n.Kind == yaml.SequenceNode
	if list {
		refs = n.Content
		if len(refs) == 0 {
			return nil, []error{fmt.Errorf("%s: an empty list", key)}
		}
	}
	var out []Secret
	var errs []error
	for i, r := range refs {
		at := key
		if list {
			at = fmt.Sprintf("%s[%d]", key, i)
		}
		ref, ok := yamlnode.String(yamlnode.Deref(r))
		if !ok {
			errs = append(errs, fmt.Errorf(`%s: must be "env:NAME", "file:/path" or a list of them`, at))
			continue
		}
		v, err := resolve(ref)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", at, err))
			continue
		}
		b, err := secretBytes(v, kind, min)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", at, err))
			continue
		}
		out = append(out, Secret{b: b})
	}
	return out, errs
}

// secretBytes checks a resolved secret and returns its key bytes. Its errors
// never quote the secret.
func secretBytes(v string, kind Kind, min int) ([]byte, error) {
	if v == "" {
		return nil, errors.New("the secret is empty")
	}
	if kind == KindStandardWebhooks || kind == KindSvix {
		// whsec_ + base64 of the key; the prefix is optional and Python's
		// reference library accepts missing padding, so both are too.
		b, err := decodeBase64(strings.TrimPrefix(v, "whsec_"))
		if err != nil || len(b) == 0 {
			return nil, errors.New("not a whsec_ secret (whsec_ followed by base64)")
		}
		return b, nil
	}
	if len(v) < min {
		return nil, fmt.Errorf("the secret has %d characters; this kind sends it as it is, so it must have at least %d to be unguessable", len(v), min)
	}
	return []byte(v), nil
}

// decodeBase64 reads standard base64 with or without padding.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// decodeFields reads the fields mapping, or takes the kind's defaults when
// there is none: configured fields replace the defaults entirely, so no
// mapping the file does not show is applied.
func (s *Source) decodeFields(n *yaml.Node, info kindInfo) []error {
	type field struct{ name, path string }
	var fields []field
	if n == nil {
		for name, p := range info.fields {
			fields = append(fields, field{name, p})
		}
	} else {
		if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
			return []error{errors.New("fields: must map form field names to paths (leave fields out for the kind's defaults)")}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			fields = append(fields, field{n.Content[i].Value, ""})
			if p, ok := yamlnode.String(yamlnode.Deref(n.Content[i+1])); ok {
				fields[len(fields)-1].path = p
			}
		}
	}
	s.Fields = make(map[string]Path, len(fields))
	var errs []error
	for _, f := range fields {
		if _, dup := s.Fields[f.name]; dup {
			errs = append(errs, fmt.Errorf("fields.%s: given twice", f.name))
			continue
		}
		if f.path == "" {
			errs = append(errs, fmt.Errorf("fields.%s: must be a path such as data.email", f.name))
			continue
		}
		p, err := ParsePath(f.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("fields.%s: %v", f.name, err))
			continue
		}
		s.Fields[f.name] = p
	}
	return errs
}
