package delivery_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/delivery"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
)

func mappedForm(id string, mutate func(*forms.Form)) *forms.Form {
	f := &forms.Form{
		ID: id, Title: "Talk to sales",
		Fields: []forms.Field{
			{Name: "email", Column: "emailaddress1", Rules: "required,email"},
			{Name: "last_name", Column: "lastname", Rules: "required"},
			{Name: "company", Column: "companyname"},
			{Name: "country", Column: "address1_country"},
			{Name: "message", Column: "description", Control: forms.ControlTextarea, Rules: "max=20000"},
		},
	}
	if mutate != nil {
		mutate(f)
	}
	return f
}

// annotations reads the notes on a row.
func (e *env) annotations(t *testing.T, rowID string) []map[string]any {
	t.Helper()
	return e.emu.Rows("annotations", "$select=annotationid,subject,notetext&$filter=_objectid_value%20eq%20"+rowID)
}

// A note whose create landed but whose answer was lost, or whose lead's
// answer was lost, is found by its key on the retry: one lead, one note.
func TestNoteIsWrittenOnceWhenAnswersAreLost(t *testing.T) {
	for _, tt := range []struct {
		name string
		drop int // request of the first attempt whose answer is lost: 1 match query, 2 lead, 3 note
	}{
		{"the note's answer lost", 3},
		{"the lead's answer lost", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, mappedForm("f", func(f *forms.Form) { f.Note = &forms.Note{} }))
			h := e.taskHandler()
			msg := strings.Repeat("ab", 1500) // 3,000 characters: more than description's 2,000
			rec := &submission.Record{Form: "f", Fields: map[string]string{"email": "ann@example.com", "last_name": "Lee", "message": msg}}
			if _, err := h.Store.Create(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			e.steps.after(tt.drop, func() { e.emu.Configure(`{"faults":{"drop_after_write_rate":1}}`) })
			var re *delivery.RetryError
			if err := e.process(t, h, rec.ID); !errors.As(err, &re) {
				t.Fatalf("first attempt: got %v, want a RetryError", err)
			}
			e.emu.Configure(`{"faults":{"drop_after_write_rate":0}}`)
			if err := e.process(t, h, rec.ID); err != nil {
				t.Fatalf("retry: %v", err)
			}
			r, _ := h.Store.Get(context.Background(), rec.ID)
			leads := e.emu.Rows("leads", "$select=leadid,description")
			if r.Status != submission.StatusDelivered || len(leads) != 1 || leads[0]["description"] != msg[:2000] {
				t.Fatalf("status %s, leads %d; want delivered, one lead holding the first 2,000 characters", r.Status, len(leads))
			}
			notes := e.annotations(t, r.LeadID)
			if len(notes) != 1 || notes[0]["notetext"] != msg || notes[0]["subject"] != "Message from Talk to sales" {
				t.Fatalf("notes: %v, want one with the whole message", notes)
			}
			wantContains(t, "match", r.Match, "note "+notes[0]["annotationid"].(string))
		})
	}
}

// Workers share the round robin through Redis; each has its own cache.
func TestRoundRobinIsSharedByWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Owner = &forms.Owner{Rules: []forms.OwnerRule{{
			When:       map[string][]string{"country": {"United Kingdom"}},
			RoundRobin: []forms.Principal{{User: "alex.morgan@contoso.example"}, {User: "priya.shah@contoso.example"}, {User: "diego.alvarez@contoso.example"}},
		}}}
	}))
	e.d.Redis = e.rdb
	other := &delivery.Deliverer{CRM: e.crm, Forms: e.d.Forms, Locks: e.locks, Redis: e.rdb}
	users := e.emu.Users()
	var got []string
	for i, d := range []*delivery.Deliverer{e.d, other, e.d, other} {
		rec := &submission.Record{ID: submission.NewID(), Form: "f", Fields: map[string]string{
			"email": strings.Repeat("x", i+1) + "@example.com", "last_name": "Lee", "country": "United Kingdom"}}
		res, err := d.Deliver(testContext(t), rec)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.emu.Rows("leads", "$select=_ownerid_value&$filter=leadid%20eq%20"+res.LeadID)[0]["_ownerid_value"].(string))
		wantContains(t, "match", res.Match, "owner: rule 1 (country = United Kingdom), round robin")
	}
	want := []string{users[0].ID, users[1].ID, users[2].ID, users[0].ID}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("owners in turn: got %v, want %v", got, want)
	}
}

