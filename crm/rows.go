package crm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Filter is an OData $filter expression. Build it with Eq, EqInt and And so
// that literals are always quoted and escaped.
type Filter string

// Quote returns s as an OData string literal: single quotes doubled.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Eq is "column eq 'value'".
func Eq(column, value string) Filter { return Filter(column + " eq " + Quote(value)) }

// EqInt is "column eq n" for numeric and choice columns.
func EqInt(column string, n int) Filter { return Filter(column + " eq " + strconv.Itoa(n)) }

// And joins filters with "and", each parenthesised.
func And(fs ...Filter) Filter {
	if len(fs) == 1 {
		return fs[0]
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = "(" + string(f) + ")"
	}
	return Filter(strings.Join(parts, " and "))
}

// escapeQueryValue percent-encodes a query option value: every byte outside
// the URL's unreserved set (letters, digits, - . _ ~) is encoded. Spaces
// become %20 and "+" becomes %2B — Dataverse reads a raw "+" as a space
// (dataverse.md §4), which would silently break an email like a+b@x.com.
func escapeQueryValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Query is a collection query on one table.
type Query struct {
	Select  []string
	Filter  Filter
	OrderBy string
	Top     int
}

func (q Query) encode() string {
	var parts []string
	if len(q.Select) > 0 {
		parts = append(parts, "$select="+escapeQueryValue(strings.Join(q.Select, ",")))
	}
	if q.Filter != "" {
		parts = append(parts, "$filter="+escapeQueryValue(string(q.Filter)))
	}
	if q.OrderBy != "" {
		parts = append(parts, "$orderby="+escapeQueryValue(q.OrderBy))
	}
	if q.Top > 0 {
		parts = append(parts, "$top="+strconv.Itoa(q.Top))
	}
	return strings.Join(parts, "&")
}

func (c *Client) list(ctx context.Context, set string, q Query) ([]Row, error) {
	rows, _, err := c.listBudget(ctx, set, q)
	return rows, err
}

// create creates the row with primary key id and returns its
// representation ($select'ed columns and the key) from the 201 answer; if a
// row with that key exists already, the error matches ErrExists.
//
// The caller chooses the key so that a create can be repeated safely: when
// Dataverse commits a create and its answer is lost, the retry sends the
// same key and learns that the row is there instead of making a second one.
// It is sent as PATCH set(id) with If-None-Match: *, not as a POST with the
// key in the body, because Microsoft documents the answer of the PATCH to
// an existing row — 412 "A record with matching key values already exists"
// (dataverse.md §3) — and not that of such a POST. It costs one request,
// like a POST.
func (c *Client) create(ctx context.Context, set, id string, row Row, sel []string) (Row, error) {
	if !guidRE.MatchString(id) {
		return nil, fmt.Errorf("create %s: %q is not a GUID", set, id)
	}
	q := ""
	if len(sel) > 0 {
		q = "$select=" + escapeQueryValue(strings.Join(sel, ","))
	}
	resp, err := c.do(ctx, request{
		method: http.MethodPatch, path: set + "(" + id + ")", query: q, body: row,
		header: http.Header{"Prefer": {"return=representation"}, "If-None-Match": {"*"}},
	})
	if err != nil {
		return nil, err
	}
	var out Row
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, fmt.Errorf("decode created %s: %w", set, err)
	}
	return out, nil
}

// get reads the row with primary key id; a missing row's error matches
// ErrNotFound.
func (c *Client) get(ctx context.Context, set, id string, sel []string) (Row, error) {
	if !guidRE.MatchString(id) {
		return nil, fmt.Errorf("get %s: %q is not a GUID", set, id)
	}
	resp, err := c.do(ctx, request{
		method: http.MethodGet, path: set + "(" + id + ")", query: "$select=" + escapeQueryValue(strings.Join(sel, ",")),
	})
	if err != nil {
		return nil, err
	}
	var out Row
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", set, err)
	}
	return out, nil
}

