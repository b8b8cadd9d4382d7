package crm

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// Rows of any table, for what a form maps beyond leads and contacts: the
// owner (systemusers, teams), the campaign, the account, a lookup by a key
// column, a note (annotations), or a custom table a form writes instead of
// lead. set is the table's entity set (accounts, new_enquiries).

// FindRows returns the rows of set matching q.
func (c *Client) FindRows(ctx context.Context, set string, q Query) ([]Row, error) {
	rows, err := c.list(ctx, set, q)
	if err != nil {
		return nil, fmt.Errorf("crm: find %s: %w", set, err)
	}
	return rows, nil
}

// CreateRow creates the row of set with primary key id (see create: the
// caller picks the key so that a repeated create finds its first copy) and
// returns it with the columns in sel. If a row with that id exists
// already, the error matches ErrExists.
func (c *Client) CreateRow(ctx context.Context, set, id string, row Row, sel ...string) (Row, error) {
	out, err := c.create(ctx, set, id, row, sel)
	if err != nil {
		return nil, fmt.Errorf("crm: create %s: %w", set, err)
	}
	return out, nil
}

// GetRow returns the row of set with that id, with the columns in sel. If
// there is none, the error matches ErrNotFound.
func (c *Client) GetRow(ctx context.Context, set, id string, sel ...string) (Row, error) {
	out, err := c.get(ctx, set, id, sel)
	if err != nil {
		return nil, fmt.Errorf("crm: get %s: %w", set, err)
	}
	return out, nil
}

// UpdateRow updates the row of set with that id; a missing row's error
// matches ErrNotFound.
func (c *Client) UpdateRow(ctx context.Context, set, id string, row Row) error {
	if err := c.update(ctx, set, id, row); err != nil {
		return fmt.Errorf("crm: update %s %s: %w", set, id, err)
	}
	return nil
}

// UpsertRow creates or updates the row of set whose alternate key column
// equals value, in one PATCH addressed by the key, and returns it (with the
// columns in sel) and whether it was created. The org must define that key
// on the table.
func (c *Client) UpsertRow(ctx context.Context, set, keyColumn, value string, row Row, sel ...string) (Row, bool, error) {
	out, created, err := c.upsertByKey(ctx, set, keyColumn, value, row, sel)
	if err != nil {
		return nil, false, fmt.Errorf("crm: upsert %s: %w", set, err)
	}
	return out, created, nil
}

// Ref is the value of a "<navprop>@odata.bind" pointing at row id of set.
func Ref(set, id string) string { return "/" + set + "(" + id + ")" }

// EqNumber is "column eq <n>" for a number column: the literal is
// unquoted, as Dataverse compares a number column only with a number. n is
// a number's plain text ("1042", "-3", "12.5"); anything else is quoted as
// text, never written raw into the filter (Dataverse then refuses it).
func EqNumber(column, n string) Filter {
	if !numberLiteral.MatchString(n) {
		return Eq(column, n)
	}
	return Filter(column + " eq " + n)
}

// EqGUID is "column eq <id>" for a unique identifier column: unquoted, as
// Dataverse writes GUIDs in a filter. A value that is not a GUID is quoted
// instead, which Dataverse refuses rather than misreads.
func EqGUID(column, id string) Filter {
	if !guidLiteral.MatchString(id) {
		return Eq(column, id)
	}
	return Filter(column + " eq " + strings.ToLower(id))
}

var (
	numberLiteral = regexp.MustCompile(`^-?[0-9]{1,19}(\.[0-9]{1,20})?$`)
	guidLiteral   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Or joins filters with "or", each parenthesised.
func Or(fs ...Filter) Filter {
	if len(fs) == 1 {
		return fs[0]
	}
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = "(" + string(f) + ")"
	}
	return Filter(strings.Join(parts, " or "))
}

// EndsWith is "endswith(column,'value')". Dataverse reads SQL wildcards
// (% _ [) inside the value as patterns; they are escaped here in brackets
// so that the value is compared as written.
func EndsWith(column, value string) Filter {
	return Filter("endswith(" + column + "," + Quote(likeEscape(value)) + ")")
}

// Contains is "contains(column,'value')", with SQL wildcards escaped.
func Contains(column, value string) Filter {
	return Filter("contains(" + column + "," + Quote(likeEscape(value)) + ")")
}

func likeEscape(s string) string {
	r := strings.NewReplacer("[", "[[]", "%", "[%]", "_", "[_]")
	return r.Replace(s)
}