// A lookup's row cached by one delivery and deleted since is looked up
// again when the write is refused, instead of failing the next submission.
func TestDeletedLookupRowIsResolvedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Fields = append(f.Fields, forms.Field{Name: "partner", Column: "parentaccountid", Lookup: &forms.Lookup{Table: "accounts", Key: "accountnumber"}})
	}))
	first := e.emu.SeedRows("accounts", map[string]any{"name": "Tailspin", "accountnumber": "P-1"})[0]
	a := e.deliver(t, "f", map[string]string{"email": "a@example.com", "last_name": "Lee", "partner": "P-1"})
	e.emu.Delete("accounts", first)
	second := e.emu.SeedRows("accounts", map[string]any{"name": "Tailspin", "accountnumber": "P-1"})[0]
	b := e.deliver(t, "f", map[string]string{"email": "b@example.com", "last_name": "Lee", "partner": "P-1"})
	rows := e.emu.Rows("leads", "$select=leadid,_parentaccountid_value")
	got := map[any]any{}
	for _, r := range rows {
		got[r["leadid"]] = r["_parentaccountid_value"]
	}
	if got[b.LeadID] != second || a.LeadID == b.LeadID {
		t.Errorf("parentaccountid of the second lead: %v, want the new account %s", got[b.LeadID], second)
	}
}

// Values that would break a query — quotes, wildcards — are compared as
// written: they find nothing rather than the wrong row, and never fail the
// delivery with a malformed request.
func TestHostileValuesInLookupsAndCampaigns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Fields = append(f.Fields,
			forms.Field{Name: "partner", Column: "parentaccountid", Lookup: &forms.Lookup{Table: "accounts", Key: "accountnumber"}},
			forms.Field{Name: "camp", Column: ""})
		f.Campaign = &forms.Campaign{From: "camp"}
		f.Account = &forms.Account{Match: []string{forms.AccountByDomain}, Column: "customerid_account"}
	}))
	e.emu.SeedRows("accounts", map[string]any{"name": "O'Brien & Co", "accountnumber": "O'B-1%", "websiteurl": "https://obrien.example"})
	e.emu.SeedRows("campaigns", map[string]any{"name": "Spring", "codename": "spring"})
	res := e.deliver(t, "f", map[string]string{"email": "x@obrien.example", "last_name": "Lee", "partner": "O'B-1%", "camp": "' or name ne '"})
	wantContains(t, "match", res.Match, "campaign: no campaign is named or coded ''' or name ne '''", "account: matched by email domain obrien.example")
	_, err := e.try(t, "f", map[string]string{"email": "y@obrien.example", "last_name": "Lee", "partner": "O'B-_%"})
	var me *delivery.MappingError
	if !errors.As(err, &me) || me.Category != submission.CategoryInvalidData {
		t.Fatalf("a wildcard that would match: got %v, want a MappingError (invalid_data)", err)
	}
	if v := delivery.Classify(err); v.Retry || v.Error.Category != submission.CategoryInvalidData {
		t.Errorf("Classify: %+v, want invalid_data, not retried", v)
	}
}

