package emulator

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

// apiPrefix is where the Web API lives; the emulator serves only v9.2.
const apiPrefix = "/api/data/v9.2/"

// maxPageSize is both the default page size and the cap on
// odata.maxpagesize and on @odata.count (reference §4).
const maxPageSize = 5000

// apiRequest is one Web API operation, from the wire or from a $batch part.
type apiRequest struct {
	method   string
	path     string // decoded, relative to the service root: "leads(…)"
	rawQuery string
	header   http.Header
	body     []byte
	root     string // absolute service root, ending in "/"
	cfg      Config
	now      time.Time
}

// operation executes one request against the store. The caller holds
// st.mu; every mutation goes through tx so that a change set can undo it.
type operation struct {
	s   *Server
	tx  *txn
	req *apiRequest
	// children caches collection-valued expansions for the request.
	children map[*oneToMany]map[string][]*record
	prefs    map[string]string // parsed Prefer headers, nil until asked
}

// preferences returns the request's Prefer values, parsed once.
func (op *operation) preferences() map[string]string {
	if op.prefs == nil {
		op.prefs = noPreferences
		if len(op.req.header["Prefer"]) > 0 {
			op.prefs = preferences(op.req.header)
		}
	}
	return op.prefs
}

// noPreferences stands for a request without Prefer; it is never written.
var noPreferences = map[string]string{}

// annotations returns the annotations the request asks for and the raw
// preference to echo.
func (op *operation) annotations() (annotations, string) {
	return annotationPreference(op.preferences())
}

func (s *Server) execute(tx *txn, req *apiRequest) *result {
	op := &operation{s: s, tx: tx, req: req}
	return op.run()
}

func (op *operation) run() *result {
	req := op.req
	switch strings.TrimSuffix(req.path, "()") {
	case "":
		if req.method != http.MethodGet {
			return methodNotAllowed(req.method)
		}
		return op.serviceDocument()
	case "WhoAmI":
		if req.method != http.MethodGet {
			// A function answers only GET; OData's routing finds nothing
			// else, as "Troubleshoot Dataverse Web API client errors" shows.
			return apiError(http.StatusNotFound, "", fmt.Sprintf("No HTTP resource was found that matches the request URI '%s'.", req.root+req.path))
		}
		return op.whoAmI()
	case "$batch":
		return badRequest(codeQuery, "A batch request cannot contain another batch request.")
	case "$metadata":
		if req.method != http.MethodGet {
			return methodNotAllowed(req.method)
		}
		return op.csdl()
	}
	rp, ok := parsePath(req.path)
	if !ok {
		return badRequest(codeQuery, msgSyntax)
	}
	query := url.Values{}
	if qerr := parseQueryString(query, req.rawQuery); qerr != nil {
		return badRequest(codeQuery, "The query string is malformed: "+qerr.Error())
	}
	if rp.set == entityDefinitionsSet {
		return op.entityDefinitions(rp, query)
	}
	t := op.s.store.tables[rp.set]
	if t == nil {
		return apiError(http.StatusNotFound, codeQuery, fmt.Sprintf("Resource not found for the segment '%s'.", rp.set))
	}
	if t.schema.apiReadOnly && canWrite(req.method) {
		return msgNotSupported(messageFor(req.method, rp), t.schema)
	}
	if !rp.hasKey {
		switch {
		case rp.rest == "$count" && req.method == http.MethodGet:
			return op.count(t, query)
		case bulkMessages[rp.rest] != "":
			if req.method != http.MethodPost {
				return methodNotAllowed(req.method)
			}
			return op.bulk(t, bulkMessages[rp.rest])
		case rp.rest != "":
			return apiError(http.StatusNotFound, codeQuery, fmt.Sprintf("Resource not found for the segment '%s'.", rp.rest))
		case req.method == http.MethodGet:
			return op.list(t, query, t.schema.set, nil)
		case req.method == http.MethodPost:
			return op.create(t, query)
		}
		return methodNotAllowed(req.method)
	}
	key, res := parseKey(t.schema, rp.key)
	if res != nil {
		return res
	}
	if key.alt != nil && !sameColumns(t.keyCols, key.alt) {
		return badRequest(codeQuery, msgKeyNotValid(t.schema))
	}
	if rp.rest != "" {
		if res := op.navigation(t, key, rp.rest, query); res != nil {
			return res
		}
		return op.property(t, key, rp.rest)
	}
	switch req.method {
	case http.MethodGet:
		return op.retrieve(t, key, query)
	case http.MethodPatch:
		return op.upsert(t, key, query)
	case http.MethodDelete:
		return op.delete(t, key)
	}
	return methodNotAllowed(req.method)
}

func methodNotAllowed(m string) *result {
	return apiError(http.StatusMethodNotAllowed, codeQuery, fmt.Sprintf("The requested resource does not support http method '%s'.", m))
}

