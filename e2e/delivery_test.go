package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// submitMany posts n submissions cycling over people distinct persons,
// conc at a time, and returns the submission ids.
func (s *stack) submitMany(form string, n, people, conc int) []string {
	s.t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, conc)
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			p := i % people
			code, body := s.postJSON(form, map[string]any{
				"first_name": fmt.Sprintf("P%d", p), "last_name": fmt.Sprintf("Person %d", p),
				"email":   fmt.Sprintf("person%d@example.com", p),
				"company": fmt.Sprintf("Company %d", i), // differs per submission: fill_empty keeps the first
			})
			if code != http.StatusAccepted {
				errs <- fmt.Sprintf("post %d: %d %v", i, code, body)
				return
			}
			ids[i] = body["id"].(string)
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		s.t.Fatal(e)
	}
	return ids
}

// waitAllDelivered waits until every id is delivered, failing early if any
// lands in the failed list.
func (s *stack) waitAllDelivered(ids []string, within time.Duration) {
	s.t.Helper()
	testenv.Eventually(s.t, within, func() string {
		if failed := s.list("failed"); len(failed) > 0 {
			s.t.Fatalf("%d submissions failed, first: %v", len(failed), failed[0]["last_error"])
		}
		delivered := map[string]bool{}
		for _, r := range s.list("delivered") {
			delivered[r["id"].(string)] = true
		}
		missing := 0
		var first string
		for _, id := range ids {
			if !delivered[id] {
				missing++
				first = id
			}
		}
		if missing > 0 {
			// Say where one of them stands, for a failure's reader.
			r := s.submission(first)
			attempts, _ := r["attempts"].([]any)
			return fmt.Sprintf("%d of %d submissions not delivered yet; %s is %v after %d attempts, next at %v, last error %v",
				missing, len(ids), first, r["status"], len(attempts), r["next_attempt_at"], r["last_error"])
		}
		return ""
	})
}

// checkOneLeadPerPerson: exactly one lead and one contact per person, each
// lead bound to its person's contact.
func (s *stack) checkOneLeadPerPerson(people int, withContacts bool) {
	s.t.Helper()
	leads := s.Emu.Rows("leads", "$select=leadid,emailaddress1,_parentcontactid_value")
	contacts := s.Emu.Rows("contacts", "$select=contactid,emailaddress1")
	if len(leads) != people {
		s.t.Errorf("leads: got %d, want %d (one per person)", len(leads), people)
	}
	contactOf := map[string]string{}
	for _, c := range contacts {
		contactOf[c["emailaddress1"].(string)] = c["contactid"].(string)
	}
	if withContacts && (len(contacts) != people || len(contactOf) != people) {
		s.t.Errorf("contacts: got %d rows for %d emails, want %d", len(contacts), len(contactOf), people)
	}
	perEmail := map[string]int{}
	for _, l := range leads {
		e := l["emailaddress1"].(string)
		perEmail[e]++
		if withContacts && l["_parentcontactid_value"] != contactOf[e] {
			s.t.Errorf("lead %v for %s bound to contact %v, want %s", l["leadid"], e, l["_parentcontactid_value"], contactOf[e])
		}
	}
	for e, n := range perEmail {
		if n != 1 {
			s.t.Errorf("%s has %d leads, want 1", e, n)
		}
	}
}

// TestConcurrentSubmissionsMakeOneLeadPerPerson: 500 submissions for 50
// people through 4 workers × 10 → 50 leads and 50 contacts, each bound.
func TestConcurrentSubmissionsMakeOneLeadPerPerson(t *testing.T) {
	s := startStack(t, options{workers: 4, env: map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "10", "LEADBRIDGE_LOG_LEVEL": "warn"}})
	ids := s.submitMany("demo", 500, 50, 25)
	s.waitAllDelivered(ids, 3*time.Minute)
	s.checkOneLeadPerPerson(50, true)
}

// leadForm is one form of a LEADBRIDGE_CONFIG file, for the forms: mapping:
// email, names and company, with the given contact setting. Settings
// appended after it belong to this form.
func leadForm(id, contact string) string {
	return `
  ` + id + `:
    title: ` + id + `
    allowed_origins: ["*"]
    contact: ` + contact + `
    spam: {rate_limit: off}   # the tests post hundreds from one address
    fields:
      email:      {column: emailaddress1, rules: "required,email"}
      first_name: {column: firstname}
      last_name:  {column: lastname, rules: required}
      company:    {column: companyname}
`
}