// An owner the org does not have is the form's mistake: a configuration
// error, not retried on its own.
func TestUnknownOwnerIsAConfigurationError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Owner = &forms.Owner{Default: &forms.OwnerRule{Owner: forms.Principal{Team: "Sales Mars"}}}
	}))
	_, err := e.try(t, "f", map[string]string{"email": "a@example.com", "last_name": "Lee"})
	v := delivery.Classify(err)
	if v.Retry || v.Error.Category != submission.CategoryConfiguration || !strings.Contains(v.Error.Message, "team Sales Mars") {
		t.Errorf("Classify(%v) = %+v, want configuration naming the team, not retried", err, v)
	}
	if n := len(e.emu.Rows("leads", "$select=leadid")); n != 0 {
		t.Errorf("leads: %d, want none written", n)
	}

	// A user who left the company is disabled, not deleted.
	e.emu.SeedRows("systemusers", map[string]any{"firstname": "Lee", "lastname": "Gone", "domainname": "lee.gone@contoso.example", "isdisabled": true})
	e.d.Forms["f"].Owner.Default.Owner = forms.Principal{User: "lee.gone@contoso.example"}
	_, err = e.try(t, "f", map[string]string{"email": "a@example.com", "last_name": "Lee"})
	if v := delivery.Classify(err); v.Retry || v.Error.Category != submission.CategoryConfiguration || !strings.Contains(v.Error.Message, "is disabled") {
		t.Errorf("a disabled owner: Classify(%v) = %+v, want configuration saying the user is disabled", err, v)
	}
}

// A matched lead keeps the owner and the links it has; an empty campaign
// is filled. The explanation says both.
func TestMatchedLeadKeepsItsOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Owner = &forms.Owner{Default: &forms.OwnerRule{Owner: forms.Principal{Team: "Sales EMEA"}}}
		f.Campaign = &forms.Campaign{Value: "spring"}
	}))
	camp := e.emu.SeedRows("campaigns", map[string]any{"name": "Spring", "codename": "spring"})[0]
	id := e.existing(t, crm.Row{"lastname": "Lee", "emailaddress1": "ann@example.com", "subject": "Phone call"})
	res := e.deliver(t, "f", map[string]string{"email": "ann@example.com", "last_name": "Lee"})
	if res.Action != "updated" || res.LeadID != id {
		t.Fatalf("got %s %s, want the existing lead updated", res.Action, res.LeadID)
	}
	row := e.emu.Rows("leads", "$select=_ownerid_value,_campaignid_value&$filter=leadid%20eq%20"+id)[0]
	if row["_ownerid_value"] == e.emu.TeamID("Sales EMEA") || row["_campaignid_value"] != camp {
		t.Errorf("lead: owner %v campaign %v; want its owner kept and campaign %s", row["_ownerid_value"], row["_campaignid_value"], camp)
	}
	wantContains(t, "match", res.Match, "the matched lead keeps its own ownerid", "campaign: 'spring' → /campaigns("+camp+")")
}

// The ids of owners, campaigns and accounts are cached per worker: a second
// lead of a busy form costs what an unmapped one does, plus its note.
func TestMappedDeliveryQueriesOnceThenFromCache(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Owner = &forms.Owner{Rules: []forms.OwnerRule{{When: map[string][]string{"country": {"Germany"}}, Owner: forms.Principal{Team: "Sales EMEA"}}},
			Default: &forms.OwnerRule{Owner: forms.Principal{User: "alex.morgan@contoso.example"}}}
		f.Campaign = &forms.Campaign{Value: "spring"}
		f.Account = &forms.Account{}
		f.Note = &forms.Note{}
	}))
	e.emu.SeedRows("campaigns", map[string]any{"name": "Spring", "codename": "spring"})
	e.emu.SeedRows("accounts", map[string]any{"name": "Contoso", "websiteurl": "https://contoso.example"})
	var costs []int
	for _, email := range []string{"a@contoso.example", "b@contoso.example"} {
		start := e.steps.sent()
		e.deliver(t, "f", map[string]string{"email": email, "last_name": "Lee", "country": "Germany", "company": "Contoso", "message": "Hello"})
		costs = append(costs, e.steps.sent()-start)
	}
	t.Logf("Dataverse requests per lead: first %d (owner, campaign, account looked up), then %d", costs[0], costs[1])
	// owner + campaign + account by name + match query + create + note; then the last three.
	if costs[0] != 6 || costs[1] != 3 {
		t.Errorf("requests: first lead %d, second %d; want 6 and 3", costs[0], costs[1])
	}
}