func sameColumns(keyCols []string, vals map[string]any) bool {
	if len(keyCols) == 0 || len(keyCols) != len(vals) {
		return false
	}
	for _, c := range keyCols {
		if _, ok := vals[c]; !ok {
			return false
		}
	}
	return true
}

func (op *operation) serviceDocument() *result {
	type entry struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
		URL  string `json:"url"`
	}
	var v []entry
	for _, set := range tableSets() {
		v = append(v, entry{Name: set, Kind: "EntitySet", URL: set})
	}
	return jsonResult(http.StatusOK, struct {
		Context string  `json:"@odata.context"`
		Value   []entry `json:"value"`
	}{op.req.root + "$metadata", v})
}

func (op *operation) whoAmI() *result {
	return jsonResult(http.StatusOK, struct {
		Context        string `json:"@odata.context"`
		BusinessUnitID string `json:"BusinessUnitId"`
		UserID         string `json:"UserId"`
		OrganizationID string `json:"OrganizationId"`
	}{op.req.root + "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", op.s.ids.businessUnit, op.s.ids.user, op.s.ids.organization})
}

// find resolves a key to a row, or the 404 Dataverse gives for it.
func (op *operation) find(t *table, key entityKey) (*record, *result) {
	if key.alt != nil {
		if r := t.byKey(key.alt); r != nil {
			return r, nil
		}
		return nil, apiError(http.StatusNotFound, codeKeyNotFound, msgKeyNotFound(t.schema))
	}
	if r := t.get(key.id); r != nil {
		return r, nil
	}
	return nil, apiError(http.StatusNotFound, codeNotFound, msgNotFound(t.schema, key.id))
}

// ---- reads -------------------------------------------------------------

// queryOptions are the parsed system query options of a GET.
type queryOptions struct {
	sel     []string // nil: all columns
	filter  rowMatcher
	orderBy []odata.OrderTerm
	top     int // -1: none
	count   bool
	expand  []*expandItem
}

// listOptions are the query options a collection GET understands.
var listOptions = []string{"$select", "$filter", "$top", "$orderby", "$count", "$skiptoken", "$expand"}

// parseQueryOptions reads the system query options, refusing any that the
// operation does not take ($skip, for one, Dataverse never supports).
func parseQueryOptions(t *tableSchema, q url.Values, allowed ...string) (queryOptions, *result) {
	return parseOptions(t, q, allowed, &expandState{})
}

// parseOptions reads query options at any depth of $expand.
func parseOptions(t *tableSchema, q url.Values, allowed []string, st *expandState) (queryOptions, *result) {
	o := queryOptions{top: -1}
	for name := range q {
		if !strings.HasPrefix(name, "$") {
			continue // parameter aliases and tag/partitionid
		}
		if !slices.Contains(allowed, name) {
			return o, badRequest(codeQuery, fmt.Sprintf("The query parameter %s is not supported", name))
		}
	}
	if v := q.Get("$select"); v != "" {
		o.sel = odata.ParseSelect(v)
		for _, c := range o.sel {
			if t.cols[c] == nil {
				return o, badRequest(codeQuery, msgNoProperty(t, c))
			}
		}
	}
	if v := q.Get("$filter"); v != "" {
		f, err := odata.ParseFilterTyped(v, aliases(q), t.numberType)
		if err != nil {
			return o, queryErrorResult(err)
		}
		for _, c := range f.Columns() {
			if t.cols[c] != nil || t.paths[c] {
				continue
			}
			if nav, _, isPath := strings.Cut(c, "/"); isPath {
				return o, badRequest(codeQuery, fmt.Sprintf("The emulator does not support navigation paths such as '%s/...' in $filter.", nav))
			}
			return o, badRequest(codeQuery, msgNoProperty(t, c))
		}
		o.filter = f
	}
	if v := q.Get("$orderby"); v != "" {
		terms, err := odata.ParseOrderBy(v)
		if err != nil {
			return o, queryErrorResult(err)
		}
		for _, term := range terms {
			if t.cols[term.Column] == nil {
				return o, badRequest(codeQuery, msgNoProperty(t, term.Column))
			}
		}
		o.orderBy = terms
	}
	if v, ok := q["$top"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return o, badRequest(codeQuery, fmt.Sprintf("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer value.", v[0]))
		}
		o.top = n
	}
	if v, ok := q["$count"]; ok {
		switch v[0] {
		case "true":
			o.count = true
		case "false":
		default:
			return o, badRequest(codeQuery, fmt.Sprintf("'%s' is not a valid count option.", v[0]))
		}
	}
	if v := q.Get("$expand"); v != "" {
		items, res := parseExpand(t, v, st)
		if res != nil {
			return o, res
		}
		o.expand = items
	}
	return o, nil
}

