package forms_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/forms"
)

// prepared returns f after Prepare, failing the test if it is refused.
func prepared(t *testing.T, v *forms.Validator, f *forms.Form) *forms.Form {
	t.Helper()
	if err := f.Prepare(v); err != nil {
		t.Fatalf("Prepare(%s): %v", f.ID, err)
	}
	return f
}

func TestCleanNormalizes(t *testing.T) {
	v := forms.NewValidator()
	f := prepared(t, v, &forms.Form{ID: "t", Fields: []forms.Field{
		{Name: "first_name", Column: "firstname", Rules: "max=50"},
		{Name: "email", Column: "emailaddress1", Rules: "required,email"},
		{Name: "work_address", Column: "emailaddress2"},
		{Name: "company", Column: "companyname"},
		{Name: "note"}, // kept on the record only
		{Name: "consent", Column: "donotbulkemail", Type: "bool", Invert: true},
	}})
	tests := []struct {
		name string
		raw  map[string]string
		want map[string]string
	}{
		{
			name: "trims every value and lower-cases email columns",
			raw: map[string]string{
				"first_name": "  Ann \t", "email": " Ann.Lee@Example.COM ", "work_address": "ANN@CONTOSO.COM",
				"company": " Contoso Ltd ", "note": "\n hello \n", "consent": " yes ",
			},
			want: map[string]string{
				"first_name": "Ann", "email": "ann.lee@example.com", "work_address": "ann@contoso.com",
				"company": "Contoso Ltd", "note": "hello", "consent": "true",
			},
		},
		{
			name: "leaves out empty and blank values but always sets bools",
			raw:  map[string]string{"email": "a@b.co", "first_name": "   ", "company": ""},
			want: map[string]string{"email": "a@b.co", "consent": "false"},
		},
		{
			name: "ignores values of fields the form does not have",
			raw:  map[string]string{"email": "a@b.co", "admin": "true", "_idempotency_key": "k"},
			want: map[string]string{"email": "a@b.co", "consent": "false"},
		},
		{
			name: "keeps the case of names and companies",
			raw:  map[string]string{"email": "a@b.co", "first_name": "McDonald", "company": "ACME"},
			want: map[string]string{"email": "a@b.co", "first_name": "McDonald", "company": "ACME", "consent": "false"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := v.Clean(f, tt.raw)
			if problems != nil {
				t.Fatalf("problems = %v, want none", problems)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Clean = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCleanBools(t *testing.T) {
	v := forms.NewValidator()
	f := prepared(t, v, &forms.Form{ID: "t", Fields: []forms.Field{{Name: "email", Column: "emailaddress1"}, {Name: "consent", Column: "donotbulkemail", Type: "bool"}}})
	tests := []struct {
		in, want string // want "" means refused
	}{
		{"true", "true"}, {"TRUE", "true"}, {"1", "true"}, {"on", "true"}, {"yes", "true"}, {"Y", "true"}, {"checked", "true"},
		{"false", "false"}, {"0", "false"}, {"off", "false"}, {"No", "false"}, {"n", "false"}, {"", "false"},
		{"maybe", ""}, {"2", ""}, {"truee", ""}, {"yes please", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, problems := v.Clean(f, map[string]string{"consent": tt.in})
			if tt.want == "" {
				if msg := problems["consent"]; msg != "must be yes or no" {
					t.Errorf("Clean(%q): problem %q, want %q", tt.in, msg, "must be yes or no")
				}
				return
			}
			if problems != nil || got["consent"] != tt.want {
				t.Errorf("Clean(%q) = %q (problems %v), want %q", tt.in, got["consent"], problems, tt.want)
			}
		})
	}
}

func TestCleanMessages(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		field forms.Field
		value string
		want  string // the message; "" means accepted
	}{
		{"required and missing", forms.Field{Rules: "required"}, "", "is required"},
		{"required and blank", forms.Field{Rules: "required"}, "  \t ", "is required"},
		{"email rule", forms.Field{Rules: "email"}, "ann@", "must be a valid email address"},
		{"email column without the rule", forms.Field{Column: "emailaddress1"}, "not-an-address", "must be a valid email address"},
		{"email column with a display name", forms.Field{Column: "emailaddress1"}, "Ann <ann@example.com>", "must be a valid email address"},
		{"email column accepts a plain address", forms.Field{Column: "emailaddress1"}, "ann@example.com", ""},
		{"max rule", forms.Field{Rules: "max=5"}, "abcdef", "must be at most 5 characters"},
		{"max counts characters, not bytes", forms.Field{Rules: "max=5"}, "ééééé", ""},
		{"min rule", forms.Field{Rules: "min=3"}, "ab", "must be at least 3 characters"},
		{"len rule", forms.Field{Rules: "len=4"}, "abc", "must be exactly 4 characters"},
		{"oneof rule", forms.Field{Rules: "oneof=small medium large"}, "huge", "must be one of: small, medium, large"},
		{"url rule", forms.Field{Rules: "url"}, "example", "must be a web address starting with http:// or https://"},
		{"http_url rule", forms.Field{Rules: "http_url"}, "ftp://example.com", "must be a web address starting with http:// or https://"},
		{"e164 rule", forms.Field{Rules: "e164"}, "415 555 0100", "must be a phone number in international format, like +14155550123"},
		{"numeric rule", forms.Field{Rules: "numeric"}, "12a", "must be a number"},
		{"alpha rule", forms.Field{Rules: "alpha"}, "ab1", "must contain letters only"},
		{"alphanum rule", forms.Field{Rules: "alphanum"}, "ab-1", "must contain letters and digits only"},
		{"eq rule", forms.Field{Rules: "eq=yes"}, "no", "must be yes"},
		{"another rule", forms.Field{Rules: "ip"}, "nope", "is not valid (ip)"},
		{"omitempty skips the rest when empty", forms.Field{Rules: "omitempty,email"}, "", ""},
		{"invalid UTF-8", forms.Field{}, "ann\xff", "contains characters that are not valid text"},
		{"null character", forms.Field{}, "ann\x00lee", "contains a null character"},
		{"column limit below the rule", forms.Field{Column: "firstname", Rules: "max=100"}, long(51), "must be at most 50 characters"},
		{"column limit without rules", forms.Field{Column: "companyname"}, long(101), "must be at most 100 characters"},
		{"column limit reached exactly", forms.Field{Column: "companyname"}, long(100), ""},
		{"column limit counts characters", forms.Field{Column: "firstname"}, strings.Repeat("é", 50), ""},
		{"mobile phone limit", forms.Field{Column: "mobilephone"}, "+44 7700 900000 ext 12", "must be at most 20 characters"},
		{"description limit", forms.Field{Column: "description"}, long(2001), "must be at most 2000 characters"},
		{"column without a known limit", forms.Field{Column: "new_custom"}, long(5000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := forms.NewValidator()
			fd := tt.field
			fd.Name = "value"
			f := prepared(t, v, &forms.Form{ID: "t", Fields: []forms.Field{{Name: "email", Column: "emailaddress1"}, fd}})
			got, problems := v.Clean(f, map[string]string{"value": tt.value})
			if tt.want == "" {
				if problems != nil {
					t.Errorf("Clean(%q) refused: %v", tt.value, problems)
				}
				return
			}
			if got != nil {
				t.Errorf("Clean returned values %v along with problems", got)
			}
			if problems["value"] != tt.want {
				t.Errorf("message = %q, want %q", problems["value"], tt.want)
			}
		})
	}
}

// Dataverse counts a text column's length in UTF-16 code units: a
// character outside the Basic Multilingual Plane, such as most emoji, is
// two. Intake counts the same way, for column limits and for max/min/len.
func TestLengthsCountUTF16CodeUnits(t *testing.T) {
	emoji, e := "😀", "é" // U+1F600 is two code units; U+00E9 one
	tests := []struct {
		name  string
		field forms.Field
		value string
		want  string
	}{
		{"emoji at a column's limit", forms.Field{Column: "firstname"}, strings.Repeat(emoji, 25), ""},
		{"emoji just above a column's limit", forms.Field{Column: "firstname"}, strings.Repeat(emoji, 26), "must be at most 50 characters (an emoji counts as two)"},
		{"odd count: one unit above", forms.Field{Column: "firstname"}, "a" + strings.Repeat(emoji, 25), "must be at most 50 characters (an emoji counts as two)"},
		{"BMP letters at a column's limit", forms.Field{Column: "firstname"}, strings.Repeat(e, 50), ""},
		{"BMP letters just above", forms.Field{Column: "firstname"}, strings.Repeat(e, 51), "must be at most 50 characters"},
		{"2,000 emoji in the description", forms.Field{Column: "description"}, strings.Repeat(emoji, 2000), "must be at most 2000 characters (an emoji counts as two)"},
		{"1,000 emoji in the description", forms.Field{Column: "description"}, strings.Repeat(emoji, 1000), ""},
		{"max rule at its limit", forms.Field{Column: "new_x", Rules: "max=10"}, strings.Repeat(emoji, 5), ""},
		{"max rule just above", forms.Field{Column: "new_x", Rules: "max=10"}, strings.Repeat(emoji, 5) + "a", "must be at most 10 characters (an emoji counts as two)"},
		{"max rule with BMP letters", forms.Field{Column: "new_x", Rules: "max=10"}, strings.Repeat(e, 10), ""},
		{"min rule met by emoji", forms.Field{Rules: "min=4"}, strings.Repeat(emoji, 2), ""},
		{"min rule not met", forms.Field{Rules: "min=4"}, emoji + "a", "must be at least 4 characters"},
		{"len rule", forms.Field{Rules: "len=2"}, emoji, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := forms.NewValidator()
			fd := tt.field
			fd.Name = "value"
			f := prepared(t, v, &forms.Form{ID: "t", Fields: []forms.Field{{Name: "email", Column: "emailaddress1"}, fd}})
			_, problems := v.Clean(f, map[string]string{"value": tt.value})
			if problems["value"] != tt.want {
				t.Errorf("problem %q, want %q", problems["value"], tt.want)
			}
		})
	}
}

func TestCleanReportsEveryField(t *testing.T) {
	v := forms.NewValidator()
	f := prepared(t, v, forms.Demo())
	_, problems := v.Clean(f, map[string]string{"email": "nope", "first_name": strings.Repeat("a", 51), "consent": "perhaps"})
	want := map[string]string{
		"email":      "must be a valid email address",
		"last_name":  "is required",
		"first_name": "must be at most 50 characters",
		"consent":    "must be yes or no",
	}
	if !reflect.DeepEqual(problems, want) {
		t.Errorf("problems = %v, want %v", problems, want)
	}
}

func TestRenderSubject(t *testing.T) {
	tests := []struct {
		name, subject string
		values        map[string]string
		want          string
	}{
		{"fills the template", "Website enquiry from {{.company}}", map[string]string{"company": "Contoso"}, "Website enquiry from Contoso"},
		{"missing key renders empty", "Website enquiry from {{.company}}", map[string]string{}, "Website enquiry from"},
		{"missing everything falls back to the title", "{{.company}}", nil, "Contact us"},
		{"no template uses the title", "", nil, "Web form: Contact us"},
		{"text is not HTML-escaped", "From {{.company}}", map[string]string{"company": "O'Brien & <Sons>"}, "From O'Brien & <Sons>"},
		{"whitespace collapses to single spaces", "{{.first_name}} {{.last_name}}\n{{.message}}", map[string]string{"last_name": "Lee", "message": "line one\r\n\tline two "}, "Lee line one line two"},
		{"conditionals work", "{{if .company}}{{.company}}{{else}}{{.first_name}} {{.last_name}}{{end}}", map[string]string{"first_name": "Ann", "last_name": "Lee"}, "Ann Lee"},
		{"cut to 300 characters", "{{.message}}", map[string]string{"message": strings.Repeat("ab", 200)}, strings.Repeat("ab", 150)},
		{"cut counts characters, not bytes", "{{.message}}", map[string]string{"message": strings.Repeat("é", 400)}, strings.Repeat("é", 300)},
		{"cut counts UTF-16 code units", "{{.message}}", map[string]string{"message": strings.Repeat("😀", 400)}, strings.Repeat("😀", 150)},
		{"cut never splits an emoji", "{{.message}}", map[string]string{"message": "a" + strings.Repeat("😀", 400)}, "a" + strings.Repeat("😀", 149)},
		{"an execution error falls back to the title", "{{index .company 99}}", map[string]string{"company": "x"}, "Contact us"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := prepared(t, forms.NewValidator(), &forms.Form{
				ID: "contact-us", Title: "Contact us", Subject: tt.subject,
				Fields: []forms.Field{{Name: "email", Column: "emailaddress1"}},
			})
			if got := f.RenderSubject(tt.values); got != tt.want {
				t.Errorf("RenderSubject = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPrepareDefaults(t *testing.T) {
	f := prepared(t, forms.NewValidator(), &forms.Form{ID: "signup", Fields: []forms.Field{
		{Name: "email", Column: "emailaddress1"},
		{Name: "first_name", Column: "firstname"},
		{Name: "newsletter", Label: "Send me news", Type: "bool"},
	}})
	if f.Title != "signup" || f.Subject != "Web form: signup" {
		t.Errorf("Title %q Subject %q, want the id and %q", f.Title, f.Subject, "Web form: signup")
	}
	if !reflect.DeepEqual(f.Match, []string{forms.MatchEmail}) || f.OnMatch != forms.OnMatchFillEmpty || f.Contact != forms.ContactNone {
		t.Errorf("Match %v OnMatch %q Contact %q, want [email], fill_empty, none", f.Match, f.OnMatch, f.Contact)
	}
	var got []string
	for _, fd := range f.Fields {
		got = append(got, fd.Label+"/"+fd.Type)
	}
	if want := []string{"Email/string", "First name/string", "Send me news/bool"}; !reflect.DeepEqual(got, want) {
		t.Errorf("labels/types = %v, want %v", got, want)
	}
}

func TestPrepareRefuses(t *testing.T) {
	email := forms.Field{Name: "email", Column: "emailaddress1"}
	tests := []struct {
		name string
		form forms.Form
		want string
	}{
		{"unknown match rule", forms.Form{Match: []string{"name"}, Fields: []forms.Field{email}}, `match: "name" is not one of email, phone, email+company`},
		{"phone match without a phone field", forms.Form{Match: []string{"phone"}, Fields: []forms.Field{email}},
			`match: "phone" needs a field with the phone role (a column like telephone1 or mobilephone, or role: phone)`},
		{"phone match on a field named phone that is not a phone", forms.Form{Match: []string{"phone"}, Fields: []forms.Field{email, {Name: "phone", Column: "jobtitle"}}},
			`match: "phone" needs a field with the phone role`},
		{"email+company without company", forms.Form{Match: []string{"email+company"}, Fields: []forms.Field{email}},
			`match: "email+company" needs a field with the company role (the column companyname, or role: company)`},
		{"default email match without an email field", forms.Form{Fields: []forms.Field{{Name: "name"}}}, `match: "email" needs a field with the email role`},
		{"email match on a field named email that writes no column", forms.Form{Fields: []forms.Field{{Name: "email", Role: forms.RoleEmail}}}, `match: "email" needs a field with the email role`},
		{"contact link without an email field", forms.Form{Match: []string{"phone"}, Contact: "link", Fields: []forms.Field{{Name: "phone", Column: "telephone1"}}},
			"contact: link finds the contact by email and needs a field with the email role"},
		{"unknown role", forms.Form{Fields: []forms.Field{email, {Name: "x", Column: "new_x", Role: "address"}}}, `fields.x.role: "address" is not one of email, phone, company, name, message, consent, other`},
		{"consent role on text", forms.Form{Fields: []forms.Field{email, {Name: "x", Column: "new_x", Role: forms.RoleConsent}}}, "fields.x.role: consent needs type: bool"},
		{"email role on a bool", forms.Form{Fields: []forms.Field{email, {Name: "x", Column: "new_x", Type: "bool", Role: forms.RoleEmail}}}, "fields.x.role: email is text"},
		{"unknown on_match", forms.Form{OnMatch: "merge", Fields: []forms.Field{email}}, `on_match: "merge" is not one of fill_empty, overwrite, create_new`},
		{"unknown contact", forms.Form{Contact: "always", Fields: []forms.Field{email}}, `contact: "always" is not one of none, link`},
		{"no fields", forms.Form{}, "fields: a form needs at least one field"},
		{"empty field name", forms.Form{Fields: []forms.Field{email, {Name: ""}}}, `fields: "" is not a usable field name`},
		{"field name starting with _", forms.Form{Fields: []forms.Field{email, {Name: "_token"}}}, `fields: "_token" is not a usable field name`},
		{"field twice", forms.Form{Fields: []forms.Field{email, email}}, "fields.email: defined twice"},
		{"unknown type", forms.Form{Fields: []forms.Field{email, {Name: "n", Type: "int"}}}, `fields.n.type: "int" is not one of text, email, tel, textarea, select, radio, checkbox, checkboxes, hidden (or string, bool)`},
		{"unknown rule", forms.Form{Fields: []forms.Field{{Name: "email", Rules: "required,emial"}}}, "fields.email.rules:"},
		{"malformed rule parameter", forms.Form{Fields: []forms.Field{{Name: "email", Rules: "max=ten"}}}, "fields.email.rules:"},
		{"alternate key no field writes", forms.Form{AlternateKey: "telephone1", Fields: []forms.Field{email}}, `alternate_key: no field writes column "telephone1"`},
		{"broken subject", forms.Form{Subject: "{{.company", Fields: []forms.Field{email}}, "subject:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.form
			f.ID = "t"
			err := f.Prepare(forms.NewValidator())
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Prepare error = %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestDemoForm(t *testing.T) {
	v := forms.NewValidator()
	f := prepared(t, v, forms.Demo())
	got, problems := v.Clean(f, map[string]string{"email": "Ann@Example.com", "last_name": "Lee", "consent": "on"})
	if problems != nil {
		t.Fatalf("problems = %v", problems)
	}
	if want := map[string]string{"email": "ann@example.com", "last_name": "Lee", "consent": "true"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Clean = %v, want %v", got, want)
	}
	if s := f.RenderSubject(got); s != "Web enquiry from Lee" {
		t.Errorf("subject = %q, want %q", s, "Web enquiry from Lee")
	}
}

func TestSetIDs(t *testing.T) {
	s := forms.Set{"b": {}, "a": {}, "c": {}}
	if got := s.IDs(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("IDs = %v, want sorted [a b c]", got)
	}
}

func TestRequiredCheckboxMustBeTicked(t *testing.T) {
	v := forms.NewValidator()
	f := &forms.Form{ID: "c", Fields: []forms.Field{{Name: "email", Column: "emailaddress1", Rules: "required,email"}, {Name: "consent", Type: "bool", Rules: "required"}}}
	if err := f.Prepare(v); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		consent string
		want    string
	}{{"", "must be ticked"}, {"false", "must be ticked"}, {"on", ""}} {
		_, problems := v.Clean(f, map[string]string{"email": "a@b.co", "consent": tc.consent})
		if got := problems["consent"]; got != tc.want {
			t.Errorf("consent %q: got %q, want %q", tc.consent, got, tc.want)
		}
	}
}

func TestRulesThatPanicOnTextAreRefusedAtStart(t *testing.T) {
	for _, rules := range []string{"required,dive", "omitempty,dive,max=3", "required,unique"} {
		f := &forms.Form{ID: "r", Fields: []forms.Field{{Name: "email", Column: "emailaddress1", Rules: "required,email"}, {Name: "x", Rules: rules}}}
		if err := f.Prepare(forms.NewValidator()); err == nil || !strings.Contains(err.Error(), "fields.x.rules") {
			t.Errorf("rules %q: Prepare = %v, want an error naming fields.x.rules", rules, err)
		}
	}
}

func TestRoles(t *testing.T) {
	f := prepared(t, forms.NewValidator(), &forms.Form{ID: "roles", Fields: []forms.Field{
		{Name: "email", Column: "emailaddress1"},
		{Name: "work", Column: "emailaddress2"},
		{Name: "other_mail", Column: "emailaddress3"},
		{Name: "phone", Column: "telephone1"},
		{Name: "home", Column: "telephone2"},
		{Name: "other_phone", Column: "telephone3"},
		{Name: "mobile", Column: "mobilephone"},
		{Name: "company", Column: "companyname"},
		{Name: "first", Column: "firstname"},
		{Name: "middle", Column: "middlename"},
		{Name: "last", Column: "lastname"},
		{Name: "message", Column: "description"},
		{Name: "consent", Column: "donotbulkemail", Type: "bool", Invert: true},
		{Name: "no_email", Column: "donotemail", Type: "bool"},
		{Name: "gdpr", Column: "msdyn_gdproptout", Type: "bool"},
		{Name: "job", Column: "jobtitle"},
		{Name: "note"},
		{Name: "custom_email", Column: "new_email", Role: forms.RoleEmail},
		{Name: "story", Column: "new_story", Role: forms.RoleMessage},
		{Name: "not_an_email", Column: "emailaddress2", Role: forms.RoleOther},
	}})
	want := map[string]forms.Role{
		"email": "email", "work": "email", "other_mail": "email",
		"phone": "phone", "home": "phone", "other_phone": "phone", "mobile": "phone",
		"company": "company", "first": "name", "middle": "name", "last": "name", "message": "message",
		"consent": "consent", "no_email": "consent", "gdpr": "consent",
		"job": "other", "note": "other", "custom_email": "email", "story": "message", "not_an_email": "other",
	}
	for _, fd := range f.Fields {
		if fd.Role != want[fd.Name] {
			t.Errorf("%s (column %q): role %q, want %q", fd.Name, fd.Column, fd.Role, want[fd.Name])
		}
	}
}

func TestFieldsAskedByThePage(t *testing.T) {
	tests := []struct {
		field                   forms.Field
		inputType, autocomplete string
		multiline, required     bool
	}{
		{forms.Field{Column: "emailaddress2", Rules: "required,max=100"}, "email", "email", false, true},
		{forms.Field{Column: "new_email", Role: forms.RoleEmail}, "email", "email", false, false},
		{forms.Field{Column: "mobilephone"}, "tel", "tel", false, false},
		{forms.Field{Column: "telephone3", Rules: "omitempty,required_with=x"}, "tel", "tel", false, false},
		{forms.Field{Column: "firstname"}, "text", "given-name", false, false},
		{forms.Field{Column: "lastname", Rules: "required"}, "text", "family-name", false, true},
		{forms.Field{Column: "new_fullname", Role: forms.RoleName}, "text", "name", false, false},
		{forms.Field{Column: "companyname"}, "text", "organization", false, false},
		{forms.Field{Column: "jobtitle"}, "text", "organization-title", false, false},
		{forms.Field{Column: "address1_postalcode"}, "text", "postal-code", false, false},
		{forms.Field{Column: "description"}, "text", "", true, false},
		{forms.Field{Column: "new_notes", Role: forms.RoleMessage}, "text", "", true, false},
		{forms.Field{Column: "donotbulkemail", Type: "bool", Rules: "required"}, "checkbox", "", false, true},
		{forms.Field{}, "text", "", false, false},
	}
	for _, tt := range tests {
		fd := tt.field
		fd.Name = "x"
		f := prepared(t, forms.NewValidator(), &forms.Form{ID: "t", Fields: []forms.Field{{Name: "email", Column: "emailaddress1"}, fd}})
		got, _ := f.Field("x")
		if got.InputType() != tt.inputType || got.Autocomplete() != tt.autocomplete || got.Multiline() != tt.multiline || got.Required() != tt.required {
			t.Errorf("%+v: input %q autocomplete %q multiline %v required %v; want %q %q %v %v", got,
				got.InputType(), got.Autocomplete(), got.Multiline(), got.Required(), tt.inputType, tt.autocomplete, tt.multiline, tt.required)
		}
	}
}

// The first field with a role identifies the person; the others are data.
func TestIdentityFieldIsTheFirst(t *testing.T) {
	f := prepared(t, forms.NewValidator(), &forms.Form{ID: "t", Match: []string{forms.MatchEmailCompany, forms.MatchPhone}, Fields: []forms.Field{
		{Name: "note_email", Role: forms.RoleEmail}, // no column: cannot be matched on
		{Name: "work", Column: "emailaddress2"},
		{Name: "email", Column: "emailaddress1"},
		{Name: "company", Column: "companyname"},
		{Name: "mobile", Column: "mobilephone"},
		{Name: "phone", Column: "telephone1"},
	}})
	if fd, _ := f.IdentityField(forms.RoleEmail); fd.Name != "work" {
		t.Errorf("email identity = %q, want work (the first email field that writes a column)", fd.Name)
	}
	if got, want := f.IdentityColumns(), []string{"emailaddress2", "companyname", "mobilephone"}; !reflect.DeepEqual(got, want) {
		t.Errorf("IdentityColumns = %v, want %v", got, want)
	}
}

// Values of email fields are lower-cased and checked whatever the field is
// called; other fields are left as typed whatever they are called.
func TestCleanAsksTheRole(t *testing.T) {
	v := forms.NewValidator()
	f := prepared(t, v, &forms.Form{ID: "t", Fields: []forms.Field{
		{Name: "work_email", Column: "emailaddress2"},
		{Name: "email", Column: "companyname"},
		{Name: "private", Column: "new_private", Role: forms.RoleEmail},
	}})
	got, problems := v.Clean(f, map[string]string{"work_email": "Ann@Contoso.COM", "email": "ACME Inc", "private": "ANN@HOME.ORG"})
	if want := map[string]string{"work_email": "ann@contoso.com", "email": "ACME Inc", "private": "ann@home.org"}; problems != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Clean = %v (problems %v), want %v", got, problems, want)
	}
	_, problems = v.Clean(f, map[string]string{"work_email": "ann@contoso.com", "private": "not an address"})
	if problems["private"] != "must be a valid email address" {
		t.Errorf("problems = %v, want private to be refused as an email address", problems)
	}
}
