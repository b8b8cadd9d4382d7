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
	Title          string
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

	subject *template.Template
}

// Field is one input of a form.
type Field struct {
	Name   string // the name the form posts
	Label  string
	Column string // lead column it is written to; "" = kept on the record only
	Rules  string // validator v10 tags
	Type   string // "string" (default) or "bool"
	Invert bool   // for bool fields: write the negation (consent → donotbulkemail)
	Role   Role   // what the field means; "" = decided by Prepare from the column
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
	if f.Title == "" {
		f.Title = f.ID
	}
	if f.Subject == "" {
		f.Subject = "Web form: " + f.Title
	}
	t, err := template.New(f.ID).Option("missingkey=zero").Parse(f.Subject)
	if err != nil {
		return fmt.Errorf("subject: %v", err)
	}
	f.subject = t
	if len(f.Match) == 0 {
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
		f.OnMatch = OnMatchFillEmpty
		if f.AlternateKey != "" {
			f.OnMatch = OnMatchOverwrite
		}
	case OnMatchFillEmpty, OnMatchOverwrite, OnMatchCreateNew:
	default:
		return fmt.Errorf("on_match: %q is not one of fill_empty, overwrite, create_new", f.OnMatch)
	}
	if f.AlternateKey != "" && f.OnMatch != OnMatchOverwrite {
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
		switch fd.Type {
		case "":
			fd.Type = "string"
		case "string", "bool":
		default:
			return fmt.Errorf("fields.%s.type: %q is not one of string, bool", fd.Name, fd.Type)
		}
		if fd.Label == "" {
			fd.Label = humanize(fd.Name)
		}
		if fd.Role == "" {
			fd.Role = columnRole(fd.Column, fd.Type)
		} else if err := checkRole(fd); err != nil {
			return fmt.Errorf("fields.%s.role: %v", fd.Name, err)
		}
		if err := v.checkRules(fd.Rules); err != nil {
			return fmt.Errorf("fields.%s.rules: %v", fd.Name, err)
		}
	}
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
	return &Form{
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
}

func humanize(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
