package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestFirstLeadEndToEnd posts to the built-in demo form as a JSON client
// and as a plain HTML form, and reads the leads back from the emulator.
func TestFirstLeadEndToEnd(t *testing.T) {
	s := startStack(t, options{})

	code, body := s.postJSON("demo", map[string]any{
		"first_name": "Ann", "last_name": "Lee", "email": "Ann.Lee@Example.com",
		"company": "Contoso", "phone": "+1 415 555 0100", "job_title": "CTO",
		"message": "Pricing, please.", "consent": true,
	})
	if code != http.StatusAccepted || body["status"] != "accepted" || body["id"] == "" {
		t.Fatalf("JSON post: got %d %v, want 202 accepted with an id", code, body)
	}
	jsonID := body["id"].(string)

	resp := s.postForm("demo", url.Values{
		"first_name": {"Bo"}, "last_name": {"Berg"}, "email": {"bo@example.org"}, "company": {"Fabrikam"},
	})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("form post: got %d, want 303", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	formID := loc.Query().Get("id")
	if !strings.HasPrefix(loc.Path, "/f/demo/thanks") || formID == "" {
		t.Fatalf("form post redirected to %q, want the thank-you page with the submission id", resp.Header.Get("Location"))
	}

	rec := s.waitStatus(jsonID, "delivered", 60*time.Second)
	if rec["action"] != "created" || rec["lead_id"] == "" || rec["contact_id"] == "" {
		t.Errorf("JSON submission record: got action %v lead %v contact %v, want created with lead and contact ids", rec["action"], rec["lead_id"], rec["contact_id"])
	}
	s.waitStatus(formID, "delivered", 60*time.Second)

	leads := s.leadsByEmail("ann.lee@example.com")
	if len(leads) != 1 {
		t.Fatalf("leads for ann.lee@example.com: got %d, want 1", len(leads))
	}
	l := leads[0]
	want := map[string]any{
		"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann.lee@example.com",
		"companyname": "Contoso", "telephone1": "+1 415 555 0100", "jobtitle": "CTO",
		"description": "Pricing, please.", "subject": "Web enquiry from Contoso",
		"leadsourcecode": float64(8), "donotbulkemail": false, "leadid": rec["lead_id"],
		"_parentcontactid_value": rec["contact_id"],
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("lead %s: got %#v, want %#v", k, l[k], v)
		}
	}
	contacts := s.Emu.Rows("contacts", "$select=contactid,emailaddress1,lastname")
	if len(contacts) != 2 {
		t.Errorf("contacts: got %d, want 2 (one per person)", len(contacts))
	}

	m := s.get("/metrics")
	for _, want := range []string{`leadbridge_submissions_total{form="demo",outcome="accepted"} 2`, `leadbridge_submissions{status="delivered"} 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("API /metrics lacks %s", want)
		}
	}

	bo := s.leadsByEmail("bo@example.org")
	if len(bo) != 1 || bo[0]["lastname"] != "Berg" || bo[0]["companyname"] != "Fabrikam" || bo[0]["donotbulkemail"] != true {
		t.Errorf("form-posted lead: got %v, want one lead Berg/Fabrikam with donotbulkemail true (no consent given)", bo)
	}
}

// TestQuotedEmailDedupes: an apostrophe and a plus in the email must survive
// the $filter literal and URL encoding, so the second submission updates the
// lead the first one created instead of creating another.
func TestQuotedEmailDedupes(t *testing.T) {
	s := startStack(t, options{})
	const email = "o'brien+test@example.com"

	_, first := s.postJSON("demo", map[string]any{"last_name": "O'Brien", "email": email})
	r1 := s.waitStatus(first["id"].(string), "delivered", 60*time.Second)
	_, second := s.postJSON("demo", map[string]any{"last_name": "O'Brien", "email": email, "company": "Tailspin", "first_name": "Pat"})
	r2 := s.waitStatus(second["id"].(string), "delivered", 60*time.Second)

	if r1["action"] != "created" || r2["action"] != "updated" {
		t.Errorf("actions: got %v then %v, want created then updated", r1["action"], r2["action"])
	}
	if r1["lead_id"] != r2["lead_id"] {
		t.Errorf("lead ids: got %v and %v, want the same lead", r1["lead_id"], r2["lead_id"])
	}
	if m, _ := r2["match"].(string); !strings.Contains(m, "o''brien+test@example.com") {
		t.Errorf("match explanation %q should show the escaped filter", m)
	}
	leads := s.leadsByEmail(email)
	if len(leads) != 1 {
		t.Fatalf("leads for %s: got %d, want 1", email, len(leads))
	}
	// fill_empty: the empty company and first name are filled in.
	if leads[0]["companyname"] != "Tailspin" || leads[0]["firstname"] != "Pat" || leads[0]["emailaddress1"] != email {
		t.Errorf("lead after update: got %v", leads[0])
	}
}
