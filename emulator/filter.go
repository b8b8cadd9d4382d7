package emulator

// The $filter and $orderby grammar here follows the OData URI parser that
// Dataverse runs (Microsoft.OData.Core's ExpressionLexer and
// UriQueryExpressionParser): the same tokens, the same precedence and the same
// error texts and positions, so a client that builds a bad query fails here the
// way it would against a real org. Evaluation follows what Dataverse does after
// parsing: it turns the filter into SQL conditions, so strings compare
// case-insensitively, contains/startswith/endswith are LIKE patterns, and a
// comparison with a null column is unknown rather than true or false.

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxFilterDepth bounds nesting (parentheses, not, function arguments) so a
// hostile query cannot exhaust the stack. The OData parser counts every grammar
// level against a limit of 800; one nesting level here costs about eight there.
const maxFilterDepth = 100

// maxQueryOptionLen bounds the text of one $filter or $orderby. The longest
// URL Dataverse takes is 64 KB, in a GET inside $batch, so no longer filter can
// reach it.
const maxQueryOptionLen = 64 * 1024

// queryError is a $filter or $orderby the emulator refuses; Message is the text
// Dataverse puts in the error body.
type queryError struct{ Message string }

func (e *queryError) Error() string { return e.Message }

func queryErrorf(format string, args ...any) *queryError {
	return &queryError{Message: fmt.Sprintf(format, args...)}
}

// filterExpr is a parsed $filter.
type filterExpr interface{ match(row map[string]any) bool }

// orderTerm is one column of an $orderby.
type orderTerm struct {
	Column string
	Desc   bool
}

// parseFilter parses an already URL-decoded $filter value. An empty value
// matches every row, as it does in OData. Errors are *queryError.
func parseFilter(src string) (filterExpr, error) {
	if src == "" {
		return &parsedFilter{root: &literalNode{v: true, edm: edmBoolean}}, nil
	}
	if len(src) > maxQueryOptionLen {
		return nil, queryErrorf("The $filter value is %d bytes long; the emulator accepts at most %d.", len(src), maxQueryOptionLen)
	}
	p := &filterParser{lx: queryLexer{src: src}}
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
	if t := root.typ(); t != "" && t != edmBoolean {
		return nil, queryErrorf("The $filter expression must evaluate to a single boolean value.")
	}
	return &parsedFilter{root: root}, nil
}

// filterColumns lists the columns a parsed filter reads, so the caller can
// reject unknown ones the way Dataverse does ("Could not find a property
// named ...") instead of silently treating them as null.
func filterColumns(f filterExpr) []string {
	ff, ok := f.(*parsedFilter)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var cols []string
	ff.root.columns(func(c string) {
		if !seen[c] {
			seen[c] = true
			cols = append(cols, c)
		}
	})
	return cols
}

type parsedFilter struct{ root filterNode }

// match reports whether the filter is true for row; unknown (SQL NULL) does
// not match, just as a WHERE clause drops it.
func (f *parsedFilter) match(row map[string]any) bool {
	b, ok := f.root.eval(row).(bool)
	return ok && b
}

