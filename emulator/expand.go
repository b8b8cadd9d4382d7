package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// $expand (reference §4; Dataverse's "Join tables using OData"). A
// single-valued navigation property expands to the related row, or null,
// with nested $select, $filter and $expand; nav/$ref expands to a link. A
// collection-valued one expands, at the top level only and without a nested
// $expand, to up to 5,000 related rows with nested $select, $filter,
// $orderby and $top, plus a <nav>@odata.nextLink naming the same rows as a
// filtered collection, as Dataverse does for a single-level expand. Nested
// collection expands page each collection in Dataverse; the emulator refuses
// them rather than pretend.

// maxExpands is Dataverse's limit on $expand options in one query.
const maxExpands = 15

// boundNavSuffix names the hidden member of a row's columns that records
// which navigation property set a lookup: lookup+boundNavSuffix holds
// "customerid_contact" or "customerid_account" for _customerid_value. The
// "@" keeps it apart from every column name.
const boundNavSuffix = "@" + termNavigationProperty

const (
	msgExpandOnlySelectFilter = "Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship."
	msgExpandRefOnLookup      = "Expand with $ref is only supported on lookup type navigation property."
	codeTooManyLinks          = "0x8004430D"
	msgTooManyLinks           = "Number of link entities in query exceeded maximum limit."
)

// expandItem is one parsed $expand option.
type expandItem struct {
	name   string
	ref    bool       // name/$ref: a link to the row, not the row
	nav    *navProp   // single-valued, or
	many   *oneToMany // collection-valued
	target *tableSchema
	opts   queryOptions
	// query is the nested options as a query string ("?$select=subject"),
	// for a collection's <name>@odata.nextLink.
	query string
}

// expandState counts expansions across one query's nesting.
type expandState struct {
	depth, count int
}

func msgNoProperty(t *tableSchema, name string) string {
	return fmt.Sprintf("Could not find a property named '%s' on type '%s'.", name, t.typeName())
}

// parseExpand reads an $expand value against table t.
func parseExpand(t *tableSchema, src string, st *expandState) ([]*expandItem, *result) {
	syntax := func() *result { return badRequest(codeQuery, msgSyntax) }
	parts, ok := splitTopLevel(src, ',')
	if !ok {
		return nil, syntax()
	}
	var items []*expandItem
	for _, part := range parts {
		part = strings.TrimSpace(part)
		name, optText, hasOpts := strings.Cut(part, "(")
		if hasOpts {
			if !strings.HasSuffix(optText, ")") {
				return nil, syntax()
			}
			optText = optText[:len(optText)-1]
		}
		name = strings.TrimSpace(name)
		e := &expandItem{name: name}
		if n, ok := strings.CutSuffix(name, "/$ref"); ok {
			e.name, e.ref = n, true
		}
		if e.name == "" {
			return nil, syntax()
		}
		switch {
		case t.navs[e.name] != nil:
			e.nav = t.navs[e.name]
			e.target = navTarget(e.nav)
		case t.many[e.name] != nil:
			e.many = t.many[e.name]
			e.target = schemaBySet[e.many.set]
		case t.cols[e.name] != nil:
			return nil, badRequest(codeQuery, fmt.Sprintf("Property '%s' on type '%s' is not a navigation property or complex property. Only navigation properties can be expanded.", e.name, t.typeName()))
		default:
			return nil, badRequest(codeQuery, msgNoProperty(t, e.name))
		}
		if st.count++; st.count > maxExpands {
			return nil, badRequest(codeTooManyLinks, msgTooManyLinks)
		}
		if e.ref {
			if e.many != nil {
				return nil, badRequest(codeQuery, msgExpandRefOnLookup)
			}
			if hasOpts {
				return nil, syntax()
			}
			items = append(items, e)
			continue
		}
		opts, ok := splitTopLevel(optText, ';')
		if !ok {
			return nil, syntax()
		}
		vals := url.Values{}
		var query []string
		for _, o := range opts {
			if o = strings.TrimSpace(o); o == "" {
				continue
			}
			k, v, ok := strings.Cut(o, "=")
			if !ok || !strings.HasPrefix(k, "$") || vals.Has(k) {
				return nil, syntax()
			}
			vals.Set(k, v)
			query = append(query, k+"="+escapeLinkValue(v))
		}
		if len(query) > 0 {
			e.query = "?" + strings.Join(query, "&")
		}
		allowed := []string{"$select", "$filter", "$expand"}
		if e.many != nil {
			if st.depth > 0 || vals.Has("$expand") {
				return nil, badRequest(codeQuery, fmt.Sprintf("The emulator expands the collection-valued navigation property '%s' only at the top level of $expand and without a nested $expand (Dataverse pages such expansions; the emulator does not).", e.name))
			}
			allowed = []string{"$select", "$filter", "$orderby", "$top"}
		} else if vals.Has("$top") || vals.Has("$orderby") {
			return nil, badRequest(codeQuery, msgExpandOnlySelectFilter)
		}
		st.depth++
		o, res := parseOptions(e.target, vals, allowed, st)
		st.depth--
		if res != nil {
			return nil, res
		}
		e.opts = o
		items = append(items, e)
	}
	return items, nil
}

