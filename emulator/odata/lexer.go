package odata

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

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
	return errorf("Syntax error at position %d in '%s'.", l.at(l.tok.end), l.src)
}

func (l *queryLexer) expressionExpected() error {
	return errorf("Expression expected at position %d in '%s'.", l.at(l.tok.start), l.src)
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
		if lit := l.literalAt(start); IsGUID(lit) {
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
	return errorf("Syntax error: character '%c' is not valid at position %d in '%s'.", r, l.at(off), l.src)
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
			return 0, errorf(unterminated, l.at(len(l.src)), l.src)
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
				return 0, errorf("The bracketed expression is not balanced.")
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
				return 0, errorf("The bracketed expression is not balanced.")
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
	return 0, errorf("The bracketed expression is not balanced.")
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
			if lit := l.literalAt(start); IsGUID(lit) {
				return l.finish(tokGUID, start+len(lit))
			}
		}
	}
	edm := "Edm.Int32"
	if l.peekByte(i) == '.' {
		edm = "Edm.Double"
		i++
		if !isASCIIDigit(l.peekByte(i)) {
			return errorf("A digit was expected at position %d in '%s'.", l.at(i), l.src)
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
			return errorf("A digit was expected at position %d in '%s'.", l.at(i), l.src)
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
		return errorf("Invalid numeric string '%s'.", digits)
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

// enumTypeName reports whether the current identifier starts an
// enumeration literal: a dotted name followed directly by a quote. On
// success the lexer is left on the quote.
func (l *queryLexer) enumTypeName() (string, bool) {
	i := l.tok.end
	dotted := false
	for {
		switch {
		case l.peekByte(i) == '\'' && dotted:
			name := l.src[l.tok.start:i]
			l.pos = i
			return name, true
		case l.peekByte(i) == '.' && i+1 < len(l.src):
			r, _ := utf8.DecodeRuneInString(l.src[i+1:])
			if !isIdentStart(r) {
				return "", false
			}
			i = l.scanIdent(i + 1)
			dotted = true
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

// IsGUID reports whether s is a GUID in its 8-4-4-4-12 hexadecimal form,
// the only form OData reads unquoted.
func IsGUID(s string) bool {
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

// ParseInstant reads a date ("2026-01-15") or timestamp
// ("2026-01-15T10:30:00Z") stored in a row. Such strings compare as instants
// in filters and $orderby, whatever their precision or offset.
func ParseInstant(s string) (time.Time, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' || !isASCIIDigit(s[0]) {
		return time.Time{}, false
	}
	if len(s) == 10 {
		return parseDateLiteral(s)
	}
	return parseDateTimeLiteral(s)
}
