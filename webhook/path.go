package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Path says where a form field's value sits in a delivery. Paths are written
// in the YAML file (a source's fields) and parsed once, at start-up.
//
// Syntax:
//
//	path        = alternative { "|" alternative }
//	alternative = name { step }
//	step        = "." name          key of an object
//	            | "[" digits "]"    element of an array (or, on an object, the key "0", "1"…)
//	            | "[" name "]"      key of an object: data[merges][EMAIL] is data.merges.EMAIL
//	            | "[" key "=" value "]"
//	                                the first element of an array whose key (a dotted
//	                                path inside the element) has the value, compared as
//	                                text; value may be double-quoted to hold "]" or "|"
//	name        = one or more characters other than . [ ] | = " and spaces
//	              (a bracketed name may hold spaces)
//
// Examples: properties.email.value, data.email, data[merges][EMAIL],
// form_response.answers[field.ref=email].email,
// user_column_data[column_id=EMAIL].string_value, field_data[name=email].values[0].
//
// Alternatives are tried in order and the first that yields a non-empty value
// wins: "last_name | full_name" reads full_name only when last_name is absent
// or empty. Spaces around alternatives are ignored.
//
// A value becomes text this way: strings as they are; numbers as written in the
// payload (1234567890 stays 1234567890, never 1.23456789e+09); booleans as
// true/false; null as nothing; arrays as their elements' texts joined with ", "
// (Unbounce sends every value as a one-element array); objects as compact JSON
// with sorted keys, so that a path stopping one level too early shows what it
// found instead of nothing.
type Path struct {
	text string
	alts [][]step
}

type stepKind int

const (
	stepKey    stepKind = iota // key of an object
	stepIndex                  // [n]: element of an array, or key "n" of an object
	stepSelect                 // [key=value]: first matching element of an array
)

type step struct {
	kind  stepKind
	key   string   // stepKey, stepIndex (the digits), stepSelect (the value to match)
	index int      // stepIndex
	sel   []string // stepSelect: the dotted key inside each element
}

// errEmptyPath is returned by ParsePath for a path with nothing in it.
var errEmptyPath = errors.New("empty path")

// ParsePath parses a path in the syntax described at Path. Its errors say what
// is wrong and at which byte offset; the YAML loader prefixes them with the
// YAML path of the field.
func ParsePath(s string) (Path, error) {
	p := Path{text: s}
	parts, err := splitAlternatives(s)
	if err != nil {
		return Path{}, err
	}
	for _, part := range parts {
		steps, err := parseAlternative(part.text, part.offset)
		if err != nil {
			return Path{}, err
		}
		p.alts = append(p.alts, steps)
	}
	return p, nil
}

// String returns the path as it was written.
func (p Path) String() string { return p.text }

type span struct {
	text   string
	offset int
}

// splitAlternatives cuts s at every "|" that is outside brackets and quotes,
// so a selector value may hold a "|" when it is quoted.
func splitAlternatives(s string) ([]span, error) {
	var parts []span
	start, depth, quoted := 0, 0, false
	cut := func(end int) error {
		text := s[start:end]
		trimmed := strings.TrimLeft(text, " \t")
		off := start + len(text) - len(trimmed)
		trimmed = strings.TrimRight(trimmed, " \t")
		if trimmed == "" {
			if len(parts) == 0 && end == len(s) {
				return errEmptyPath
			}
			return fmt.Errorf("empty alternative at offset %d", start)
		}
		parts = append(parts, span{trimmed, off})
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted:
			if c == '"' {
				quoted = false
			}
		case c == '"' && depth > 0:
			quoted = true
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '|' && depth == 0:
			if err := cut(i); err != nil {
				return nil, err
			}
			start = i + 1
		}
	}
	if quoted {
		return nil, errors.New("unterminated quote")
	}
	if err := cut(len(s)); err != nil {
		return nil, err
	}
	return parts, nil
}

// parseAlternative parses one alternative; off is its offset in the whole
// path, for error messages.
func parseAlternative(s string, off int) ([]step, error) {
	var steps []step
	i := 0
	name := func() (string, error) {
		start := i
		for i < len(s) && !strings.ContainsRune(".[]|=\" \t", rune(s[i])) {
			i++
		}
		if i == start {
			if i < len(s) {
				return "", fmt.Errorf("unexpected %q at offset %d", s[i], off+i)
			}
			return "", fmt.Errorf("a name is missing at offset %d", off+i)
		}
		return s[start:i], nil
	}
	first, err := name()
	if err != nil {
		return nil, err
	}
	steps = append(steps, step{kind: stepKey, key: first})
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			n, err := name()
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{kind: stepKey, key: n})
		case '[':
			open := i
			st, next, err := parseBracket(s, i+1)
			if err != nil {
				return nil, fmt.Errorf("%v in the brackets at offset %d", err, off+open)
			}
			i = next
			steps = append(steps, st)
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", s[i], off+i)
		}
	}
	return steps, nil
}