// splitTopLevel splits s at sep where sep is outside parentheses and
// literals: 'single-quoted' OData strings and the "double-quoted" JSON
// strings of PropertyValues=[…], which may hold a lone quote. ok is false
// when they do not balance.
func splitTopLevel(s string, sep byte) (parts []string, ok bool) {
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			quoted = !quoted // '' inside a literal toggles twice
		case quoted:
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if i >= len(s) {
				return nil, false
			}
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth < 0 {
				return nil, false
			}
		case c == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if depth != 0 || quoted {
		return nil, false
	}
	return append(parts, s[start:]), true
}

// escapeLinkValue escapes a query value for a link the way Dataverse's own
// links read: commas, parentheses and quotes stay as they are.
func escapeLinkValue(v string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", "&", "%26", "#", "%23", "+", "%2B").Replace(v)
}

// contextSelect is the select list of an @odata.context URL, as in
// leads(subject,parentcontactid(fullname)); "" when all columns are
// returned and nothing is expanded.
func contextSelect(sel []string, expand []*expandItem) string {
	switch {
	case expand != nil:
		return "(" + selectList(sel, expand) + ")"
	case sel != nil:
		return "(" + strings.Join(sel, ",") + ")"
	}
	return ""
}

func selectList(sel []string, expand []*expandItem) string {
	parts := slices.Clone(sel)
	for _, e := range expand {
		if e.ref {
			// Dataverse names the property and the link.
			parts = append(parts, e.name, e.name+"/$ref()")
			continue
		}
		parts = append(parts, e.name+"("+selectList(e.opts.sel, e.opts.expand)+")")
	}
	return strings.Join(parts, ",")
}

// boundNav is the navigation property through which lookup column col of
// a row was set: the only one for most lookups, the one recorded when the
// row was bound for a Customer lookup.
func boundNav(t *tableSchema, cols map[string]any, col string) *navProp {
	navs := t.lookupNavs[col]
	switch len(navs) {
	case 0:
		return nil
	case 1:
		return navs[0]
	}
	if name, ok := cols[col+boundNavSuffix].(string); ok && t.navs[name] != nil {
		return t.navs[name]
	}
	return navs[0]
}

// pointsVia reports whether a row's lookup is set through np: a Customer
// lookup that holds an account does not point through customerid_contact.
func pointsVia(t *tableSchema, cols map[string]any, np *navProp) bool {
	id, _ := cols[np.lookup].(string)
	return id != "" && boundNav(t, cols, np.lookup) == np
}

// boundSetSuffix names the hidden member that records which table an
// Owner lookup points to: lookup+boundSetSuffix holds "systemusers" or
// "teams" for _ownerid_value.
const boundSetSuffix = "@" + termLookupLogicalName

// navTarget is the schema of the table np points to as declared: the only
// one, or a user for an Owner lookup.
func navTarget(np *navProp) *tableSchema { return schemaBySet[np.target] }

// targetOf is the schema of the table a row's lookup through np points to:
// for an Owner lookup, the table it was bound to.
func targetOf(np *navProp, cols map[string]any) *tableSchema {
	if np.targets != nil {
		if set, ok := cols[np.lookup+boundSetSuffix].(string); ok && schemaBySet[set] != nil {
			return schemaBySet[set]
		}
	}
	return schemaBySet[np.target]
}

