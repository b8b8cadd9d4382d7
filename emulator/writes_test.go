package emulator

import (
	"net/http"
	"strings"
	"testing"
)

// TestUpsert walks the PATCH table of reference §3.
func TestUpsert(t *testing.T) {
	h := start(t, nil)
	body := map[string]any{"subject": "s", "lastname": "Lee"}
	existing := func() (id, etag string) {
		_, b := h.api(http.MethodPost, "leads", body, "Prefer", "return=representation")
		row := object(t, b)
		return row["leadid"].(string), row["@odata.etag"].(string)
	}
	missing := func() string { return newGUID() }

	tests := []struct {
		name    string
		exists  bool
		headers func(etag string) []string
		status  int
		code    string // error code, if status is an error
		created bool   // a row exists afterwards that did not before
	}{
		{name: "no condition, row exists: update", exists: true, status: 204},
		{name: "no condition, row missing: create", status: 204, created: true},
		{name: "If-Match *, row exists", exists: true, headers: hdrs("If-Match", "*"), status: 204},
		{name: "If-Match *, row missing", headers: hdrs("If-Match", "*"), status: 404, code: codeNotFound},
		{name: "If-None-Match *, row exists", exists: true, headers: hdrs("If-None-Match", "*"), status: 412, code: codeDuplicateRecord},
		{name: "If-None-Match *, row missing", headers: hdrs("If-None-Match", "*"), status: 204, created: true},
		{name: "If-None-Match null is no condition", exists: true, headers: hdrs("If-None-Match", "null"), status: 204},
		{name: "representation, row exists", exists: true, headers: hdrs("Prefer", "return=representation"), status: 200},
		{name: "representation, row missing", headers: hdrs("Prefer", "return=representation"), status: 201, created: true},
		{name: "matching etag", exists: true, headers: func(e string) []string { return []string{"If-Match", e} }, status: 204},
		{name: "stale etag", exists: true, headers: hdrs("If-Match", `W/"1"`), status: 412, code: codeVersionMismatch},
		{name: "etag, row missing", headers: hdrs("If-Match", `W/"1"`), status: 404, code: codeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			id, etag := missing(), ""
			if tt.exists {
				id, etag = existing()
			}
			var headers []string
			if tt.headers != nil {
				headers = tt.headers(etag)
			}
			resp, b := h.api(http.MethodPatch, "leads("+id+")", map[string]any{"firstname": "Ann"}, headers...)
			if tt.code != "" {
				msg := wantError(t, resp, b, tt.status, tt.code)
				want := map[string]string{
					codeNotFound:        "lead With Id = " + id + " Does Not Exist",
					codeDuplicateRecord: msgRecordExists,
					codeVersionMismatch: msgVersionMismatch,
				}[tt.code]
				if msg != want {
					t.Errorf("message: got %q, want %q", msg, want)
				}
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d; body %s", resp.StatusCode, tt.status, b)
			}
			if tt.status == 204 {
				if got, want := resp.Header.Get("OData-EntityId"), h.srv.URL()+"/api/data/v9.2/leads("+id+")"; got != want {
					t.Errorf("OData-EntityId: got %q, want %q", got, want)
				}
			} else {
				row := object(t, b)
				if row["leadid"] != id || row["firstname"] != "Ann" {
					t.Errorf("body: got %v, want the row with firstname Ann", row)
				}
				if resp.Header.Get("ETag") == "" || resp.Header.Get("ETag") != row["@odata.etag"] {
					t.Errorf("ETag: got %q, want the row's etag %v", resp.Header.Get("ETag"), row["@odata.etag"])
				}
			}
			_, got := h.api(http.MethodGet, "leads("+id+")?$select=firstname,subject", nil)
			row := object(t, got)
			if row["firstname"] != "Ann" {
				t.Errorf("after PATCH: firstname %v, want Ann", row["firstname"])
			}
			if tt.exists && row["subject"] != "s" {
				t.Errorf("after update: subject %v, want the untouched s", row["subject"])
			}
			if tt.exists && row["@odata.etag"] == etag {
				t.Errorf("etag did not change on update: %v", etag)
			}
		})
	}
}

func hdrs(kv ...string) func(string) []string { return func(string) []string { return kv } }

