package forms

import (
	"reflect"
	"strings"
	"testing"
)

func mappedForm(mutate func(*Form)) *Form {
	f := &Form{
		ID: "sales", Title: "Talk to sales",
		Fields: []Field{
			{Name: "email", Column: "emailaddress1", Rules: "required,email"},
			{Name: "last_name", Column: "lastname", Rules: "required"},
			{Name: "company", Column: "companyname"},
			{Name: "country", Column: "address1_country"},
			{Name: "message", Column: "description", Control: ControlTextarea, Rules: "max=10000"},
			{Name: "product", Control: ControlSelect, Column: "new_productinterest",
				Options: []Option{{Value: "100000000", Label: Text{"en": "Software"}}, {Value: "100000001", Label: Text{"en": "Hardware"}}}},
			{Name: "interests", Column: "new_interests", Kind: KindChoices,
				Options: []Option{{Value: "100000000", Label: Text{"en": "Newsletter"}}, {Value: "100000001", Label: Text{"en": "Events"}}}},
			{Name: "budget", Column: "new_budget", Kind: KindMoney},
			{Name: "employees", Column: "numberofemployees", Kind: KindNumber},
			{Name: "start", Column: "new_consentdate", Kind: KindDate},
			{Name: "partner", Column: "parentaccountid", Lookup: &Lookup{Table: "accounts", Key: "accountnumber"}},
		},
	}
	if mutate != nil {
		mutate(f)
	}
	return f
}

func TestMappingPrepareRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Form)
		want   string
	}{
		{"unknown kind", func(f *Form) { f.Fields[7].Kind = "currency" }, `fields.budget.kind: "currency" is not one of`},
		{"choice without whole numbers", func(f *Form) { f.Fields[6].Options[0].Value = "news" }, "fields.interests.options: a choices column's option values are whole numbers"},
		{"lookup without column", func(f *Form) { f.Fields[10].Column = "" }, "fields.partner.lookup: needs column"},
		{"lookup table not a name", func(f *Form) { f.Fields[10].Lookup.Table = "accounts?$top=1" }, "fields.partner.lookup.table"},
		{"lookup key kind unknown", func(f *Form) { f.Fields[10].Lookup.KeyKind = "integer" }, `fields.partner.lookup.key_kind: "integer" is not one of text, number, decimal, guid`},
		{"lookup key kind and field kind disagree", func(f *Form) { f.Fields[10].Kind, f.Fields[10].Lookup.KeyKind = KindNumber, KeyGUID },
			"fields.partner.lookup.key_kind: guid, but the field's kind is number"},
		{"lookup with a date kind", func(f *Form) { f.Fields[10].Kind = KindDate }, "fields.partner.kind: a lookup field writes a binding, not date"},
		{"hidden money not a number", func(f *Form) {
			f.Fields = append(f.Fields, Field{Name: "fee", Column: "budgetamount", Kind: KindMoney, Control: ControlHidden, Value: "ten"})
		}, `fields.fee.value: "ten" is not a number`},
		{"owner rule on an unknown field", func(f *Form) {
			f.Owner = &Owner{Rules: []OwnerRule{{When: map[string][]string{"region": {"EMEA"}}, Owner: Principal{Team: "Sales EMEA"}}}}
		}, "owner.rules[0].when.region: not a field of the form"},
		{"owner rule without a target", func(f *Form) {
			f.Owner = &Owner{Rules: []OwnerRule{{When: map[string][]string{"country": {"Germany"}}}}}
		}, "owner.rules[0]: give exactly one of user, team or round_robin"},
		{"round robin of teams", func(f *Form) {
			f.Owner = &Owner{Default: &OwnerRule{RoundRobin: []Principal{{Team: "Sales EMEA"}}}}
		}, "owner.default.round_robin[0]: round robin shares leads among users"},
		{"owner rule value not an option", func(f *Form) {
			f.Owner = &Owner{Rules: []OwnerRule{{When: map[string][]string{"product": {"Cars"}}, Owner: Principal{User: "a@b.example"}}}}
		}, `owner.rules[0].when.product: "Cars" is not one of the field's options`},
		{"campaign from nowhere", func(f *Form) { f.Campaign = &Campaign{From: "utm_nothing"} }, `campaign.from: "utm_nothing" is neither a field`},
		{"campaign from and value", func(f *Form) { f.Campaign = &Campaign{From: "utm_campaign", Value: "x"} }, "campaign: give from"},
		{"account rule unknown", func(f *Form) { f.Account = &Account{Match: []string{"website"}} }, `account.match: "website" is not one of company, email_domain`},
		{"account on the lookup's column", func(f *Form) { f.Account = &Account{} }, "account.column: parentaccountid is also written by field partner"},
		{"free-mail domain malformed", func(f *Form) {
			f.Fields = f.Fields[:10]
			f.Account = &Account{FreeMail: []string{"not a domain"}}
		}, `account.free_mail[0]: "not a domain" is not a domain`},
		{"note from an unknown field", func(f *Form) { f.Note = &Note{From: "comments"} }, `note.from: "comments" is not a field`},
		{"note from a number", func(f *Form) { f.Note = &Note{From: "budget"} }, `note.from: "budget" is a money field`},
		{"custom table with match", func(f *Form) { f.Table, f.Match = "new_enquiry", []string{MatchEmail} },
			"match: only a form that writes leads matches existing rows; a new_enquiry form creates a row per submission, or keeps one row per key with alternate_key"},
		{"custom table with on_match", func(f *Form) { f.Table, f.AlternateKey, f.OnMatch = "new_enquiry", "emailaddress1", OnMatchOverwrite }, "on_match: only a form that writes leads"},
		{"custom table with a subject", func(f *Form) { f.Table, f.Subject = "new_enquiry", "x" }, "subject: the topic is a lead column"},
		{"custom table, account without column", func(f *Form) { f.Table, f.Account = "new_enquiry", &Account{} }, "account.column: a new_enquiry form must name"},
		{"table not a name", func(f *Form) { f.Table = "Lead Table" }, `table: "Lead Table" is not`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mappedForm(tt.mutate).Prepare(NewValidator())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Prepare: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestMappingPrepareDefaults(t *testing.T) {
	f := mappedForm(func(f *Form) {
		f.Fields = f.Fields[:10]
		f.Campaign, f.Account, f.Note = &Campaign{}, &Account{}, &Note{}
		f.Owner = &Owner{Rules: []OwnerRule{{When: map[string][]string{"product": {"hardware"}}, Owner: Principal{Team: "Sales EMEA"}}}}
	})
	if err := f.Prepare(NewValidator()); err != nil {
		t.Fatal(err)
	}
	if f.Table != "lead" || f.Set() != "leads" || f.PrimaryKey() != "leadid" {
		t.Errorf("table %s set %s key %s, want lead, leads, leadid", f.Table, f.Set(), f.PrimaryKey())
	}
	if f.Campaign.From != "utm_campaign" || f.Campaign.Column != "campaignid" {
		t.Errorf("campaign = %+v, want from utm_campaign into campaignid", f.Campaign)
	}
	if !reflect.DeepEqual(f.Account.Match, []string{AccountByCompany, AccountByDomain}) || f.Account.Column != "parentaccountid" || f.Account.Create {
		t.Errorf("account = %+v, want company then email_domain into parentaccountid, never created", f.Account)
	}
	if f.Note.From != "message" {
		t.Errorf("note from %q, want the message field", f.Note.From)
	}
	if got := f.Owner.Rules[0].When["product"]; got[0] != "100000001" {
		t.Errorf("a rule on a choice compares the option's value: got %v", got)
	}
	kinds := map[string]string{}
	for _, fd := range f.Fields {
		kinds[fd.Name] = fd.Kind
	}
	want := map[string]string{"email": KindText, "last_name": KindText, "company": KindText, "country": KindText, "message": KindText,
		"product": KindChoice, "interests": KindChoices, "budget": KindMoney, "employees": KindNumber, "start": KindDate}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("kinds = %v, want %v", kinds, want)
	}
	for set, logical := range map[string]string{"leads": "lead", "new_enquiries": "new_enquiry", "addresses": "address", "new_boxes": "new_box", "new_surveys": "new_survey"} {
		if got := EntitySetOf(logical); got != set {
			t.Errorf("EntitySetOf(%s) = %s, want %s", logical, got, set)
		}
	}
}

// Values reach Dataverse in its formats; what does not fit its kind is
// refused at intake with a field-level message.
func TestKindsAtIntakeAndInTheRow(t *testing.T) {
	f := mappedForm(func(f *Form) { f.Note = &Note{} })
	v := NewValidator()
	if err := f.Prepare(v); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 5000)
	clean, problems := v.Clean(f, map[string]string{
		"email": "a@b.example", "last_name": "Lee", "message": long, "product": "hardware",
		"interests": "Events; 100000000; events", "budget": "12,500.50", "employees": "250", "start": "2026-03-31", "partner": "P-1",
	})
	if problems != nil {
		t.Fatalf("Clean: %v", problems)
	}
	row := map[string]any{}
	for _, fd := range f.Fields {
		for k, val := range fd.RowValues(clean[fd.Name]) {
			row[k] = val
		}
	}
	want := map[string]any{
		"emailaddress1": "a@b.example", "lastname": "Lee", "description": long[:2*2000],
		"new_productinterest": 100000001, "new_interests": "100000001,100000000", "new_budget": 12500.5,
		"numberofemployees": int64(250), "new_consentdate": "2026-03-31T00:00:00Z",
	}
	if !reflect.DeepEqual(row, want) {
		t.Errorf("row = %v\nwant %v", row, want)
	}
	_, problems = v.Clean(f, map[string]string{"email": "a@b.example", "last_name": "Lee",
		"interests": "Golf", "budget": "1e9", "employees": "2.5", "start": "31/03/2026", "message": strings.Repeat("x", 10001),
		"partner": strings.Repeat("P", 401)})
	for _, name := range []string{"interests", "budget", "employees", "start", "message", "partner"} {
		if problems[name] == "" {
			t.Errorf("%s: not refused (%v)", name, problems)
		}
	}
	if _, problems = v.Clean(f, map[string]string{"email": "a@b.example", "last_name": "Lee", "start": "0001-01-01"}); problems["start"] == "" {
		t.Errorf("a date before 1753 (Dataverse's first year) was accepted")
	}
}

