package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// mappingConfig is a model a Dynamics admin would recognise: leads routed
// by country to a team, a person or a round robin; tied to the campaign in
// utm_campaign and to the company's account; the message kept as a note;
// custom choice, multi-select and money columns. partner binds an account
// by its account number (a lookup by key); enquiry writes the custom table
// new_enquiry.
const mappingConfig = `
forms:
  routed:
    title: Talk to sales
    allowed_origins: ["*"]
    spam: {rate_limit: off}
    owner:
      rules:
        - when: {country: [Germany, Austria]}
          team: Sales EMEA
        - when: {country: United States}
          user: diego.alvarez@contoso.example
        - when: {country: United Kingdom}
          round_robin: [alex.morgan@contoso.example, priya.shah@contoso.example]
      default: {team: Sales Americas}
    campaign: {from: utm_campaign}
    account: {match: [company, email_domain]}
    note: {from: message, subject: Website message}
    fields:
      email:     {column: emailaddress1, rules: "required,email"}
      last_name: {column: lastname, rules: required}
      company:   {column: companyname}
      country:   {column: address1_country}
      message:   {type: textarea, column: description, rules: "max=10000"}
      product:
        type: select
        column: new_productinterest
        options: {Software: 100000000, Hardware: 100000001, Services: 100000002}
      interests: {column: new_interests, kind: choices, options: {Newsletter: 100000000, Events: 100000001, Webinars: 100000002}}
      budget:    {column: new_budget, kind: money}
  partner:
    title: Partner referral
    allowed_origins: ["*"]
    spam: {rate_limit: off}
    fields:
      email:      {column: emailaddress1, rules: "required,email"}
      last_name:  {column: lastname, rules: required}
      partner_no: {column: parentaccountid, lookup: {table: accounts, key: accountnumber}, rules: required}
  enquiry:
    title: Enquiry
    table: new_enquiry
    allowed_origins: ["*"]
    spam: {rate_limit: off}
    owner: {default: {team: Sales EMEA}}
    note: {from: submission}
    fields:
      name:  {column: new_name, rules: required}
      email: {column: new_email, role: email, rules: "required,email"}
      topic: {type: select, column: new_topic, options: {Sales: 100000000, Support: 100000001}}
`

// leadOfMapped reads the lead with that email back with the mapped columns.
func (s *stack) leadOfMapped(email string) map[string]any {
	s.t.Helper()
	q := "$select=leadid,description,_ownerid_value,_campaignid_value,_parentaccountid_value,new_productinterest,new_interests,new_budget&$filter=" +
		url.QueryEscape("emailaddress1 eq '"+email+"'")
	rows := s.Emu.Rows("leads", strings.ReplaceAll(q, "+", "%20"))
	if len(rows) != 1 {
		s.t.Fatalf("leads of %s: %d, want 1", email, len(rows))
	}
	return rows[0]
}

// post submits to a form and returns the submission id.
func (s *stack) post(form string, fields map[string]any) string {
	s.t.Helper()
	code, body := s.postJSON(form, fields)
	if code != http.StatusAccepted {
		s.t.Fatalf("post %s: got %d %v, want 202", form, code, body)
	}
	return body["id"].(string)
}