func TestColumnValidation(t *testing.T) {
	h := start(t, nil)
	tests := []struct {
		name   string
		set    string
		body   map[string]any
		status int
		code   string
		msg    string
	}{
		{name: "over-length subject", set: "leads", body: map[string]any{"subject": strings.Repeat("x", 301)}, status: 400, code: codeLength,
			msg: "A validation error occurred.  The length of the 'subject' attribute of the 'lead' entity exceeded the maximum allowed length of '300'."},
		{name: "lead mobilephone is 20", set: "leads", body: map[string]any{"mobilephone": strings.Repeat("1", 21)}, status: 400, code: codeLength,
			msg: "A validation error occurred.  The length of the 'mobilephone' attribute of the 'lead' entity exceeded the maximum allowed length of '20'."},
		{name: "contact mobilephone is 50", set: "contacts", body: map[string]any{"mobilephone": strings.Repeat("1", 50)}, status: 204},
		// Lengths are in UTF-16 code units: é is one, 😀 (outside the BMP) two.
		{name: "BMP characters count one each", set: "leads", body: map[string]any{"description": strings.Repeat("é", 2000)}, status: 204},
		{name: "one BMP character over", set: "leads", body: map[string]any{"description": strings.Repeat("é", 2001)}, status: 400, code: codeLength},
		{name: "emoji count two each: exactly at the limit", set: "leads", body: map[string]any{"description": strings.Repeat("😀", 1000)}, status: 204},
		{name: "emoji count two each: one unit over", set: "leads", body: map[string]any{"description": strings.Repeat("😀", 1000) + "a"}, status: 400, code: codeLength,
			msg: "A validation error occurred.  The length of the 'description' attribute of the 'lead' entity exceeded the maximum allowed length of '2000'."},
		{name: "emoji and BMP mixed at the limit", set: "leads", body: map[string]any{"firstname": strings.Repeat("😀", 24) + "éa"}, status: 204},
		{name: "emoji and BMP mixed over", set: "leads", body: map[string]any{"firstname": strings.Repeat("😀", 25) + "é"}, status: 400, code: codeLength},
		{name: "bad leadsourcecode", set: "leads", body: map[string]any{"leadsourcecode": 11}, status: 400, code: codePicklist,
			msg: "A validation error occurred. The value 11 of 'leadsourcecode' on record of type 'lead' is outside the valid range. Accepted Values: 1,2,3,4,5,6,7,8,9,10"},
		{name: "contact leadsourcecode has only 1", set: "contacts", body: map[string]any{"leadsourcecode": 8}, status: 400, code: codePicklist},
		// As the troubleshooting page shows it; $select and $filter say
		// "Could not find a property named" instead (TestQuery).
		{name: "unknown property", set: "leads", body: map[string]any{"foo": "x"}, status: 400, code: "0x0",
			msg: "An error occurred while validating input parameters: Microsoft.Crm.CrmException: Invalid property 'foo' was found in entity 'Microsoft.Dynamics.CRM.lead'. ---> Microsoft.OData.ODataException: Does not support untyped value in non-open type."},
		{name: "property names are case-sensitive", set: "leads", body: map[string]any{"LastName": "x"}, status: 400, code: "0x0",
			msg: "An error occurred while validating input parameters: Microsoft.Crm.CrmException: Invalid property 'LastName' was found in entity 'Microsoft.Dynamics.CRM.lead'. ---> Microsoft.OData.ODataException: Does not support untyped value in non-open type."},
		{name: "string for a choice", set: "leads", body: map[string]any{"leadsourcecode": "8"}, status: 400, code: codePayload},
		{name: "number for a string", set: "leads", body: map[string]any{"lastname": 5}, status: 400, code: codePayload},
		{name: "lookup value set directly", set: "leads", body: map[string]any{"_parentcontactid_value": newGUID()}, status: 400, code: codePayload},
		{name: "status of another state", set: "leads", body: map[string]any{"statecode": 0, "statuscode": 4}, status: 400, code: codeInvalidArgument},
		{name: "annotations are ignored", set: "leads", body: map[string]any{"@odata.type": "Microsoft.Dynamics.CRM.lead", "lastname": "x"}, status: 204},
		{name: "booleans and nulls", set: "leads", body: map[string]any{"donotemail": true, "jobtitle": nil}, status: 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			resp, body := h.api(http.MethodPost, tt.set, tt.body)
			if tt.code == "" {
				if resp.StatusCode != tt.status {
					t.Fatalf("got status %d, want %d; body %s", resp.StatusCode, tt.status, body)
				}
				return
			}
			msg := wantError(t, resp, body, tt.status, tt.code)
			if tt.msg != "" && msg != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", msg, tt.msg)
			}
		})
	}
}

