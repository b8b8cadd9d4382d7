package odata

import (
	"errors"
	"reflect"
	"testing"
)

func TestParseSelect(t *testing.T) {
	got := ParseSelect(" lastname,firstname ,lastname,_parentcontactid_value")
	want := []string{"lastname", "firstname", "_parentcontactid_value"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseSelect = %q, want %q", got, want)
	}
}

func TestKeyValues(t *testing.T) {
	for _, v := range []any{"O'Brien", "a@b.com", "", 5.0, -1.5, true, false} {
		lit := FormatKeyValue(v)
		got, err := ParseKeyValue(lit)
		if err != nil || got != v {
			t.Errorf("ParseKeyValue(FormatKeyValue(%#v) = %s) = %#v, %v; want the value back", v, lit, got, err)
		}
	}
	if got := FormatKeyValue("O'Brien"); got != "'O''Brien'" {
		t.Errorf("FormatKeyValue(O'Brien) = %s, want 'O''Brien'", got)
	}
	if got, _ := ParseKeyValue("6F1C2A3B-0000-4000-8000-00000000ABCD"); got != "6f1c2a3b-0000-4000-8000-00000000abcd" {
		t.Errorf("ParseKeyValue(GUID) = %v, want it in lower case", got)
	}
	for _, bad := range []string{"'open", "'a'b'", "abc", ""} {
		_, err := ParseKeyValue(bad)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ParseKeyValue(%q) error = %v, want an *Error", bad, err)
		}
	}
}