// related is the row a row's lookup through np points to, nil if there is
// none (or it was deleted).
func (op *operation) related(np *navProp, cols map[string]any) *record {
	id, _ := cols[np.lookup].(string)
	if id == "" {
		return nil
	}
	return op.s.store.tables[targetOf(np, cols).set].get(id)
}

// expandInto adds expansion e of row rec (of table t) to out.
func (op *operation) expandInto(out map[string]any, t *tableSchema, rec *record, e *expandItem, ann annotations) {
	if e.many != nil {
		op.expandMany(out, t, rec, e, ann)
		return
	}
	var related *record
	if pointsVia(t, rec.cols, e.nav) {
		related = op.related(e.nav, rec.cols)
	}
	target := targetOf(e.nav, rec.cols)
	if e.ref {
		// Dataverse returns the lookup value beside the link.
		v := rec.cols[e.nav.lookup]
		out[e.nav.lookup] = v
		if v != nil && ann != 0 {
			op.annotate(out, t, rec, e.nav.lookup, v, ann)
		}
		if related == nil {
			out[e.name] = nil
			return
		}
		out[e.name] = map[string]any{"@odata.id": op.req.root + target.set + "(" + related.id(target) + ")"}
		return
	}
	if related == nil || e.opts.filter != nil && !e.opts.filter.Match(related.cols) {
		out[e.name] = nil
		return
	}
	// Rows expanded through a lookup carry no etag in Dataverse's answers.
	out[e.name] = op.render(target, related, e.opts.sel, e.opts.expand, ann, false)
}

// expandMany adds the rows of a collection-valued navigation property.
func (op *operation) expandMany(out map[string]any, t *tableSchema, rec *record, e *expandItem, ann annotations) {
	id := rec.id(t)
	var rows []*record
	for _, r := range op.childrenOf(e.many)[strings.ToLower(id)] {
		if e.opts.filter == nil || e.opts.filter.Match(r.cols) {
			rows = append(rows, r)
		}
	}
	sortRecords(rows, e.opts.orderBy)
	limit := maxPageSize
	if e.opts.top >= 0 && e.opts.top < limit {
		limit = e.opts.top
	}
	rows = rows[:min(len(rows), limit)]
	// The lookup back to the parent comes with every row, selected or not.
	sel := e.opts.sel
	if sel != nil && !slices.Contains(sel, e.many.nav.lookup) {
		sel = append(slices.Clone(sel), e.many.nav.lookup)
	}
	vals := make([]map[string]any, len(rows))
	for i, r := range rows {
		vals[i] = op.render(e.target, r, sel, nil, ann, true)
	}
	out[e.name] = vals
	out[e.name+"@odata.nextLink"] = op.req.root + t.set + "(" + id + ")/" + e.name + e.query
}

// childrenOf groups the rows of m's table by the parent their lookup
// points to, in creation order. It scans the table once per request and
// relationship, however many parents the response holds.
func (op *operation) childrenOf(m *oneToMany) map[string][]*record {
	if g, ok := op.children[m]; ok {
		return g
	}
	g := map[string][]*record{}
	ref := op.s.store.tables[m.set]
	ref.scan(func(r *record) bool {
		if pointsVia(ref.schema, r.cols, m.nav) {
			id := strings.ToLower(r.cols[m.nav.lookup].(string))
			g[id] = append(g[id], r)
		}
		return true
	})
	if op.children == nil {
		op.children = map[*oneToMany]map[string][]*record{}
	}
	op.children[m] = g
	return g
}

// expandsOrAnnotates reports whether a response is shaped by $expand or
// annotations, which rule out 304 Not Modified (reference §3).
func expandsOrAnnotates(o queryOptions, ann string) bool { return o.expand != nil || ann != "" }

// addAnnotationPreference echoes the annotations asked for in
// Preference-Applied.
func addAnnotationPreference(h http.Header, raw string) {
	if raw != "" {
		h.Add("Preference-Applied", `odata.include-annotations="`+raw+`"`)
	}
}