func TestBind(t *testing.T) {
	h := start(t, nil)
	contact := h.create("contacts", map[string]any{"lastname": "Lee"})
	account := h.create("accounts", map[string]any{"name": "Contoso"})
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   string
		want   map[string]any
	}{
		{name: "relative contact", body: map[string]any{"parentcontactid@odata.bind": "/contacts(" + contact + ")"},
			status: 201, want: map[string]any{"_parentcontactid_value": contact}},
		{name: "absolute account", body: map[string]any{"parentaccountid@odata.bind": h.srv.URL() + "/api/data/v9.2/accounts(" + account + ")"},
			status: 201, want: map[string]any{"_parentaccountid_value": account}},
		{name: "customer as contact", body: map[string]any{"customerid_contact@odata.bind": "contacts(" + contact + ")"},
			status: 201, want: map[string]any{"_customerid_value": contact}},
		{name: "customer as account", body: map[string]any{"customerid_account@odata.bind": "/accounts(" + account + ")"},
			status: 201, want: map[string]any{"_customerid_value": account}},
		{name: "missing target", body: map[string]any{"parentcontactid@odata.bind": "/contacts(" + newGUID() + ")"},
			status: 404, code: codeNotFound},
		{name: "wrong table", body: map[string]any{"parentcontactid@odata.bind": "/accounts(" + account + ")"},
			status: 400, code: codePayload},
		{name: "unknown navigation property", body: map[string]any{"nosuchthing@odata.bind": "/accounts(" + account + ")"},
			status: 400, code: codePayload},
		{name: "alternate key not defined", body: map[string]any{"parentcontactid@odata.bind": "/contacts(emailaddress1='a@b.com')"},
			status: 400, code: codeQuery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			tt.body["lastname"] = "Bound"
			resp, body := h.api(http.MethodPost, "leads", tt.body, "Prefer", "return=representation")
			if tt.code != "" {
				wantError(t, resp, body, tt.status, tt.code)
				return
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			row := object(t, body)
			for k, v := range tt.want {
				if row[k] != v {
					t.Errorf("%s: got %v, want %v", k, row[k], v)
				}
			}
		})
	}
}

