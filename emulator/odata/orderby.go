package odata

import "sort"

// OrderTerm is one column of an $orderby.
type OrderTerm struct {
	Column string
	Desc   bool
}

// ParseOrderBy parses an $orderby value such as "createdon desc,lastname".
// Dataverse orders by columns only, so expressions are refused. Errors are
// *Error.
func ParseOrderBy(src string) ([]OrderTerm, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > maxQueryOptionLen {
		return nil, errorf("The $orderby value is %d bytes long; the emulator accepts at most %d.", len(src), maxQueryOptionLen)
	}
	lx := &queryLexer{src: src}
	if err := lx.next(); err != nil {
		return nil, err
	}
	var terms []OrderTerm
	for {
		if lx.tok.kind != tokIdent || isKeywordLiteral(lx.tok.text) {
			return nil, lx.expressionExpected()
		}
		if name, ok := lx.functionName(); ok {
			return nil, errorf("The emulator orders by columns only; '%s(...)' in $orderby '%s' is not supported.", name, src)
		}
		term := OrderTerm{Column: lx.tok.text}
		if err := lx.next(); err != nil {
			return nil, err
		}
		if lx.tok.kind == tokSlash {
			return nil, errorf("The emulator orders by columns only; navigation paths such as '%s/...' are not supported.", term.Column)
		}
		if lx.tok.kind == tokIdent && (lx.tok.text == "asc" || lx.tok.text == "desc") {
			term.Desc = lx.tok.text == "desc"
			if err := lx.next(); err != nil {
				return nil, err
			}
		}
		terms = append(terms, term)
		if lx.tok.kind != tokComma {
			break
		}
		if err := lx.next(); err != nil {
			return nil, err
		}
	}
	if lx.tok.kind != tokEnd {
		return nil, lx.syntaxError()
	}
	return terms, nil
}

// SortBy orders items in place by terms, reading each item's row with
// cols, and keeps the original order of items that tie. Nulls come first in
// ascending order, as in SQL Server.
func SortBy[T any](items []T, cols func(T) map[string]any, terms []OrderTerm) {
	if len(terms) == 0 || len(items) < 2 {
		return
	}
	sort.SliceStable(items, func(i, j int) bool {
		for _, t := range terms {
			c := orderCompare(rowValue(cols(items[i])[t.Column]), rowValue(cols(items[j])[t.Column]))
			if c == 0 {
				continue
			}
			if t.Desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
}

// orderCompare is a total order over row values. Within one column values
// share a type; the rank between types only keeps the order consistent when
// they do not.
func orderCompare(a, b any) int {
	ra, rb := orderRank(a), orderRank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case bool:
		return boolCompare(x, b.(bool))
	case float64:
		return floatCompare(x, b.(float64))
	case string:
		y := b.(string)
		if tx, ok := ParseInstant(x); ok {
			ty, _ := ParseInstant(y)
			return tx.Compare(ty)
		}
		return foldCompare(x, y)
	}
	return 0
}

func orderRank(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case float64:
		return 2
	case string:
		// Timestamps are compared as instants: "…00Z" and "…00.5Z" sort wrongly as text.
		if _, ok := ParseInstant(x); ok {
			return 3
		}
		return 4
	}
	return 5
}
