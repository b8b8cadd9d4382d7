// Package forms defines lead-capture forms — their fields, validation rules,
// column mapping and delivery settings — and turns a raw submission into
// normalized values or field-level errors a person can act on.
package forms

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"

	"golang.org/x/text/language"

	"github.com/leadbridge/leadbridge/spam"
)

// Match keys a form can dedupe on.
const (
	MatchEmail        = "email"
	MatchPhone        = "phone"
	MatchEmailCompany = "email+company"
)

// What to do when an open lead already matches.
const (
	OnMatchFillEmpty = "fill_empty"
	OnMatchOverwrite = "overwrite"
	OnMatchCreateNew = "create_new"
)

// Contact handling.
const (
	ContactNone = "none"
	ContactLink = "link"
)

// Form is one lead-capture form: what it accepts and how it lands in the CRM.
type Form struct {
	ID             string
	Title          string // in the form's language; Prepare sets it from Titles
	Titles         Text   // the title in every language given
	AllowedOrigins []string
	SuccessURL     string
	ErrorURL       string
	Subject        string // text/template over the field values
	LeadSource     int    // leadsourcecode; 0 means not sent
	Match          []string
	OnMatch        string
	Contact        string
	AlternateKey   string // lead column with an alternate key in the org; "" = query then write
	Fields         []Field

	// The data model (mapping.go). Table is the logical name of the table
	// written ("lead" when empty) and EntitySet its entity set.
	Table     string
	EntitySet string
	Owner     *Owner    // who owns the row; nil = the application user
	Campaign  *Campaign // the campaign it is tied to; nil = none
	Account   *Account  // the account a lead is tied to; nil = none
	Note      *Note     // text kept as a note on the row; nil = none

	// Language is the form's own language: what its plain texts are
	// written in, and what a visitor who asks for none of its languages
	// sees. "en" when not set.
	Language    string
	Intro       Text            // words above the fields
	SubmitLabel Text            // the button; the built-in "Send" when empty
	ThankYou    Text            // after a submission; the built-in thanks when empty
	Messages    map[string]Text // the form's wording of built-in messages (MessageKeys)
	Consent     *Consent        // the consent checkbox's text, policy and version; nil = none
	// FrameAncestors are the origins that may show the hosted page in a
	// frame (CSP frame-ancestors); none: no one may.
	FrameAncestors []string
	// Spam is the form's spam and flood settings (its spam: key).
	Spam spam.Config

	subject   *template.Template
	languages []string
	matcher   language.Matcher
}

// Consent is what a form's consent checkbox says and records: the words a
// person agrees to, the privacy policy linked next to them, and the
// version of that wording, all kept with each submission.
type Consent struct {
	Field     string // the consent field; "" = the first field with the consent role
	Text      Text
	PolicyURL string
	Version   string
	// Columns are the lead columns the checkbox writes, replacing the
	// field's own: a tick writes false into the do-not and opt-out columns
	// (donotbulkemail, msdyn_gdproptout, …) and true into any other.
	Columns []string
}

// Field is one input of a form.
type Field struct {
	Name        string // the name the form posts
	Label       string // in the form's language; Prepare sets it from Labels (or the name)
	Labels      Text   // the label in every language given
	Help        Text   // a hint under the label
	Placeholder Text
	Column      string   // lead column it is written to; "" = kept on the record only
	Also        []string // more columns a checkbox writes (see LeadValues)
	Rules       string   // validator v10 tags
	// Type is the value's kind, "string" or "bool", after Prepare. In a
	// form being prepared it may also name a control (select, hidden, …),
	// as the YAML's type: key does; Prepare moves that to Control.
	Type    string
	Control string // how it is asked: one of Controls; "" = decided by Prepare from Type and role
	Invert  bool   // for bool fields: write the negation (consent → donotbulkemail)
	Role    Role   // what the field means; "" = decided by Prepare from the column
	// AutocompleteToken overrides the autocomplete token the role gives.
	AutocompleteToken string
	Options           []Option // a select's or radio group's choices
	Value             string   // a hidden field's fixed value
	Param             string   // the page URL parameter a hidden field's value comes from
	// Kind is how the value is written into its column (one of Kinds, or
	// KindLookup); Prepare decides it when not given.
	Kind string
	// Lookup finds the row a lookup field binds; nil for other kinds.
	Lookup *Lookup
	// MaxLength is the longest text the column takes, in UTF-16 code
	// units; 0 = not known. Prepare fills it for the lead's own columns.
	MaxLength int

	choice bool // every option's value is a whole number
	cut    bool // the note keeps the whole text: the column gets its first part
}