func TestAlternateKeys(t *testing.T) {
	h := start(t, &Config{AlternateKeys: map[string][]string{"leads": {"emailaddress1"}}})

	t.Run("undefined key is refused", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPatch, "leads(lastname='Lee')", map[string]any{"subject": "x"})
		msg := wantError(t, resp, body, http.StatusBadRequest, codeQuery)
		want := "The key in the request URI is not valid for resource 'Microsoft.Dynamics.CRM.lead'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource 'Microsoft.Dynamics.CRM.lead'."
		if msg != want {
			t.Errorf("message:\n got %q\nwant %q", msg, want)
		}
		resp, body = h.api(http.MethodGet, "contacts(emailaddress1='a@b.com')", nil)
		wantError(t, resp, body, http.StatusBadRequest, codeQuery)
	})

	t.Run("If-Match * on a missing key", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPatch, "leads(emailaddress1='nobody@example.com')", map[string]any{"subject": "x"}, "If-Match", "*")
		msg := wantError(t, resp, body, http.StatusNotFound, codeKeyNotFound)
		if want := "A record with the specified key values does not exist in lead entity"; msg != want {
			t.Errorf("message: got %q, want %q", msg, want)
		}
	})

	var id string
	t.Run("upsert creates with the key values copied in", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPatch, "leads(emailaddress1='o''brien@example.com')", map[string]any{"lastname": "O'Brien"}, "Prefer", "return=representation")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("got status %d, want 201; body %s", resp.StatusCode, body)
		}
		row := object(t, body)
		if row["emailaddress1"] != "o'brien@example.com" {
			t.Errorf("emailaddress1: got %v, want o'brien@example.com", row["emailaddress1"])
		}
		id = row["leadid"].(string)
	})

	t.Run("upsert updates, matching the key case-insensitively", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPatch, "leads(emailaddress1='O''Brien@Example.com')",
			map[string]any{"subject": "updated", "emailaddress1": "changed@example.com"}, "Prefer", "return=representation")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d, want 200; body %s", resp.StatusCode, body)
		}
		row := object(t, body)
		if row["leadid"] != id || row["subject"] != "updated" {
			t.Errorf("got %v, want row %s with subject updated", row, id)
		}
		if row["emailaddress1"] != "o'brien@example.com" {
			t.Errorf("emailaddress1: got %v; key values in the body must be ignored on update", row["emailaddress1"])
		}
	})

	t.Run("upsert by key answers OData-EntityId in key form", func(t *testing.T) {
		h := h.sub(t)
		path := "leads(emailaddress1='o''hara+1@example.com')"
		want := h.srv.URL() + apiPrefix + path
		for _, what := range []string{"create", "update"} {
			resp, body := h.api(http.MethodPatch, path, map[string]any{"lastname": "O'Hara", "subject": what})
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("%s: got status %d, want 204; body %s", what, resp.StatusCode, body)
			}
			if got := resp.Header.Get("OData-EntityId"); got != want {
				t.Errorf("%s: OData-EntityId %q, want %q (the key form, not the id)", what, got, want)
			}
		}
		// The URI addresses the row, from the wire and as $1 in a change set.
		req, _ := http.NewRequest(http.MethodGet, want+"?$select=subject", nil)
		req.Header.Set("Authorization", "Bearer "+h.token)
		if resp, body := h.send(req); resp.StatusCode != http.StatusOK || object(t, body)["subject"] != "update" {
			t.Errorf("GET the key URI: got %d %s, want the updated row", resp.StatusCode, body)
		}
		_, parts := h.batch((&batchBuilder{}).changeSetOf(
			[]string{"PATCH", path, `{"subject":"batch"}`},
			[]string{"PATCH", "$1", `{"jobtitle":"via $1"}`},
		).body())
		if len(parts) != 2 || parts[0].header.Get("Location") != want || parts[1].status != http.StatusNoContent {
			t.Fatalf("change set: got %+v, want two 204 parts, the first located at %s", parts, want)
		}
		resp, body := h.api(http.MethodGet, path+"?$select=subject,jobtitle", nil)
		if row := object(t, body); resp.StatusCode != http.StatusOK || row["subject"] != "batch" || row["jobtitle"] != "via $1" {
			t.Errorf("after the change set: got %d %v, want subject batch and jobtitle via $1", resp.StatusCode, row)
		}
	})

	t.Run("a composite key in key form, escaped for a URI", func(t *testing.T) {
		h := h.sub(t)
		if err := h.srv.UpdateConfig([]byte(`{"alternate_keys":{"accounts":["accountnumber","name"]}}`)); err != nil {
			t.Fatal(err)
		}
		defer h.srv.UpdateConfig([]byte(`{"alternate_keys":{"accounts":[]}}`))
		resp, body := h.api(http.MethodPatch, "accounts(name='Contoso%20Ltd',accountnumber='A%2F7')", map[string]any{"telephone1": "1"})
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("got status %d, want 204; body %s", resp.StatusCode, body)
		}
		want := h.srv.URL() + apiPrefix + "accounts(accountnumber='A%2F7',name='Contoso%20Ltd')"
		if got := resp.Header.Get("OData-EntityId"); got != want {
			t.Errorf("OData-EntityId %q, want %q", got, want)
		}
	})

	t.Run("GET by key", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodGet, "leads(emailaddress1='O''BRIEN@example.com')?$select=subject", nil)
		if resp.StatusCode != http.StatusOK || object(t, body)["leadid"] != id {
			t.Errorf("got status %d body %s, want row %s", resp.StatusCode, body, id)
		}
	})

	t.Run("creating a duplicate key", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPost, "leads", map[string]any{"lastname": "Dup", "emailaddress1": "O'BRIEN@example.com"})
		msg := wantError(t, resp, body, http.StatusPreconditionFailed, codeDuplicateKey)
		if want := msgDuplicateKey([]string{"emailaddress1"}); msg != want {
			t.Errorf("message: got %q, want %q", msg, want)
		}
	})

	t.Run("defining a key that existing rows violate fails", func(t *testing.T) {
		h := h.sub(t)
		h.create("contacts", map[string]any{"lastname": "A", "emailaddress1": "same@example.com"})
		h.create("contacts", map[string]any{"lastname": "B", "emailaddress1": "SAME@example.com"})
		if err := h.srv.UpdateConfig([]byte(`{"alternate_keys":{"contacts":["emailaddress1"]}}`)); err == nil {
			t.Error("got no error, want one: two contacts share the key")
		}
	})

	t.Run("bind through an alternate key", func(t *testing.T) {
		h := h.sub(t)
		if err := h.srv.UpdateConfig([]byte(`{"alternate_keys":{"accounts":["accountnumber"]}}`)); err != nil {
			t.Fatal(err)
		}
		acc := h.create("accounts", map[string]any{"name": "Contoso", "accountnumber": "AB-1"})
		resp, body := h.api(http.MethodPost, "leads", map[string]any{"lastname": "x", "parentaccountid@odata.bind": "/accounts(accountnumber='ab-1')"}, "Prefer", "return=representation")
		if resp.StatusCode != http.StatusCreated || object(t, body)["_parentaccountid_value"] != acc {
			t.Errorf("got status %d body %s, want a lead bound to %s", resp.StatusCode, body, acc)
		}
		// The earlier leads key is still there: a patch merges per table.
		resp, body = h.api(http.MethodGet, "leads(emailaddress1='o''brien@example.com')", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("leads key after adding the accounts key: got status %d; body %s", resp.StatusCode, body)
		}
	})
}

