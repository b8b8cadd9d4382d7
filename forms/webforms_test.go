package forms_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/forms"
)

// industry is a select on a Dataverse choice column, labelled in two
// languages.
func industry() forms.Field {
	return forms.Field{Name: "industry", Type: "select", Column: "industrycode", Rules: "required",
		Labels: forms.Text{"": "Industry", "de": "Branche"},
		Options: []forms.Option{
			{Value: "7", Label: forms.Text{"": "Consulting", "de": "Beratung"}},
			{Value: "25", Label: forms.Text{"": "Retail", "de": "Einzelhandel"}},
		}}
}

func richForm(t *testing.T, v *forms.Validator) *forms.Form {
	return prepared(t, v, &forms.Form{ID: "rich", Language: "en", Fields: []forms.Field{
		{Name: "email", Column: "emailaddress1", Rules: "required", Labels: forms.Text{"en": "Email", "de": "E-Mail"}},
		industry(),
		{Name: "size", Type: "radio", Column: "new_size", Options: []forms.Option{{Value: "small"}, {Value: "large"}}},
		{Name: "campaign", Type: "hidden", Column: "new_campaign", Value: "spring-2026"},
		{Name: "source", Type: "hidden", Column: "new_utmsource", Param: "utm_source"},
		{Name: "notes", Type: "textarea", Help: forms.Text{"": "Anything else?"}},
	}, Consent: &forms.Consent{Text: forms.Text{"": "Send me news", "de": "Schickt mir Neuigkeiten"}, Version: "v3",
		PolicyURL: "https://www.example.com/privacy", Columns: []string{"donotbulkemail", "msdyn_gdproptout", "new_optin"}}})
}