// noContactForm is a configuration with the one form "quick" (contact: none).
var noContactForm = "forms:" + leadForm("quick", "none")

// TestThrottlingIsWaitedOutExactly: with low service protection limits
// every submission is delivered, no request comes before its Retry-After,
// and concurrency never passes the limit.
func TestThrottlingIsWaitedOutExactly(t *testing.T) {
	s := startStack(t, options{config: noContactForm, workers: 2, env: map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "10", "LEADBRIDGE_LOG_LEVEL": "warn"}})
	limit := 150
	if !oneAtATime(t) {
		limit = 10 // batched, the 300 take about 60 requests
	}
	s.Emu.Configure(fmt.Sprintf(`{"limits":{"requests_per_window":%d,"window_seconds":5,"concurrent":4}}`, limit))
	ids := s.submitMany("quick", 300, 300, 25)
	s.waitAllDelivered(ids, 4*time.Minute)
	st := s.Emu.Stats()
	t.Logf("emulator stats: %+v", st)
	// The test reads back as the same app user: lift the limits first, so
	// its own reads are not throttled (the stats above are already taken).
	s.Emu.Configure(`{"limits":{"requests_per_window":0,"execution_ms_per_window":0,"concurrent":0}}`)
	s.checkOneLeadPerPerson(300, false)
	if st.ResponsesByStatus["429"] == 0 {
		t.Errorf("no 429 was ever sent: the limits were not reached, so this test proves nothing (stats %+v)", st)
	}
	if st.EarlyRetries != 0 {
		t.Errorf("early_retries: got %d, want 0 (stats %+v)", st.EarlyRetries, st)
	}
	if st.MaxConcurrentSeen > 4 {
		t.Errorf("max_concurrent_seen: got %d, want ≤ 4", st.MaxConcurrentSeen)
	}
}

// TestOutageIsRetriedNotFailed: Dataverse down for 30 s in the middle of a
// run; everything is delivered once it is back, nothing is failed.
func TestOutageIsRetriedNotFailed(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{config: noContactForm, workers: 2})
	first := s.submitMany("quick", 40, 40, 10)
	s.waitAllDelivered(first, time.Minute)
	s.Emu.Configure(`{"faults":{"down":true}}`)
	down := time.Now()
	var second []string
	for i := 0; i < 40; i++ {
		_, body := s.postJSON("quick", map[string]any{"last_name": "Down", "email": fmt.Sprintf("down%d@example.com", i)})
		second = append(second, body["id"].(string))
	}
	// Let the outage be seen: some submissions must be retrying.
	testenv.Eventually(t, 30*time.Second, func() string {
		if len(s.list("retrying")) == 0 {
			return "no submission is retrying during the outage"
		}
		return ""
	})
	time.Sleep(time.Until(down.Add(30 * time.Second))) // the outage's length is the scenario, not a wait for work
	s.Emu.Configure(`{"faults":{"down":false}}`)
	s.waitAllDelivered(second, 2*time.Minute)
	if n := len(s.Emu.Rows("leads", "$select=leadid")); n != 80 {
		t.Errorf("leads: got %d, want 80", n)
	}
}