func TestDuplicateDetection(t *testing.T) {
	h := start(t, &Config{DuplicateDetection: true})
	h.create("leads", map[string]any{"lastname": "Lee", "emailaddress1": "ann@example.com"})

	tests := []struct {
		name   string
		header []string
		status int
	}{
		{name: "suppressed by default", status: 204},
		{name: "explicitly suppressed", header: []string{"MSCRM.SuppressDuplicateDetection", "true"}, status: 204},
		{name: "enabled by the header", header: []string{"MSCRM.SuppressDuplicateDetection", "false"}, status: 412},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			resp, body := h.api(http.MethodPost, "leads", map[string]any{"lastname": "Lee", "emailaddress1": "ANN@example.com"}, tt.header...)
			if tt.status != 412 {
				if resp.StatusCode != tt.status {
					t.Fatalf("got status %d, want %d; body %s", resp.StatusCode, tt.status, body)
				}
				return
			}
			if msg := wantError(t, resp, body, 412, codeDuplicateDetected); msg != msgDuplicateDetected {
				t.Errorf("message: got %q, want %q", msg, msgDuplicateDetected)
			}
		})
	}

	t.Run("off in the config", func(t *testing.T) {
		h := h.sub(t)
		if err := h.srv.UpdateConfig([]byte(`{"duplicate_detection":false}`)); err != nil {
			t.Fatal(err)
		}
		resp, body := h.api(http.MethodPost, "leads", map[string]any{"lastname": "Lee", "emailaddress1": "ann@example.com"}, "MSCRM.SuppressDuplicateDetection", "false")
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("got status %d, want 204; body %s", resp.StatusCode, body)
		}
	})
}

func TestSingleProperty(t *testing.T) {
	h := start(t, nil)
	id := h.create("leads", map[string]any{"lastname": "Lee", "jobtitle": "Buyer"})
	if resp, body := h.api(http.MethodPut, "leads("+id+")/lastname", map[string]any{"value": "Li"}); resp.StatusCode != 204 {
		t.Fatalf("PUT: got status %d; body %s", resp.StatusCode, body)
	}
	if resp, body := h.api(http.MethodDelete, "leads("+id+")/jobtitle", nil); resp.StatusCode != 204 {
		t.Fatalf("DELETE: got status %d; body %s", resp.StatusCode, body)
	}
	_, body := h.api(http.MethodGet, "leads("+id+")?$select=lastname,jobtitle,fullname", nil)
	row := object(t, body)
	if row["lastname"] != "Li" || row["jobtitle"] != nil || row["fullname"] != "Li" {
		t.Errorf("got %v, want lastname Li, jobtitle null, fullname Li", row)
	}
}