func TestRichFieldsClean(t *testing.T) {
	v := forms.NewValidator()
	f := richForm(t, v)
	tests := []struct {
		name     string
		raw      map[string]string
		want     map[string]string
		problems map[string]string
	}{
		{"option by value", map[string]string{"email": "a@b.co", "industry": "25", "size": "small"},
			map[string]string{"email": "a@b.co", "industry": "25", "size": "small", "campaign": "spring-2026", "consent": "false"}, nil},
		{"option by its label in any language", map[string]string{"email": "a@b.co", "industry": "einzelhandel"},
			map[string]string{"email": "a@b.co", "industry": "25", "campaign": "spring-2026", "consent": "false"}, nil},
		{"unknown option", map[string]string{"email": "a@b.co", "industry": "99"}, nil,
			map[string]string{"industry": "must be one of the choices offered"}},
		{"required select left empty", map[string]string{"email": "a@b.co"}, nil, map[string]string{"industry": "is required"}},
		{"a posted fixed hidden value is ignored", map[string]string{"email": "a@b.co", "industry": "7", "campaign": "hacked"},
			map[string]string{"email": "a@b.co", "industry": "7", "campaign": "spring-2026", "consent": "false"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := v.Clean(f, tt.raw)
			if !reflect.DeepEqual(problems, tt.problems) {
				t.Fatalf("problems = %v, want %v", problems, tt.problems)
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Clean = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFillHiddenOverridesTheClient(t *testing.T) {
	f := richForm(t, forms.NewValidator())
	raw := map[string]string{"source": "posted", "campaign": "posted"}
	f.FillHidden(raw, forms.PageParams("https://www.example.com/p?utm_source=news&utm_campaign=x"))
	if raw["source"] != "news" || raw["campaign"] != "spring-2026" {
		t.Errorf("hidden values = %v, want source from the page URL and the fixed campaign", raw)
	}
	raw = map[string]string{"source": "posted"}
	f.FillHidden(raw, forms.PageParams("https://www.example.com/p"))
	if raw["source"] != "" {
		t.Errorf("source without the parameter on the page = %q, want empty", raw["source"])
	}
	if fd, _ := f.Field("source"); fd.Role != forms.RoleAttribution {
		t.Errorf("role of a hidden utm_source field = %q, want attribution", fd.Role)
	}
}

func TestLeadValues(t *testing.T) {
	f := richForm(t, forms.NewValidator())
	ind, _ := f.Field("industry")
	size, _ := f.Field("size")
	consent, _ := f.ConsentField()
	tests := []struct {
		fd   forms.Field
		v    string
		want map[string]any
	}{
		{ind, "25", map[string]any{"industrycode": 25}},
		{ind, "", nil},
		{size, "small", map[string]any{"new_size": "small"}},
		{consent, "true", map[string]any{"donotbulkemail": false, "msdyn_gdproptout": false, "new_optin": true}},
		{consent, "false", map[string]any{"donotbulkemail": true, "msdyn_gdproptout": true, "new_optin": false}},
	}
	for _, tt := range tests {
		if got := tt.fd.LeadValues(tt.v); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %q: LeadValues = %v, want %v", tt.fd.Name, tt.v, got, tt.want)
		}
	}
	if !ind.Choice() || size.Choice() {
		t.Errorf("Choice: industry %v size %v, want true, false", ind.Choice(), size.Choice())
	}
}

func TestLanguages(t *testing.T) {
	f := richForm(t, forms.NewValidator())
	if got := f.Languages(); !reflect.DeepEqual(got, []string{"en", "de"}) {
		t.Fatalf("Languages = %v, want [en de]", got)
	}
	tests := []struct{ asked, accept, want string }{
		{"", "", "en"},
		{"de", "", "de"},
		{"DE-ch", "", "de"},
		{"fr", "", "en"},
		{"", "de-CH,de;q=0.9,en;q=0.8", "de"},
		{"", "fr-FR,fr;q=0.9", "en"},
		{"", "fr;q=1,de;q=0.5", "de"},
		{"<script>", "de", "de"},
		{"", strings.Repeat("de,", 1000), "en"},
		{"", ";;;,,q=x", "en"},
	}
	for _, tt := range tests {
		if got := f.PickLanguage(tt.asked, tt.accept); got != tt.want {
			t.Errorf("PickLanguage(%q, %.30q) = %q, want %q", tt.asked, tt.accept, got, tt.want)
		}
	}
}

func TestMessagesInFourLanguages(t *testing.T) {
	v := forms.NewValidator()
	f := richForm(t, v)
	raw := map[string]string{"email": "nope", "industry": "25"}
	for lang, want := range map[string]string{
		"en": "must be a valid email address",
		"de": "muss eine gültige E-Mail-Adresse sein",
		"fr": "doit être une adresse e-mail valide",
		"es": "debe ser una dirección de correo electrónico válida",
		"pt": "must be a valid email address",
	} {
		_, problems := v.CleanIn(f, raw, lang)
		if problems["email"] != want {
			t.Errorf("%s: %q, want %q", lang, problems["email"], want)
		}
	}
	f.Messages = map[string]forms.Text{forms.MsgSubmit: {"en": "Get in touch"}}
	if got := f.Message("en", forms.MsgSubmit); got != "Get in touch" {
		t.Errorf("own message: %q", got)
	}
	if got := f.Message("de", forms.MsgSubmit); got != "Senden" {
		t.Errorf("own message in English only, asked in German: %q, want the built-in German", got)
	}
	for _, k := range forms.MessageKeys() {
		for _, l := range forms.BuiltinLanguages {
			if f.Message(l, k) == "" {
				t.Errorf("message %s has no %s text", k, l)
			}
		}
	}
}

func TestView(t *testing.T) {
	f := richForm(t, forms.NewValidator())
	v := f.View("de")
	var names []string
	for _, fv := range v.Fields {
		names = append(names, fv.Name+":"+fv.Control+":"+fv.Label)
	}
	want := []string{"email:email:E-Mail", "industry:select:Branche", "size:radio:Size", "notes:textarea:Notes", "consent:checkbox:Schickt mir Neuigkeiten"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("fields = %v, want %v (no hidden fields)", names, want)
	}
	if v.Fields[1].Options[1] != (forms.OptionView{Value: "25", Label: "Einzelhandel"}) || v.Submit != "Senden" {
		t.Errorf("options %v submit %q", v.Fields[1].Options, v.Submit)
	}
	if v.Consent == nil || v.Consent.Version != "v3" || v.Consent.PolicyLabel != "Datenschutzerklärung" || !v.Fields[4].Consent {
		t.Errorf("consent = %+v", v.Consent)
	}
	if v.Fields[0].MaxLength != 100 || v.Fields[3].Help != "Anything else?" {
		t.Errorf("email maxlength %d, notes help %q", v.Fields[0].MaxLength, v.Fields[3].Help)
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://www.example.com":      "https://www.example.com",
		"HTTPS://WWW.Example.COM/":     "https://www.example.com",
		"https://www.example.com:443":  "https://www.example.com",
		"http://127.0.0.1:8080":        "http://127.0.0.1:8080",
		"http://[::1]:80":              "http://[::1]",
		"https://www.example.com/path": "",
		"https://www.example.com?x=1":  "",
		"null":                         "",
		"file://":                      "",
		"javascript:alert(1)":          "",
		"https://user@www.example.com": "",
		"https://*.example.com":        "",
		"ftp://www.example.com":        "",
		"https://www.example.com//":    "",
		"https://www.example.com#frag": "",
	} {
		got, ok := forms.NormalizeOrigin(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeOrigin(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestPrepareRefusesRichFields(t *testing.T) {
	email := forms.Field{Name: "email", Column: "emailaddress1"}
	many := make([]forms.Option, forms.MaxOptions+1)
	for i := range many {
		many[i].Value = strings.Repeat("x", i+1)
	}
	tests := []struct {
		name string
		form forms.Form
		want string
	}{
		{"select without options", forms.Form{Fields: []forms.Field{email, {Name: "s", Type: "select"}}}, "fields.s.options: a select needs options"},
		{"options on a text field", forms.Form{Fields: []forms.Field{email, {Name: "s", Options: []forms.Option{{Value: "1"}}}}}, "fields.s.options: only a select, radio or checkboxes"},
		{"too many options", forms.Form{Fields: []forms.Field{email, {Name: "s", Type: "radio", Options: many}}}, "fields.s.options: 201 options"},
		{"option value twice", forms.Form{Fields: []forms.Field{email, {Name: "s", Type: "select", Options: []forms.Option{{Value: "1"}, {Value: "1"}}}}}, `fields.s.options[1]: value "1" is given twice`},
		{"hidden with neither", forms.Form{Fields: []forms.Field{email, {Name: "h", Type: "hidden"}}}, "fields.h.value: a hidden field needs exactly one"},
		{"hidden with both", forms.Form{Fields: []forms.Field{email, {Name: "h", Type: "hidden", Value: "a", Param: "b"}}}, "fields.h.value: a hidden field needs exactly one"},
		{"value on a text field", forms.Form{Fields: []forms.Field{email, {Name: "h", Value: "a"}}}, "fields.h.value, param"},
		{"bad param", forms.Form{Fields: []forms.Field{email, {Name: "h", Type: "hidden", Param: "a b"}}}, "fields.h.param"},
		{"bad language", forms.Form{Language: "english", Fields: []forms.Field{email}}, "language:"},
		{"bad label language", forms.Form{Fields: []forms.Field{email, {Name: "x", Labels: forms.Text{"<b>": "x"}}}}, "fields.x.label:"},
		{"unknown message", forms.Form{Messages: map[string]forms.Text{"hello": {"en": "hi"}}, Fields: []forms.Field{email}}, "messages.hello: unknown message"},
		{"origin with a path", forms.Form{AllowedOrigins: []string{"https://www.example.com/contact"}, Fields: []forms.Field{email}}, "allowed_origins:"},
		{"frame ancestor with a path", forms.Form{FrameAncestors: []string{"https://www.example.com/x"}, Fields: []forms.Field{email}}, "frame_ancestors:"},
		{"javascript success_url", forms.Form{SuccessURL: "javascript:alert(1)", Fields: []forms.Field{email}}, "success_url:"},
		{"consent on a text field", forms.Form{Consent: &forms.Consent{Field: "email"}, Fields: []forms.Field{email}}, "consent.field: email is not a checkbox"},
		{"consent policy not a web address", forms.Form{Consent: &forms.Consent{PolicyURL: "/privacy"}, Fields: []forms.Field{email}}, "consent.policy_url:"},
		{"checkbox with an email role", forms.Form{Fields: []forms.Field{email, {Name: "c", Type: "checkbox", Role: forms.RoleEmail}}}, "fields.c.role: email is text"},
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

func TestDemoFormSpeaksFourLanguages(t *testing.T) {
	f := prepared(t, forms.NewValidator(), forms.Demo())
	if got := f.Languages(); !reflect.DeepEqual(got, []string{"en", "de", "es", "fr"}) {
		t.Errorf("Languages = %v", got)
	}
	if v := f.View("fr"); v.Title != "Formulaire de démonstration" || v.Fields[2].Label != "E-mail" {
		t.Errorf("French view: title %q email label %q", v.Title, v.Fields[2].Label)
	}
}