// TestRefusedDataGoesToFailedListAndRetryDelivers: a bad choice value is a
// permanent 400: the submission is failed at once with Dataverse's code and
// message; after the form is fixed, a retry delivers it.
func TestRefusedDataGoesToFailedListAndRetryDelivers(t *testing.T) {
	bad := noContactForm + "    lead_source: 99\n"
	s := startStack(t, options{config: bad})
	_, body := s.postJSON("quick", map[string]any{"last_name": "Lee", "email": "lee@example.com"})
	id := body["id"].(string)
	rec := s.waitStatus(id, "failed", time.Minute)
	le, _ := rec["last_error"].(map[string]any)
	if le["category"] != "invalid_data" || le["code"] != "0x8004431A" || le["status"] != float64(400) || le["message"] == "" {
		t.Errorf("last_error: got %v, want invalid_data, 400, 0x8004431A and Dataverse's message", le)
	}
	if rec["attempt_count"] != float64(1) {
		t.Errorf("attempts: got %v, want 1 (a permanent error is not retried)", rec["attempt_count"])
	}
	failed := s.list("failed")
	if len(failed) != 1 || failed[0]["id"] != id {
		t.Fatalf("failed list: got %v, want just %s", failed, id)
	}

	// Fix the configuration: restart the worker with a good lead source.
	for _, w := range s.Workers {
		w.Stop()
	}
	s.Workers = nil
	s.env["LEADBRIDGE_CONFIG"] = testenv.WriteFile(t, "fixed.yaml", noContactForm+"    lead_source: 8\n")
	s.StartWorker()

	req, _ := http.NewRequest(http.MethodPost, s.APIURL+"/v1/submissions/"+id+"/retry", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	if code, body := s.do(req); code != http.StatusAccepted {
		t.Fatalf("retry: got %d %v, want 202", code, body)
	}
	rec = s.waitStatus(id, "delivered", time.Minute)
	if rec["attempt_count"] != float64(2) || rec["retried_at"] == nil {
		t.Errorf("after retry: attempts %v retried_at %v, want 2 attempts and the retry time", rec["attempt_count"], rec["retried_at"])
	}
	if len(s.list("failed")) != 0 {
		t.Error("the retried submission is still in the failed list")
	}
	leads := s.leadsByEmail("lee@example.com")
	if len(leads) != 1 || leads[0]["leadsourcecode"] != float64(8) {
		t.Errorf("leads after retry: got %v, want one with leadsourcecode 8", leads)
	}
}

// TestShortLivedTokensNeverFailARequest: tokens that live 5 s are renewed
// before they are sent expired. (MSAL Go treats a token expiring within five
// minutes as expired, so here it fetches one per call; a cached token that
// dies in flight — the 401 path — is covered by crm's
// TestUnauthorizedRefreshesTokenOnce.)
func TestShortLivedTokensNeverFailARequest(t *testing.T) {
	s := startStack(t, options{config: noContactForm, emulator: `{"token_lifetime_seconds":5}`})
	var ids []string
	deadline := time.Now().Add(12 * time.Second) // outlive two token lifetimes
	for i := 0; time.Now().Before(deadline); i++ {
		_, body := s.postJSON("quick", map[string]any{"last_name": "Tok", "email": fmt.Sprintf("tok%d@example.com", i)})
		ids = append(ids, body["id"].(string))
		s.waitStatus(body["id"].(string), "delivered", 30*time.Second)
	}
	st := s.Emu.Stats()
	if st.ResponsesByStatus["401"] != 0 {
		t.Errorf("401 responses: got %d, want 0 (stats %+v)", st.ResponsesByStatus["401"], st)
	}
	if st.TokensIssued < 3 {
		t.Errorf("tokens issued: got %d over %d deliveries, want several (tokens were not renewed)", st.TokensIssued, len(ids))
	}
}

// TestKilledWorkerLosesNothing: SIGKILL one of two workers mid-run; every
// submission is delivered exactly once.
func TestKilledWorkerLosesNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{workers: 2, env: map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "5"}})
	s.Emu.Configure(`{"latency_ms":40}`) // slow enough that the kill lands mid-delivery
	ids := s.submitMany("demo", 120, 60, 20)
	testenv.Eventually(t, time.Minute, func() string {
		if n := len(s.list("delivered")); n < 10 {
			return fmt.Sprintf("%d delivered", n)
		}
		return ""
	})
	s.Workers[0].Kill()
	s.waitAllDelivered(ids, 4*time.Minute)
	s.checkOneLeadPerPerson(60, true)
}