// parseBracket parses what follows a "[" at s[i:] up to and including its
// "]", and returns the step and the offset after the "]".
func parseBracket(s string, i int) (step, int, error) {
	end := strings.IndexByte(s[i:], ']')
	eq := strings.IndexByte(s[i:], '=')
	if eq < 0 || (end >= 0 && end < eq) {
		// [digits] or [name]
		if end < 0 {
			return step{}, 0, errors.New(`missing "]"`)
		}
		inner := s[i : i+end]
		if inner == "" {
			return step{}, 0, errors.New("nothing")
		}
		if strings.ContainsAny(inner, ".[|\"") {
			return step{}, 0, fmt.Errorf("%q is not a name or an index", inner)
		}
		if n, err := strconv.Atoi(inner); err == nil && n >= 0 && isDigits(inner) {
			return step{kind: stepIndex, key: inner, index: n}, i + end + 1, nil
		}
		return step{kind: stepKey, key: inner}, i + end + 1, nil
	}
	// [key=value]
	rawKey := s[i : i+eq]
	var sel []string
	for _, k := range strings.Split(rawKey, ".") {
		if k == "" || strings.ContainsAny(k, "[]|\" \t") {
			return step{}, 0, fmt.Errorf("%q is not a dotted key", rawKey)
		}
		sel = append(sel, k)
	}
	j := i + eq + 1
	var value string
	if j < len(s) && s[j] == '"' {
		q := strings.IndexByte(s[j+1:], '"')
		if q < 0 {
			return step{}, 0, errors.New("unterminated quote")
		}
		value = s[j+1 : j+1+q]
		j += q + 2
		if j >= len(s) || s[j] != ']' {
			return step{}, 0, errors.New(`missing "]" after the quoted value`)
		}
	} else {
		k := strings.IndexByte(s[j:], ']')
		if k < 0 {
			return step{}, 0, errors.New(`missing "]"`)
		}
		value = s[j : j+k]
		if strings.ContainsAny(value, "[\"") {
			return step{}, 0, fmt.Errorf("value %q needs double quotes", value)
		}
		j += k
	}
	return step{kind: stepSelect, key: value, sel: sel}, j + 1, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Lookup returns the text of the first alternative that yields a non-empty
// value in doc, a decoded payload (objects as map[string]any, arrays as []any,
// numbers as json.Number). It reports false when no alternative does.
func (p Path) Lookup(doc any) (string, bool) {
	for _, alt := range p.alts {
		v, ok := walk(doc, alt)
		if !ok {
			continue
		}
		if s := text(v); s != "" {
			return s, true
		}
	}
	return "", false
}

func walk(v any, steps []step) (any, bool) {
	for _, st := range steps {
		var ok bool
		v, ok = follow(v, st)
		if !ok {
			return nil, false
		}
	}
	return v, true
}

func follow(v any, st step) (any, bool) {
	switch st.kind {
	case stepKey:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		e, ok := m[st.key]
		return e, ok
	case stepIndex:
		switch c := v.(type) {
		case []any:
			if st.index < len(c) {
				return c[st.index], true
			}
		case map[string]any:
			// Form bodies such as Mailchimp's data[merges][GROUPINGS][0][id]
			// become objects with digit keys.
			e, ok := c[st.key]
			return e, ok
		}
		return nil, false
	case stepSelect:
		a, ok := v.([]any)
		if !ok {
			return nil, false
		}
		for _, e := range a {
			got, ok := walk(e, selSteps(st.sel))
			if ok && text(got) == st.key {
				return e, true
			}
		}
	}
	return nil, false
}

func selSteps(keys []string) []step {
	steps := make([]step, len(keys))
	for i, k := range keys {
		steps[i] = step{kind: stepKey, key: k}
	}
	return steps
}

// text turns a decoded value into the string a form field receives; see Path.
func text(v any) string {
	switch c := v.(type) {
	case nil:
		return ""
	case string:
		return c
	case json.Number:
		return c.String()
	case bool:
		return strconv.FormatBool(c)
	case []any:
		parts := make([]string, 0, len(c))
		for _, e := range c {
			if s := text(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		b, err := json.Marshal(c)
		if err != nil {
			return ""
		}
		return string(b)
	}
	// Only the types above come out of decoding; anything else is a bug in
	// the caller, and formatting it is better than dropping it.
	return fmt.Sprint(v)
}
