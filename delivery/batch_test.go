package delivery_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/delivery"
	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
)

// The delivery tests again, each submission through the Batcher (with the
// bulk messages, and with $batch change sets). Tests whose form cannot be
// batched (phone match, alternate key) check that such submissions still
// take the one-at-a-time path. newEnv turns batching on for every test
// under TestBatched.
func TestBatched(t *testing.T) {
	tests := map[string]func(*testing.T){
		"MatchByEmail":                    TestMatchByEmail,
		"MatchByEmailInAnotherColumn":     TestMatchByEmailInAnotherColumn,
		"MatchByPhone":                    TestMatchByPhone,
		"PhoneMatchNeedsTheWholeNumber":   TestPhoneMatchNeedsTheWholeNumber,
		"MatchByEmailAndCompany":          TestMatchByEmailAndCompany,
		"MatchesOnlyOpenLeads":            TestMatchesOnlyOpenLeads,
		"OnMatch":                         TestOnMatch,
		"MatchNeverRewritesWhoALeadIs":    TestMatchNeverRewritesWhoALeadIs,
		"FillEmptyWithNothingToChange":    TestFillEmptyWithNothingToChange,
		"ContactLink":                     TestContactLink,
		"NoContactWhenNone":               TestNoContactWhenNone,
		"AlternateKeyUpsert":              TestAlternateKeyUpsert,
		"AlternateKeyUpsertKeepsWhoALead": TestAlternateKeyUpsertKeepsWhoALeadIs,
		"ConcurrentDeliveriesMakeOneLead": TestConcurrentDeliveriesMakeOneLead,
		"DeliverWaitsForTheLeases":        TestDeliverWaitsForTheLeases,
		"DeliverRefusedData":              TestDeliverRefusedData,
		"MatchedLeadDeletedMeanwhile":     TestMatchedLeadDeletedMeanwhileIsRetried,
		"LostAnswerOfACreate":             TestLostAnswerOfACreateMakesNoSecondRow,
		"RedoAfterACrash":                 TestRedoAfterACrashFindsItsOwnLead,
		"RequestsPerDelivery":             TestRequestsPerDelivery,
	}
	for _, writes := range []string{delivery.WritesBulk, delivery.WritesChangeSets} {
		t.Run(writes, func(t *testing.T) {
			for name, fn := range tests {
				t.Run(name, fn)
			}
		})
	}
}

// batched reports whether t runs under TestBatched.
func batched(t *testing.T) bool { return strings.HasPrefix(t.Name(), "TestBatched/") }

// batchWrites is the write strategy of a test under TestBatched.
func batchWrites(t *testing.T) string {
	if strings.HasPrefix(t.Name(), "TestBatched/"+delivery.WritesChangeSets+"/") {
		return delivery.WritesChangeSets
	}
	return delivery.WritesBulk
}

// deliverAll delivers raws through the env's batcher at once and returns
// the results and errors in order.
func (e *env) deliverAll(t *testing.T, form string, raws []map[string]string) ([]delivery.Result, []error) {
	t.Helper()
	res := make([]delivery.Result, len(raws))
	errs := make([]error, len(raws))
	var wg sync.WaitGroup
	for i, raw := range raws {
		values, problems := e.v.Clean(e.d.Forms[form], raw)
		if problems != nil {
			t.Fatalf("Clean(%v): %v", raw, problems)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = e.batch.Deliver(testContext(t), &submission.Record{ID: submission.NewID(), Form: form, Fields: values})
		}()
	}
	wg.Wait()
	return res, errs
}

