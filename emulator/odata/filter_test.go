package odata

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// filterTestRow is a lead as the store holds it after JSON decoding.
func filterTestRow() map[string]any {
	return map[string]any{
		"firstname":              "Ann",
		"nickname":               "ann",
		"lastname":               "O'Brien",
		"emailaddress1":          "o'brien+test@example.com",
		"statecode":              float64(0),
		"revenue":                1500.5,
		"donotemail":             true,
		"createdon":              "2026-01-15T10:30:00Z",
		"birthdate":              "1990-05-01",
		"_parentcontactid_value": "6f1c2a3b-0000-4000-8000-00000000abcd",
		"_owninguser_value":      "abcdef01-2345-6789-abcd-ef0123456789",
		"description":            nil,
		"address1_line1":         "12 [Unit] 3_A",
	}
}

// row is the identity for SortBy over plain rows.
func row(r map[string]any) map[string]any { return r }

func TestParseFilterMatches(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		{"empty filter matches every row", "", true},

		{"eq on a string", "firstname eq 'Ann'", true},
		{"eq on a string ignores case", "firstname eq 'ANN'", true},
		{"eq on a different string", "firstname eq 'Bob'", false},
		{"doubled quote escapes a quote", "lastname eq 'O''Brien'", true},
		{"escaped quote matches case-insensitively", "lastname eq 'o''BRIEN'", true},
		{"email with quote and plus", "emailaddress1 eq 'o''brien+test@example.com'", true},
		{"email compares case-insensitively", "emailaddress1 eq 'O''Brien+Test@Example.COM'", true},
		{"ne on a different string", "lastname ne 'Smith'", true},
		{"ne on the same string in another case", "lastname ne 'O''BRIEN'", false},
		{"string gt orders case-insensitively", "lastname gt 'O'", true},
		{"string lt", "firstname lt 'ANNE'", true},
		{"string ge on equal text", "firstname ge 'ANN'", true},
		{"string le", "firstname le 'am'", false},

		{"eq on an integer", "statecode eq 0", true},
		{"ne on an integer", "statecode ne 0", false},
		{"gt on a decimal column", "revenue gt 1500", true},
		{"ge on the exact decimal", "revenue ge 1500.5", true},
		{"lt on the exact decimal", "revenue lt 1500.5", false},
		{"le on the exact decimal", "revenue le 1500.5", true},
		{"gt a negative number", "revenue gt -1", true},
		{"lt a negative number", "revenue lt -1.5", false},
		{"decimal suffix", "revenue eq 1500.5m", true},
		{"exponent", "revenue lt 1.6e3", true},

		{"eq true on a boolean", "donotemail eq true", true},
		{"eq false on a boolean", "donotemail eq false", false},
		{"bare boolean column", "donotemail", true},
		{"not on a boolean column", "not donotemail", false},
		{"double not", "not not donotemail", true},
		{"literal true", "true", true},

		{"eq null on a null column", "description eq null", true},
		{"eq null on a missing column", "middlename eq null", true},
		{"ne null on a null column", "description ne null", false},
		{"eq null on a set column", "lastname eq null", false},
		{"ne null on a set column", "lastname ne null", true},
		{"null eq column", "null eq description", true},
		{"eq on a null column is unknown", "description eq 'x'", false},
		{"ne on a null column is unknown, as in SQL", "description ne 'x'", false},
		{"not of unknown stays unknown", "not (description eq 'x')", false},
		{"gt on a missing column", "numberofemployees gt 5", false},
		{"unknown or true is true", "description eq 'x' or statecode eq 0", true},
		{"unknown and false is false, so not is true", "not (description eq 'x' and statecode eq 1)", true},

		{"and binds tighter than or (left)", "statecode eq 1 and lastname eq 'x' or firstname eq 'ann'", true},
		{"and binds tighter than or (right)", "firstname eq 'ann' or statecode eq 1 and lastname eq 'x'", true},
		{"parentheses override precedence", "(firstname eq 'ann' or statecode eq 1) and lastname eq 'x'", false},
		{"not binds tighter than or", "not donotemail or statecode eq 0", true},
		{"not binds tighter than and", "not contains(lastname,'xyz') and firstname eq 'ann'", true},
		{"not over a parenthesised and", "not (firstname eq 'ann' and statecode eq 1)", true},
		{"long and chain", "firstname eq 'ann' and statecode eq 0 and donotemail and revenue gt 1", true},
		{"long or chain", "statecode eq 3 or statecode eq 2 or statecode eq 1 or statecode eq 0", true},
		{"nested parentheses", "((((firstname eq 'ann'))))", true},
		{"whitespace around tokens", "  firstname   eq\t'ann'  ", true},

		{"lookup eq an unquoted GUID", "_parentcontactid_value eq 6f1c2a3b-0000-4000-8000-00000000abcd", true},
		{"GUID compares case-insensitively", "_parentcontactid_value eq 6F1C2A3B-0000-4000-8000-00000000ABCD", true},
		{"GUID starting with a letter", "_owninguser_value eq ABCDEF01-2345-6789-ABCD-EF0123456789", true},
		{"different GUID", "_parentcontactid_value eq 00000000-0000-0000-0000-000000000000", false},
		{"ne a different GUID", "_parentcontactid_value ne 00000000-0000-0000-0000-000000000000", true},
		{"GUID inside parentheses", "(_parentcontactid_value eq 6f1c2a3b-0000-4000-8000-00000000abcd)", true},
		{"lookup eq null", "_parentcontactid_value eq null", false},

		{"datetime gt", "createdon gt 2026-01-01T00:00:00Z", true},
		{"datetime eq the same instant", "createdon eq 2026-01-15T10:30:00Z", true},
		{"datetime with an offset is the same instant", "createdon eq 2026-01-15T11:30:00+01:00", true},
		{"fractional seconds compare as instants", "createdon lt 2026-01-15T10:30:00.5Z", true},
		{"date literal is midnight UTC", "createdon ge 2026-01-15", true},
		{"date literal after the row", "createdon gt 2026-02-01", false},
		{"date-only column", "birthdate eq 1990-05-01", true},
		{"datetime le", "createdon le 2026-01-15T10:29:59Z", false},

		{"column eq column ignores case", "firstname eq nickname", true},
		{"column ne column", "firstname ne lastname", true},
		{"number column gt number column", "revenue gt statecode", true},
		{"mismatched column types are false", "firstname eq revenue", false},
		{"mismatched literal type is false", "statecode eq 'zero'", false},

		{"contains", "contains(lastname,'brien')", true},
		{"contains ignores case", "contains(lastname,'BRI')", true},
		{"contains with an escaped quote", "contains(lastname,'o''b')", true},
		{"contains absent text", "contains(lastname,'xyz')", false},
		{"not contains", "not contains(lastname,'xyz')", true},
		{"contains on a null column is unknown", "contains(description,'x')", false},
		{"not contains on a null column is unknown", "not contains(description,'x')", false},
		{"startswith", "startswith(emailaddress1,'O''Brien+')", true},
		{"startswith not at the start", "startswith(emailaddress1,'brien')", false},
		{"endswith", "endswith(emailaddress1,'@EXAMPLE.com')", true},
		{"endswith not at the end", "endswith(emailaddress1,'@example')", false},
		{"contains with space after comma", "contains(lastname, 'brien')", true},

		{"percent matches any run", "contains(emailaddress1,'brien%example')", true},
		{"percent in startswith", "startswith(emailaddress1,'o%test')", true},
		{"underscore matches one character", "startswith(lastname,'o_b')", true},
		{"underscore needs exactly one character", "startswith(lastname,'o__b')", false},
		{"literal underscore is a wildcard too", "contains(emailaddress1,'test_example')", true},
		{"set matches one of its characters", "startswith(firstname,'[abc]nn')", true},
		{"negated set", "startswith(firstname,'[^abc]nn')", false},
		{"range in a set", "startswith(firstname,'[a-c]n')", true},
		{"bracketed percent is literal", "contains(emailaddress1,'[%]')", false},
		{"bracketed plus", "contains(emailaddress1,'[+]test')", true},
		{"bracketed underscore is literal", "endswith(address1_line1,'3[_]A')", true},
		{"unclosed bracket is literal", "contains(address1_line1,'[Unit')", true},

		{"In with single-quoted values", "Microsoft.Dynamics.CRM.In(PropertyName='firstname',PropertyValues=['bob','ANN'])", true},
		{"In with double-quoted values holding a quote", `Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["OBrien","O'Brien"])`, true},
		{"In with no matching value", "Microsoft.Dynamics.CRM.In(PropertyName='firstname',PropertyValues=['bob','carol'])", false},
		{"In with spaces in the array", "Microsoft.Dynamics.CRM.In(PropertyName='firstname',PropertyValues=[ 'bob' , 'ann' ])", true},
		{"In on a number column with string values", `Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=["0","1"])`, true},
		{"In with JSON escapes", `Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["O\u0027Brien"])`, true},
		{"In on a GUID ignores case", `Microsoft.Dynamics.CRM.In(PropertyName='_parentcontactid_value',PropertyValues=["6F1C2A3B-0000-4000-8000-00000000ABCD"])`, true},
		{"In on a null column is unknown", "Microsoft.Dynamics.CRM.In(PropertyName='description',PropertyValues=['x'])", false},
		{"In with JSON numbers", "Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=[1, 0])", true},
		{"In with a JSON escape in a single-quoted value", `Microsoft.Dynamics.CRM.In(PropertyName='firstname',PropertyValues=['x\\y','\u0041nn'])`, true},
		{"NotIn excludes listed values", "Microsoft.Dynamics.CRM.NotIn(PropertyName='firstname',PropertyValues=['ann'])", false},
		{"NotIn keeps unlisted values", "Microsoft.Dynamics.CRM.NotIn(PropertyName='firstname',PropertyValues=['bob'])", true},
		{"NotIn on a null column is unknown", "Microsoft.Dynamics.CRM.NotIn(PropertyName='description',PropertyValues=['x'])", false},
		{"In combined with and", "Microsoft.Dynamics.CRM.In(PropertyName='firstname',PropertyValues=['ann']) and statecode eq 0", true},
		{"Between includes its bounds", `Microsoft.Dynamics.CRM.Between(PropertyName='revenue',PropertyValues=["5","1500.5"])`, true},
		{"NotBetween", `Microsoft.Dynamics.CRM.NotBetween(PropertyName='revenue',PropertyValues=["5","2000"])`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%q): %v", tt.filter, err)
			}
			if got := f.Match(filterTestRow()); got != tt.want {
				t.Errorf("ParseFilter(%q).Match(row) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   string
	}{
		// The documented Dataverse example: the open literal is reported where
		// the text ends, not where it starts.
		{"unescaped quote", "lastname eq 'O'Bryan'", "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."},
		{"unterminated string", "lastname eq 'O''Bryan", "There is an unterminated string literal at position 21 in 'lastname eq 'O''Bryan'."},
		{"lone quote", "'", "There is an unterminated string literal at position 1 in '''."},
		{"positions count UTF-16 units", "lastname eq '😀'Bryan'", "There is an unterminated literal at position 22 in 'lastname eq '😀'Bryan''."},
		{"double-quoted string", `lastname eq "x"`, `Syntax error: character '"' is not valid at position 12 in 'lastname eq "x"'.`},
		{"missing right operand", "lastname eq", "Expression expected at position 11 in 'lastname eq'."},
		{"dangling and", "lastname eq 'x' and", "Expression expected at position 19 in 'lastname eq 'x' and'."},
		{"blank filter", " ", "Expression expected at position 1 in ' '."},
		{"leading comma", ",", "Expression expected at position 0 in ','."},
		{"not with no operand", "not", "Expression expected at position 3 in 'not'."},
		{"unclosed parenthesis", "(lastname eq 'x'", "')' or operator expected at position 16 in '(lastname eq 'x''."},
		{"unclosed nested parentheses", "((((null)))", "')' or operator expected at position 11 in '((((null)))'."},
		{"stray close parenthesis", "lastname eq 'x')", "Syntax error at position 16 in 'lastname eq 'x')'."},
		{"operators are case-sensitive", "lastname EQ 'x'", "Syntax error at position 11 in 'lastname EQ 'x''."},
		{"two values in a row", "42 42", "Syntax error at position 5 in '42 42'."},
		{"text after an escaped literal", "lastname eq 'O'Bryan'x'", "Syntax error at position 23 in 'lastname eq 'O'Bryan'x''."},
		{"digit expected after point", "revenue gt 4.", "A digit was expected at position 13 in 'revenue gt 4.'."},
		{"digit expected in exponent", "4Ea", "A digit was expected at position 2 in '4Ea'."},
		{"unclosed function call", "contains(lastname,'x'", "')' or ',' expected at position 21 in 'contains(lastname,'x''."},
		{"function call missing an argument", "contains(lastname,", "Expression expected at position 18 in 'contains(lastname,'."},
		{"unknown function", "tolower(lastname) eq 'x'", "An unknown function with name 'tolower' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."},
		{"unknown Dataverse function", "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)", "An unknown function with name 'Microsoft.Dynamics.CRM.LastXDays' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."},
		{"function names are case-sensitive", "Contains(lastname,'x')", "An unknown function with name 'Contains' was found. This may also be a function import or a key lookup on a navigation property, which is not allowed."},
		{"contains with one argument", "contains(lastname)", "No function signature for the function with name 'contains' matches the specified arguments. The function signatures considered are: contains(Edm.String Nullable=true, Edm.String Nullable=true)."},
		{"contains on a number literal", "contains(lastname,5)", "No function signature for the function with name 'contains' matches the specified arguments. The function signatures considered are: contains(Edm.String Nullable=true, Edm.String Nullable=true)."},
		{"In with a doubled quote in a single-quoted value", "Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['OBrian','O''Brian'])", "Invalid JSON. A comma character ',' was expected in scope 'Array'. Every two elements in an array and properties of an object must be separated by commas."},
		{"In with a trailing comma", "Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['a',])", "Invalid JSON. An unexpected comma was found in scope 'Array'. A comma is only valid between properties of an object or between elements of an array."},
		{"In with a bare word", "Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=[smith])", "Invalid JSON. A token was not recognized in the JSON content."},
		{"In with an unknown escape", `Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["a\x"])`, `Invalid JSON. An unrecognized escape sequence '\x' was found in a JSON string value.`},
		{"In with an object", "Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues={'a':1})", "PropertyValues of Microsoft.Dynamics.CRM.In must be an array, such as PropertyValues=['a','b']."},
		// OData's lexer finds the end of the array before any JSON is read, and
		// it knows no escapes inside single quotes.
		{"In with a backslash-escaped single quote", `Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['o\'brien'])`, "The bracketed expression is not balanced."},
		{"In with an unbalanced array", "Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['a'", "The bracketed expression is not balanced."},
		{"In without PropertyValues", "Microsoft.Dynamics.CRM.In(PropertyName='lastname')", "No function signature for the function with name 'Microsoft.Dynamics.CRM.In' matches the specified arguments. The function signatures considered are: Microsoft.Dynamics.CRM.In(PropertyName=Edm.String, PropertyValues=Collection(Edm.String))."},
		{"In with an unquoted PropertyName", "Microsoft.Dynamics.CRM.In(PropertyName=lastname,PropertyValues=['a'])", "PropertyName of Microsoft.Dynamics.CRM.In must be a quoted column name, such as PropertyName='lastname'."},
		{"parameter aliases where none can be given", "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)", "The emulator does not support parameter aliases such as '@p1' here; put the value in the $filter itself."},
		{"Between with one value", `Microsoft.Dynamics.CRM.Between(PropertyName='revenue',PropertyValues=["5"])`, "Microsoft.Dynamics.CRM.Between needs exactly two PropertyValues, got 1."},
		{"array outside a function", "lastname eq ['a']", "An array such as ['a'] can only be the PropertyValues of a Dataverse query function such as Microsoft.Dynamics.CRM.In."},
		{"quoted GUID against a lookup", "_parentcontactid_value eq '6f1c2a3b-0000-4000-8000-00000000abcd'", "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'."},
		{"number against a lookup", "_parentcontactid_value gt 5", "A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.Int32' for operator kind 'GreaterThan'."},
		{"not on a string literal", "not 'x'", "A unary operator with an incompatible type was detected. Found operand type 'Edm.String' for operator kind 'Not'."},
		{"not binds tighter than eq", "not statecode eq 1", "A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and 'Edm.Int32' for operator kind 'Equal'."},
		{"and on a string literal", "'x' and true", "A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Boolean' for operator kind 'And'."},
		{"filter that is not boolean", "'x'", "The $filter expression must evaluate to a single boolean value."},
		{"syntax error wins over an earlier type error", "_parentcontactid_value eq 'x' and (", "Expression expected at position 35 in '_parentcontactid_value eq 'x' and ('."},
		{"path ending in a slash", "primarycontactid/", "Syntax error at position 17 in 'primarycontactid/'."},
		{"unterminated enumeration literal", "AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist", "There is an unterminated literal at position 66 in 'AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'."},
		{"typed literal", "lastname eq binary'AQID'", "Unrecognized literal 'binary'AQID'' at position 12 in 'lastname eq binary'AQID''."},
		{"arithmetic minus", "revenue gt -statecode", "The emulator does not support arithmetic; '-' at position 11 in 'revenue gt -statecode' must be part of a number."},
		{"deep parentheses", strings.Repeat("(", 101) + "true" + strings.Repeat(")", 101), "The recursion limit has been exceeded."},
		{"deep not chain", strings.Repeat("not ", 5000) + "true", "The recursion limit has been exceeded."},
		{"deep function nesting", strings.Repeat("contains(", 200) + "'a','b'" + strings.Repeat(")", 200), "The recursion limit has been exceeded."},
		{"over-long filter", strings.Repeat("true or ", 9000) + "true", "The $filter value is 72004 bytes long; the emulator accepts at most 65536."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.filter)
			if err == nil {
				t.Fatalf("ParseFilter(%q) = %v, want error %q", tt.filter, f, tt.want)
			}
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("ParseFilter(%q) error is %T, want *Error", tt.filter, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("ParseFilter(%q) error\n got %s\nwant %s", tt.filter, got, tt.want)
			}
		})
	}
}