// Field returns the field with that name.
func (f *Form) Field(name string) (Field, bool) {
	for _, fd := range f.Fields {
		if fd.Name == name {
			return fd, true
		}
	}
	return Field{}, false
}

// Prepare checks the form's settings and compiles its subject template. It is
// called once at start-up; errors name the setting at fault.
func (f *Form) Prepare(v *Validator) error {
	if err := f.prepareTable(); err != nil {
		return err
	}
	if f.Language == "" {
		f.Language = "en"
	}
	if !ValidLanguage(f.Language) {
		return fmt.Errorf("language: %q is not a language tag like en, de or pt-BR", f.Language)
	}
	if err := f.prepareTexts(); err != nil {
		return err
	}
	if f.Subject == "" && f.IsLead() {
		f.Subject = "Web form: " + f.Title
	}
	t, err := template.New(f.ID).Option("missingkey=zero").Parse(f.Subject)
	if err != nil {
		return fmt.Errorf("subject: %v", err)
	}
	f.subject = t
	if len(f.Match) == 0 && f.IsLead() {
		f.Match = []string{MatchEmail}
	}
	for _, m := range f.Match {
		switch m {
		case MatchEmail, MatchPhone, MatchEmailCompany:
		default:
			return fmt.Errorf("match: %q is not one of email, phone, email+company", m)
		}
	}
	switch f.OnMatch {
	case "":
		if !f.IsLead() {
			break
		}
		f.OnMatch = OnMatchFillEmpty
		if f.AlternateKey != "" {
			f.OnMatch = OnMatchOverwrite
		}
	case OnMatchFillEmpty, OnMatchOverwrite, OnMatchCreateNew:
	default:
		return fmt.Errorf("on_match: %q is not one of fill_empty, overwrite, create_new", f.OnMatch)
	}
	if f.AlternateKey != "" && f.IsLead() && f.OnMatch != OnMatchOverwrite {
		// One PATCH upsert writes every column it is sent; it cannot fill
		// only what is empty, nor create a second row with the same key.
		return fmt.Errorf("on_match: %s cannot be used with alternate_key (an upsert by key overwrites); use overwrite or drop alternate_key", f.OnMatch)
	}
	switch f.Contact {
	case "":
		f.Contact = ContactNone
	case ContactNone, ContactLink:
	default:
		return fmt.Errorf("contact: %q is not one of none, link", f.Contact)
	}
	if len(f.Fields) == 0 {
		return fmt.Errorf("fields: a form needs at least one field")
	}
	seen := map[string]bool{}
	for i := range f.Fields {
		fd := &f.Fields[i]
		if fd.Name == "" || strings.HasPrefix(fd.Name, "_") {
			return fmt.Errorf("fields: %q is not a usable field name (empty or starting with _)", fd.Name)
		}
		if seen[fd.Name] {
			return fmt.Errorf("fields.%s: defined twice", fd.Name)
		}
		seen[fd.Name] = true
		if err := fd.prepareControl(); err != nil {
			return fmt.Errorf("fields.%s.%v", fd.Name, err)
		}
		if fd.Role == "" {
			fd.Role = columnRole(fd.Column, fd.Type)
			if fd.Control == ControlHidden && isAttribution(fd.Param) {
				fd.Role = RoleAttribution
			}
		} else if err := checkRole(fd); err != nil {
			return fmt.Errorf("fields.%s.role: %v", fd.Name, err)
		}
		fd.defaultControl()
		if err := fd.prepareFieldTexts(f.Language); err != nil {
			return fmt.Errorf("fields.%s.%v", fd.Name, err)
		}
		if err := fd.prepareOptions(f.Language); err != nil {
			return fmt.Errorf("fields.%s.%v", fd.Name, err)
		}
		if err := v.checkRules(fd.Rules); err != nil {
			return fmt.Errorf("fields.%s.rules: %v", fd.Name, err)
		}
	}
	if err := f.prepareMapping(); err != nil {
		return err
	}
	if err := f.prepareConsent(); err != nil {
		return err
	}
	f.collectLanguages()
	for _, m := range f.Match {
		for _, r := range matchRoles[m] {
			if _, ok := f.IdentityField(r); !ok {
				return fmt.Errorf("match: %q needs a field with the %s role (%s)", m, r, roleHint[r])
			}
		}
	}
	if _, ok := f.IdentityField(RoleEmail); f.Contact == ContactLink && !ok {
		return fmt.Errorf("contact: link finds the contact by email and needs a field with the email role (%s)", roleHint[RoleEmail])
	}
	if f.AlternateKey != "" {
		found := false
		for _, fd := range f.Fields {
			found = found || fd.Column == f.AlternateKey
		}
		if !found {
			return fmt.Errorf("alternate_key: no field writes column %q", f.AlternateKey)
		}
	}
	return nil
}

