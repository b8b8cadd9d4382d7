package odata

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// filterNode is a parsed filter term. eval returns true, false, nil (SQL
// unknown) or an operand value: nil, bool, float64, string or time.Time.
type filterNode interface {
	eval(row map[string]any) any
	typ() string // the OData type when known without a schema, else ""
	columns(add func(string))
}

type literalNode struct {
	v      any
	edm    string
	isNull bool
}

func (n *literalNode) eval(map[string]any) any { return n.v }
func (n *literalNode) typ() string             { return n.edm }
func (n *literalNode) columns(func(string))    {}

func (n *literalNode) stringValue() (string, bool) {
	if n == nil {
		return "", false
	}
	s, ok := n.v.(string)
	return s, ok
}

type columnNode struct {
	name string
	edm  string // its type from the schema, when the caller gave one
}

func (n *columnNode) eval(row map[string]any) any { return rowValue(row[n.name]) }
func (n *columnNode) columns(add func(string))    { add(n.name) }

func (n *columnNode) typ() string {
	if isLookupColumn(n.name) {
		return edmGUID
	}
	return n.edm
}

// isLookupColumn recognises the _<name>_value properties Dataverse exposes
// for lookups, whose values are GUIDs.
func isLookupColumn(name string) bool {
	return len(name) > len("__value") && strings.HasPrefix(name, "_") && strings.HasSuffix(name, "_value")
}

// valuesNode is a raw […] literal; only Dataverse functions accept it.
type valuesNode struct{ raw string }

func (n *valuesNode) eval(map[string]any) any { return nil }
func (n *valuesNode) typ() string             { return edmValues }
func (n *valuesNode) columns(func(string))    {}

type notNode struct{ x filterNode }

func (n *notNode) typ() string              { return edmBoolean }
func (n *notNode) columns(add func(string)) { n.x.columns(add) }

func (n *notNode) eval(row map[string]any) any {
	switch v := n.x.eval(row).(type) {
	case bool:
		return !v
	case nil:
		return nil
	}
	return false
}

type logicNode struct {
	and   bool
	terms []filterNode
}

func (n *logicNode) typ() string { return edmBoolean }

func (n *logicNode) columns(add func(string)) {
	for _, t := range n.terms {
		t.columns(add)
	}
}

// eval applies SQL's three-valued logic: for and, false wins over unknown; for
// or, true does.
func (n *logicNode) eval(row map[string]any) any {
	unknown := false
	for _, t := range n.terms {
		switch v := t.eval(row).(type) {
		case nil:
			unknown = true
		case bool:
			if v != n.and {
				return v
			}
		default:
			if n.and { // a non-boolean operand is a type mismatch: false
				return false
			}
		}
	}
	if unknown {
		return nil
	}
	return n.and
}

type compareNode struct {
	op   string
	l, r filterNode
}

func (n *compareNode) typ() string { return edmBoolean }

func (n *compareNode) columns(add func(string)) {
	n.l.columns(add)
	n.r.columns(add)
}

func (n *compareNode) eval(row map[string]any) any {
	// "col eq null" is SQL's IS NULL: definite, unlike comparing two values
	// where one happens to be null.
	if isNullLiteral(n.l) || isNullLiteral(n.r) {
		other := n.r
		if isNullLiteral(n.r) {
			other = n.l
		}
		isNull := other.eval(row) == nil
		switch n.op {
		case "eq":
			return isNull
		case "ne":
			return !isNull
		}
		return nil
	}
	a, b := n.l.eval(row), n.r.eval(row)
	if a == nil || b == nil {
		return nil
	}
	c, ok := compareValues(a, b)
	if !ok {
		return false
	}
	switch n.op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	}
	return c <= 0 // le
}

func isNullLiteral(n filterNode) bool {
	lit, ok := n.(*literalNode)
	return ok && lit.isNull
}

type likeNode struct {
	wrap       string // how the function turns its filterArg into a LIKE pattern
	s, pattern filterNode
}

func (n *likeNode) typ() string { return edmBoolean }

func (n *likeNode) columns(add func(string)) {
	n.s.columns(add)
	n.pattern.columns(add)
}

func (n *likeNode) eval(row map[string]any) any {
	a, b := n.s.eval(row), n.pattern.eval(row)
	if a == nil || b == nil {
		return nil
	}
	s, ok1 := a.(string)
	p, ok2 := b.(string)
	if !ok1 || !ok2 {
		return false
	}
	return likeMatch(s, fmt.Sprintf(n.wrap, p))
}

type inNode struct {
	col    string
	values []any
	negate bool
}

func (n *inNode) typ() string              { return edmBoolean }
func (n *inNode) columns(add func(string)) { add(n.col) }

func (n *inNode) eval(row map[string]any) any {
	v := rowValue(row[n.col])
	if v == nil {
		return nil
	}
	for _, want := range n.values {
		if c, ok := compareValues(v, coerceLike(want, v)); ok && c == 0 {
			return !n.negate
		}
	}
	return n.negate
}

type betweenNode struct {
	col    string
	lo, hi any
	negate bool
}

func (n *betweenNode) typ() string              { return edmBoolean }
func (n *betweenNode) columns(add func(string)) { add(n.col) }

func (n *betweenNode) eval(row map[string]any) any {
	v := rowValue(row[n.col])
	if v == nil {
		return nil
	}
	lo, ok1 := compareValues(v, coerceLike(n.lo, v))
	hi, ok2 := compareValues(v, coerceLike(n.hi, v))
	if !ok1 || !ok2 {
		return false
	}
	return (lo >= 0 && hi <= 0) != n.negate
}

// coerceLike converts a PropertyValues entry to the type of the column value:
// Dataverse declares PropertyValues as strings, so ["5","2000"] must still
// compare with a number column.
func coerceLike(want, like any) any {
	s, ok := want.(string)
	if !ok {
		return want
	}
	switch like.(type) {
	case float64:
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f
		}
	case bool:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return s
}

// rowValue maps the numeric types a Go caller might store onto the float64
// encoding/json produces, so rows built by hand compare like decoded ones.
func rowValue(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case float32:
		return float64(x)
	case interface{ Float64() (float64, error) }: // json.Number
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

// compareValues orders two non-null values; ok is false when their types do
// not compare.
func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case bool:
		if y, ok := b.(bool); ok {
			return boolCompare(x, y), true
		}
	case float64:
		if y, ok := b.(float64); ok {
			return floatCompare(x, y), true
		}
	case time.Time:
		switch y := b.(type) {
		case time.Time:
			return x.Compare(y), true
		case string:
			if ty, ok := ParseInstant(y); ok {
				return x.Compare(ty), true
			}
		}
	case string:
		switch y := b.(type) {
		case string:
			if tx, ok := ParseInstant(x); ok {
				if ty, ok := ParseInstant(y); ok {
					return tx.Compare(ty), true
				}
			}
			return foldCompare(x, y), true
		case time.Time:
			if tx, ok := ParseInstant(x); ok {
				return tx.Compare(y), true
			}
		}
	}
	return 0, false
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

func floatCompare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Fold is the case folding under which the filter's string comparisons
// find two strings equal: 'a' eq 'b' holds exactly when Fold(a) == Fold(b)
// (unless both read as instants, see ParseInstant). It lets a caller index
// text the way the filter compares it.
func Fold(s string) string { return strings.Map(unicode.ToLower, s) }

// foldCompare compares case-insensitively, as Dataverse's default collation
// does; it orders strings consistently with Fold.
func foldCompare(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if la, lb := unicode.ToLower(ra), unicode.ToLower(rb); la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
		a, b = a[na:], b[nb:]
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}