// TestParseFilterAliasesPathsEnums: the forms a metadata or message query
// uses, as Microsoft documents them ("Use bulk operation messages",
// "Query table definitions using the Web API").
func TestParseFilterAliasesPathsEnums(t *testing.T) {
	aliases := map[string]string{
		"@message": "'CreateMultiple'", "@table": "'lead'",
		"@p1": "'lastname'", "@p2": `["OBrian","O'Brian"]`,
	}
	lookup := func(name string) (string, bool) { v, ok := aliases[name]; return v, ok }
	tests := []struct {
		name, filter string
		row          map[string]any
		want         bool
	}{
		{"aliases and a lookup path", "sdkmessageid/name eq @message and primaryobjecttypecode eq @table",
			map[string]any{"sdkmessageid/name": "CreateMultiple", "primaryobjecttypecode": "lead"}, true},
		{"aliases against another table", "sdkmessageid/name eq @message and primaryobjecttypecode eq @table",
			map[string]any{"sdkmessageid/name": "CreateMultiple", "primaryobjecttypecode": "annotation"}, false},
		{"aliases as In's arguments", "Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)",
			map[string]any{"lastname": "O'Brian"}, true},
		{"an alias without a value is null", "lastname eq @missing", map[string]any{"lastname": "Lee"}, false},
		{"enumeration literal", "AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'",
			map[string]any{"AttributeType": "Picklist"}, true},
		{"enumeration literal through a complex property", "RequiredLevel/Value eq Microsoft.Dynamics.CRM.AttributeRequiredLevel'ApplicationRequired'",
			map[string]any{"RequiredLevel/Value": "None"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilterAliases(tt.filter, lookup)
			if err != nil {
				t.Fatalf("ParseFilterAliases(%q): %v", tt.filter, err)
			}
			if got := f.Match(tt.row); got != tt.want {
				t.Errorf("Match(%v): got %v, want %v", tt.row, got, tt.want)
			}
		})
	}
	f, err := ParseFilterAliases("sdkmessageid/name eq @message and RequiredLevel/Value eq 'x'", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Columns(), []string{"sdkmessageid/name", "RequiredLevel/Value"}; !slices.Equal(got, want) {
		t.Errorf("Columns: got %q, want %q", got, want)
	}
}

func TestParseFilterNestingWithinLimit(t *testing.T) {
	src := strings.Repeat("(", 99) + "firstname eq 'ann'" + strings.Repeat(")", 99)
	f, err := ParseFilter(src)
	if err != nil {
		t.Fatalf("ParseFilter(99 nested parentheses): %v", err)
	}
	if !f.Match(filterTestRow()) {
		t.Errorf("99 nested parentheses: got no match, want match")
	}
}

func TestParseFilterLongOrChain(t *testing.T) {
	// A dedupe over many addresses is a long flat or-chain; it must parse and
	// evaluate without deep recursion.
	terms := make([]string, 1000)
	for i := range terms {
		terms[i] = "emailaddress1 eq 'nobody@example.com'"
	}
	terms[len(terms)-1] = "emailaddress1 eq 'O''BRIEN+test@example.com'"
	f, err := ParseFilter(strings.Join(terms, " or "))
	if err != nil {
		t.Fatalf("ParseFilter(1000-term or): %v", err)
	}
	if !f.Match(filterTestRow()) {
		t.Errorf("1000-term or-chain: got no match, want match on the last term")
	}
}

func TestParseFilterNumbersBuiltInGo(t *testing.T) {
	// Rows the store builds itself may hold Go integers or json.Number rather
	// than the float64 that decoding a request produces.
	f, err := ParseFilter("statecode eq 1 and revenue gt 10 and numberofemployees lt 3")
	if err != nil {
		t.Fatal(err)
	}
	row := map[string]any{"statecode": 1, "revenue": json.Number("12.5"), "numberofemployees": int64(2)}
	if !f.Match(row) {
		t.Errorf("row with int, json.Number and int64 values: got no match, want match")
	}
}

func TestFilterColumns(t *testing.T) {
	f, err := ParseFilter("lastname eq firstname and (contains(emailaddress1,'x') or Microsoft.Dynamics.CRM.In(PropertyName='statecode',PropertyValues=['0'])) and lastname ne null")
	if err != nil {
		t.Fatal(err)
	}
	got := f.Columns()
	want := []string{"lastname", "firstname", "emailaddress1", "statecode"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Columns() = %q, want %q", got, want)
	}
}

func TestParseOrderBy(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []OrderTerm
	}{
		{"empty", "", nil},
		{"one column ascending by default", "lastname", []OrderTerm{{Column: "lastname"}}},
		{"desc", "createdon desc", []OrderTerm{{Column: "createdon", Desc: true}}},
		{"several columns", "createdon desc,lastname", []OrderTerm{{Column: "createdon", Desc: true}, {Column: "lastname"}}},
		{"explicit asc and spaces", " lastname asc , firstname desc ", []OrderTerm{{Column: "lastname"}, {Column: "firstname", Desc: true}}},
		{"lookup column", "_parentcontactid_value", []OrderTerm{{Column: "_parentcontactid_value"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOrderBy(tt.src)
			if err != nil {
				t.Fatalf("ParseOrderBy(%q): %v", tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseOrderBy(%q) = %+v, want %+v", tt.src, got, tt.want)
			}
		})
	}
}

func TestParseOrderByErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"trailing comma", "createdon desc,", "Expression expected at position 15 in 'createdon desc,'."},
		{"unknown direction", "createdon descending", "Syntax error at position 20 in 'createdon descending'."},
		{"direction is case-sensitive", "createdon DESC", "Syntax error at position 14 in 'createdon DESC'."},
		{"missing comma", "createdon desc lastname", "Syntax error at position 23 in 'createdon desc lastname'."},
		{"function", "tolower(lastname)", "The emulator orders by columns only; 'tolower(...)' in $orderby 'tolower(lastname)' is not supported."},
		{"unterminated literal", "'abc", "There is an unterminated string literal at position 4 in ''abc'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseOrderBy(tt.src)
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("ParseOrderBy(%q) error = %v, want *Error %q", tt.src, err, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("ParseOrderBy(%q) error\n got %s\nwant %s", tt.src, got, tt.want)
			}
		})
	}
}

