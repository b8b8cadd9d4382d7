package emulator

import (
	"net/http"
	"net/url"
	"strings"
)

// Paths below a row that name a navigation property (reference §3, §6;
// Dataverse's "Associate and disassociate tables"):
//
//	GET    leads(id)/parentcontactid                  the related row; 204 when there is none
//	PUT    leads(id)/parentcontactid/$ref             {"@odata.id":"contacts(…)"} sets the lookup
//	DELETE leads(id)/parentcontactid/$ref             clears it
//	GET    contacts(id)/lead_parent_contact           the rows that refer to this one
//	POST   contacts(id)/lead_parent_contact/$ref      {"@odata.id":"leads(…)"} makes that row refer here
//	DELETE contacts(id)/lead_parent_contact/$ref?$id=leads(…)
//	DELETE contacts(id)/lead_parent_contact(…)/$ref   makes it refer nowhere
//
// Every change is an update of the row that holds the lookup, with a new
// version, like a PATCH of its @odata.bind.

// navigation serves rest (what follows "set(key)/") when it names a
// navigation property of t, and returns nil otherwise.
func (op *operation) navigation(t *table, key entityKey, rest string, q url.Values) *result {
	seg, ref := strings.CutSuffix(rest, "/$ref")
	seg, tail, _ := strings.Cut(seg, "/")
	name, childKey := seg, ""
	if i := strings.IndexByte(seg, '('); i >= 0 && strings.HasSuffix(seg, ")") {
		name, childKey = seg[:i], seg[i+1:len(seg)-1]
	}
	np, m := t.schema.navs[name], t.schema.many[name]
	if np == nil && m == nil {
		return nil
	}
	unsupported := apiError(http.StatusNotImplemented, codeQuery, "The emulator does not serve '"+rest+"': it reads a navigation property whole (with $select, $filter, $orderby, $top), not a row or a path below it.")
	if tail != "" {
		return unsupported
	}
	method := op.req.method
	if np != nil {
		switch {
		case childKey != "":
			return badRequest(codeQuery, msgSyntax)
		case ref && method == http.MethodPut:
			return op.setRef(t, key, np)
		case ref && method == http.MethodDelete:
			return op.clearRef(t, key, np)
		case !ref && method == http.MethodGet:
			return op.retrieveRelated(t, key, np, q)
		}
		return methodNotAllowed(method)
	}
	switch {
	case ref && childKey == "" && method == http.MethodPost:
		return op.associate(t, key, m)
	case ref && method == http.MethodDelete:
		return op.disassociate(t, key, m, childKey, q)
	case !ref && childKey == "" && method == http.MethodGet:
		parent, res := op.find(t, key)
		if res != nil {
			return res
		}
		id := parent.id(t.schema)
		children := op.s.store.tables[m.set]
		return op.list(children, q, t.schema.set+"("+id+")/"+m.name, refersTo{children.schema, m.nav, id})
	case !ref && childKey != "" && method == http.MethodGet:
		return unsupported
	}
	return methodNotAllowed(method)
}

// refersTo matches the rows whose lookup points, through nav, at row id.
type refersTo struct {
	t   *tableSchema
	nav *navProp
	id  string
}

func (f refersTo) Match(row map[string]any) bool {
	v, _ := row[f.nav.lookup].(string)
	return strings.EqualFold(v, f.id) && pointsVia(f.t, row, f.nav)
}

// refBody reads the {"@odata.id": uri} body of a $ref request.
func (op *operation) refBody(t *table) (string, *result) {
	body, res := decodeObject(t.schema.set, op.req.body)
	if res != nil {
		return "", res
	}
	uri, ok := body["@odata.id"].(string)
	if !ok || uri == "" {
		return "", badRequest(codePayload, "The request body must be {\"@odata.id\":\"<URI of the row to refer to>\"}.")
	}
	return uri, nil
}

func (op *operation) setRef(t *table, key entityKey, np *navProp) *result {
	rec, res := op.find(t, key)
	if res != nil {
		return res
	}
	uri, res := op.refBody(t)
	if res != nil {
		return res
	}
	if np.system {
		return systemNavRefused(np)
	}
	target, row, res := op.resolveRow(uri, np.bindable(), "'@odata.id'")
	if res != nil {
		return res
	}
	bind := target.schema.set + "(" + row.id(target.schema) + ")"
	if _, res := op.write(t, rec, map[string]any{np.name + "@odata.bind": bind}, nil); res != nil {
		return res
	}
	return newResult(http.StatusNoContent)
}

func (op *operation) clearRef(t *table, key entityKey, np *navProp) *result {
	rec, res := op.find(t, key)
	if res != nil {
		return res
	}
	if _, res := op.write(t, rec, map[string]any{np.name + "@odata.bind": nil}, nil); res != nil {
		return res
	}
	return newResult(http.StatusNoContent)
}

func (op *operation) retrieveRelated(t *table, key entityKey, np *navProp, q url.Values) *result {
	o, res := parseQueryOptions(navTarget(np), q, "$select", "$expand")
	if res != nil {
		return res
	}
	rec, res := op.find(t, key)
	if res != nil {
		return res
	}
	var related *record
	if pointsVia(t.schema, rec.cols, np) {
		related = op.related(np, rec.cols)
	}
	if related == nil {
		return newResult(http.StatusNoContent) // OData's answer for a navigation property that is null
	}
	r := op.entityResult(http.StatusOK, targetOf(np, rec.cols), related, o)
	_, annRaw := op.annotations()
	addAnnotationPreference(r.header, annRaw)
	return r
}

// associate makes the row the body names refer to this one.
func (op *operation) associate(t *table, key entityKey, m *oneToMany) *result {
	parent, res := op.find(t, key)
	if res != nil {
		return res
	}
	uri, res := op.refBody(t)
	if res != nil {
		return res
	}
	children := op.s.store.tables[m.set]
	_, child, res := op.resolveRow(uri, []string{m.set}, "'@odata.id'")
	if res != nil {
		return res
	}
	bind := t.schema.set + "(" + parent.id(t.schema) + ")"
	if _, res := op.write(children, child, map[string]any{m.nav.name + "@odata.bind": bind}, nil); res != nil {
		return res
	}
	return newResult(http.StatusNoContent)
}

// disassociate makes a row that refers to this one refer nowhere. The row
// is named by a key in the path or by the $id query option; one that does
// not refer here is left as it is.
func (op *operation) disassociate(t *table, key entityKey, m *oneToMany, childKey string, q url.Values) *result {
	parent, res := op.find(t, key)
	if res != nil {
		return res
	}
	children := op.s.store.tables[m.set]
	var child *record
	switch {
	case childKey != "":
		k, res := parseKey(children.schema, childKey)
		if res != nil {
			return res
		}
		if child, res = op.find(children, k); res != nil {
			return res
		}
	case q.Get("$id") != "":
		if _, child, res = op.resolveRow(q.Get("$id"), []string{m.set}, "'$id'"); res != nil {
			return res
		}
	default:
		return badRequest(codeQuery, "A DELETE of a collection-valued navigation property's $ref must name the row, with $id=<URI> or "+m.name+"(<id>)/$ref.")
	}
	if !(refersTo{children.schema, m.nav, parent.id(t.schema)}).Match(child.cols) {
		return newResult(http.StatusNoContent)
	}
	if _, res := op.write(children, child, map[string]any{m.nav.name + "@odata.bind": nil}, nil); res != nil {
		return res
	}
	return newResult(http.StatusNoContent)
}
