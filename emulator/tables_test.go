package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOwnership: a lead is owned by its creator unless the request names a
// user or a team, as Dataverse assigns on create and update.
func TestOwnership(t *testing.T) {
	h := start(t, nil)
	emea := h.srv.TeamID("Sales EMEA")
	priya := h.srv.Users()[1]
	missing := newGUID()

	t.Run("the creator owns a row created without an owner", func(t *testing.T) {
		h := h.sub(t)
		lead := h.create("leads", map[string]any{"lastname": "Lee"})
		row := h.row("leads(" + lead + ")?$select=_ownerid_value")
		if row["_ownerid_value"] != h.srv.ids.user || row["_ownerid_value"+logicalSuffix] != "systemuser" {
			t.Errorf("owner: got %v (%v), want the application user %s", row["_ownerid_value"], row["_ownerid_value"+logicalSuffix], h.srv.ids.user)
		}
	})
	t.Run("a team on create, a user on update", func(t *testing.T) {
		h := h.sub(t)
		lead := h.create("leads", map[string]any{"lastname": "Lee", "ownerid@odata.bind": "/teams(" + emea + ")"})
		row := h.row("leads(" + lead + ")?$select=_ownerid_value")
		if row["_ownerid_value"] != emea || row["_ownerid_value"+logicalSuffix] != "team" || row["_ownerid_value"+fvSuffix] != "Sales EMEA" {
			t.Errorf("owner after create: got %v", row)
		}
		resp, body := h.api(http.MethodPatch, "leads("+lead+")", map[string]any{"ownerid@odata.bind": "systemusers(" + priya.ID + ")"}, "If-Match", "*")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH owner: got %d, want 204; body %s", resp.StatusCode, body)
		}
		row = h.row("leads(" + lead + ")?$select=_ownerid_value&$expand=ownerid($select=fullname)")
		if row["_ownerid_value"] != priya.ID || row["_ownerid_value"+logicalSuffix] != "systemuser" || row["_ownerid_value"+fvSuffix] != "Priya Shah" {
			t.Errorf("owner after update: got %v", row)
		}
		if owner, _ := row["ownerid"].(map[string]any); owner["fullname"] != "Priya Shah" {
			t.Errorf("expanded owner: got %v, want Priya Shah", row["ownerid"])
		}
		// The owner's rows, filtered by the lookup.
		resp, body = h.api(http.MethodGet, "leads?$select=leadid&$filter=_ownerid_value%20eq%20"+priya.ID, nil)
		if got := rows(t, body); resp.StatusCode != http.StatusOK || len(got) != 1 || got[0]["leadid"] != lead {
			t.Errorf("leads owned by Priya: got %d %s", resp.StatusCode, body)
		}
	})
	errs := []struct {
		name   string
		body   map[string]any
		status int
		code   string
		msg    string
	}{
		{"a user that does not exist", map[string]any{"ownerid@odata.bind": "/systemusers(" + missing + ")"}, 404, codeNotFound,
			"systemuser With Id = " + missing + " Does Not Exist"},
		{"a team that does not exist", map[string]any{"ownerid@odata.bind": "/teams(" + missing + ")"}, 404, codeNotFound,
			"team With Id = " + missing + " Does Not Exist"},
		{"a contact", map[string]any{"ownerid@odata.bind": "/contacts(" + missing + ")"}, 400, codePayload,
			"The URI '/contacts(" + missing + ")' in 'ownerid@odata.bind' must address a row of systemusers or teams."},
		{"no owner at all", map[string]any{"ownerid@odata.bind": nil}, 400, codeInvalidArgument, "Attribute 'ownerid' cannot be set to NULL"},
		{"a user by a key that is not defined", map[string]any{"ownerid@odata.bind": "/systemusers(domainname='priya.shah@contoso.example')"}, 400, codeQuery,
			msgKeyNotValid(systemUserSchema)},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			tt.body["lastname"] = "Lee"
			resp, body := h.api(http.MethodPost, "leads", tt.body)
			if msg := wantError(t, resp, body, tt.status, tt.code); msg != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", msg, tt.msg)
			}
		})
	}
}

// row GETs one row with every annotation.
func (h *harness) row(path string) map[string]any {
	h.t.Helper()
	resp, body := h.api(http.MethodGet, path, nil, "Prefer", preferAll)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: got %d, want 200; body %s", path, resp.StatusCode, body)
	}
	return object(h.t, body)
}