// RenderSubject fills the form's subject template with the values, on one
// line with single spaces (a missing value must not leave "from  Lee", nor a
// multi-line message field break the topic), cut to the 300 UTF-16 code
// units Dataverse allows for a lead's topic.
func (f *Form) RenderSubject(values map[string]string) string {
	t := f.subject
	if t == nil {
		t = template.Must(template.New("").Option("missingkey=zero").Parse(f.Subject))
	}
	var b bytes.Buffer
	if err := t.Execute(&b, values); err != nil {
		return f.Title
	}
	s := strings.Join(strings.Fields(b.String()), " ")
	if s == "" {
		s = f.Title
	}
	return CutUTF16(s, 300)
}

// Set is the configured forms, by id.
type Set map[string]*Form

// IDs returns the form ids in order.
func (s Set) IDs() []string {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Demo is the built-in form served when no configuration file is given.
func Demo() *Form {
	f := &Form{
		ID:             "demo",
		Title:          "Demo form",
		AllowedOrigins: []string{"*"},
		Subject:        "Web enquiry from {{if .company}}{{.company}}{{else}}{{.first_name}} {{.last_name}}{{end}}",
		LeadSource:     8,
		Match:          []string{MatchEmail},
		OnMatch:        OnMatchFillEmpty,
		Contact:        ContactLink,
		Fields: []Field{
			{Name: "first_name", Label: "First name", Column: "firstname", Rules: "max=50"},
			{Name: "last_name", Label: "Last name", Column: "lastname", Rules: "required,max=50"},
			{Name: "email", Label: "Email", Column: "emailaddress1", Rules: "required,email,max=100"},
			{Name: "company", Label: "Company", Column: "companyname", Rules: "max=100"},
			{Name: "phone", Label: "Phone", Column: "telephone1", Rules: "max=50"},
			{Name: "job_title", Label: "Job title", Column: "jobtitle", Rules: "max=100"},
			{Name: "message", Label: "Message", Column: "description", Rules: "max=2000"},
			{Name: "consent", Label: "I agree to receive marketing email", Column: "donotbulkemail", Type: "bool", Invert: true},
		},
	}
	for i, l := range demoLabels {
		f.Fields[i].Labels = l
	}
	f.Titles = Text{"en": "Demo form", "de": "Demo-Formular", "fr": "Formulaire de démonstration", "es": "Formulario de demostración"}
	f.Consent = &Consent{Version: "demo-1", Text: f.Fields[len(f.Fields)-1].Labels}
	return f
}

// demoLabels are the demo form's labels in the languages of the built-in
// messages, so that it shows them all.
var demoLabels = []Text{
	{"en": "First name", "de": "Vorname", "fr": "Prénom", "es": "Nombre"},
	{"en": "Last name", "de": "Nachname", "fr": "Nom", "es": "Apellidos"},
	{"en": "Email", "de": "E-Mail", "fr": "E-mail", "es": "Correo electrónico"},
	{"en": "Company", "de": "Firma", "fr": "Entreprise", "es": "Empresa"},
	{"en": "Phone", "de": "Telefon", "fr": "Téléphone", "es": "Teléfono"},
	{"en": "Job title", "de": "Position", "fr": "Fonction", "es": "Cargo"},
	{"en": "Message", "de": "Nachricht", "fr": "Message", "es": "Mensaje"},
	{"en": "I agree to receive marketing email", "de": "Ich möchte Marketing-E-Mails erhalten", "fr": "J’accepte de recevoir des e-mails marketing", "es": "Acepto recibir correos electrónicos de marketing"},
}

func humanize(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
