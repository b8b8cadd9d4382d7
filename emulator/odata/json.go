package odata

import (
	"strconv"
	"strings"
)

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
			return nil, errorf("Invalid JSON. Unexpected end of input was found in JSON content. Not all object and array scopes were closed.")
		}
		switch c := raw[i]; {
		case c == ']':
			if comma {
				return nil, errorf(extraComma)
			}
			return values, nil
		case c == ',':
			if comma || len(values) == 0 {
				return nil, errorf(extraComma)
			}
			comma = true
			i++
			continue
		case len(values) > 0 && !comma:
			return nil, errorf(missingComma)
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
				return nil, errorf(badToken)
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
			return nil, errorf("PropertyValues must be an array of values; nested arrays and objects are not supported.")
		default:
			return nil, errorf(badToken)
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
				return "", 0, errorf("Invalid JSON. An unrecognized escape sequence '%s' was found in a JSON string value.", raw[i-1:])
			}
			n, err := strconv.ParseUint(raw[i+1:i+5], 16, 16)
			if err != nil {
				return "", 0, errorf("Invalid JSON. An unrecognized escape sequence '%s' was found in a JSON string value.", raw[i-1:i+5])
			}
			b.WriteRune(rune(n))
			i += 4
		default:
			return "", 0, errorf("Invalid JSON. An unrecognized escape sequence '%s' was found in a JSON string value.", raw[i-1:i+1])
		}
	}
	return "", 0, errorf("Invalid JSON. Unexpected end of input reached while processing a JSON string value.")
}