// TestCampaignsAccountsAndNotes: the lookups a routed, attributed lead
// carries, and a note too long for any lead column.
func TestCampaignsAccountsAndNotes(t *testing.T) {
	h := start(t, nil)
	campaign := h.create("campaigns", map[string]any{"name": "Spring launch", "codename": "SPRING26"})
	account := h.create("accounts", map[string]any{"name": "Contoso", "accountnumber": "C-100", "emailaddress1": "info@contoso.example", "websiteurl": "https://contoso.example"})
	lead := h.create("leads", map[string]any{
		"lastname": "Lee", "subject": "Pricing",
		"campaignid@odata.bind":         "/campaigns(" + campaign + ")",
		"parentaccountid@odata.bind":    "/accounts(" + account + ")",
		"customerid_account@odata.bind": "/accounts(" + account + ")",
	})
	row := h.row("leads(" + lead + ")?$select=_campaignid_value,_parentaccountid_value,_customerid_value")
	if row["_campaignid_value"] != campaign || row["_campaignid_value"+fvSuffix] != "Spring launch" ||
		row["_parentaccountid_value"] != account || row["_customerid_value"+logicalSuffix] != "account" {
		t.Errorf("lookups: got %v", row)
	}

	// A campaign found by its code, as a mapping would look it up.
	resp, body := h.api(http.MethodGet, "campaigns?$select=campaignid,name&$filter=codename%20eq%20'spring26'", nil)
	if got := rows(t, body); resp.StatusCode != http.StatusOK || len(got) != 1 || got[0]["campaignid"] != campaign {
		t.Errorf("campaign by code: got %d %s", resp.StatusCode, body)
	}
	row = h.row("campaigns(" + campaign + ")?$select=name,statecode,statuscode&$expand=campaign_leads($select=subject)")
	if row["statuscode"+fvSuffix] != "Proposed" || len(row["campaign_leads"].([]any)) != 1 {
		t.Errorf("campaign with its leads: got %v", row)
	}

	long := strings.Repeat("Tell me more. ", 8000)[:100_000]
	note := h.create("annotations", map[string]any{"subject": "Web form message", "notetext": long, "objectid_lead@odata.bind": "/leads(" + lead + ")"})
	row = h.row("annotations(" + note + ")?$select=subject,notetext,objecttypecode,_objectid_value")
	if row["notetext"] != long || row["objecttypecode"] != "lead" || row["_objectid_value"] != lead || row["_objectid_value"+navSuffix] != "objectid_lead" {
		t.Errorf("note: got objecttypecode %v, _objectid_value %v (%v), %d characters of notetext",
			row["objecttypecode"], row["_objectid_value"], row["_objectid_value"+navSuffix], len(row["notetext"].(string)))
	}
	row = h.row("leads(" + lead + ")?$select=subject&$expand=Lead_Annotation($select=subject)")
	if notes, _ := row["Lead_Annotation"].([]any); len(notes) != 1 {
		t.Errorf("the lead's notes: got %v, want the one note", row["Lead_Annotation"])
	}
	resp, body = h.api(http.MethodPost, "annotations", map[string]any{"notetext": long + "!", "objectid_lead@odata.bind": "/leads(" + lead + ")"})
	wantError(t, resp, body, http.StatusBadRequest, codeLength)
	resp, body = h.api(http.MethodPost, "annotations", map[string]any{"notetext": "x", "objectid_lead@odata.bind": "/leads(" + newGUID() + ")"})
	wantError(t, resp, body, http.StatusNotFound, codeNotFound)
	resp, body = h.api(http.MethodPost, "annotations", map[string]any{"notetext": "x", "statecode": 0})
	wantError(t, resp, body, http.StatusBadRequest, codeInvalidProperty)

	// A custom table, bound to the lead it became.
	enquiry := h.create("new_enquiries", map[string]any{"new_name": "Partnership", "new_topic": 100000002, "new_leadid@odata.bind": "/leads(" + lead + ")"})
	row = h.row("new_enquiries(" + enquiry + ")?$select=new_name,new_topic,_new_leadid_value")
	if row["_new_leadid_value"] != lead || row["new_topic"+fvSuffix] != "Partnership" {
		t.Errorf("enquiry: got %v", row)
	}
}

