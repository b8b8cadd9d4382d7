package webhook

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func mustJSON(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("test payload is not JSON: %v", err)
	}
	return v
}

func TestPathLookup(t *testing.T) {
	doc := mustJSON(t, `{
	  "properties": {"email": {"value": "ada@example.com"}, "firstname": {"value": "Ada"}},
	  "form_response": {"answers": [
	    {"type": "text", "text": "Ada", "field": {"ref": "first_name"}},
	    {"type": "email", "email": "ada@example.com", "field": {"ref": "email"}},
	    {"type": "choices", "choices": {"labels": ["red", "blue"]}, "field": {"ref": "colours"}}
	  ]},
	  "user_column_data": [{"column_id": "FULL_NAME", "string_value": "Ada Lovelace"},
	                       {"column_id": "EMAIL", "string_value": "ada@example.com"}],
	  "field_data": [{"name": "email", "values": ["ada@example.com", "second@example.com"]}],
	  "questions_and_answers": [{"question": "Company [legal] | name", "answer": "Acme"}],
	  "data": {"merges": {"EMAIL": "ada@example.com", "GROUPINGS": {"0": {"id": "7"}}}},
	  "form_id": 1234567890, "price": 1.50, "is_test": true, "gone": null, "empty": "",
	  "obj": {"b": 1, "a": "x"}
	}`)
	tests := []struct {
		path, want string
		found      bool
	}{
		{"properties.email.value", "ada@example.com", true},
		{"form_response.answers[field.ref=email].email", "ada@example.com", true},
		{"form_response.answers[type=text].text", "Ada", true},
		{"form_response.answers[field.ref=colours].choices.labels", "red, blue", true},
		{"user_column_data[column_id=EMAIL].string_value", "ada@example.com", true},
		{"field_data[name=email].values[0]", "ada@example.com", true},
		{"field_data[name=email].values[1]", "second@example.com", true},
		{"field_data[name=email].values", "ada@example.com, second@example.com", true},
		{`questions_and_answers[question="Company [legal] | name"].answer`, "Acme", true},
		{"data[merges][EMAIL]", "ada@example.com", true},
		{"data.merges.EMAIL", "ada@example.com", true},
		{"data[merges][GROUPINGS][0][id]", "7", true},
		{"form_id", "1234567890", true},
		{"price", "1.50", true},
		{"is_test", "true", true},
		{"obj", `{"a":"x","b":1}`, true},
		{"properties.lastname.value | properties.firstname.value", "Ada", true},
		{"empty|properties.firstname.value", "Ada", true},
		{"gone", "", false},
		{"empty", "", false},
		{"nothing.here", "", false},
		{"field_data[name=phone].values[0]", "", false},
		{"field_data[name=email].values[5]", "", false},
		{"properties[0]", "", false},
		{"form_id.x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParsePath(tt.path)
			if err != nil {
				t.Fatalf("ParsePath: %v", err)
			}
			got, found := p.Lookup(doc)
			if got != tt.want || found != tt.found {
				t.Errorf("Lookup = %q, %v; want %q, %v", got, found, tt.want, tt.found)
			}
		})
	}
}

func TestParsePathRefuses(t *testing.T) {
	tests := []struct{ path, err string }{
		{"", "empty path"},
		{"  ", "empty path"},
		{"a|", "empty alternative"},
		{"|a", "empty alternative"},
		{"a..b", `unexpected '.' at offset 2`},
		{".a", `unexpected '.' at offset 0`},
		{"a.", "a name is missing at offset 2"},
		{"a[", `missing "]"`},
		{"a[]", "nothing"},
		{"a[0", `missing "]"`},
		{"a[b=c", `missing "]"`},
		{`a[b="c]`, "unterminated quote"},
		{`a[b="c"d]`, `missing "]" after the quoted value`},
		{"a[.b=c]", "is not a dotted key"},
		{"a[b.c]", "is not a name or an index"},
		{"a]b", `unexpected ']' at offset 1`},
		{"a b", `unexpected ' ' at offset 1`},
		{"a=b", `unexpected '=' at offset 1`},
		{"a | b[", `missing "]" in the brackets at offset 5`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			_, err := ParsePath(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParsePath(%q) = %v; want an error containing %q", tt.path, err, tt.err)
			}
		})
	}
}

func TestPathString(t *testing.T) {
	const s = "a.b[c=d] | e"
	p, err := ParsePath(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.String() != s {
		t.Errorf("String() = %q, want %q", p.String(), s)
	}
}

// The text of an object is canonical JSON, so the same payload in another key
// order maps to the same value.
func TestTextOfObjectIsCanonical(t *testing.T) {
	a := text(mustJSON(t, `{"b":[1,{"d":2,"c":3}],"a":"<x>"}`))
	b := text(mustJSON(t, `{"a":"<x>","b":[1,{"c":3,"d":2}]}`))
	if a != b || !bytes.Contains([]byte(a), []byte(`"a"`)) {
		t.Errorf("text = %q and %q; want the same canonical JSON", a, b)
	}
}
