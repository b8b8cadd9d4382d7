package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// mappingExample is the README's complete mapping example, as a user would
// copy it.
func mappingExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "The complete mapping example:\n\n```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no mapping example after \"The complete mapping example:\"")
	}
	return example
}

func TestLoadFormsMappingExample(t *testing.T) {
	set, err := config.LoadForms(testenv.WriteFile(t, "leadbridge.yaml", mappingExample(t)), env(nil))
	if err != nil {
		t.Fatalf("the README's mapping example does not load: %v", err)
	}
	f := set["talk-to-sales"]
	o := f.Owner
	if len(o.Rules) != 4 || o.Rules[0].Owner.Team != "Sales EMEA" || len(o.Rules[0].When["country"]) != 3 ||
		o.Rules[1].Owner.User != "diego.alvarez@contoso.example" || o.Rules[1].When["size"][0] != "100000002" ||
		len(o.Rules[2].RoundRobin) != 2 || o.Rules[2].When["product"][0] != "100000001" ||
		o.Default == nil || o.Default.Owner.Team != "Sales Americas" {
		t.Errorf("owner = %+v", o)
	}
	if f.Campaign.From != "utm_campaign" || f.Campaign.Column != "campaignid" {
		t.Errorf("campaign = %+v", f.Campaign)
	}
	if a := f.Account; a.Create || a.Column != "parentaccountid" || len(a.Match) != 2 || a.FreeMail[0] != "example-isp.net" {
		t.Errorf("account = %+v", a)
	}
	if f.Note.From != "message" || f.Note.Subject != "Message from the website" {
		t.Errorf("note = %+v", f.Note)
	}
	kinds := map[string]string{}
	for _, fd := range f.Fields {
		kinds[fd.Name] = fd.Kind
	}
	for name, want := range map[string]string{"product": forms.KindChoice, "interests": forms.KindChoices, "budget": forms.KindMoney,
		"employees": forms.KindNumber, "start": forms.KindDate, "partner_no": forms.KindLookup, "size": forms.KindChoice} {
		if kinds[name] != want {
			t.Errorf("field %s: kind %q, want %q", name, kinds[name], want)
		}
	}
	if p, _ := f.Field("partner_no"); p.Lookup == nil || p.Lookup.Table != "accounts" || p.Lookup.Key != "accountnumber" {
		t.Errorf("partner_no = %+v", p)
	}
	e := set["enquiry"]
	if e.Table != "new_enquiry" || e.Set() != "new_enquiries" || len(e.Match) != 0 || e.Note.From != forms.NoteSubmission {
		t.Errorf("enquiry: table %s set %s match %v note %+v", e.Table, e.Set(), e.Match, e.Note)
	}
	if n, _ := e.Field("name"); n.MaxLength != 100 {
		t.Errorf("enquiry name max_length = %d, want 100", n.MaxLength)
	}
}

// Mistakes in the mapping are refused at start, naming the form and the
// setting.
func TestLoadFormsRefusesMapping(t *testing.T) {
	base := "forms:\n  f:\n    fields:\n      email: {column: emailaddress1}\n      country: {column: address1_country}\n"
	tests := []struct{ yaml, want string }{
		{base + "    owner: {rules: [{when: {region: EMEA}, team: Sales EMEA}]}\n", "forms.f.owner.rules[0].when.region: not a field of the form"},
		{base + "    owner: {default: {team: Sales EMEA, user: a@b.example}}\n", "forms.f.owner.default: give user or team, not both"},
		{base + "    owner: {rule: []}\n", "field rule not found"},
		{base + "    campaign: {from: utm_nothing}\n", "forms.f.campaign.from"},
		{base + "    account: {match: [website]}\n", "forms.f.account.match"},
		{base + "    note: {from: comments}\n", "forms.f.note.from"},
		{base + "    table: new_enquiry\n    match: [email]\n", "forms.f.match: only a form that writes leads"},
		{base + "      partner: {column: parentaccountid, lookup: {table: accounts, column: accountnumber}}\n", `fields.partner: line 6: lookup: unknown setting "column"`},
		{base + "      budget: {column: new_budget, kind: currency}\n", `forms.f.fields.budget.kind: "currency" is not one of`},
		{base + "      prev: {column: new_previousenquiryid, lookup: {table: new_enquiries, key: new_enquiryno, key_kind: int}}\n",
			`forms.f.fields.prev.lookup.key_kind: "int" is not one of text, number, decimal, guid`},
	}
	for _, tt := range tests {
		_, err := config.LoadForms(testenv.WriteFile(t, "f.yaml", tt.yaml), env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("LoadForms(%q): got %v, want an error containing %q", tt.yaml, err, tt.want)
		}
	}
}
