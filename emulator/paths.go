package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

// preferences parses every Prefer header. Values may be comma-separated, and
// a quoted value (odata.include-annotations="a,b") may itself hold commas.
func preferences(h http.Header) map[string]string {
	out := map[string]string{}
	for _, line := range h.Values("Prefer") {
		for _, item := range splitOutside(line, ',', '"') {
			name, val, _ := strings.Cut(strings.TrimSpace(item), "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" {
				out[name] = strings.Trim(strings.TrimSpace(val), `"`)
			}
		}
	}
	return out
}

// splitOutside splits s at sep, except inside quote-delimited runs.
func splitOutside(s string, sep, quote byte) []string {
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case quote:
			quoted = !quoted
		case sep:
			if !quoted {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// resourcePath is a parsed Web API path relative to the service root.
type resourcePath struct {
	set    string // entity set, "" for the service document
	key    string // raw text between the parentheses, "" if none
	hasKey bool
	rest   string // what follows "set(key)/" or "set/" ("$count", a column)
}

// msgSyntax is Dataverse's answer to a URI it cannot parse.
const msgSyntax = "Bad Request - Error in query syntax."

// parsePath splits "leads(emailaddress1='a/b')/subject" without being
// fooled by slashes or parentheses inside quoted key values.
func parsePath(p string) (resourcePath, bool) {
	var rp resourcePath
	i := strings.IndexAny(p, "(/")
	if i < 0 {
		rp.set = p
		return rp, true
	}
	rp.set = p[:i]
	if p[i] == '/' {
		rp.rest = p[i+1:]
		return rp, true
	}
	quoted := false
	for j := i + 1; j < len(p); j++ {
		switch {
		case p[j] == '\'':
			quoted = !quoted // '' inside a literal toggles twice
		case p[j] == ')' && !quoted:
			rp.key, rp.hasKey = p[i+1:j], true
			rest := p[j+1:]
			if rest != "" && !strings.HasPrefix(rest, "/") {
				return rp, false
			}
			rp.rest = strings.TrimPrefix(rest, "/")
			return rp, true
		}
	}
	return rp, false
}

// entityKey is a parsed key segment: a primary key, or alternate key values.
type entityKey struct {
	id  string         // primary key, lower case
	alt map[string]any // alternate key column → value
}

// parseKey reads "guid", "leadid=guid" or "col='v',col2=5".
func parseKey(t *tableSchema, raw string) (entityKey, *result) {
	// Built only on failure: keyed reads are the hot path.
	syntax := func() *result { return badRequest(codeQuery, msgSyntax) }
	parts := splitOutside(raw, ',', '\'')
	if len(parts) == 1 && !strings.Contains(parts[0], "=") {
		if !odata.IsGUID(parts[0]) {
			return entityKey{}, syntax()
		}
		return entityKey{id: strings.ToLower(parts[0])}, nil
	}
	vals := map[string]any{}
	for _, p := range parts {
		name, lit, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return entityKey{}, syntax()
		}
		v, err := odata.ParseKeyValue(strings.TrimSpace(lit))
		if err != nil {
			return entityKey{}, syntax()
		}
		if _, dup := vals[name]; dup {
			return entityKey{}, syntax()
		}
		vals[name] = v
	}
	if len(vals) == 1 {
		if v, ok := vals[t.pk].(string); ok {
			if !odata.IsGUID(v) {
				return entityKey{}, syntax()
			}
			return entityKey{id: strings.ToLower(v)}, nil
		}
	}
	return entityKey{alt: vals}, nil
}

// odataEscape percent-encodes a query value the way Dataverse's own links
// do: spaces as %20, never '+'.
func odataEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// decodeObject reads a JSON object body. Numbers arrive as float64, which is
// what the filter and the schema checks expect.
func decodeObject(set string, body []byte) (map[string]any, *result) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		msg := "the request body is not a JSON object"
		if err != nil {
			msg = err.Error()
		}
		return nil, badRequest(codePayload, fmt.Sprintf("Error identified in Payload provided by the user for Entity :'%s'. Invalid JSON: %s.", set, msg))
	}
	return m, nil
}
