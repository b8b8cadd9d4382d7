package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Dataverse error codes and messages (reference §1, §3, §5, §7). Messages
// with numbers or names in them are built by the functions below.
const (
	codeNotFound             = "0x80040217"
	codeKeyNotFound          = "0x80048d02"
	codeDuplicateRecord      = "0x80040237"
	codeDuplicateKey         = "0x80060892"
	codeDuplicateDetected    = "0x80040333"
	codeVersionMismatch      = "0x80060882"
	codeLength               = "0x80044331"
	codePicklist             = "0x8004431A"
	codeInvalidArgument      = "0x80040203"
	codePayload              = "0x80048d19"
	codeQuery                = "0x80060888"
	codeTokenExpired         = "0x8005F101"
	codeThrottleRequests     = "0x80072322"
	codeThrottleExecution    = "0x80072321"
	codeThrottleConcurrency  = "0x80072326"
	codeIntegerOutOfRange    = "0x8004432F"
	codeUnexpected           = "0x80040216"
	msgRecordExists          = "A record with matching key values already exists."
	msgVersionMismatch       = "The version of the existing record doesn't match the RowVersion property provided."
	msgDuplicateDetected     = "A record was not created or updated because a duplicate of the current record already exists."
	msgAuthRequired          = "The requested resource requires authentication."
	contentTypeJSON          = "application/json; odata.metadata=minimal"
	contentTypeJSONStreaming = "application/json; odata.metadata=minimal; odata.streaming=true"
)

func msgNotFound(t *tableSchema, id string) string {
	return fmt.Sprintf("%s With Id = %s Does Not Exist", t.logical, id)
}

func msgKeyNotFound(t *tableSchema) string {
	return fmt.Sprintf("A record with the specified key values does not exist in %s entity", t.logical)
}

func msgKeyNotValid(t *tableSchema) string {
	return fmt.Sprintf("The key in the request URI is not valid for resource '%[1]s'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource '%[1]s'.", t.typeName())
}

func msgUnknownProperty(t *tableSchema, prop string) string {
	return fmt.Sprintf("The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type.", prop, t.typeName())
}

func msgTooLong(t *tableSchema, c *column) string {
	// The doc's example has two spaces after the first sentence.
	return fmt.Sprintf("A validation error occurred.  The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", c.name, t.logical, c.maxLen)
}

func msgBadChoice(t *tableSchema, c *column, v float64) string {
	vals := make([]string, len(c.choices))
	for i, n := range c.choices {
		vals[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf("A validation error occurred. The value %s of '%s' on record of type '%s' is outside the valid range. Accepted Values: %s",
		strconv.FormatFloat(v, 'f', -1, 64), c.name, t.logical, strings.Join(vals, ","))
}

func msgDuplicateKey(cols []string) string {
	return fmt.Sprintf("Entity Key %s violated. A record with the same value for %s already exists. A duplicate record cannot be created. Select one or more unique values and try again.",
		strings.Join(cols, ","), strings.Join(cols, ", "))
}

// result is a Web API response before it is written: plain values, so that
// $batch can embed it in a multipart body as easily as the router writes it.
type result struct {
	status int
	header http.Header
	body   []byte
	// entityURI is the row a successful create or update wrote, for $N
	// references in a $batch change set.
	entityURI string
}

// setRaw sets a header under exactly Dataverse's spelling. Go's canonical
// form would turn OData-EntityId into Odata-Entityid on HTTP/1.1; header
// names are case-insensitive, but a faithful emulator should not rely on
// every client knowing that.
func setRaw(h http.Header, name, value string) {
	delete(h, textproto.CanonicalMIMEHeaderKey(name))
	h[name] = []string{value}
}

// getRaw reads a header set by setRaw (or canonically).
func getRaw(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return h.Get(name)
}

func (r *result) failed() bool { return r.status >= 400 }

func newResult(status int) *result { return &result{status: status, header: http.Header{}} }

func jsonResult(status int, v any) *result {
	r := newResult(status)
	r.header.Set("Content-Type", contentTypeJSON)
	r.body = mustJSON(v)
	return r
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is the §5 envelope, the one shape every Web API failure takes.
func apiError(status int, code, msg string) *result {
	return jsonResult(status, errorBody{Error: errorDetail{Code: code, Message: msg}})
}

func badRequest(code, msg string) *result { return apiError(http.StatusBadRequest, code, msg) }

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

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidPattern.MatchString(s) }

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
		if !isGUID(parts[0]) {
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
		v, err := parseKeyLiteral(strings.TrimSpace(lit))
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
			if !isGUID(v) {
				return entityKey{}, syntax()
			}
			return entityKey{id: strings.ToLower(v)}, nil
		}
	}
	return entityKey{alt: vals}, nil
}

func parseKeyLiteral(lit string) (any, error) {
	switch {
	case strings.HasPrefix(lit, "'"):
		if len(lit) < 2 || !strings.HasSuffix(lit, "'") {
			return nil, fmt.Errorf("unterminated literal")
		}
		inner := lit[1 : len(lit)-1]
		if strings.Count(inner, "'")%2 != 0 {
			return nil, fmt.Errorf("unescaped quote")
		}
		return strings.ReplaceAll(inner, "''", "'"), nil
	case isGUID(lit):
		return strings.ToLower(lit), nil
	case lit == "true" || lit == "false":
		return lit == "true", nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, err
	}
	return f, nil
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
