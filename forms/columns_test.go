package forms_test

import (
	"reflect"
	"testing"

	"github.com/leadbridge/leadbridge/forms"
)

func TestColumnsListWhatTheFormWrites(t *testing.T) {
	v := forms.NewValidator()
	f := prepared(t, v, &forms.Form{
		ID: "t", LeadSource: 8, Contact: forms.ContactLink,
		Consent: &forms.Consent{Text: forms.Text{"en": "News please"}, Columns: []string{"donotbulkemail", "msdyn_gdproptout"}},
		Fields: []forms.Field{
			{Name: "email", Column: "emailaddress1", Rules: "required,email"},
			{Name: "company", Column: "companyname", Rules: "max=80"},
			{Name: "nickname", Column: "new_nickname"},
			{Name: "role", Column: "jobtitle", Rules: "max=150"}, // the form's own limit, even above the standard 100
			{Name: "note"}, // kept on the record only
			{Name: "industry", Type: "select", Column: "industrycode", Options: []forms.Option{{Value: "7"}, {Value: "25"}}},
			{Name: "budget", Type: "radio", Column: "new_budgetband", Options: []forms.Option{{Value: "small"}, {Value: "larger"}}},
			{Name: "campaign", Type: "hidden", Column: "new_campaign", Value: "spring-2026"},
			{Name: "source", Type: "hidden", Column: "new_utmsource", Param: "utm_source"},
		},
	})
	want := []forms.Column{
		{Table: "lead", Column: "emailaddress1", Kind: forms.KindText, Field: "email", MaxLength: 100},
		{Table: "lead", Column: "companyname", Kind: forms.KindText, Field: "company", MaxLength: 80},
		{Table: "lead", Column: "new_nickname", Kind: forms.KindText, Field: "nickname"},
		{Table: "lead", Column: "jobtitle", Kind: forms.KindText, Field: "role", MaxLength: 150},
		{Table: "lead", Column: "industrycode", Kind: forms.KindChoice, Field: "industry", Options: []string{"7", "25"}},
		{Table: "lead", Column: "new_budgetband", Kind: forms.KindText, Field: "budget", MaxLength: 6},
		{Table: "lead", Column: "new_campaign", Kind: forms.KindText, Field: "campaign", MaxLength: 11},
		{Table: "lead", Column: "new_utmsource", Kind: forms.KindText, Field: "source"},
		{Table: "lead", Column: "donotbulkemail", Kind: forms.KindBool, Field: "consent"},
		{Table: "lead", Column: "msdyn_gdproptout", Kind: forms.KindBool, Field: "consent", Setting: "consent.columns"},
		{Table: "lead", Column: "subject", Kind: forms.KindText, Setting: "subject", MaxLength: 300},
		{Table: "lead", Column: "leadsourcecode", Kind: forms.KindChoice, Setting: "lead_source", Options: []string{"8"}},
		{Table: "lead", Column: "parentcontactid", Kind: forms.KindLookup, Setting: "contact", Target: "contact"},
	}
	got := f.Columns()
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w forms.Column
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("Columns()[%d]:\ngot  %+v\nwant %+v", i, g, w)
		}
	}
}

func TestColumnsLeadSourceChosenByAFieldIsNotListedTwice(t *testing.T) {
	f := prepared(t, forms.NewValidator(), &forms.Form{ID: "t", LeadSource: 8, Fields: []forms.Field{
		{Name: "email", Column: "emailaddress1"},
		{Name: "heard", Type: "select", Column: "leadsourcecode", Options: []forms.Option{{Value: "1"}, {Value: "8"}}},
	}})
	n := 0
	for _, c := range f.Columns() {
		if c.Column == "leadsourcecode" {
			n++
			if c.Field != "heard" {
				t.Errorf("leadsourcecode written by %q/%q, want the field heard", c.Field, c.Setting)
			}
		}
	}
	if n != 1 {
		t.Errorf("leadsourcecode listed %d times, want 1", n)
	}
}