func TestSortRows(t *testing.T) {
	tests := []struct {
		name    string
		orderBy string
		rows    []map[string]any
		want    []string // the "id" of each row, in order
	}{
		{
			name:    "ascending puts nulls first and ignores case",
			orderBy: "lastname",
			rows: []map[string]any{
				{"id": "b", "lastname": "bravo"}, {"id": "n", "lastname": nil},
				{"id": "a", "lastname": "Alpha"}, {"id": "c", "lastname": "charlie"}, {"id": "m"},
			},
			want: []string{"n", "m", "a", "b", "c"},
		},
		{
			name:    "descending puts nulls last",
			orderBy: "lastname desc",
			rows: []map[string]any{
				{"id": "b", "lastname": "bravo"}, {"id": "n", "lastname": nil},
				{"id": "a", "lastname": "Alpha"}, {"id": "c", "lastname": "Charlie"},
			},
			want: []string{"c", "b", "a", "n"},
		},
		{
			name:    "numbers sort numerically",
			orderBy: "revenue",
			rows:    []map[string]any{{"id": "10", "revenue": 10.0}, {"id": "9", "revenue": 9.0}, {"id": "-1", "revenue": -1.0}},
			want:    []string{"-1", "9", "10"},
		},
		{
			name:    "timestamps sort as instants whatever their precision",
			orderBy: "createdon desc",
			rows: []map[string]any{
				{"id": "whole", "createdon": "2026-01-01T00:00:00Z"},
				{"id": "half", "createdon": "2026-01-01T00:00:00.5Z"},
				{"id": "earlier", "createdon": "2025-12-31T23:59:59.9999999Z"},
			},
			want: []string{"half", "whole", "earlier"},
		},
		{
			name:    "second term breaks ties and equal rows keep their order",
			orderBy: "statecode,createdon desc",
			rows: []map[string]any{
				{"id": "1-old", "statecode": 1.0, "createdon": "2026-01-01T00:00:00Z"},
				{"id": "0-first", "statecode": 0.0, "createdon": "2026-01-02T00:00:00Z"},
				{"id": "1-new", "statecode": 1.0, "createdon": "2026-01-03T00:00:00Z"},
				{"id": "0-second", "statecode": 0.0, "createdon": "2026-01-02T00:00:00Z"},
			},
			want: []string{"0-first", "0-second", "1-new", "1-old"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			terms, err := ParseOrderBy(tt.orderBy)
			if err != nil {
				t.Fatal(err)
			}
			SortBy(tt.rows, row, terms)
			var got []string
			for _, r := range tt.rows {
				got = append(got, r["id"].(string))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("sorted by %q: got %q, want %q", tt.orderBy, got, tt.want)
			}
		})
	}
}

