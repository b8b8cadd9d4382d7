package odata

import "fmt"

// maxFilterDepth bounds nesting (parentheses, not, function arguments) so a
// hostile query cannot exhaust the stack. The OData parser counts every grammar
// level against a limit of 800; one nesting level here costs about eight there.
const maxFilterDepth = 100

// maxQueryOptionLen bounds the text of one $filter or $orderby. The longest
// URL Dataverse takes is 64 KB, in a GET inside $batch, so no longer filter can
// reach it.
const maxQueryOptionLen = 64 * 1024

// Error is a query option or literal the package refuses; Message is the
// text Dataverse puts in the error body.
type Error struct{ Message string }

func (e *Error) Error() string { return e.Message }

func errorf(format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// Filter is a parsed $filter.
type Filter struct{ root filterNode }

// ParseFilter parses an already URL-decoded $filter value. An empty value
// matches every row, as it does in OData. Errors are *Error.
func ParseFilter(src string) (*Filter, error) { return ParseFilterAliases(src, nil) }

// ParseFilterAliases is ParseFilter with parameter aliases: alias returns
// the text given for "@name" in the query string ("@p1='lastname'"), which
// is parsed as an expression where the alias stands. An alias without a
// value is null, as OData specifies. A nil alias refuses every alias.
func ParseFilterAliases(src string, alias func(name string) (string, bool)) (*Filter, error) {
	return parseFilter(src, alias, nil, 0)
}

// ParseFilterTyped is ParseFilterAliases knowing the columns' types:
// colType returns a column's OData type (Edm.Int32, …) or "" when it is
// not known, so that comparing a number column with a quoted text is
// refused as Dataverse refuses it ("A binary operator with incompatible
// types was detected…").
func ParseFilterTyped(src string, alias func(name string) (string, bool), colType func(column string) string) (*Filter, error) {
	return parseFilter(src, alias, colType, 0)
}

func parseFilter(src string, alias func(string) (string, bool), colType func(string) string, depth int) (*Filter, error) {
	if src == "" {
		return &Filter{root: &literalNode{v: true, edm: edmBoolean}}, nil
	}
	root, err := parseNode(src, alias, colType, depth)
	if err != nil {
		return nil, err
	}
	if t := root.typ(); t != "" && t != edmBoolean {
		return nil, errorf("The $filter expression must evaluate to a single boolean value.")
	}
	return &Filter{root: root}, nil
}

// parseNode parses an expression of any type: a whole $filter, or the
// value of a parameter alias.
func parseNode(src string, alias func(string) (string, bool), colType func(string) string, depth int) (filterNode, error) {
	if len(src) > maxQueryOptionLen {
		return nil, errorf("The $filter value is %d bytes long; the emulator accepts at most %d.", len(src), maxQueryOptionLen)
	}
	p := &filterParser{lx: queryLexer{src: src}, alias: alias, colType: colType, depth: depth}
	if err := p.lx.next(); err != nil {
		return nil, err
	}
	root, err := p.parseExpression()
	if err != nil {
		return nil, err
	}
	if p.lx.tok.kind != tokEnd {
		return nil, p.lx.syntaxError()
	}
	if p.bindErr != nil {
		return nil, p.bindErr
	}
	return root, nil
}

// Match reports whether the filter is true for row; unknown (SQL NULL) does
// not match, just as a WHERE clause drops it.
func (f *Filter) Match(row map[string]any) bool {
	b, ok := f.root.eval(row).(bool)
	return ok && b
}

// Columns lists the columns the filter reads, in order of first use, so the
// caller can reject unknown ones the way Dataverse does ("Could not find a
// property named ...") instead of silently treating them as null.
func (f *Filter) Columns() []string {
	seen := map[string]bool{}
	var cols []string
	f.root.columns(func(c string) {
		if !seen[c] {
			seen[c] = true
			cols = append(cols, c)
		}
	})
	return cols
}

// RequiredEquality finds a "column eq 'text'" (or an unquoted GUID) that
// every row the filter matches satisfies: the filter itself, or one term of
// a top-level "and". A row satisfies it exactly when Fold of its value
// equals Fold(val), so a caller may narrow its rows with an index on folded
// text before applying the whole filter. ok is false when there is no such
// term, or when the literal reads as a date or timestamp: such strings
// compare as instants, not as text.
func (f *Filter) RequiredEquality() (col, val string, ok bool) {
	terms := []filterNode{f.root}
	if l, isLogic := f.root.(*logicNode); isLogic && l.and {
		terms = l.terms
	}
	for _, term := range terms {
		c, isCompare := term.(*compareNode)
		if !isCompare || c.op != "eq" {
			continue
		}
		colNode, lit := c.l, c.r
		if _, isCol := colNode.(*columnNode); !isCol {
			colNode, lit = c.r, c.l
		}
		cn, isCol := colNode.(*columnNode)
		ln, isLit := lit.(*literalNode)
		if !isCol || !isLit || ln.isNull {
			continue
		}
		s, isStr := ln.v.(string)
		if !isStr {
			continue
		}
		if _, instant := ParseInstant(s); instant {
			continue
		}
		return cn.name, s, true
	}
	return "", "", false
}