// TestCustomColumns: values in Dataverse's formats are taken (and rounded
// or normalised as it stores them), others refused with its codes.
func TestCustomColumns(t *testing.T) {
	h := start(t, nil)
	lead := h.create("leads", map[string]any{
		"lastname": "Lee", "new_budget": 1234.567, "new_discountrate": 12.5, "new_productinterest": 100000001,
		"new_interests": "100000000, 100000003", "new_consentdate": "2026-03-01T10:00:00Z", "new_employees": 250,
		"new_newsletter": true, "new_utmsource": "newsletter",
	})
	row := h.row("leads(" + lead + ")?$select=new_budget,new_discountrate,new_productinterest,new_interests,new_consentdate,new_employees,new_newsletter")
	want := map[string]any{
		"new_budget": 1234.57, "new_budget" + fvSuffix: "$1,234.57",
		"new_discountrate": 12.5, "new_discountrate" + fvSuffix: "12.50",
		"new_productinterest" + fvSuffix: "Hardware",
		"new_interests":                  "100000000,100000003", "new_interests" + fvSuffix: "Newsletter; Product updates",
		"new_employees" + fvSuffix: "250", "new_newsletter" + fvSuffix: "Yes",
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("%s: got %v, want %v", k, row[k], v)
		}
	}
	errs := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"money as text", map[string]any{"new_budget": "1234.50"}, 400, codePayload},
		{"money out of range", map[string]any{"new_budget": 1e16}, 400, codeDecimalOutOfRange},
		{"decimal over its maximum", map[string]any{"new_discountrate": 100.5}, 400, codeDecimalOutOfRange},
		{"a standard choice value on a custom choice", map[string]any{"new_productinterest": 1}, 400, codePicklist},
		{"an unknown value among several", map[string]any{"new_interests": "100000000,7"}, 400, codePicklist},
		{"a multi-select choice as a number", map[string]any{"new_interests": 100000000}, 400, codePayload},
		{"a multi-select choice as labels", map[string]any{"new_interests": "Newsletter"}, 400, codePayload},
		{"a date in another format", map[string]any{"new_consentdate": "01/03/2026"}, 400, codeInvalidDateTime},
		{"a date before 1753", map[string]any{"new_consentdate": "1700-01-01T00:00:00Z"}, 400, codeInvalidDateTime},
		{"too many employees", map[string]any{"new_employees": 2_000_000}, 400, codeIntegerOutOfRange},
		{"a Yes/No as text", map[string]any{"new_newsletter": "yes"}, 400, codePayload},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			tt.body["lastname"] = "Lee"
			resp, body := h.api(http.MethodPost, "leads", tt.body)
			wantError(t, resp, body, tt.status, tt.code)
		})
	}
}

// TestSeedRows: users are read-only through the Web API, as in Dataverse,
// and come from the built-in seed or the control surface; Reset restores
// the built-in rows and removes the others.
func TestSeedRows(t *testing.T) {
	h := start(t, nil)
	users := func() []map[string]any {
		resp, body := h.api(http.MethodGet, "systemusers?$select=fullname,domainname", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET systemusers: %d %s", resp.StatusCode, body)
		}
		return rows(t, body)
	}
	if got := users(); len(got) != 4 || got[0]["fullname"] != "# "+DefaultClientID || got[1]["fullname"] != "Alex Morgan" {
		t.Fatalf("seeded users: got %v, want the application user and three people", got)
	}
	resp, body := h.api(http.MethodPost, "systemusers", map[string]any{"lastname": "New", "domainname": "new@contoso.example"})
	if msg := wantError(t, resp, body, http.StatusBadRequest, codeNotSupported); msg != "The 'Create' method does not support entities of type 'systemuser'. MessageProcessorCache returned MessageProcessor.Empty." {
		t.Errorf("POST systemusers: message %q", msg)
	}

	// Seeded over the control surface, like any client that is not a Web
	// API caller.
	seed := func(set, rowsJSON string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodPut, h.srv.URL()+"/_emulator/rows/"+set, strings.NewReader(rowsJSON))
		return h.send(req)
	}
	resp, body = seed("systemusers", `[{"firstname":"Jun","lastname":"Ito","domainname":"jun.ito@contoso.example","address1_country":"Japan"}]`)
	var out struct{ IDs []string }
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusOK || len(out.IDs) != 1 {
		t.Fatalf("PUT /_emulator/rows/systemusers: %d %s", resp.StatusCode, body)
	}
	lead := h.create("leads", map[string]any{"lastname": "Lee", "ownerid@odata.bind": "/systemusers(" + out.IDs[0] + ")"})
	if row := h.row("leads(" + lead + ")?$select=_ownerid_value"); row["_ownerid_value"+fvSuffix] != "Jun Ito" {
		t.Errorf("owner: got %v, want Jun Ito", row["_ownerid_value"+fvSuffix])
	}
	for _, bad := range []struct{ set, rows, want string }{
		{"systemusers", `[{"lastname":"Ok","domainname":"ok@x"},{"lastname":"Bad","nosuch":1}]`, "systemusers[1]: 400 "},
		{"nosuch", `[]`, "seed: unknown table"},
		{"teams", `{"name":"not an array"}`, "json: cannot unmarshal object"},
	} {
		resp, body := seed(bad.set, bad.rows)
		if resp.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte(bad.want)) {
			t.Errorf("PUT /_emulator/rows/%s %s: got %d %s, want 400 with %q", bad.set, bad.rows, resp.StatusCode, body, bad.want)
		}
	}
	if got := users(); len(got) != 5 {
		t.Errorf("users after a refused seed: got %d, want 5 (the refused batch wrote nothing)", len(got))
	}

	h.srv.Reset()
	if got := users(); len(got) != 4 {
		t.Errorf("users after Reset: got %d, want the 4 built-in ones", len(got))
	}
	resp, body = h.api(http.MethodGet, "teams?$select=name", nil)
	if got := rows(t, body); resp.StatusCode != http.StatusOK || len(got) != 2 {
		t.Errorf("teams after Reset: got %d %s, want the 2 built-in ones", resp.StatusCode, body)
	}
}