func TestColumns(t *testing.T) {
	f := mappedForm(func(f *Form) {
		f.Fields = f.Fields[:10]
		f.Fields = append(f.Fields, Field{Name: "partner", Column: "customerid_account", Lookup: &Lookup{Table: "accounts", Key: "accountnumber"}})
		f.Owner = &Owner{
			Rules:   []OwnerRule{{When: map[string][]string{"country": {"Germany"}}, Owner: Principal{Team: "Sales EMEA"}}},
			Default: &OwnerRule{RoundRobin: []Principal{{User: "a@b.example"}}},
		}
		f.Campaign, f.Account, f.Note = &Campaign{}, &Account{Create: true}, &Note{}
	})
	if err := f.Prepare(NewValidator()); err != nil {
		t.Fatal(err)
	}
	got := map[string]ColumnUse{}
	for _, c := range f.Columns() {
		got[c.Table+"."+c.Column+"→"+c.Target] = c
	}
	want := map[string]ColumnUse{
		"lead.description→":                {Table: "lead", Column: "description", Kind: KindText, MaxLength: 2000, Field: "message"},
		"lead.new_interests→":              {Table: "lead", Column: "new_interests", Kind: KindChoices, Options: []int{100000000, 100000001}, Field: "interests"},
		"lead.customerid_account→accounts": {Table: "lead", Column: "customerid_account", Kind: KindLookup, Target: "accounts", Field: "partner"},
		"lead.ownerid→teams":               {Table: "lead", Column: "ownerid", Kind: KindLookup, Target: "teams"},
		"lead.ownerid→systemusers":         {Table: "lead", Column: "ownerid", Kind: KindLookup, Target: "systemusers"},
		"lead.campaignid→campaigns":        {Table: "lead", Column: "campaignid", Kind: KindLookup, Target: "campaigns"},
		"lead.parentaccountid→accounts":    {Table: "lead", Column: "parentaccountid", Kind: KindLookup, Target: "accounts"},
		"account.name→":                    {Table: "account", Column: "name", Kind: KindText, MaxLength: 160},
		"annotation.notetext→":             {Table: "annotation", Column: "notetext", Kind: KindText, MaxLength: MaxNoteText},
		"annotation.objectid_lead→leads":   {Table: "annotation", Column: "objectid_lead", Kind: KindLookup, Target: "leads"},
		"lead.subject→":                    {Table: "lead", Column: "subject", Kind: KindText, MaxLength: 300},
		"lead.new_budget→":                 {Table: "lead", Column: "new_budget", Kind: KindMoney, Field: "budget"},
		"lead.new_productinterest→":        {Table: "lead", Column: "new_productinterest", Kind: KindChoice, Options: []int{100000000, 100000001}, Field: "product"},
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || !reflect.DeepEqual(g, w) {
			t.Errorf("Columns()[%s] = %+v, want %+v", k, g, w)
		}
	}
}