// TestClientChosenKeys is what exactly-once creates rest on: a client picks
// the primary key, a POST with it creates once, and every later create with
// the same key is refused without a second row, alone or in a change set.
func TestClientChosenKeys(t *testing.T) {
	h := start(t, nil)
	count := func(t *testing.T, id string) int {
		t.Helper()
		_, body := h.api(http.MethodGet, "leads?$select=leadid&$filter=leadid%20eq%20"+id, nil)
		return len(rows(t, body))
	}
	wantExists := func(t *testing.T, resp *http.Response, body []byte) {
		t.Helper()
		if msg := wantError(t, resp, body, http.StatusPreconditionFailed, codeDuplicateRecord); msg != msgRecordExists {
			t.Errorf("message: got %q, want %q", msg, msgRecordExists)
		}
	}

	t.Run("POST with a chosen id creates that row, once", func(t *testing.T) {
		h := h.sub(t)
		id := newGUID()
		lead := map[string]any{"leadid": id, "lastname": "Chosen", "subject": "first"}
		resp, body := h.api(http.MethodPost, "leads", lead)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("first POST: got %d, want 204; body %s", resp.StatusCode, body)
		}
		if got, want := resp.Header.Get("OData-EntityId"), h.srv.URL()+apiPrefix+"leads("+id+")"; got != want {
			t.Errorf("OData-EntityId: got %q, want %q", got, want)
		}
		lead["subject"] = "second"
		resp, body = h.api(http.MethodPost, "leads", lead)
		wantExists(t, resp, body)
		// The id matches whatever its case.
		lead["leadid"] = strings.ToUpper(id)
		resp, body = h.api(http.MethodPost, "leads", lead, "Prefer", "return=representation")
		wantExists(t, resp, body)
		if n := count(t, id); n != 1 {
			t.Fatalf("rows with the id: got %d, want 1", n)
		}
		_, body = h.api(http.MethodGet, "leads("+id+")?$select=subject", nil)
		if row := object(t, body); row["subject"] != "first" {
			t.Errorf("subject: got %v, want the first POST's (refused creates change nothing)", row["subject"])
		}
	})

	t.Run("return=representation answers 201 with the chosen id", func(t *testing.T) {
		h := h.sub(t)
		id := newGUID()
		resp, body := h.api(http.MethodPost, "leads?$select=leadid", map[string]any{"leadid": strings.ToUpper(id), "lastname": "Chosen"}, "Prefer", "return=representation")
		if resp.StatusCode != http.StatusCreated || object(t, body)["leadid"] != id {
			t.Errorf("got %d %s, want 201 with leadid %s", resp.StatusCode, body, id)
		}
	})

	t.Run("PATCH with If-None-Match * creates only a missing row", func(t *testing.T) {
		h := h.sub(t)
		id := newGUID()
		resp, body := h.api(http.MethodPatch, "leads("+id+")", map[string]any{"lastname": "Chosen", "subject": "first"}, "If-None-Match", "*")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("create: got %d, want 204; body %s", resp.StatusCode, body)
		}
		resp, body = h.api(http.MethodPatch, "leads("+id+")", map[string]any{"subject": "second"}, "If-None-Match", "*")
		wantExists(t, resp, body)
		if n := count(t, id); n != 1 {
			t.Errorf("rows with the id: got %d, want 1", n)
		}
	})

	t.Run("in a change set, an existing key rolls back the whole set", func(t *testing.T) {
		h := h.sub(t)
		existing, fresh, other := newGUID(), newGUID(), newGUID()
		h.api(http.MethodPost, "leads", map[string]any{"leadid": existing, "lastname": "Existing"})
		for _, cs := range [][][]string{
			{ // a create by If-None-Match * on a row that exists
				{"POST", "leads", `{"leadid":"` + other + `","lastname":"Other"}`},
				{"PATCH", "leads(" + existing + ")", `{"subject":"x"}`, "If-None-Match", "*"},
			},
			{ // a POST with an id that exists
				{"POST", "leads", `{"leadid":"` + other + `","lastname":"Other"}`},
				{"POST", "leads", `{"leadid":"` + existing + `","lastname":"Again"}`},
			},
			{ // the same id twice in one set
				{"POST", "leads", `{"leadid":"` + other + `","lastname":"Other"}`},
				{"POST", "leads", `{"leadid":"` + other + `","lastname":"Twice"}`},
			},
		} {
			resp, parts := h.batch((&batchBuilder{}).changeSetOf(cs...).body())
			if resp.StatusCode != http.StatusPreconditionFailed || len(parts) != 1 || parts[0].contentID != "2" || !strings.Contains(parts[0].body, codeDuplicateRecord) {
				t.Errorf("%v: got %d %+v, want 412 %s for part 2 only", cs, resp.StatusCode, parts, codeDuplicateRecord)
			}
			if n := count(t, other); n != 0 {
				t.Errorf("%v: the set's first create was kept (%d rows), want it rolled back", cs, n)
			}
		}
		resp, parts := h.batch((&batchBuilder{}).changeSetOf(
			[]string{"PATCH", "leads(" + fresh + ")", `{"lastname":"Fresh"}`, "If-None-Match", "*"},
		).body())
		if resp.StatusCode != http.StatusOK || len(parts) != 1 || parts[0].status != http.StatusNoContent {
			t.Errorf("If-None-Match * on a new id in a change set: got %d %+v, want one 204 part", resp.StatusCode, parts)
		}
		if n := count(t, fresh); n != 1 {
			t.Errorf("rows with the new id: got %d, want 1", n)
		}
		if n := count(t, existing); n != 1 {
			t.Errorf("rows with the existing id: got %d, want 1", n)
		}
	})
}