// parseQueryString splits a raw query at "&" only, into q. url.ParseQuery
// would refuse the ";" that separates options nested in $expand
// (parentcontactid($select=fullname;$expand=…)).
func parseQueryString(q url.Values, raw string) error {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return err
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return err
		}
		q[k] = append(q[k], v)
	}
	return nil
}

// aliases looks parameter aliases ("@p1") up in a query string.
func aliases(q url.Values) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := q[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
}

func queryErrorResult(err error) *result {
	var qe *odata.Error
	if errors.As(err, &qe) {
		return badRequest(codeQuery, qe.Message)
	}
	return badRequest(codeQuery, err.Error())
}

// matching returns the rows passing the filter, in $orderby order (creation
// order otherwise).
func matching(t *table, o queryOptions) []*record {
	var recs []*record
	if cands, ok := t.candidates(o.filter); ok {
		for _, r := range cands {
			if o.filter.Match(r.cols) {
				recs = append(recs, r)
			}
		}
	} else {
		t.scan(func(r *record) bool {
			if o.filter == nil || o.filter.Match(r.cols) {
				recs = append(recs, r)
			}
			return true
		})
	}
	sortRecords(recs, o.orderBy)
	return recs
}

// sortRecords orders rows by terms, keeping the order of rows that tie.
// Nulls come first in ascending order, as in SQL Server.
func sortRecords(recs []*record, terms []odata.OrderTerm) {
	odata.SortBy(recs, func(r *record) map[string]any { return r.cols }, terms)
}

// list serves a collection: an entity set, or (with scope) the rows a
// collection-valued navigation property of one row names. path is the
// collection's path, for @odata.nextLink.
func (op *operation) list(t *table, q url.Values, path string, scope rowMatcher) *result {
	o, res := parseQueryOptions(t.schema, q, listOptions...)
	if res != nil {
		return res
	}
	if scope != nil {
		o.filter = allOf{scope, o.filter}
	}
	recs := matching(t, o)
	total := len(recs)

	prefs := op.preferences()
	pageSize, paged := 0, false
	if v, ok := prefs["odata.maxpagesize"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badRequest(codeQuery, fmt.Sprintf("The value '%s' of odata.maxpagesize is not a positive integer.", v))
		}
		pageSize, paged = min(n, maxPageSize), true
	}
	start := 0
	if tok := q.Get("$skiptoken"); tok != "" {
		page, ok := skipTokenPage(tok)
		if !ok {
			return badRequest(codeQuery, "The $skiptoken value is not valid.")
		}
		size := pageSize
		if !paged {
			size = maxPageSize
		}
		start = min((page-1)*size, len(recs))
	}
	recs = recs[start:]

	var next string
	switch {
	case paged: // $top is ignored when both are sent
	case o.top >= 0 && o.top <= maxPageSize:
		pageSize = o.top
	default:
		pageSize = maxPageSize
	}
	if len(recs) > pageSize {
		recs = recs[:pageSize]
		if paged || o.top < 0 {
			next = op.nextLink(path, start/max(pageSize, 1)+2)
		}
	}

	ann, annRaw := op.annotations()
	body := collectionBody{Context: op.req.root + "$metadata#" + t.schema.set + contextSelect(o.sel, o.expand)}
	if o.count {
		n := min(total, maxPageSize)
		body.Count = &n
	}
	// Without $count Dataverse does not count: -1 (reference §4).
	if ann.has(annTotalRecordCount) {
		n := -1
		if o.count {
			n = min(total, maxPageSize)
		}
		body.TotalRecordCount = &n
	}
	if ann.has(annTotalCountExceeded) {
		exceeded := o.count && total > maxPageSize
		body.TotalCountExceeded = &exceeded
	}
	body.Value = make([]map[string]any, len(recs))
	for i, r := range recs {
		body.Value[i] = op.render(t.schema, r, o.sel, o.expand, ann, true)
	}
	body.NextLink = next
	res = jsonResult(http.StatusOK, body)
	if paged {
		res.header.Add("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(pageSize))
	}
	addAnnotationPreference(res.header, annRaw)
	return res
}

// rowMatcher decides which rows a collection holds: a parsed $filter, the
// rows a navigation property names (refersTo), or both (allOf).
type rowMatcher interface{ Match(row map[string]any) bool }

// allOf matches rows that every non-nil matcher matches.
type allOf []rowMatcher

func (fs allOf) Match(row map[string]any) bool {
	for _, f := range fs {
		if f != nil && !f.Match(row) {
			return false
		}
	}
	return true
}

// collectionBody keeps the members in Dataverse's order.
type collectionBody struct {
	Context            string           `json:"@odata.context"`
	Count              *int             `json:"@odata.count,omitempty"`
	TotalRecordCount   *int             `json:"@Microsoft.Dynamics.CRM.totalrecordcount,omitempty"`
	TotalCountExceeded *bool            `json:"@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded,omitempty"`
	Value              []map[string]any `json:"value"`
	NextLink           string           `json:"@odata.nextLink,omitempty"`
}

