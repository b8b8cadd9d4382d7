package forms_test

import (
	"testing"

	"github.com/leadbridge/leadbridge/forms"
)

// Columns gives a text column the longest text the form says it takes, so
// that a check against the org can tell a max= rule above the column's
// length.
func TestColumnsMaxLengthIsTheFormsOwnLimit(t *testing.T) {
	v := forms.NewValidator()
	f := prepared(t, v, &forms.Form{
		ID: "t", LeadSource: 8, Contact: forms.ContactLink,
		Fields: []forms.Field{
			{Name: "email", Column: "emailaddress1", Rules: "required,email"},
			{Name: "company", Column: "companyname", Rules: "max=80"},
			{Name: "role", Column: "jobtitle", Rules: "max=150"}, // above the standard 100: reported as written
			{Name: "nickname", Column: "new_nickname"},
			{Name: "code", Column: "new_code", MaxLength: 20},
			{Name: "budget", Type: "radio", Column: "new_budgetband", Options: []forms.Option{{Value: "small"}, {Value: "larger"}}},
			{Name: "campaign", Type: "hidden", Column: "new_campaign", Value: "spring-2026"},
			{Name: "source", Type: "hidden", Column: "new_utmsource", Param: "utm_source"},
		},
	})
	want := map[string]int{
		"emailaddress1": 100, "companyname": 80, "jobtitle": 150, "new_nickname": 0, "new_code": 20,
		"new_budgetband": 6, "new_campaign": 11, "new_utmsource": 0, "subject": 300,
	}
	seen := 0
	for _, c := range f.Columns() {
		w, ok := want[c.Column]
		if !ok {
			continue
		}
		seen++
		if c.MaxLength != w || c.Kind != forms.KindText || c.Table != "lead" {
			t.Errorf("%s: got %+v, want a lead text column of MaxLength %d", c.Column, c, w)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d text columns in %+v", seen, len(want), f.Columns())
	}
}

// The checkbox a consent: block adds (the form having no consent field)
// writes yes/no into its columns, and Columns says so.
func TestColumnsOfAnAddedConsentCheckbox(t *testing.T) {
	f := prepared(t, forms.NewValidator(), &forms.Form{
		ID:      "t",
		Consent: &forms.Consent{Text: forms.Text{"en": "News please"}, Columns: []string{"donotbulkemail", "msdyn_gdproptout"}},
		Fields:  []forms.Field{{Name: "email", Column: "emailaddress1"}},
	})
	n := 0
	for _, c := range f.Columns() {
		if c.Field != "consent" {
			continue
		}
		n++
		if c.Kind != forms.KindBool {
			t.Errorf("consent writes %s as %q, want bool", c.Column, c.Kind)
		}
	}
	if n != 2 {
		t.Errorf("consent writes %d columns, want 2 (donotbulkemail, msdyn_gdproptout)", n)
	}
}