// TestLostAnswersMakeNoDuplicates: Dataverse commits every write, but the
// answer to a fifth of them never arrives. 200 submissions of 50 people —
// half of them through a form that links contacts — still make exactly one
// lead per person and one contact per person who asked for one, and none
// is failed; so do 40 sign-ups through a create_new form, which no match
// query protects.
func TestLostAnswersMakeNoDuplicates(t *testing.T) {
	t.Parallel()
	config := "forms:" + leadForm("linked", "link") + leadForm("quick", "none") + leadForm("signup", "none") + "    on_match: create_new\n"
	s := startStack(t, options{config: config, workers: 2, env: map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "10", "LEADBRIDGE_LOG_LEVEL": "warn"}})
	s.Emu.Configure(`{"faults":{"drop_after_write_rate":0.2}}`)
	const n, people = 200, 50
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p := i % people
			form := "quick"
			if p < people/2 {
				form = "linked"
			}
			code, body := s.postJSON(form, map[string]any{
				"last_name": fmt.Sprintf("Person %d", p), "email": fmt.Sprintf("person%d@example.com", p),
				"company": fmt.Sprintf("Company %d", i),
			})
			if code != http.StatusAccepted {
				t.Errorf("post %d: %d %v", i, code, body)
				return
			}
			ids[i] = body["id"].(string)
		}()
	}
	var signups []string
	for i := range 40 {
		code, body := s.postJSON("signup", map[string]any{"last_name": "Signup", "email": fmt.Sprintf("signup%d@example.com", i)})
		if code != http.StatusAccepted {
			t.Fatalf("signup %d: %d %v", i, code, body)
		}
		signups = append(signups, body["id"].(string))
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s.waitAllDelivered(append(ids, signups...), 4*time.Minute)
	st := s.Emu.Stats()
	t.Logf("emulator stats: %+v", st)
	if st.DroppedAfterWrite == 0 {
		t.Fatal("no answer was dropped: this test proves nothing")
	}
	s.Emu.Configure(`{"faults":{"drop_after_write_rate":0}}`)

	leads := s.Emu.Rows("leads", "$select=leadid,emailaddress1,_parentcontactid_value")
	contacts := s.Emu.Rows("contacts", "$select=contactid,emailaddress1")
	contactOf := map[string][]string{}
	for _, c := range contacts {
		e := c["emailaddress1"].(string)
		contactOf[e] = append(contactOf[e], c["contactid"].(string))
	}
	leadsOf := map[string]int{}
	for _, l := range leads {
		e := l["emailaddress1"].(string)
		leadsOf[e]++
		if strings.HasPrefix(e, "signup") {
			continue
		}
		if cs := contactOf[e]; len(cs) == 1 && l["_parentcontactid_value"] != cs[0] {
			t.Errorf("lead of %s bound to %v, want its contact %s", e, l["_parentcontactid_value"], cs[0])
		}
	}
	for p := range people {
		e := fmt.Sprintf("person%d@example.com", p)
		wantContacts := 0
		if p < people/2 {
			wantContacts = 1
		}
		if leadsOf[e] != 1 || len(contactOf[e]) != wantContacts {
			t.Errorf("%s: %d leads and %d contacts, want 1 and %d", e, leadsOf[e], len(contactOf[e]), wantContacts)
		}
	}
	for i := range 40 {
		if e := fmt.Sprintf("signup%d@example.com", i); leadsOf[e] != 1 {
			t.Errorf("%s: %d leads, want 1", e, leadsOf[e])
		}
	}
	if len(leads) != people+40 {
		t.Errorf("%d leads, want %d", len(leads), people+40)
	}

	// The records tell the same story: per person, one submission created
	// the lead (a lost answer is not reported "updated"), and every
	// submission names that lead.
	leadOf := map[string]string{}
	for _, l := range leads {
		leadOf[l["emailaddress1"].(string)] = l["leadid"].(string)
	}
	person := map[string]int{}
	for i, id := range ids {
		person[id] = i % people
	}
	created := map[int]int{}
	for _, r := range s.list("delivered") {
		p, ok := person[r["id"].(string)]
		if !ok {
			continue
		}
		if r["action"] == "created" {
			created[p]++
		}
		if want := leadOf[fmt.Sprintf("person%d@example.com", p)]; r["lead_id"] != want {
			t.Errorf("submission %v of person %d: lead %v, want %s", r["id"], p, r["lead_id"], want)
		}
	}
	for p := range people {
		if created[p] != 1 {
			t.Errorf("person %d: %d submissions recorded as created, want 1", p, created[p])
		}
	}
}