// nextLink repeats the request's query with a paging cookie in the shape
// Dataverse uses. Only pagenumber matters to the emulator; clients must
// send the same odata.maxpagesize with every page, as Dataverse asks.
func (op *operation) nextLink(path string, page int) string {
	var kept []string
	for _, p := range strings.Split(op.req.rawQuery, "&") {
		name, _, _ := strings.Cut(p, "=")
		if name == "" || name == "$skiptoken" || strings.EqualFold(name, "%24skiptoken") {
			continue
		}
		kept = append(kept, p)
	}
	cookie := fmt.Sprintf(`<cookie pagenumber="%d" pagingcookie="%s" istracking="False" />`, page,
		odataEscape(odataEscape(fmt.Sprintf(`<cookie page="%d"></cookie>`, page-1))))
	kept = append(kept, "$skiptoken="+odataEscape(cookie))
	return op.req.root + path + "?" + strings.Join(kept, "&")
}

func skipTokenPage(tok string) (int, bool) {
	_, rest, ok := strings.Cut(tok, `pagenumber="`)
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, `"`)
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

func (op *operation) count(t *table, q url.Values) *result {
	o, res := parseQueryOptions(t.schema, q, "$filter")
	if res != nil {
		return res
	}
	n := min(len(matching(t, o)), maxPageSize)
	r := newResult(http.StatusOK)
	r.header.Set("Content-Type", "text/plain")
	r.body = []byte(strconv.Itoa(n))
	return r
}

func (op *operation) retrieve(t *table, key entityKey, q url.Values) *result {
	o, res := parseQueryOptions(t.schema, q, "$select", "$expand")
	if res != nil {
		return res
	}
	rec, res := op.find(t, key)
	if res != nil {
		return res
	}
	_, annRaw := op.annotations()
	if inm := op.req.header.Get("If-None-Match"); inm != "" && inm == rec.etag() && !expandsOrAnnotates(o, annRaw) {
		r := newResult(http.StatusNotModified)
		setRaw(r.header, "ETag", rec.etag())
		return r
	}
	r := op.entityResult(http.StatusOK, t.schema, rec, o)
	addAnnotationPreference(r.header, annRaw)
	return r
}

// entityResult is a single row with its context and etag.
func (op *operation) entityResult(status int, t *tableSchema, rec *record, o queryOptions) *result {
	ann, _ := op.annotations()
	body := op.render(t, rec, o.sel, o.expand, ann, true)
	body["@odata.context"] = op.req.root + "$metadata#" + t.set + contextSelect(o.sel, o.expand) + "/$entity"
	r := jsonResult(status, body)
	setRaw(r.header, "ETag", rec.etag())
	return r
}

// render shapes a row for output: every column (null when unset) or the
// selected ones, always with the primary key, then the annotations asked
// for and the expansions; with the etag unless the row is expanded through
// a lookup.
func (op *operation) render(t *tableSchema, rec *record, sel []string, expand []*expandItem, ann annotations, etag bool) map[string]any {
	cols := sel
	if cols == nil {
		cols = t.order
	}
	out := make(map[string]any, len(cols)+len(expand)+2)
	if etag {
		out["@odata.etag"] = rec.etag()
	}
	out[t.pk] = rec.cols[t.pk]
	for _, k := range t.keyAliases {
		out[k] = rec.cols[k]
	}
	for _, c := range cols {
		v := rec.cols[c]
		out[c] = v
		if ann != 0 && v != nil {
			op.annotate(out, t, rec, c, v, ann)
		}
	}
	for _, e := range expand {
		op.expandInto(out, t, rec, e, ann)
	}
	return out
}

// ---- writes ------------------------------------------------------------

func (op *operation) entityURI(t *table, id string) string {
	return op.req.root + t.schema.set + "(" + id + ")"
}

// rowURI is the URI a write answers with in OData-EntityId: the key form,
// leads(emailaddress1='ann@example.com'), when the request addressed the row
// by its alternate key, as Dataverse's upsert does ("Use Upsert to Create
// or Update a record"); the id form otherwise.
func (op *operation) rowURI(t *table, rec *record, byAltKey bool) string {
	if !byAltKey {
		return op.entityURI(t, rec.id(t.schema))
	}
	parts := make([]string, len(t.keyCols))
	for i, c := range t.keyCols {
		lit := odata.FormatKeyValue(rec.cols[c])
		if col := t.schema.cols[c]; col != nil && col.kind == kindLookup {
			lit, _ = rec.cols[c].(string) // a GUID, unquoted
		}
		parts[i] = c + "=" + escapeKeyLiteral(lit)
	}
	return op.req.root + t.schema.set + "(" + strings.Join(parts, ",") + ")"
}