// Many submissions at once, several per person, some people already in the
// CRM under an email written differently (case, an apostrophe, a plus):
// one lead and one contact per person, each lead bound to its person's
// contact, one submission per new person recorded "created" and every
// submission naming its person's lead — for far fewer requests than
// submissions.
func TestBatchMakesOneLeadPerPerson(t *testing.T) {
	for _, writes := range []string{delivery.WritesBulk, delivery.WritesChangeSets} {
		t.Run(writes, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, contactForm("f", func(f *forms.Form) { f.Contact = forms.ContactLink }))
			// All of them in one batch: it waits a second for company.
			e.batch = &delivery.Batcher{D: e.d, Max: 100, Start: 100, Linger: time.Second, Writes: writes}
			emails := []string{"o'brien@example.com", "a+b@example.com", "Ann@Example.com", "zoë@example.com"}
			for i := range 8 {
				emails = append(emails, fmt.Sprintf("p%d@example.com", i))
			}
			existing := map[string]string{
				"o'brien@example.com": e.existing(t, crm.Row{"emailaddress1": "O'Brien@example.com", "lastname": "O'Brien"}),
				"a+b@example.com":     e.existing(t, crm.Row{"emailaddress1": "A+B@example.com", "lastname": "Plus"}),
			}
			var raws []map[string]string
			for i := range 40 {
				raws = append(raws, map[string]string{"email": emails[i%len(emails)], "last_name": fmt.Sprint("Person ", i%len(emails)), "job_title": fmt.Sprint("T", i)})
			}
			start := e.steps.sent()
			res, errs := e.deliverAll(t, "f", raws)
			sent := e.steps.sent() - start
			for i, err := range errs {
				if err != nil {
					t.Fatalf("submission %d: %v", i, err)
				}
			}
			leads := e.leads(t)
			contacts := e.emu.Rows("contacts", "$select=contactid,emailaddress1")
			if len(leads) != len(emails) || len(contacts) != len(emails) {
				t.Fatalf("%d leads and %d contacts, want %d of each", len(leads), len(contacts), len(emails))
			}
			leadOf, contactOf := map[string]map[string]any{}, map[string]string{}
			for _, l := range leads {
				leadOf[strings.ToLower(l["emailaddress1"].(string))] = l
			}
			for _, c := range contacts {
				contactOf[strings.ToLower(c["emailaddress1"].(string))] = c["contactid"].(string)
			}
			created := map[string]int{}
			for i, r := range res {
				email := strings.ToLower(raws[i]["email"])
				l := leadOf[email]
				if l == nil || r.LeadID != l["leadid"] {
					t.Errorf("submission %d (%s): lead %s, want its person's %v", i, email, r.LeadID, l["leadid"])
					continue
				}
				if l["_parentcontactid_value"] != contactOf[email] {
					t.Errorf("lead of %s bound to %v, want its contact %s", email, l["_parentcontactid_value"], contactOf[email])
				}
				if r.Action == "created" {
					created[email]++
				}
				if r.Match == "" {
					t.Errorf("submission %d: no explanation", i)
				}
			}
			for _, em := range emails {
				em = strings.ToLower(em)
				want := 1
				if existing[em] != "" {
					want = 0
					if leadOf[em]["leadid"] != existing[em] {
						t.Errorf("%s: lead %v, want the existing %s", em, leadOf[em]["leadid"], existing[em])
					}
				}
				if created[em] != want {
					t.Errorf("%s: %d submissions recorded created, want %d", em, created[em], want)
				}
			}
			t.Logf("%d submissions, %d Dataverse requests", len(raws), sent)
			// Two queries, then the new contacts, the new leads and the
			// matched leads' updates: three bulk messages or one $batch.
			want := 5
			if writes == delivery.WritesChangeSets {
				want = 3
			}
			if sent != want {
				t.Errorf("%d requests for %d submissions in one batch, want %d", sent, len(raws), want)
			}
		})
	}
}

// One row Dataverse refuses fails only its own submission: the others of
// its batch are delivered.
func TestBatchBadRowFailsOnlyItsSubmission(t *testing.T) {
	for _, writes := range []string{delivery.WritesBulk, delivery.WritesChangeSets} {
		t.Run(writes, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, contactForm("f", nil))
			e.batch = &delivery.Batcher{D: e.d, Max: 100, Writes: writes}
			e.emu.Configure(`{"max_lengths":{"leads":{"jobtitle":10}}}`)
			var raws []map[string]string
			for i := range 8 {
				job := "CTO"
				if i == 3 {
					job = "Chief Executive Officer"
				}
				raws = append(raws, map[string]string{"email": fmt.Sprintf("p%d@example.com", i), "last_name": "Lee", "job_title": job})
			}
			res, errs := e.deliverAll(t, "f", raws)
			for i, err := range errs {
				switch {
				case i == 3:
					v := delivery.Classify(err)
					if err == nil || v.Retry || v.Error.Category != submission.CategoryInvalidData || v.Error.Status != 400 {
						t.Errorf("the bad row: %v (%+v), want a permanent invalid_data 400", err, v)
					}
				case err != nil || res[i].Action != "created":
					t.Errorf("submission %d: %+v, %v; want created", i, res[i], err)
				}
			}
			if n := len(e.leads(t)); n != 7 {
				t.Errorf("%d leads, want 7", n)
			}
		})
	}
}

// Forms whose delivery needs calls of its own per lead, or a query per
// person, are delivered one at a time.
func TestBatchable(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*forms.Form)
		want   bool
	}{
		{"match on email", nil, true},
		{"email+company", func(f *forms.Form) { f.Match = []string{forms.MatchEmailCompany, forms.MatchEmail} }, true},
		{"phone", func(f *forms.Form) { f.Match = []string{forms.MatchEmail, forms.MatchPhone} }, false},
		{"alternate key", func(f *forms.Form) { f.AlternateKey = "emailaddress1" }, false},
		{"a note", func(f *forms.Form) { f.Note = &forms.Note{} }, false},
		{"an owner", func(f *forms.Form) { f.Owner = &forms.Owner{} }, false},
		{"a campaign", func(f *forms.Form) { f.Campaign = &forms.Campaign{} }, false},
		{"an account", func(f *forms.Form) { f.Account = &forms.Account{} }, false},
		{"another table", func(f *forms.Form) { f.Table = "new_enquiry" }, false},
		{"a lookup field", func(f *forms.Form) { f.Fields[0].Kind = forms.KindLookup }, false},
	} {
		f := contactForm("f", tt.mutate)
		if f.Match == nil {
			f.Match = []string{forms.MatchEmail}
		}
		if got := delivery.Batchable(f); got != tt.want {
			t.Errorf("%s: Batchable = %v, want %v", tt.name, got, tt.want)
		}
	}
}