// An address at a subdomain (sales.contoso.example) belongs to the
// account on the registrable domain (contoso.example), found by its
// website or its email; a host that only starts with that domain, and a
// free-mail subdomain, match nothing.
func TestAccountByRegistrableDomain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Account = &forms.Account{Match: []string{forms.AccountByDomain}}
	}))
	ids := e.emu.SeedRows("accounts",
		map[string]any{"name": "Contoso", "websiteurl": "https://www.contoso.example"},
		map[string]any{"name": "Northwind", "emailaddress1": "info@northwind.example"},
		map[string]any{"name": "Evil", "websiteurl": "https://contoso.example.evil.example"})
	for _, tt := range []struct {
		email, want, why string
	}{
		{"ann@sales.contoso.example", ids[0], "matched by email domain contoso.example (the address is at sales.contoso.example)"},
		{"bo@eu.sales.northwind.example", ids[1], "matched by email domain northwind.example (the address is at eu.sales.northwind.example)"},
		{"cy@contoso.example.attacker.example", "", "no account has email domain attacker.example"},
		{"dee@mail.gmail.com", "", "email domain mail.gmail.com is free mail"},
	} {
		res := e.deliver(t, "f", map[string]string{"email": tt.email, "last_name": "Lee"})
		got := e.emu.Rows("leads", "$select=_parentaccountid_value&$filter=leadid%20eq%20"+res.LeadID)[0]["_parentaccountid_value"]
		if (tt.want == "" && got != nil) || (tt.want != "" && got != tt.want) {
			t.Errorf("%s: parentaccountid %v, want %q", tt.email, got, tt.want)
		}
		wantContains(t, tt.email, res.Match, tt.why)
	}
}

// A retry whose lead an earlier attempt wrote (its answer lost) finds it
// by its key and finishes, without resolving the lookups it bound then:
// a lookup row deleted since must not fail a lead that exists. The retry
// runs on another worker, whose cache is empty, as it may in production.
func TestRetryFindingItsLeadDoesNotResolveAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Fields = append(f.Fields, forms.Field{Name: "partner", Column: "parentaccountid", Lookup: &forms.Lookup{Table: "accounts", Key: "accountnumber"}})
		f.Note = &forms.Note{}
	}))
	acct := e.emu.SeedRows("accounts", map[string]any{"name": "Tailspin", "accountnumber": "P-1"})[0]
	h := e.taskHandler()
	rec := &submission.Record{Form: "f", Fields: map[string]string{"email": "ann@example.com", "last_name": "Lee", "partner": "P-1", "message": "Call me"}}
	if _, err := h.Store.Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	// Requests of the first attempt: 1 lookup, 2 match query, 3 lead.
	e.steps.after(3, func() { e.emu.Configure(`{"faults":{"drop_after_write_rate":1}}`) })
	var re *delivery.RetryError
	if err := e.process(t, h, rec.ID); !errors.As(err, &re) {
		t.Fatalf("first attempt: got %v, want a RetryError", err)
	}
	e.emu.Configure(`{"faults":{"drop_after_write_rate":0}}`)
	e.emu.Delete("accounts", acct)

	other := e.taskHandler()
	other.Deliverer = &delivery.Deliverer{CRM: e.crm, Forms: e.d.Forms, Locks: e.locks}
	start := e.steps.sent()
	if err := e.process(t, other, rec.ID); err != nil {
		t.Fatalf("retry: %v", err)
	}
	r, _ := h.Store.Get(context.Background(), rec.ID)
	leads := e.emu.Rows("leads", "$select=leadid")
	if r.Status != submission.StatusDelivered || len(leads) != 1 || r.LeadID != leads[0]["leadid"] {
		t.Fatalf("status %s lead %s, leads %v; want delivered, the one lead", r.Status, r.LeadID, leads)
	}
	wantContains(t, "match", r.Match, "found by its key on this retry", "are not resolved again", "note ")
	if n := len(e.annotations(t, r.LeadID)); n != 1 {
		t.Errorf("notes: %d, want 1 (written by the retry)", n)
	}
	// The lead by its key, then the note: no lookup query.
	if got := e.steps.sent() - start; got != 2 {
		t.Errorf("requests of the retry: %d, want 2", got)
	}
}