// escapeKeyLiteral percent-encodes what a URI path cannot hold as it is
// (spaces, '%', '#', '?', '/', controls, non-ASCII) and leaves the rest,
// quotes and '@' included, readable.
func escapeKeyLiteral(lit string) string {
	var b strings.Builder
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("%#?/\"<>\\^`{|}", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (op *operation) create(t *table, q url.Values) *result {
	o, res := parseQueryOptions(t.schema, q, "$select", "$expand")
	if res != nil {
		return res
	}
	body, res := decodeObject(t.schema.set, op.req.body)
	if res != nil {
		return res
	}
	rec, res := op.write(t, nil, body, nil)
	if res != nil {
		return res
	}
	return op.writeResult(http.StatusNoContent, http.StatusCreated, t, rec, o, op.rowURI(t, rec, false))
}

// writeResult is the response to a successful create or update: 204 with
// OData-EntityId (uri), or the row itself when return=representation is
// asked.
func (op *operation) writeResult(plain, withBody int, t *table, rec *record, o queryOptions, uri string) *result {
	if op.preferences()["return"] == "representation" {
		r := op.entityResult(withBody, t.schema, rec, o)
		r.header.Add("Preference-Applied", "return=representation")
		_, annRaw := op.annotations()
		addAnnotationPreference(r.header, annRaw)
		r.entityURI = uri
		return r
	}
	r := newResult(plain)
	setRaw(r.header, "OData-EntityId", uri)
	r.entityURI = uri
	return r
}

// upsert is PATCH with the conditional table of reference §3.
func (op *operation) upsert(t *table, key entityKey, q url.Values) *result {
	q.Del("$expand") // Dataverse ignores $expand on PATCH (reference §3)
	o, res := parseQueryOptions(t.schema, q, "$select")
	if res != nil {
		return res
	}
	body, res := decodeObject(t.schema.set, op.req.body)
	if res != nil {
		return res
	}
	existing, notFound := op.find(t, key)
	ifMatch := op.req.header.Get("If-Match")
	ifNoneMatch := op.req.header.Get("If-None-Match")
	switch {
	case ifMatch != "" && existing == nil:
		return notFound
	case ifMatch != "" && ifMatch != "*" && ifMatch != existing.etag():
		return apiError(http.StatusPreconditionFailed, codeVersionMismatch, msgVersionMismatch)
	case ifNoneMatch == "*" && existing != nil:
		return apiError(http.StatusPreconditionFailed, codeDuplicateRecord, msgRecordExists)
	}
	if existing != nil {
		rec, res := op.write(t, existing, body, key.alt)
		if res != nil {
			return res
		}
		return op.writeResult(http.StatusNoContent, http.StatusOK, t, rec, o, op.rowURI(t, rec, key.alt != nil))
	}
	if key.alt == nil {
		body[t.schema.pk] = key.id
	}
	rec, res := op.write(t, nil, body, key.alt)
	if res != nil {
		return res
	}
	return op.writeResult(http.StatusNoContent, http.StatusCreated, t, rec, o, op.rowURI(t, rec, key.alt != nil))
}

func (op *operation) delete(t *table, key entityKey) *result {
	rec, res := op.find(t, key)
	if res != nil {
		return res
	}
	if m := op.req.header.Get("If-Match"); m != "" && m != "*" && m != rec.etag() {
		return apiError(http.StatusPreconditionFailed, codeVersionMismatch, msgVersionMismatch)
	}
	t.remove(op.tx, rec.id(t.schema))
	return newResult(http.StatusNoContent)
}

// property serves leads(id)/column: GET reads one value, PUT {"value":…}
// sets it, DELETE clears it.
func (op *operation) property(t *table, key entityKey, name string) *result {
	c := t.schema.cols[name]
	if c == nil {
		segment, _, _ := strings.Cut(name, "/")
		return apiError(http.StatusNotFound, codeQuery, fmt.Sprintf("Resource not found for the segment '%s'.", segment))
	}
	rec, res := op.find(t, key)
	if res != nil {
		return res
	}
	switch op.req.method {
	case http.MethodGet:
		return jsonResult(http.StatusOK, map[string]any{
			"@odata.context": op.req.root + "$metadata#" + t.schema.set + "(" + rec.id(t.schema) + ")/" + name,
			"value":          rec.cols[name],
		})
	case http.MethodPut:
		body, res := decodeObject(t.schema.set, op.req.body)
		if res != nil {
			return res
		}
		v, ok := body["value"]
		if !ok {
			return badRequest(codePayload, "The request body must hold a 'value' property.")
		}
		if _, res := op.write(t, rec, map[string]any{name: v}, nil); res != nil {
			return res
		}
		return newResult(http.StatusNoContent)
	case http.MethodDelete:
		if _, res := op.write(t, rec, map[string]any{name: nil}, nil); res != nil {
			return res
		}
		return newResult(http.StatusNoContent)
	}
	return methodNotAllowed(op.req.method)
}

// write validates body and stores the new or updated row. keyVals are the
// alternate key values the row was addressed by: an upsert-create copies
// them in when the body lacks them, an update ignores the body's.
func (op *operation) write(t *table, existing *record, body map[string]any, keyVals map[string]any) (*record, *result) {
	s := t.schema
	var cols map[string]any
	if existing != nil {
		cols = cloneCols(existing.cols)
		// A row's key values cannot be changed through its alternate key,
		// and its primary key never.
		delete(body, s.pk)
		for k := range keyVals {
			delete(body, k)
		}
	} else {
		cols = map[string]any{}
	}
	names := make([]string, 0, len(body))
	for k := range body {
		names = append(names, k)
	}
	slices.Sort(names) // deterministic error for a body with several faults
	for _, name := range names {
		if res := op.setColumn(t, cols, existing == nil, name, body[name]); res != nil {
			return nil, res
		}
	}
	if existing == nil {
		for k, v := range keyVals {
			if _, ok := cols[k]; !ok {
				cols[k] = v
			}
		}
	}
	if res := applyState(s, cols, body, existing == nil); res != nil {
		return nil, res
	}
	if _, ok := s.cols["fullname"]; ok {
		cols["fullname"] = fullName(cols)
	}
	for p := range s.paths {
		// A lookup path's value, for $filter (sdkmessageid/name).
		nav, col, _ := strings.Cut(p, "/")
		cols[p] = nil
		if np := s.navs[nav]; np != nil {
			if r := op.related(np, cols); r != nil {
				cols[p] = r.cols[col]
			}
		}
	}
	if _, ok := s.cols["objecttypecode"]; ok {
		// A note's objecttypecode names the table its objectid points to.
		cols["objecttypecode"] = nil
		if np := boundNav(s, cols, "_objectid_value"); np != nil && cols["_objectid_value"] != nil {
			cols["objecttypecode"] = schemaBySet[np.target].logical
		}
	}
	now := op.req.now.UTC().Format("2006-01-02T15:04:05Z")
	rec := &record{version: op.s.store.nextVersion(), cols: cols}
	if existing == nil {
		if id, ok := cols[s.pk].(string); !ok {
			cols[s.pk] = newGUID()
		} else if t.get(id) != nil {
			return nil, apiError(http.StatusPreconditionFailed, codeDuplicateRecord, msgRecordExists)
		}
		for name, c := range s.cols {
			if _, ok := cols[name]; !ok && c.def != nil {
				cols[name] = c.def
			}
		}
		for _, a := range s.keyAliases {
			cols[a] = cols[s.pk]
		}
		cols["createdon"] = now
		if _, owned := s.navs["ownerid"]; owned && cols["_ownerid_value"] == nil {
			// Dataverse makes the caller the owner of a row created
			// without one.
			cols["_ownerid_value"] = op.s.ids.user
			cols["_ownerid_value"+boundSetSuffix] = systemUserSchema.set
		}
		cols["_createdby_value"] = op.s.ids.user
		rec.seq = op.s.store.nextSeq()
	} else {
		rec.seq = existing.seq
	}
	cols["modifiedon"] = now
	cols["_modifiedby_value"] = op.s.ids.user
	cols["versionnumber"] = float64(rec.version)

	if k, ok := keyString(t.keyCols, cols); ok {
		if other := t.keyIndex[k]; other != "" && (existing == nil || other != strings.ToLower(existing.id(s))) {
			return nil, apiError(http.StatusPreconditionFailed, codeDuplicateKey, msgDuplicateKey(t.keyCols))
		}
	}
	if op.duplicateDetectionOn() && isDuplicate(t, cols) {
		return nil, apiError(http.StatusPreconditionFailed, codeDuplicateDetected, msgDuplicateDetected)
	}
	t.put(op.tx, rec)
	return rec, nil
}

func (op *operation) duplicateDetectionOn() bool {
	return op.req.cfg.DuplicateDetection &&
		strings.EqualFold(strings.TrimSpace(op.req.header.Get("MSCRM.SuppressDuplicateDetection")), "false")
}

// isDuplicate applies the default rule "same e-mail address" among active
// rows of the table, ignoring the row itself.
func isDuplicate(t *table, cols map[string]any) bool {
	for _, dc := range t.schema.dupCols {
		want, _ := cols[dc].(string)
		if want == "" {
			continue
		}
		self := cols[t.schema.pk]
		found := false
		t.scan(func(r *record) bool {
			got, _ := r.cols[dc].(string)
			if r.cols[t.schema.pk] != self && r.cols["statecode"] == float64(0) && strings.EqualFold(got, want) {
				found = true
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// setColumn validates one body member and applies it to cols.
func (op *operation) setColumn(t *table, cols map[string]any, creating bool, name string, v any) *result {
	s := t.schema
	if strings.HasPrefix(name, "@") {
		return nil // @odata.type, @odata.etag and other annotations
	}
	if nav, ok := strings.CutSuffix(name, "@odata.bind"); ok {
		np := s.navs[nav]
		if np == nil {
			return badRequest(codePayload, fmt.Sprintf("An undeclared property '%s' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.", nav))
		}
		return op.bind(np, cols, v, "'"+name+"'")
	}
	if strings.Contains(name, "@") {
		return nil // instance annotations such as col@OData.Community.Display.V1.FormattedValue
	}
	c := s.cols[name]
	if c == nil {
		if np := s.navs[name]; np != nil {
			if v == nil { // "parentaccountid": null disassociates, as @odata.bind null does
				return op.bind(np, cols, nil, "'"+name+"'")
			}
			return badRequest(codePayload, fmt.Sprintf("The emulator does not support deep insert: bind '%s' to an existing row with '%s@odata.bind' instead.", name, name))
		}
		if s.many[name] != nil {
			return badRequest(codePayload, fmt.Sprintf("The emulator does not support deep insert: create the related rows on their own and bind them to this one, or POST their URIs to %s/$ref.", name))
		}
		return badRequest(codeInvalidProperty, msgUnknownProperty(s, name))
	}
	if c.kind == kindLookup {
		return badRequest(codePayload, "CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.")
	}
	if c.readOnly {
		return nil // the platform owns it; Dataverse ignores such values
	}
	if c.kind == kindGUID {
		if creating {
			id, ok := v.(string)
			if !ok || !odata.IsGUID(id) {
				return badRequest(codePayload, fmt.Sprintf("Cannot convert the literal '%v' to the expected type 'Edm.Guid'.", v))
			}
			cols[name] = strings.ToLower(id)
		}
		return nil
	}
	if v == nil {
		if name == "statecode" || name == "statuscode" {
			return badRequest(codeInvalidArgument, fmt.Sprintf("Attribute '%s' cannot be set to NULL", name))
		}
		cols[name] = nil
		return nil
	}
	if n := op.s.config().MaxLengths[s.set][name]; n > 0 {
		custom := *c // this org's length, not the standard one
		custom.maxLen = n
		c = &custom
	}
	v, res := checkValue(s, c, v)
	if res != nil {
		return res
	}
	cols[name] = v
	return nil
}

// checkValue validates a value for column c and returns it as stored:
// decimals and money rounded to the column's precision, a multi-select
// choice as its values joined by commas.
func checkValue(s *tableSchema, c *column, v any) (any, *result) {
	wrongType := func() *result {
		return badRequest(codePayload, fmt.Sprintf("Cannot convert the literal '%v' to the expected type '%s'.", v, edmType[c.kind]))
	}
	switch c.kind {
	case kindString:
		str, ok := v.(string)
		if !ok {
			return nil, wrongType()
		}
		// Dataverse is .NET: a length is in UTF-16 code units, so a
		// character outside the Basic Multilingual Plane (an emoji) counts 2.
		if utf16Len(str) > c.maxLen {
			return nil, badRequest(codeLength, msgTooLong(s, c))
		}
	case kindBool:
		if _, ok := v.(bool); !ok {
			return nil, wrongType()
		}
	case kindChoice:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return nil, wrongType()
		}
		if !slices.Contains(c.choices, int(f)) {
			return nil, badRequest(codePicklist, msgBadChoice(s, c, strconv.FormatFloat(f, 'f', -1, 64)))
		}
	case kindMultiChoice:
		str, ok := v.(string)
		if !ok {
			return nil, wrongType()
		}
		vals, ok := parseMultiChoice(str)
		if !ok {
			return nil, wrongType()
		}
		for _, n := range vals {
			if !slices.Contains(c.choices, n) {
				return nil, badRequest(codePicklist, msgBadChoice(s, c, strconv.Itoa(n)))
			}
		}
		if len(vals) == 0 {
			return nil, nil // "" clears a multi-select column
		}
		return formatMultiChoice(vals), nil
	case kindInt:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return nil, wrongType()
		}
		if f < c.min || f > c.max {
			return nil, badRequest(codeIntegerOutOfRange, "A validation error occurred. An integer provided is outside of the allowed values for this attribute.")
		}
	case kindDecimal, kindMoney:
		f, ok := v.(float64)
		if !ok {
			return nil, wrongType()
		}
		if f < c.min || f > c.max {
			return nil, badRequest(codeDecimalOutOfRange, msgDecimalOutOfRange(c))
		}
		scale := math.Pow(10, float64(c.precision))
		return math.Round(f*scale) / scale, nil
	case kindEntityName:
		str, ok := v.(string)
		if !ok || str != "none" && schemaByLogical[str] == nil {
			return nil, badRequest(codeInvalidArgument, fmt.Sprintf("'%v' is not the logical name of a table.", v))
		}
	case kindDateTime:
		str, ok := v.(string)
		if !ok {
			return nil, wrongType()
		}
		if _, err := time.Parse(time.RFC3339, str); err != nil {
			return nil, badRequest(codeInvalidDateTime, msgInvalidDateTime)
		}
		if t, _ := time.Parse(time.RFC3339, str); t.Year() < 1753 || t.Year() > 9999 {
			return nil, badRequest(codeInvalidDateTime, msgInvalidDateTime)
		}
	}
	return v, nil
}

// parseMultiChoice reads a multi-select value as the Web API sends it:
// option values separated by commas ("100000000,100000001"); "" is none.
func parseMultiChoice(s string) ([]int, bool) {
	if strings.TrimSpace(s) == "" {
		return nil, true
	}
	var vals []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			return nil, false
		}
		if !slices.Contains(vals, n) {
			vals = append(vals, n)
		}
	}
	return vals, true
}

func formatMultiChoice(vals []int) string {
	parts := make([]string, len(vals))
	for i, n := range vals {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// utf16Len is the length of s in UTF-16 code units. Invalid UTF-8 reads as
// U+FFFD, one unit, as encoding/json decodes it.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// applyState keeps statecode and statuscode consistent: a new state without
// a status gets that state's default status, and a status must belong to
// its state.
func applyState(s *tableSchema, cols, body map[string]any, creating bool) *result {
	_, stateSent := body["statecode"]
	_, statusSent := body["statuscode"]
	if s.states == nil || !creating && !stateSent && !statusSent {
		return nil
	}
	state := 0
	if f, ok := cols["statecode"].(float64); ok {
		state = int(f)
	}
	cols["statecode"] = float64(state)
	allowed := s.states[state]
	if !statusSent || cols["statuscode"] == nil {
		cols["statuscode"] = float64(allowed[0])
		return nil
	}
	status := int(cols["statuscode"].(float64))
	if !slices.Contains(allowed, status) {
		return badRequest(codeInvalidArgument, fmt.Sprintf("%d is not a valid status code for state code %d on %s.", status, state, s.logical))
	}
	return nil
}

// bind resolves a URI to an existing row and stores its id in np's lookup
// column, recording np so that a Customer lookup knows its table, and the
// row's table for an Owner lookup; nil clears it. field names where the
// URI came from, for error messages.
func (op *operation) bind(np *navProp, cols map[string]any, v any, field string) *result {
	if np.system {
		return systemNavRefused(np)
	}
	if v == nil {
		if np.name == "ownerid" {
			return badRequest(codeInvalidArgument, "Attribute 'ownerid' cannot be set to NULL")
		}
		// Either navigation property of a Customer lookup clears it.
		cols[np.lookup] = nil
		delete(cols, np.lookup+boundNavSuffix)
		return nil
	}
	uri, ok := v.(string)
	if !ok {
		return badRequest(codePayload, fmt.Sprintf("The value of %s must be a URI string.", field))
	}
	target, rec, res := op.resolveRow(uri, np.bindable(), field)
	if res != nil {
		return res
	}
	cols[np.lookup] = rec.id(target.schema)
	cols[np.lookup+boundNavSuffix] = np.name
	if np.targets != nil {
		cols[np.lookup+boundSetSuffix] = target.schema.set
	}
	return nil
}

// systemNavRefused answers an attempt to set createdby or modifiedby.
func systemNavRefused(np *navProp) *result {
	return badRequest(codePayload, fmt.Sprintf("The emulator cannot set '%s': the platform sets it to the calling user.", np.name))
}

// resolveRow finds the row an entity URI (absolute, /-rooted or relative:
// "contacts(…)") addresses, which must belong to one of sets.
func (op *operation) resolveRow(uri string, sets []string, field string) (*table, *record, *result) {
	p := uri
	if i := strings.Index(p, "://"); i >= 0 {
		u, err := url.Parse(p)
		if err != nil {
			return nil, nil, badRequest(codePayload, fmt.Sprintf("The URI '%s' in %s is not valid.", uri, field))
		}
		p = u.Path
	}
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimPrefix(p, strings.TrimPrefix(apiPrefix, "/"))
	rp, ok := parsePath(p)
	if !ok || !rp.hasKey || rp.rest != "" {
		return nil, nil, badRequest(codePayload, fmt.Sprintf("The URI '%s' in %s does not address a single row.", uri, field))
	}
	target := op.s.store.tables[rp.set]
	if target == nil || !slices.Contains(sets, rp.set) {
		return nil, nil, badRequest(codePayload, fmt.Sprintf("The URI '%s' in %s must address a row of %s.", uri, field, strings.Join(sets, " or ")))
	}
	key, res := parseKey(target.schema, rp.key)
	if res != nil {
		return nil, nil, res
	}
	if key.alt != nil && !sameColumns(target.keyCols, key.alt) {
		return nil, nil, badRequest(codeQuery, msgKeyNotValid(target.schema))
	}
	rec, res := op.find(target, key)
	return target, rec, res
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