// parseOrderBy parses an $orderby value such as "createdon desc,lastname".
// Dataverse orders by columns only, so expressions are refused. Errors are
// *queryError.
func parseOrderBy(src string) ([]orderTerm, error) {
	if src == "" {
		return nil, nil
	}
	if len(src) > maxQueryOptionLen {
		return nil, queryErrorf("The $orderby value is %d bytes long; the emulator accepts at most %d.", len(src), maxQueryOptionLen)
	}
	lx := &queryLexer{src: src}
	if err := lx.next(); err != nil {
		return nil, err
	}
	var terms []orderTerm
	for {
		if lx.tok.kind != tokIdent || isKeywordLiteral(lx.tok.text) {
			return nil, lx.expressionExpected()
		}
		if name, ok := lx.functionName(); ok {
			return nil, queryErrorf("The emulator orders by columns only; '%s(...)' in $orderby '%s' is not supported.", name, src)
		}
		term := orderTerm{Column: lx.tok.text}
		if err := lx.next(); err != nil {
			return nil, err
		}
		if lx.tok.kind == tokSlash {
			return nil, queryErrorf("The emulator orders by columns only; navigation paths such as '%s/...' are not supported.", term.Column)
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

// sortRows orders rows in place by terms, keeping the original order of rows
// that tie. Nulls come first in ascending order, as in SQL Server.
func sortRows(rows []map[string]any, terms []orderTerm) {
	sortBy(rows, func(r map[string]any) map[string]any { return r }, terms)
}

// sortBy is sortRows for anything that holds a row.
func sortBy[T any](rows []T, cols func(T) map[string]any, terms []orderTerm) {
	if len(terms) == 0 || len(rows) < 2 {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for _, t := range terms {
			c := orderCompare(rowValue(cols(rows[i])[t.Column]), rowValue(cols(rows[j])[t.Column]))
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
		if tx, ok := parseInstant(x); ok {
			ty, _ := parseInstant(y)
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
		if _, ok := parseInstant(x); ok {
			return 3
		}
		return 4
	}
	return 5
}

// ---- lexer ----

type queryTokenKind int

const (
	tokEnd queryTokenKind = iota
	tokIdent
	tokString   // 'text'
	tokNumber   // 42, -1.5, 7m
	tokGUID     // 8-4-4-4-12 hex, unquoted
	tokDate     // 2026-01-01
	tokDateTime // 2026-01-01T00:00:00Z
	tokTyped    // prefix'…' such as binary'AQID' (or the tail of an unescaped quote)
	tokBracket  // […], kept raw: Dataverse reads it as JSON later
	tokBrace    // {…}
	tokAlias    // @p1
	tokOpenParen
	tokCloseParen
	tokComma
	tokEqual
	tokDot
	tokSlash
	tokMinus
	tokColon
	tokStar
	tokQuestion
)

var queryPunctuation = [256]queryTokenKind{
	'(': tokOpenParen, ')': tokCloseParen, ',': tokComma, '=': tokEqual,
	'.': tokDot, '/': tokSlash, ':': tokColon, '*': tokStar, '?': tokQuestion,
}

type queryToken struct {
	kind       queryTokenKind
	start, end int // byte offsets into the source
	text       string
	str        string    // tokString: the value with '' collapsed
	num        float64   // tokNumber
	edm        string    // tokNumber: the OData type the literal would get
	tm         time.Time // tokDate, tokDateTime
}

// queryLexer produces tokens on demand: like the OData lexer it only reports an
// error in a token once the parser reaches it, which decides which of several
// mistakes a message names.
type queryLexer struct {
	src string
	pos int // byte offset of the next unread character
	tok queryToken
}

// at converts a byte offset to the position Dataverse reports: an index in
// UTF-16 code units, because the server is .NET.
func (l *queryLexer) at(off int) int {
	n := 0
	for _, r := range l.src[:off] {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// syntaxError is the OData "current token is not allowed here" error; its
// position is where the lexer stopped, i.e. the end of the current token.
func (l *queryLexer) syntaxError() error {
	return queryErrorf("Syntax error at position %d in '%s'.", l.at(l.tok.end), l.src)
}

func (l *queryLexer) expressionExpected() error {
	return queryErrorf("Expression expected at position %d in '%s'.", l.at(l.tok.start), l.src)
}

func (l *queryLexer) peekByte(off int) byte {
	if off < len(l.src) {
		return l.src[off]
	}
	return 0
}

func (l *queryLexer) next() error {
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		if !unicode.IsSpace(r) {
			break
		}
		l.pos += size
	}
	start := l.pos
	l.tok = queryToken{start: start}
	if start >= len(l.src) {
		l.tok.kind, l.tok.end = tokEnd, start
		return nil
	}
	c := l.src[start]
	switch {
	case c == '-':
		if isASCIIDigit(l.peekByte(start + 1)) {
			return l.lexNumber(start)
		}
		return l.finish(tokMinus, start+1)
	case queryPunctuation[c] != tokEnd:
		return l.finish(queryPunctuation[c], start+1)
	case c == '\'':
		end, err := l.scanQuoted(start, "There is an unterminated string literal at position %d in '%s'.")
		if err != nil {
			return err
		}
		l.tok.str = strings.ReplaceAll(l.src[start+1:end-1], "''", "'")
		return l.finish(tokString, end)
	case c == '[' || c == '{':
		end, err := l.scanBalanced(start)
		if err != nil {
			return err
		}
		kind := tokBracket
		if c == '{' {
			kind = tokBrace
		}
		return l.finish(kind, end)
	case c == '@':
		r, _ := utf8.DecodeRuneInString(l.src[start+1:])
		if start+1 >= len(l.src) {
			l.tok.end = start + 1
			return l.syntaxError()
		}
		if !isIdentStart(r) {
			return l.invalidChar(start + 1)
		}
		return l.finish(tokAlias, l.scanIdent(start+1))
	case isASCIIDigit(c):
		return l.lexNumber(start)
	}
	r, _ := utf8.DecodeRuneInString(l.src[start:])
	if !isIdentStart(r) {
		return l.invalidChar(start)
	}
	end := l.scanIdent(start)
	if l.peekByte(end) == '-' {
		if lit := l.literalAt(start); isGUIDText(lit) {
			return l.finish(tokGUID, start+len(lit))
		}
	}
	if l.peekByte(end) == '\'' {
		// OData reads name'…' as a typed literal (binary'…', duration'…'). This is
		// also how an unescaped quote in a string fails: in 'O'Bryan' the tail
		// Bryan' is such a literal, left open at the end of the text.
		qend, err := l.scanQuoted(end, "There is an unterminated literal at position %d in '%s'.")
		if err != nil {
			return err
		}
		return l.finish(tokTyped, qend)
	}
	return l.finish(tokIdent, end)
}

func (l *queryLexer) finish(kind queryTokenKind, end int) error {
	l.tok.kind, l.tok.end, l.tok.text = kind, end, l.src[l.tok.start:end]
	l.pos = end
	return nil
}

func (l *queryLexer) invalidChar(off int) error {
	r, _ := utf8.DecodeRuneInString(l.src[off:])
	return queryErrorf("Syntax error: character '%c' is not valid at position %d in '%s'.", r, l.at(off), l.src)
}

// scanQuoted reads a quoted literal whose opening quote is at start, where a
// doubled quote stands for one, and returns the offset just past the closing
// quote.
// An open literal is reported at the end of the text, where the lexer ran out.
func (l *queryLexer) scanQuoted(start int, unterminated string) (int, error) {
	i := start + 1
	for {
		j := strings.IndexByte(l.src[i:], '\'')
		if j < 0 {
			return 0, queryErrorf(unterminated, l.at(len(l.src)), l.src)
		}
		i += j + 1
		if l.peekByte(i) != '\'' {
			return i, nil
		}
		i++
	}
}

// scanBalanced reads a […] or {…} literal up to its matching close, skipping
// quoted text. OData's lexer only skips '…'; "…" is skipped too because
// Dataverse documents double-quoted PropertyValues such as ["O'Brian"], whose
// lone apostrophe would otherwise swallow the closing bracket.
func (l *queryLexer) scanBalanced(start int) (int, error) {
	open := l.src[start]
	closing := byte(']')
	if open == '{' {
		closing = '}'
	}
	depth := 0
	for i := start; i < len(l.src); i++ {
		switch c := l.src[i]; c {
		case '\'':
			j := strings.IndexByte(l.src[i+1:], '\'')
			if j < 0 {
				return 0, queryErrorf("The bracketed expression is not balanced.")
			}
			i += j + 1
		case '"':
			i++
			for i < len(l.src) && l.src[i] != '"' {
				if l.src[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(l.src) {
				return 0, queryErrorf("The bracketed expression is not balanced.")
			}
		case open:
			depth++
		case closing:
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		}
	}
	return 0, queryErrorf("The bracketed expression is not balanced.")
}

func (l *queryLexer) scanIdent(start int) int {
	_, size := utf8.DecodeRuneInString(l.src[start:])
	i := start + size
	for i < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[i:])
		if !isIdentPart(r) {
			break
		}
		i += size
	}
	return i
}

// literalAt returns the text from start up to the next space, comma or ')':
// the span OData tries as a date, timestamp or GUID.
func (l *queryLexer) literalAt(start int) string {
	end := strings.IndexAny(l.src[start:], " ,)")
	if end < 0 {
		return l.src[start:]
	}
	return l.src[start : start+end]
}

func (l *queryLexer) lexNumber(start int) error {
	i := start
	if l.src[i] == '-' {
		i++
	}
	for isASCIIDigit(l.peekByte(i)) {
		i++
	}
	if l.src[start] != '-' {
		next := l.peekByte(i)
		if next == '-' {
			lit := l.literalAt(start)
			if t, ok := parseDateLiteral(lit); ok {
				l.tok.tm = t
				return l.finish(tokDate, start+len(lit))
			}
			if t, ok := parseDateTimeLiteral(lit); ok {
				l.tok.tm = t
				return l.finish(tokDateTime, start+len(lit))
			}
		}
		if next == '-' || isASCIILetter(next) {
			if lit := l.literalAt(start); isGUIDText(lit) {
				return l.finish(tokGUID, start+len(lit))
			}
		}
	}
	edm := "Edm.Int32"
	if l.peekByte(i) == '.' {
		edm = "Edm.Double"
		i++
		if !isASCIIDigit(l.peekByte(i)) {
			return queryErrorf("A digit was expected at position %d in '%s'.", l.at(i), l.src)
		}
		for isASCIIDigit(l.peekByte(i)) {
			i++
		}
	}
	if c := l.peekByte(i); c == 'e' || c == 'E' {
		edm = "Edm.Double"
		i++
		if c := l.peekByte(i); c == '+' || c == '-' {
			i++
		}
		if !isASCIIDigit(l.peekByte(i)) {
			return queryErrorf("A digit was expected at position %d in '%s'.", l.at(i), l.src)
		}
		for isASCIIDigit(l.peekByte(i)) {
			i++
		}
	}
	digits := l.src[start:i]
	switch l.peekByte(i) {
	case 'm', 'M':
		edm = "Edm.Decimal"
		i++
	case 'd', 'D':
		edm = "Edm.Double"
		i++
	case 'l', 'L':
		edm = "Edm.Int64"
		i++
	case 'f', 'F':
		edm = "Edm.Single"
		i++
	}
	v, err := strconv.ParseFloat(digits, 64)
	if err != nil || math.IsInf(v, 0) {
		return queryErrorf("Invalid numeric string '%s'.", digits)
	}
	if edm == "Edm.Int32" && (v > math.MaxInt32 || v < math.MinInt32) {
		edm = "Edm.Int64"
	}
	l.tok.num, l.tok.edm = v, edm
	return l.finish(tokNumber, i)
}

// functionName reports whether the current identifier starts a function call:
// a dotted name followed directly by '(' (no space allowed, as in OData). On
// success the lexer is left on the '('.
func (l *queryLexer) functionName() (string, bool) {
	i := l.tok.end
	for {
		switch {
		case l.peekByte(i) == '(':
			name := l.src[l.tok.start:i]
			l.pos = i
			return name, true
		case l.peekByte(i) == '.' && i+1 < len(l.src):
			r, _ := utf8.DecodeRuneInString(l.src[i+1:])
			if !isIdentStart(r) {
				return "", false
			}
			i = l.scanIdent(i + 1)
		default:
			return "", false
		}
	}
}

func isASCIIDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isIdentStart(r rune) bool {
	return unicode.IsLetter(r) || r == '_' || r == '$' || unicode.Is(unicode.Nl, r)
}

func isIdentPart(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Nl, unicode.Mn, unicode.Mc, unicode.Pc, unicode.Cf)
}

func isKeywordLiteral(s string) bool { return s == "true" || s == "false" || s == "null" }

func isGUIDText(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(isASCIIDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func parseDateLiteral(s string) (time.Time, bool) {
	t, err := time.Parse("2006-01-02", s)
	return t, err == nil
}

// parseDateTimeLiteral accepts the OData DateTimeOffset forms. A timestamp
// without an offset is read as UTC, which is what the Web API stores.
func parseDateTimeLiteral(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05.999999999", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseInstant reads a date or timestamp stored in a row.
func parseInstant(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' || !isASCIIDigit(s[0]) {
		return time.Time{}, false
	}
	if len(s) == 10 {
		return parseDateLiteral(s)
	}
	return parseDateTimeLiteral(s)
}

// ---- parser ----

const (
	edmBoolean = "Edm.Boolean"
	edmString  = "Edm.String"
	edmGUID    = "Edm.Guid"
	edmValues  = "Collection(Edm.String)"
)

type filterParser struct {
	lx    queryLexer
	depth int
	// bindErr is the first type error met. OData parses the whole text before
	// it binds types, so a syntax error anywhere wins over a type error; the
	// parser records this one and reports it only once the text has parsed.
	bindErr error
}

func (p *filterParser) bindFail(err error) {
	if p.bindErr == nil {
		p.bindErr = err
	}
}

func (p *filterParser) enter() error {
	p.depth++
	if p.depth > maxFilterDepth {
		return queryErrorf("The recursion limit has been exceeded.")
	}
	return nil
}

func (p *filterParser) leave() { p.depth-- }

func (p *filterParser) isKeyword(kw string) bool {
	return p.lx.tok.kind == tokIdent && p.lx.tok.text == kw
}

func (p *filterParser) parseExpression() (filterNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.parseLogical("or", p.parseAnd)
}

func (p *filterParser) parseAnd() (filterNode, error) {
	return p.parseLogical("and", p.parseComparison)
}

// parseLogical reads a chain of one operator into a flat node, so a long
// "a or b or c …" costs no recursion to evaluate.
func (p *filterParser) parseLogical(kw string, operand func() (filterNode, error)) (filterNode, error) {
	first, err := operand()
	if err != nil || !p.isKeyword(kw) {
		return first, err
	}
	opName := map[string]string{"and": "And", "or": "Or"}[kw]
	terms := []filterNode{first}
	for p.isKeyword(kw) {
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		n, err := operand()
		if err != nil {
			return nil, err
		}
		// Only operands of known type can be judged; a bare column may well be
		// a boolean one.
		l, r := terms[len(terms)-1].typ(), n.typ()
		if len(terms) > 1 {
			l = edmBoolean
		}
		if l != "" && r != "" && (l != edmBoolean || r != edmBoolean) {
			p.bindFail(incompatibleOperands(l, r, opName))
		}
		terms = append(terms, n)
	}
	return &logicNode{and: kw == "and", terms: terms}, nil
}

var comparisonOps = map[string]string{
	"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan",
	"ge": "GreaterThanOrEqual", "lt": "LessThan", "le": "LessThanOrEqual",
}

func (p *filterParser) parseComparison() (filterNode, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.lx.tok.kind == tokIdent && comparisonOps[p.lx.tok.text] != "" {
		op := p.lx.tok.text
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if err := checkComparable(left, right, comparisonOps[op]); err != nil {
			p.bindFail(err)
		}
		left = &compareNode{op: op, l: left, r: right}
	}
	return left, nil
}

func (p *filterParser) parseUnary() (filterNode, error) {
	switch {
	case p.isKeyword("not"):
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		if t := x.typ(); t != "" && t != edmBoolean {
			p.bindFail(queryErrorf("A unary operator with an incompatible type was detected. Found operand type '%s' for operator kind 'Not'.", t))
		}
		return &notNode{x: x}, nil
	case p.lx.tok.kind == tokMinus:
		minus := p.lx.tok
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		if p.lx.tok.kind == tokNumber { // "- 5": OData joins the sign to the number
			n := &literalNode{v: -p.lx.tok.num, edm: p.lx.tok.edm}
			return n, p.lx.next()
		}
		return nil, queryErrorf("The emulator does not support arithmetic; '-' at position %d in '%s' must be part of a number.", p.lx.at(minus.start), p.lx.src)
	}
	return p.parsePrimary()
}

func (p *filterParser) parsePrimary() (filterNode, error) {
	t := p.lx.tok
	var n filterNode
	switch t.kind {
	case tokIdent:
		switch t.text {
		case "true", "false":
			n = &literalNode{v: t.text == "true", edm: edmBoolean}
		case "null":
			n = &literalNode{v: nil, isNull: true}
		default:
			if name, ok := p.lx.functionName(); ok {
				return p.parseFunction(name)
			}
			if err := p.lx.next(); err != nil {
				return nil, err
			}
			if p.lx.tok.kind == tokSlash {
				return nil, queryErrorf("The emulator does not support navigation paths such as '%s/...' in $filter.", t.text)
			}
			return &columnNode{name: t.text}, nil
		}
	case tokOpenParen:
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		inner, err := p.parseExpression()
		if err != nil {
			return nil, err
		}
		if p.lx.tok.kind != tokCloseParen {
			return nil, queryErrorf("')' or operator expected at position %d in '%s'.", p.lx.at(p.lx.tok.start), p.lx.src)
		}
		return inner, p.lx.next()
	case tokString:
		n = &literalNode{v: t.str, edm: edmString}
	case tokNumber:
		n = &literalNode{v: t.num, edm: t.edm}
	case tokGUID:
		n = &literalNode{v: strings.ToLower(t.text), edm: edmGUID}
	case tokDate:
		n = &literalNode{v: t.tm, edm: "Edm.Date"}
	case tokDateTime:
		n = &literalNode{v: t.tm, edm: "Edm.DateTimeOffset"}
	case tokBracket, tokBrace:
		n = &valuesNode{raw: t.text}
	case tokTyped:
		return nil, queryErrorf("Unrecognized literal '%s' at position %d in '%s'.", t.text, p.lx.at(t.start), p.lx.src)
	case tokAlias:
		return nil, queryErrorf("The emulator does not support parameter aliases such as '%s'; put the value in the $filter itself.", t.text)
	default:
		return nil, p.lx.expressionExpected()
	}
	return n, p.lx.next()
}

type filterArg struct {
	name string // set for Name=value arguments
	val  filterNode
}

func (p *filterParser) parseFunction(name string) (filterNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.lx.next(); err != nil { // the '('
		return nil, err
	}
	if err := p.lx.next(); err != nil {
		return nil, err
	}
	var args []filterArg
	if p.lx.tok.kind == tokCloseParen {
		if err := p.lx.next(); err != nil {
			return nil, err
		}
		return p.bind(name, args), nil
	}
	for {
		var arg filterArg
		if p.lx.tok.kind == tokIdent && p.lx.peekByteSkippingSpace() == '=' {
			arg.name = p.lx.tok.text
			if err := p.lx.next(); err != nil {
				return nil, err
			}
			if err := p.lx.next(); err != nil { // the '='
				return nil, err
			}
		}
		v, err := p.parseExpression()
		if err != nil {
			return nil, err
		}
		arg.val = v
		args = append(args, arg)
		switch p.lx.tok.kind {
		case tokComma:
			if err := p.lx.next(); err != nil {
				return nil, err
			}
			continue
		case tokCloseParen:
			if err := p.lx.next(); err != nil {
				return nil, err
			}
			return p.bind(name, args), nil
		}
		return nil, queryErrorf("')' or ',' expected at position %d in '%s'.", p.lx.at(p.lx.tok.start), p.lx.src)
	}
}

func (l *queryLexer) peekByteSkippingSpace() byte {
	i := l.tok.end
	for i < len(l.src) && (l.src[i] == ' ' || l.src[i] == '\t') {
		i++
	}
	return l.peekByte(i)
}

// ---- binding: the checks Dataverse makes once it knows operand types ----

func incompatibleOperands(l, r, op string) error {
	return queryErrorf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'.", l, r, op)
}

func typeFamily(t string) string {
	switch t {
	case "Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double", "Edm.Single":
		return "number"
	case "Edm.Date", "Edm.DateTimeOffset":
		return "time"
	}
	return t
}

// checkComparable refuses what the OData binder refuses. Without a schema the
// emulator knows only literal types and lookups (_x_value columns are GUIDs),
// which is enough to catch the common client bug of quoting a GUID.
func checkComparable(l, r filterNode, op string) error {
	for _, n := range []filterNode{l, r} {
		if _, ok := n.(*valuesNode); ok {
			return queryErrorf("An array such as %s can only be the PropertyValues of a Dataverse query function such as Microsoft.Dynamics.CRM.In.", n.(*valuesNode).raw)
		}
	}
	lt, rt := l.typ(), r.typ()
	if lt == "" || rt == "" || typeFamily(lt) == typeFamily(rt) {
		return nil
	}
	return incompatibleOperands(lt, rt, op)
}

var likeFunctions = map[string]string{
	"contains": "%%%s%%", "startswith": "%s%%", "endswith": "%%%s",
}

// bind resolves a parsed call; on failure it records the error and stands in
// an untyped node so parsing can go on to find any syntax error.
func (p *filterParser) bind(name string, args []filterArg) filterNode {
	n, err := bindFunction(name, args)
	if err != nil {
		p.bindFail(err)
		return &literalNode{}
	}
	return n
}

func bindFunction(name string, args []filterArg) (filterNode, error) {
	if wrap, ok := likeFunctions[name]; ok {
		if len(args) != 2 || args[0].name != "" || args[1].name != "" ||
			!stringish(args[0].val) || !stringish(args[1].val) {
			return nil, queryErrorf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true).", name, name)
		}
		return &likeNode{wrap: wrap, s: args[0].val, pattern: args[1].val}, nil
	}
	const ns = "Microsoft.Dynamics.CRM."
	switch name {
	case ns + "In", ns + "NotIn", ns + "Between", ns + "NotBetween":
		col, values, err := bindPropertyArgs(name, args)
		if err != nil {
			return nil, err
		}
		short := strings.TrimPrefix(name, ns)
		if strings.HasSuffix(short, "Between") {
			if len(values) != 2 {
				return nil, queryErrorf("%s needs exactly two PropertyValues, got %d.", name, len(values))
			}
			return &betweenNode{col: col, lo: values[0], hi: values[1], negate: short == "NotBetween"}, nil
		}
		return &inNode{col: col, values: values, negate: short == "NotIn"}, nil
	}
	return nil, queryErrorf("An unknown function with name '%s' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed.", name)
}

func stringish(n filterNode) bool {
	t := n.typ()
	return t == "" || t == edmString
}

// bindPropertyArgs reads the (PropertyName='col',PropertyValues=[…]) arguments
// every Dataverse range and set function takes.
func bindPropertyArgs(name string, args []filterArg) (string, []any, error) {
	var col string
	var values []any
	var haveCol, haveValues bool
	for _, a := range args {
		switch a.name {
		case "PropertyName":
			lit, ok := a.val.(*literalNode)
			s, isStr := lit.stringValue()
			if !ok || !isStr || lit.edm != edmString {
				return "", nil, queryErrorf("PropertyName of %s must be a quoted column name, such as PropertyName='lastname'.", name)
			}
			col, haveCol = s, true
		case "PropertyValues":
			vn, ok := a.val.(*valuesNode)
			if !ok || !strings.HasPrefix(vn.raw, "[") {
				return "", nil, queryErrorf("PropertyValues of %s must be an array, such as PropertyValues=['a','b'].", name)
			}
			vs, err := parseJSONArray(vn.raw)
			if err != nil {
				return "", nil, err
			}
			values, haveValues = vs, true
		default:
			return "", nil, queryErrorf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(PropertyName=Edm.String, PropertyValues=Collection(Edm.String)).", name, name)
		}
	}
	if !haveCol || !haveValues {
		return "", nil, queryErrorf("No function signature for the function with name '%s' matches the specified arguments. The function signatures considered are: %s(PropertyName=Edm.String, PropertyValues=Collection(Edm.String)).", name, name)
	}
	return col, values, nil
}

// parseJSONArray reads PropertyValues the way OData's JSON reader does. That
// reader takes strings in single or double quotes, which is why ['a','b'] works,
// and why a single-quoted O'Brian with its quote doubled fails: 'O' is a whole
// string, and the quote right after it opens another with no comma between.
func parseJSONArray(raw string) ([]any, error) {
	const (
		missingComma = "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and properties of an object must be separated by commas."
		extraComma   = "Invalid JSON. An unexpected comma was found in scope 'Array'. A comma is only valid between properties of an object or between elements of an array."
		badToken     = "Invalid JSON. A token was not recognized in the JSON content."
	)
	i := 1 // past '['
	skip := func() {
		for i < len(raw) && strings.IndexByte(" \t\r\n", raw[i]) >= 0 {
			i++
		}
	}
	var values []any
	comma := false
	for {
		skip()
		if i >= len(raw) {
			return nil, queryErrorf("Invalid JSON. Unexpected end of input was found in JSON content. Not all object and array scopes were closed.")
		}
		switch c := raw[i]; {
		case c == ']':
			if comma {
				return nil, queryErrorf(extraComma)
			}
			return values, nil
		case c == ',':
			if comma || len(values) == 0 {
				return nil, queryErrorf(extraComma)
			}
			comma = true
			i++
			continue
		case len(values) > 0 && !comma:
			return nil, queryErrorf(missingComma)
		case c == '"' || c == '\'':
			s, end, err := parseJSONString(raw, i)
			if err != nil {
				return nil, err
			}
			values, i = append(values, s), end
		case c == '-' || isASCIIDigit(c):
			j := i + 1
			for j < len(raw) && strings.IndexByte("0123456789.eE+-", raw[j]) >= 0 {
				j++
			}
			f, err := strconv.ParseFloat(raw[i:j], 64)
			if err != nil {
				return nil, queryErrorf(badToken)
			}
			values, i = append(values, f), j
		case strings.HasPrefix(raw[i:], "true"), strings.HasPrefix(raw[i:], "false"), strings.HasPrefix(raw[i:], "null"):
			word := raw[i:]
			switch {
			case strings.HasPrefix(word, "true"):
				values, i = append(values, true), i+4
			case strings.HasPrefix(word, "false"):
				values, i = append(values, false), i+5
			default:
				values, i = append(values, nil), i+4
			}
		case c == '[' || c == '{':
			return nil, queryErrorf("PropertyValues must be an array of values; nested arrays and objects are not supported.")
		default:
			return nil, queryErrorf(badToken)
		}
		comma = false
	}
}

func parseJSONString(raw string, start int) (string, int, error) {
	quote := raw[start]
	var b strings.Builder
	for i := start + 1; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == quote:
			return b.String(), i + 1, nil
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(raw) {
			break
		}
		switch e := raw[i]; e {
		case '"', '\'', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if i+4 >= len(raw) {
				return "", 0, queryErrorf("Invalid JSON. An unrecognized escape sequence '%s' was found in a JSON string value.", raw[i-1:])
			}
			n, err := strconv.ParseUint(raw[i+1:i+5], 16, 16)
			if err != nil {
				return "", 0, queryErrorf("Invalid JSON. An unrecognized escape sequence '%s' was found in a JSON string value.", raw[i-1:i+5])
			}
			b.WriteRune(rune(n))
			i += 4
		default:
			return "", 0, queryErrorf("Invalid JSON. An unrecognized escape sequence '%s' was found in a JSON string value.", raw[i-1:i+1])
		}
	}
	return "", 0, queryErrorf("Invalid JSON. Unexpected end of input reached while processing a JSON string value.")
}

// ---- evaluation ----

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

type columnNode struct{ name string }

func (n *columnNode) eval(row map[string]any) any { return rowValue(row[n.name]) }
func (n *columnNode) columns(add func(string))    { add(n.name) }

func (n *columnNode) typ() string {
	if isLookupColumn(n.name) {
		return edmGUID
	}
	return ""
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

// normalize maps the numeric types a Go caller might store onto the float64
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
			if ty, ok := parseInstant(y); ok {
				return x.Compare(ty), true
			}
		}
	case string:
		switch y := b.(type) {
		case string:
			if tx, ok := parseInstant(x); ok {
				if ty, ok := parseInstant(y); ok {
					return tx.Compare(ty), true
				}
			}
			return foldCompare(x, y), true
		case time.Time:
			if tx, ok := parseInstant(x); ok {
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

// foldCompare compares case-insensitively, as Dataverse's default collation
// does.
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

// ---- LIKE ----

// Dataverse runs contains/startswith/endswith as SQL LIKE, so wildcards in
// the filterArg are live: % is any run, _ is one character, [abc] and [a-c] a
// set, [^abc] its complement. A '[' with no closing ']' stands for itself.
type likeElem struct {
	kind   byte // '%' any run, '_' one char, '[' set, 0 literal
	r      rune
	ranges [][2]rune
	negate bool
}

func compileLike(p string) []likeElem {
	rs := []rune(strings.ToLower(p))
	var elems []likeElem
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '%':
			if len(elems) == 0 || elems[len(elems)-1].kind != '%' {
				elems = append(elems, likeElem{kind: '%'})
			}
			continue
		case '_':
			elems = append(elems, likeElem{kind: '_'})
			continue
		case '[':
			if e, end, ok := compileSet(rs, i); ok {
				elems = append(elems, e)
				i = end
				continue
			}
		}
		elems = append(elems, likeElem{r: rs[i]})
	}
	return elems
}

// compileSet reads the set starting at rs[start] == '[' and returns the index
// of its closing ']'.
func compileSet(rs []rune, start int) (likeElem, int, bool) {
	e := likeElem{kind: '['}
	i := start + 1
	if i < len(rs) && rs[i] == '^' {
		e.negate = true
		i++
	}
	for ; i < len(rs); i++ {
		if rs[i] == ']' {
			return e, i, true
		}
		lo, hi := rs[i], rs[i]
		if i+2 < len(rs) && rs[i+1] == '-' && rs[i+2] != ']' {
			hi = rs[i+2]
			i += 2
		}
		e.ranges = append(e.ranges, [2]rune{lo, hi})
	}
	return likeElem{}, 0, false
}

func (e likeElem) matches(r rune) bool {
	switch e.kind {
	case '_':
		return true
	case '[':
		in := false
		for _, rg := range e.ranges {
			if r >= rg[0] && r <= rg[1] {
				in = true
				break
			}
		}
		return in != e.negate
	}
	return r == e.r
}

// likeMatch matches by dynamic programming over (pattern element, text
// position), so a pattern full of % costs O(len(p)·len(s)), never exponential.
func likeMatch(s, pattern string) bool {
	text := []rune(strings.ToLower(s))
	elems := compileLike(pattern)
	// Each element but % consumes a character, so a pattern with more of them
	// than the text has characters cannot match; checking first also bounds
	// the work a 64 KB pattern can cause to the size of the text.
	fixed := 0
	for _, e := range elems {
		if e.kind != '%' {
			fixed++
		}
	}
	if fixed > len(text) {
		return false
	}
	cur := make([]bool, len(text)+1)
	next := make([]bool, len(text)+1)
	cur[0] = true
	for _, e := range elems {
		clear(next)
		if e.kind == '%' {
			seen := false
			for i := range cur {
				seen = seen || cur[i]
				next[i] = seen
			}
		} else {
			for i, r := range text {
				next[i+1] = cur[i] && e.matches(r)
			}
		}
		cur, next = next, cur
	}
	return cur[len(text)]
}