// update PATCHes an existing row by id. If-Match: * makes it a pure update:
// a row deleted meanwhile gives 404 instead of being re-created.
func (c *Client) update(ctx context.Context, set, id string, row Row) error {
	if !guidRE.MatchString(id) {
		return fmt.Errorf("update %s: %q is not a GUID", set, id)
	}
	_, err := c.do(ctx, request{
		method: http.MethodPatch, path: set + "(" + id + ")", body: row,
		header: http.Header{"If-Match": {"*"}},
	})
	return err
}

// upsertByKey PATCHes the row addressed by an alternate key: Dataverse
// creates it if missing and updates it otherwise, in one call.
func (c *Client) upsertByKey(ctx context.Context, set, keyColumn, keyValue string, row Row, sel []string) (Row, bool, error) {
	q := ""
	if len(sel) > 0 {
		q = "$select=" + escapeQueryValue(strings.Join(sel, ","))
	}
	path := set + "(" + keyColumn + "=" + escapeQueryValue(Quote(keyValue)) + ")"
	resp, err := c.do(ctx, request{
		method: http.MethodPatch, path: path, query: q, body: row,
		header: http.Header{"Prefer": {"return=representation"}},
	})
	if err != nil {
		return nil, false, err
	}
	var out Row
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, false, fmt.Errorf("decode upserted %s: %w", set, err)
	}
	return out, resp.status == http.StatusCreated, nil
}

// FindLeads returns the leads matching q.
func (c *Client) FindLeads(ctx context.Context, q Query) ([]Row, error) {
	rows, err := c.list(ctx, "leads", q)
	if err != nil {
		return nil, fmt.Errorf("crm: find leads: %w", err)
	}
	return rows, nil
}

// CreateLead creates the lead with primary key id and returns it with the
// columns in sel. If a lead with that id exists already, the error matches
// ErrExists.
func (c *Client) CreateLead(ctx context.Context, id string, row Row, sel ...string) (Row, error) {
	out, err := c.create(ctx, "leads", id, row, append([]string{"leadid"}, sel...))
	if err != nil {
		return nil, fmt.Errorf("crm: create lead: %w", err)
	}
	return out, nil
}

// GetLead returns the lead with that id, with the columns in sel. If there
// is none, the error matches ErrNotFound.
func (c *Client) GetLead(ctx context.Context, id string, sel ...string) (Row, error) {
	out, err := c.get(ctx, "leads", id, append([]string{"leadid"}, sel...))
	if err != nil {
		return nil, fmt.Errorf("crm: get lead: %w", err)
	}
	return out, nil
}

// UpdateLead updates the lead with that id.
func (c *Client) UpdateLead(ctx context.Context, id string, row Row) error {
	if err := c.update(ctx, "leads", id, row); err != nil {
		return fmt.Errorf("crm: update lead %s: %w", id, err)
	}
	return nil
}

// UpsertLead creates or updates the lead whose alternate key column equals
// value, and returns it (the lead as written, with leadid and the columns in
// sel) and whether it was created.
func (c *Client) UpsertLead(ctx context.Context, keyColumn, value string, row Row, sel ...string) (Row, bool, error) {
	out, created, err := c.upsertByKey(ctx, "leads", keyColumn, value, row, append([]string{"leadid"}, sel...))
	if err != nil {
		return nil, false, fmt.Errorf("crm: upsert lead: %w", err)
	}
	return out, created, nil
}

// FindContacts returns the contacts matching q.
func (c *Client) FindContacts(ctx context.Context, q Query) ([]Row, error) {
	rows, err := c.list(ctx, "contacts", q)
	if err != nil {
		return nil, fmt.Errorf("crm: find contacts: %w", err)
	}
	return rows, nil
}

// CreateContact creates the contact with primary key id and returns it with
// its id. If a contact with that id exists already, the error matches
// ErrExists.
func (c *Client) CreateContact(ctx context.Context, id string, row Row) (Row, error) {
	out, err := c.create(ctx, "contacts", id, row, []string{"contactid"})
	if err != nil {
		return nil, fmt.Errorf("crm: create contact: %w", err)
	}
	return out, nil
}

// ContactRef is the value of a "<navprop>@odata.bind" pointing at a contact.
func ContactRef(id string) string { return "/contacts(" + id + ")" }