// A disabled user's turn in a round robin goes to the enabled users, in
// turn among themselves, with a warning that names no one; only a list of
// disabled users fails, as configuration.
func TestRoundRobinSkipsDisabledUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, mappedForm("f", func(f *forms.Form) {
		f.Owner = &forms.Owner{Rules: []forms.OwnerRule{
			{When: map[string][]string{"country": {"United Kingdom"}},
				RoundRobin: []forms.Principal{{User: "alex.morgan@contoso.example"}, {User: "lee.gone@contoso.example"}, {User: "priya.shah@contoso.example"}}},
			{When: map[string][]string{"country": {"France"}},
				RoundRobin: []forms.Principal{{User: "lee.gone@contoso.example"}, {User: "kim.away@contoso.example"}}},
		}}
	}))
	var logs bytes.Buffer
	e.d.Redis = e.rdb
	e.d.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	e.emu.SeedRows("systemusers",
		map[string]any{"firstname": "Lee", "lastname": "Gone", "domainname": "lee.gone@contoso.example", "isdisabled": true},
		map[string]any{"firstname": "Kim", "lastname": "Away", "domainname": "kim.away@contoso.example", "isdisabled": true})
	ids := map[string]string{}
	for _, u := range e.emu.Users() {
		ids[u.Email] = u.ID
	}
	// Lee's turns (2 and 5) go to the enabled users in turn: priya, then alex.
	want := []string{"alex.morgan@contoso.example", "priya.shah@contoso.example", "priya.shah@contoso.example",
		"alex.morgan@contoso.example", "alex.morgan@contoso.example", "priya.shah@contoso.example"}
	for i, w := range want {
		res := e.deliver(t, "f", map[string]string{"email": strings.Repeat("x", i+1) + "@example.com", "last_name": "Lee", "country": "United Kingdom"})
		got := e.emu.Rows("leads", "$select=_ownerid_value&$filter=leadid%20eq%20"+res.LeadID)[0]["_ownerid_value"]
		if got != ids[w] {
			t.Errorf("lead %d: owner %v, want %s's %s", i+1, got, w, ids[w])
		}
		if i == 1 {
			wantContains(t, "match", res.Match, "round robin 2 of 3; user lee.gone@contoso.example (2 of 3) is disabled, so the turn went to the 2 enabled users in turn: 3 of 3")
		}
	}
	if !strings.Contains(logs.String(), "the user whose turn it was is disabled") || strings.Contains(logs.String(), "lee.gone") || strings.Contains(logs.String(), "Gone") {
		t.Errorf("logs: %s; want the skip warned about without naming the user", logs.String())
	}

	_, err := e.try(t, "f", map[string]string{"email": "fr@example.com", "last_name": "Lee", "country": "France"})
	if v := delivery.Classify(err); v.Retry || v.Error.Category != submission.CategoryConfiguration || !strings.Contains(v.Error.Message, "every user of the round robin of owner rule 2") {
		t.Errorf("every user disabled: Classify(%v) = %+v, want configuration, not retried", err, v)
	}
}