func TestMappingToTheDataModel(t *testing.T) {
	s := startStack(t, options{config: mappingConfig})
	users := map[string]string{}
	for _, u := range s.Emu.Users() {
		users[u.Email] = u.ID
	}
	emea, americas := s.Emu.TeamID("Sales EMEA"), s.Emu.TeamID("Sales Americas")
	campaign := s.Emu.SeedRows("campaigns", map[string]any{"name": "Spring launch 2026", "codename": "spring-2026"})[0]
	accounts := s.Emu.SeedRows("accounts",
		map[string]any{"name": "Fabrikam", "websiteurl": "https://www.fabrikam.example"},
		map[string]any{"name": "Northwind Traders", "emailaddress1": "info@northwind.example"})
	fabrikam, northwind := accounts[0], accounts[1]

	t.Run("routed by country to a team, a user, a round robin and the default", func(t *testing.T) {
		cases := []struct {
			email, country, wantOwner, wantRule string
		}{
			{"de@routing.example", "Germany", emea, "rule 1"},
			{"us@routing.example", "united states", users["diego.alvarez@contoso.example"], "rule 2"},
			{"uk1@routing.example", "United Kingdom", users["alex.morgan@contoso.example"], "rule 3"},
			{"uk2@routing.example", "United Kingdom", users["priya.shah@contoso.example"], "rule 3"},
			{"uk3@routing.example", "United Kingdom", users["alex.morgan@contoso.example"], "rule 3"},
			{"fr@routing.example", "France", americas, "no rule held; the default"},
		}
		for _, c := range cases {
			// One at a time: the round robin's order is the order they are delivered in.
			id := s.post("routed", map[string]any{"email": c.email, "last_name": "Lee", "country": c.country})
			rec := s.waitStatus(id, "delivered", time.Minute)
			if l := s.leadOfMapped(c.email); l["_ownerid_value"] != c.wantOwner {
				t.Errorf("%s (%s): owner %v, want %v", c.email, c.country, l["_ownerid_value"], c.wantOwner)
			}
			if m, _ := rec["match"].(string); !strings.Contains(m, "owner: "+c.wantRule) {
				t.Errorf("%s: match explanation %q does not name %s", c.email, m, c.wantRule)
			}
		}
	})

	t.Run("utm_campaign binds the campaign; an unknown one leaves it empty", func(t *testing.T) {
		id := s.post("routed", map[string]any{"email": "camp@routing.example", "last_name": "Lee",
			"_page": "https://www.example.com/pricing?utm_source=news&utm_campaign=spring-2026"})
		rec := s.waitStatus(id, "delivered", time.Minute)
		if l := s.leadOfMapped("camp@routing.example"); l["_campaignid_value"] != campaign {
			t.Errorf("campaign: got %v, want %s", l["_campaignid_value"], campaign)
		}
		if m, _ := rec["match"].(string); !strings.Contains(m, "campaign: 'spring-2026' → /campaigns("+campaign+")") {
			t.Errorf("match explanation %q does not say which campaign", m)
		}
		id = s.post("routed", map[string]any{"email": "nocamp@routing.example", "last_name": "Lee",
			"_page": "https://www.example.com/?utm_campaign=summer-sale"})
		rec = s.waitStatus(id, "delivered", time.Minute)
		if l := s.leadOfMapped("nocamp@routing.example"); l["_campaignid_value"] != nil {
			t.Errorf("unknown campaign: campaignid %v, want empty", l["_campaignid_value"])
		}
		if m, _ := rec["match"].(string); !strings.Contains(m, "no campaign is named or coded 'summer-sale'") {
			t.Errorf("match explanation %q does not say the campaign is unknown", m)
		}
	})

	t.Run("company email binds the account, free mail does not", func(t *testing.T) {
		cases := []struct {
			email, company, want, why string
		}{
			{"ann@northwind.example", "", northwind, "matched by email domain northwind.example"},
			{"bo@fabrikam.example", "", fabrikam, "matched by email domain fabrikam.example"},
			{"eve@sales.northwind.example", "", northwind, "matched by email domain northwind.example (the address is at sales.northwind.example)"},
			{"fay@northwind.example.attacker.example", "", "", "no account has email domain attacker.example"},
			{"cy@example.net", "Fabrikam", fabrikam, "matched by company name"},
			{"dee.fabrikam@gmail.com", "", "", "email domain gmail.com is free mail"},
			// Fabrikam's website www.fabrikam.example contains "abrikam.example",
			// but is not on that domain.
			{"ed@abrikam.example", "", "", "no account has email domain abrikam.example"},
		}
		for _, c := range cases {
			id := s.post("routed", map[string]any{"email": c.email, "last_name": "Lee", "company": c.company})
			rec := s.waitStatus(id, "delivered", time.Minute)
			got := s.leadOfMapped(c.email)["_parentaccountid_value"]
			if (c.want == "" && got != nil) || (c.want != "" && got != c.want) {
				t.Errorf("%s: parentaccountid %v, want %q", c.email, got, c.want)
			}
			if m, _ := rec["match"].(string); !strings.Contains(m, c.why) {
				t.Errorf("%s: match explanation %q lacks %q", c.email, m, c.why)
			}
		}
		if n := len(s.Emu.Rows("accounts", "$select=accountid")); n != 2 {
			t.Errorf("accounts: %d, want the 2 seeded (none created)", n)
		}
	})

	t.Run("a 5,000-character message becomes a note; description holds its first part", func(t *testing.T) {
		msg := strings.Repeat("We need 40 licences and a call next week. ", 120)[:5000]
		id := s.post("routed", map[string]any{"email": "long@routing.example", "last_name": "Lee", "message": msg})
		rec := s.waitStatus(id, "delivered", time.Minute)
		l := s.leadOfMapped("long@routing.example")
		if l["description"] != msg[:2000] {
			t.Errorf("description: %d characters, want the first 2000 of the message", len(l["description"].(string)))
		}
		notes := s.Emu.Rows("annotations", "$select=annotationid,subject,notetext,_objectid_value,objecttypecode&$filter="+
			url.QueryEscape("_objectid_value eq "+l["leadid"].(string)))
		if len(notes) != 1 || notes[0]["notetext"] != msg || notes[0]["subject"] != "Website message" || notes[0]["objecttypecode"] != "lead" {
			t.Fatalf("notes on the lead: %v, want one with the whole message", notes)
		}
		if m, _ := rec["match"].(string); !strings.Contains(m, "note "+notes[0]["annotationid"].(string)) {
			t.Errorf("match explanation %q does not name the note", m)
		}
	})

	t.Run("custom choice, multi-select and money columns", func(t *testing.T) {
		id := s.post("routed", map[string]any{"email": "cols@routing.example", "last_name": "Lee",
			"product": "Hardware", "interests": "Events; newsletter", "budget": "12,500.50"})
		s.waitStatus(id, "delivered", time.Minute)
		l := s.leadOfMapped("cols@routing.example")
		if l["new_productinterest"] != float64(100000001) || l["new_interests"] != "100000001,100000000" || l["new_budget"] != 12500.5 {
			t.Errorf("custom columns: productinterest %v interests %v budget %v, want 100000001, \"100000001,100000000\", 12500.5",
				l["new_productinterest"], l["new_interests"], l["new_budget"])
		}
		code, body := s.postJSON("routed", map[string]any{"email": "bad@routing.example", "last_name": "Lee", "interests": "Golf"})
		if f, _ := body["fields"].(map[string]any); code != http.StatusUnprocessableEntity || f["interests"] == nil {
			t.Errorf("an option the column lacks: got %d %v, want 422 naming interests", code, body)
		}
	})

	t.Run("a lookup to a missing row fails with the reason, then delivers once the row exists", func(t *testing.T) {
		id := s.post("partner", map[string]any{"email": "ref@partner.example", "last_name": "Lee", "partner_no": "P-7001"})
		rec := s.waitStatus(id, "failed", time.Minute)
		le, _ := rec["last_error"].(map[string]any)
		msg, _ := le["message"].(string)
		if le["category"] != "invalid_data" || !strings.Contains(msg, "no row of accounts has accountnumber equal to the value of field partner_no") {
			t.Errorf("last_error: %v, want invalid_data naming the lookup", le)
		}
		if strings.Contains(msg, "P-7001") {
			t.Errorf("last_error holds the submitted value: %q", msg)
		}
		if rec["attempt_count"] != float64(1) {
			t.Errorf("attempts: %v, want 1 (a missing row is not retried on its own)", rec["attempt_count"])
		}
		var listed bool
		for _, r := range s.list("failed") {
			if e, _ := r["last_error"].(map[string]any); r["id"] == id && strings.Contains(e["message"].(string), "partner_no") {
				listed = true
			}
		}
		if !listed {
			t.Errorf("the failed list does not show %s with its reason", id)
		}

		// The row is added in the CRM, then the submission retried.
		b, _ := json.Marshal([]map[string]any{{"name": "Tailspin Toys", "accountnumber": "P-7001"}})
		req, _ := http.NewRequest(http.MethodPut, s.Emu.URL()+"/_emulator/rows/accounts", bytes.NewReader(b))
		resp, err := s.Emu.Client().Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT /_emulator/rows/accounts: %v %v", resp, err)
		}
		var added struct{ IDs []string }
		json.NewDecoder(resp.Body).Decode(&added)
		resp.Body.Close()
		req, _ = http.NewRequest(http.MethodPost, s.APIURL+"/v1/submissions/"+id+"/retry", nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		if code, body := s.do(req); code != http.StatusAccepted {
			t.Fatalf("retry: %d %v", code, body)
		}
		s.waitStatus(id, "delivered", time.Minute)
		if l := s.leadOfMapped("ref@partner.example"); len(added.IDs) != 1 || l["_parentaccountid_value"] != added.IDs[0] {
			t.Errorf("parentaccountid: %v, want the added account %v", l["_parentaccountid_value"], added.IDs)
		}
	})

	defer t.Run("the logs hold no personal data", func(t *testing.T) {
		logs := s.API.Output()
		for _, w := range s.Workers {
			logs += w.Output()
		}
		for _, secret := range []string{"@routing.example", "@northwind.example", "@fabrikam.example", "gmail.com", "P-7001",
			"kim@enquiry.example", "We need 40 licences", "Hardware"} {
			if strings.Contains(logs, secret) {
				t.Errorf("the logs contain %q", secret)
			}
		}
	})

	t.Run("a form on the custom table new_enquiry", func(t *testing.T) {
		id := s.post("enquiry", map[string]any{"name": "Kim", "email": "kim@enquiry.example", "topic": "Support"})
		rec := s.waitStatus(id, "delivered", time.Minute)
		rows := s.Emu.Rows("new_enquiries", "$select=new_enquiryid,new_name,new_email,new_topic,_ownerid_value")
		if len(rows) != 1 || rows[0]["new_name"] != "Kim" || rows[0]["new_topic"] != float64(100000001) ||
			rows[0]["_ownerid_value"] != emea || rows[0]["new_enquiryid"] != rec["lead_id"] {
			t.Fatalf("new_enquiries: %v, want Kim's, topic Support, owned by Sales EMEA", rows)
		}
		notes := s.Emu.Rows("annotations", "$select=notetext,objecttypecode&$filter="+url.QueryEscape("_objectid_value eq "+rows[0]["new_enquiryid"].(string)))
		if len(notes) != 1 || notes[0]["objecttypecode"] != "new_enquiry" || !strings.Contains(notes[0]["notetext"].(string), "Email: kim@enquiry.example") {
			t.Errorf("note on the enquiry: %v, want the whole submission as text", notes)
		}
	})
}