func TestLookupKey(t *testing.T) {
	for _, tt := range []struct {
		kind, in, want string
		ok             bool
	}{
		{KeyText, "P-7001", "P-7001", true},
		{KeyNumber, " 1042 ", "1042", true},
		{KeyNumber, "-7", "-7", true},
		{KeyNumber, "1042.5", "", false},
		{KeyNumber, "1e3", "", false},
		{KeyNumber, "1042 or 1 eq 1", "", false},
		{KeyDecimal, "1,250.50", "1250.5", true},
		{KeyDecimal, "NaN", "", false},
		{KeyGUID, "6F1C2A3B-0000-4000-8000-00000000ABCD", "6f1c2a3b-0000-4000-8000-00000000abcd", true},
		{KeyGUID, "6f1c2a3b-0000-4000-8000-00000000abcd) or (1 eq 1", "", false},
	} {
		got, ok := LookupKey(tt.kind, tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("LookupKey(%s, %q) = %q, %v; want %q, %v", tt.kind, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// A multi-select choice is asked for as a checkbox group: by default for
// kind: choices, or by type: checkboxes, which implies kind: choices. What
// the group posts (repeated values, joined by intake) and what an API
// client types (labels with commas) clean to the same value.
func TestCheckboxGroup(t *testing.T) {
	f := mappedForm(func(f *Form) {
		f.Fields = append(f.Fields, Field{Name: "topics", Type: ControlCheckboxes, Column: "new_topics",
			Options: []Option{{Value: "1", Label: Text{"en": "Sales"}}, {Value: "2", Label: Text{"en": "Support"}}}})
	})
	if err := f.Prepare(NewValidator()); err != nil {
		t.Fatal(err)
	}
	interests, _ := f.Field("interests")
	topics, _ := f.Field("topics")
	if interests.Control != ControlCheckboxes || topics.Kind != KindChoices || topics.InputType() != "checkbox" || topics.Autocomplete() != "" {
		t.Errorf("interests control %q, topics kind %q input %q autocomplete %q; want checkboxes, choices, checkbox, none",
			interests.Control, topics.Kind, topics.InputType(), topics.Autocomplete())
	}
	v := NewValidator()
	for _, sent := range []string{"100000001, 100000000", "Events; newsletter", "100000001,Newsletter"} {
		clean, problems := v.Clean(f, map[string]string{"email": "a@b.example", "last_name": "Lee", "interests": sent})
		if problems != nil || clean["interests"] != "100000001,100000000" {
			t.Errorf("interests %q: got %q %v, want 100000001,100000000", sent, clean["interests"], problems)
		}
	}
	for name, mutate := range map[string]func(*Form){
		"checkboxes on a text column": func(f *Form) { f.Fields[6].Control, f.Fields[6].Kind = ControlCheckboxes, KindText },
		"checkboxes on a lookup":      func(f *Form) { f.Fields[10].Type = ControlCheckboxes },
		"checkboxes without options":  func(f *Form) { f.Fields[3].Type = ControlCheckboxes },
	} {
		if err := mappedForm(mutate).Prepare(NewValidator()); err == nil {
			t.Errorf("%s: Prepare accepted it", name)
		} else if name == "checkboxes without options" && err.Error() != "fields.country.options: a checkbox group needs options (label: value)" {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A custom table dedupes by the alternate key the org defines on it, not
// by match rules.
func TestCustomTableTakesAnAlternateKey(t *testing.T) {
	f := &Form{ID: "enquiry", Table: "new_enquiry", AlternateKey: "new_email", Fields: []Field{
		{Name: "name", Column: "new_name", Rules: "required"},
		{Name: "email", Column: "new_email", Role: RoleEmail, Rules: "required,email"},
	}}
	if err := f.Prepare(NewValidator()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	if f.OnMatch != "" || len(f.Match) != 0 {
		t.Errorf("on_match %q match %v; want none on a custom table", f.OnMatch, f.Match)
	}
}

func TestTableOf(t *testing.T) {
	for set, want := range map[string]string{"accounts": "account", "new_enquiries": "new_enquiry", "systemusers": "systemuser",
		"addresses": "address", "new_boxes": "new_box", "campaigns": "campaign"} {
		if got := tableOf(set); got != want {
			t.Errorf("tableOf(%s) = %s, want %s", set, got, want)
		}
		if back := EntitySetOf(want); back != set {
			t.Errorf("EntitySetOf(%s) = %s, want %s (the two must agree)", want, back, set)
		}
		if got := (&Lookup{Table: set}).PrimaryKey(); got != want+"id" {
			t.Errorf("Lookup{Table: %s}.PrimaryKey() = %s, want %s", set, got, want+"id")
		}
	}
}