// A lookup by a whole-number key column (new_enquiryno, an integer an org
// may make an alternate key) compares a number, unquoted: quoted, Dataverse
// refuses the query. The key's kind is declared (key_kind) or is the
// field's kind.
func TestLookupByNumberKey(t *testing.T) {
	t.Parallel()
	enquiry := func(id string, l *forms.Lookup, kind string) *forms.Form {
		return &forms.Form{ID: id, Title: "Follow-up", Table: "new_enquiry", Fields: []forms.Field{
			{Name: "name", Column: "new_name", Rules: "required", MaxLength: 100},
			{Name: "previous", Column: "new_previousenquiryid", Kind: kind, Lookup: l},
		}}
	}
	e := newEnv(t,
		enquiry("declared", &forms.Lookup{Table: "new_enquiries", Key: "new_enquiryno", KeyKind: forms.KeyNumber}, ""),
		enquiry("inferred", &forms.Lookup{Table: "new_enquiries", Key: "new_enquiryno"}, forms.KindNumber),
		enquiry("guid", &forms.Lookup{Table: "new_enquiries", Key: "new_enquiryid", KeyKind: forms.KeyGUID}, ""))
	first := e.emu.SeedRows("new_enquiries", map[string]any{"new_name": "First", "new_enquiryno": float64(1042)})[0]
	for form, value := range map[string]string{"declared": " 1042", "inferred": "1042", "guid": strings.ToUpper(first)} {
		res := e.deliver(t, form, map[string]string{"name": "Follow-up " + form, "previous": value})
		row := e.emu.Rows("new_enquiries", "$select=_new_previousenquiryid_value&$filter=new_enquiryid%20eq%20"+res.LeadID)
		if len(row) != 1 || row[0]["_new_previousenquiryid_value"] != first {
			t.Errorf("%s: %v, want new_previousenquiryid %s", form, row, first)
		}
	}
	_, err := e.try(t, "declared", map[string]string{"name": "Nobody's", "previous": "7"})
	var me *delivery.MappingError
	if !errors.As(err, &me) || !strings.Contains(me.Message, "no row of new_enquiries has new_enquiryno equal to the value of field previous") {
		t.Errorf("a number no row has: got %v, want the missing-row MappingError", err)
	}
	for form, bad := range map[string]string{"declared": "10x", "inferred": "1e3", "guid": "1042"} {
		if _, problems := e.v.Clean(e.d.Forms[form], map[string]string{"name": "X", "previous": bad}); problems["previous"] == "" {
			t.Errorf("%s: %q accepted at intake, want refused", form, bad)
		}
	}
}

// A custom-table form creates a row per submission (the e2e test shows
// it); with alternate_key (a key the org defines on the table) it keeps one
// row per key value, upserting — the dedupe Dataverse itself enforces.
func TestCustomTableUpsertsByAlternateKey(t *testing.T) {
	t.Parallel()
	enquiry := func(id, key string) *forms.Form {
		return &forms.Form{ID: id, Title: "Enquiry", Table: "new_enquiry", AlternateKey: key, Fields: []forms.Field{
			{Name: "name", Column: "new_name", Rules: "required", MaxLength: 100},
			{Name: "email", Column: "new_email", Role: forms.RoleEmail, Rules: "required,email"},
		}}
	}
	e := newEnv(t, enquiry("keyed", "new_email"))
	e.emu.Configure(`{"alternate_keys":{"new_enquiries":["new_email"]}}`)
	first := e.deliver(t, "keyed", map[string]string{"name": "Kim", "email": "kim@example.com"})
	again := e.deliver(t, "keyed", map[string]string{"name": "Kim Lee", "email": "KIM@example.com"})
	other := e.deliver(t, "keyed", map[string]string{"name": "Bo", "email": "bo@example.com"})
	if first.Action != "created" || again.Action != "updated" || again.LeadID != first.LeadID || other.LeadID == first.LeadID {
		t.Errorf("got %s %s, %s %s, %s %s; want created, then the same row updated, then another row",
			first.Action, first.LeadID, again.Action, again.LeadID, other.Action, other.LeadID)
	}
	wantContains(t, "match", again.Match, "upserted new_enquiry "+first.LeadID+" by alternate key new_email = 'kim@example.com' (updated)")
	rows := e.emu.Rows("new_enquiries", "$select=new_name&$filter=new_enquiryid%20eq%20"+first.LeadID)
	if len(rows) != 1 || rows[0]["new_name"] != "Kim Lee" {
		t.Errorf("the keyed row: %v, want new_name overwritten with Kim Lee", rows)
	}
}