func TestLikeMatch(t *testing.T) {
	tests := []struct {
		s, pattern string
		want       bool
	}{
		{"abc", "abc", true},
		{"ABC", "abc", true},
		{"abc", "%", true},
		{"", "%", true},
		{"", "_", false},
		{"abc", "a%c", true},
		{"abc", "a%%%c", true},
		{"abc", "a_c", true},
		{"ac", "a_c", false},
		{"a-c", "a[-]c", true},
		{"abc", "a[^b]c", false},
		{"adc", "a[^b]c", true},
		{"aXc", "a[w-z]c", true},
		{"a[c", "a[c", true},
		{strings.Repeat("a", 2000) + "b", strings.Repeat("%a", 50) + "%c", false},
	}
	for _, tt := range tests {
		if got := likeMatch(tt.s, tt.pattern); got != tt.want {
			t.Errorf("likeMatch(%.20q, %.20q) = %v, want %v", tt.s, tt.pattern, got, tt.want)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, seed := range []string{
		"",
		"firstname eq 'Ann'",
		"lastname eq 'O''Brien' and statecode eq 0",
		"lastname eq 'O'Bryan'",
		"not (a eq 1 or b ne null) and contains(c,'%x_[^a-c]')",
		"_parentcontactid_value eq 6f1c2a3b-0000-4000-8000-00000000abcd",
		"createdon gt 2026-01-01T00:00:00Z or birthdate le 1990-05-01",
		"Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['a',\"O'B\"])",
		"Microsoft.Dynamics.CRM.NotBetween(PropertyName='revenue',PropertyValues=[\"1\",\"2\"])",
		"revenue ge -1.5e3m",
		"((((",
		"['",
		"@p1",
		"contains(lastname,'[')",
		"a eq b eq c",
		"😀 eq '😀'",
	} {
		f.Add(seed)
	}
	rows := []map[string]any{filterTestRow(), {}, {"a": 1.0, "b": "x", "c": true, "lastname": nil}}
	f.Fuzz(func(t *testing.T, src string) {
		expr, err := ParseFilter(src)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) {
				t.Fatalf("ParseFilter(%q) error is %T, want *Error", src, err)
			}
		} else {
			for _, r := range rows {
				expr.Match(r)
			}
			expr.Columns()
		}
		if terms, err := ParseOrderBy(src); err == nil {
			SortBy(append([]map[string]any(nil), rows...), row, terms)
		}
	})
}
