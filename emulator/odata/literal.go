package odata

import (
	"strconv"
	"strings"
)

// ParseKeyValue reads the value of one property in a key segment such as
// leads(emailaddress1='a@b.com'): a quoted string (a doubled quote stands
// for one), a GUID (returned in lower case, as the store keeps ids), true,
// false or a number (float64). Errors are *Error.
func ParseKeyValue(lit string) (any, error) {
	switch {
	case strings.HasPrefix(lit, "'"):
		if len(lit) < 2 || !strings.HasSuffix(lit, "'") {
			return nil, errorf("There is an unterminated string literal in '%s'.", lit)
		}
		inner := lit[1 : len(lit)-1]
		if strings.Count(inner, "'")%2 != 0 {
			return nil, errorf("The literal %s has a quote that is not doubled.", lit)
		}
		return strings.ReplaceAll(inner, "''", "'"), nil
	case IsGUID(lit):
		return strings.ToLower(lit), nil
	case lit == "true" || lit == "false":
		return lit == "true", nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return nil, errorf("Unrecognized key value '%s'.", lit)
	}
	return f, nil
}

// FormatKeyValue writes a key value as ParseKeyValue reads it back: a
// string quoted (so a caller writing a GUID-valued lookup unquoted must do
// so itself), a number or a boolean as is, anything else as null.
func FormatKeyValue(v any) string {
	switch x := rowValue(v).(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return "null"
}
