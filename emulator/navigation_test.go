package emulator

import (
	"net/http"
	"strings"
	"testing"
)

// lookupOf reads a lead's lookup and its etag.
func (h *harness) lookupOf(lead, col string) (value any, etag string) {
	h.t.Helper()
	resp, body := h.api(http.MethodGet, "leads("+lead+")?$select="+col, nil, "Prefer", preferAll)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET lead: got status %d; body %s", resp.StatusCode, body)
	}
	row := object(h.t, body)
	return row[col], row["@odata.etag"].(string)
}

func TestSingleValuedRef(t *testing.T) {
	h := start(t, nil)
	contact := h.create("contacts", map[string]any{"firstname": "Ann", "lastname": "Lee"})
	account := h.create("accounts", map[string]any{"name": "Contoso"})
	lead := h.create("leads", map[string]any{"subject": "S", "lastname": "L"})

	for _, uri := range []string{
		h.srv.URL() + apiPrefix + "contacts(" + contact + ")", // absolute, as dynamics-web-api sends it
		"contacts(" + strings.ToUpper(contact) + ")",          // relative, as the docs show it
		"/contacts(" + contact + ")",
	} {
		t.Run("PUT sets the lookup: "+uri, func(t *testing.T) {
			h := h.sub(t)
			h.api(http.MethodDelete, "leads("+lead+")/parentcontactid/$ref", nil)
			_, before := h.lookupOf(lead, "_parentcontactid_value")
			resp, body := h.api(http.MethodPut, "leads("+lead+")/parentcontactid/$ref", map[string]any{"@odata.id": uri})
			if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
				t.Fatalf("got status %d %s, want 204 with no body", resp.StatusCode, body)
			}
			got, after := h.lookupOf(lead, "_parentcontactid_value")
			if got != contact {
				t.Errorf("_parentcontactid_value: got %v, want %s", got, contact)
			}
			if after == before {
				t.Errorf("etag unchanged (%s): setting a lookup is an update", after)
			}
		})
	}

	t.Run("DELETE clears it", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodDelete, "leads("+lead+")/parentcontactid/$ref", nil)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("got status %d %s, want 204", resp.StatusCode, body)
		}
		if got, _ := h.lookupOf(lead, "_parentcontactid_value"); got != nil {
			t.Errorf("_parentcontactid_value: got %v, want null", got)
		}
	})

	t.Run("a Customer lookup switches table through its two properties", func(t *testing.T) {
		h := h.sub(t)
		h.api(http.MethodPut, "leads("+lead+")/customerid_account/$ref", map[string]any{"@odata.id": "accounts(" + account + ")"})
		_, body := h.api(http.MethodGet, "leads("+lead+")?$select=_customerid_value", nil, "Prefer", preferAll)
		if row := object(t, body); row["_customerid_value"] != account || row["_customerid_value"+logicalSuffix] != "account" {
			t.Errorf("after customerid_account: got %s", body)
		}
		h.api(http.MethodPut, "leads("+lead+")/customerid_contact/$ref", map[string]any{"@odata.id": "contacts(" + contact + ")"})
		_, body = h.api(http.MethodGet, "leads("+lead+")?$select=_customerid_value", nil, "Prefer", preferAll)
		if row := object(t, body); row["_customerid_value"] != contact || row["_customerid_value"+navSuffix] != "customerid_contact" || row["_customerid_value"+fvSuffix] != "Ann Lee" {
			t.Errorf("after customerid_contact: got %s", body)
		}
	})

	t.Run("GET the navigation property reads the related row", func(t *testing.T) {
		h := h.sub(t)
		h.api(http.MethodPut, "leads("+lead+")/parentcontactid/$ref", map[string]any{"@odata.id": "contacts(" + contact + ")"})
		resp, body := h.api(http.MethodGet, "leads("+lead+")/parentcontactid?$select=fullname", nil)
		if row := object(t, body); resp.StatusCode != http.StatusOK || row["fullname"] != "Ann Lee" || row["contactid"] != contact {
			t.Errorf("got %d %s, want 200 with the contact", resp.StatusCode, body)
		}
		resp, body = h.api(http.MethodGet, "leads("+lead+")/parentaccountid", nil)
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("null navigation property: got %d %s, want 204", resp.StatusCode, body)
		}
	})

	t.Run("PATCH with the navigation property set to null clears it", func(t *testing.T) {
		h := h.sub(t)
		h.api(http.MethodPut, "leads("+lead+")/parentcontactid/$ref", map[string]any{"@odata.id": "contacts(" + contact + ")"})
		resp, body := h.api(http.MethodPatch, "leads("+lead+")", map[string]any{"parentcontactid": nil}, "If-Match", "*")
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("got %d %s, want 204", resp.StatusCode, body)
		}
		if got, _ := h.lookupOf(lead, "_parentcontactid_value"); got != nil {
			t.Errorf("_parentcontactid_value: got %v, want null", got)
		}
	})

	missing := newGUID()
	errs := []struct {
		name, method, path string
		body               any
		status             int
		code, msg          string
	}{
		{name: "missing target", method: http.MethodPut, path: "leads(" + lead + ")/parentcontactid/$ref",
			body: map[string]any{"@odata.id": "contacts(" + missing + ")"}, status: 404, code: codeNotFound, msg: "contact With Id = " + missing + " Does Not Exist"},
		{name: "missing row", method: http.MethodPut, path: "leads(" + missing + ")/parentcontactid/$ref",
			body: map[string]any{"@odata.id": "contacts(" + contact + ")"}, status: 404, code: codeNotFound, msg: "lead With Id = " + missing + " Does Not Exist"},
		{name: "missing row on DELETE", method: http.MethodDelete, path: "leads(" + missing + ")/parentcontactid/$ref",
			status: 404, code: codeNotFound, msg: "lead With Id = " + missing + " Does Not Exist"},
		{name: "target of the wrong table", method: http.MethodPut, path: "leads(" + lead + ")/parentcontactid/$ref",
			body: map[string]any{"@odata.id": "accounts(" + account + ")"}, status: 400, code: codePayload,
			msg: "The URI 'accounts(" + account + ")' in '@odata.id' must address a row of contacts."},
		{name: "no @odata.id", method: http.MethodPut, path: "leads(" + lead + ")/parentcontactid/$ref",
			body: map[string]any{"id": "x"}, status: 400, code: codePayload, msg: `The request body must be {"@odata.id":"<URI of the row to refer to>"}.`},
		{name: "unknown navigation property", method: http.MethodPut, path: "leads(" + lead + ")/nosuch/$ref",
			body: map[string]any{"@odata.id": "contacts(" + contact + ")"}, status: 404, code: codeQuery, msg: "Resource not found for the segment 'nosuch'."},
		{name: "an owner that does not exist", method: http.MethodPut, path: "leads(" + lead + ")/ownerid/$ref",
			body: map[string]any{"@odata.id": "systemusers(" + missing + ")"}, status: 404, code: codeNotFound,
			msg: "systemuser With Id = " + missing + " Does Not Exist"},
		{name: "the creator", method: http.MethodPut, path: "leads(" + lead + ")/createdby/$ref",
			body: map[string]any{"@odata.id": "systemusers(" + h.srv.ids.user + ")"}, status: 400, code: codePayload,
			msg: "The emulator cannot set 'createdby': the platform sets it to the calling user."},
		{name: "POST to a single-valued $ref", method: http.MethodPost, path: "leads(" + lead + ")/parentcontactid/$ref",
			body: map[string]any{"@odata.id": "contacts(" + contact + ")"}, status: 405, code: codeQuery, msg: "The requested resource does not support http method 'POST'."},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			before, _ := h.lookupOf(lead, "_parentcontactid_value")
			resp, body := h.api(tt.method, tt.path, tt.body)
			if msg := wantError(t, resp, body, tt.status, tt.code); msg != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", msg, tt.msg)
			}
			if after, _ := h.lookupOf(lead, "_parentcontactid_value"); after != before {
				t.Errorf("_parentcontactid_value changed from %v to %v by a failed request", before, after)
			}
		})
	}
}

// TestCollectionValuedRef: associating from the "one" side sets the lookup
// of the row on the "many" side.
func TestCollectionValuedRef(t *testing.T) {
	h := start(t, nil)
	contact := h.create("contacts", map[string]any{"lastname": "Lee"})
	lead := h.create("leads", map[string]any{"subject": "S", "lastname": "L"})
	other := h.create("leads", map[string]any{"subject": "O", "lastname": "L"})

	resp, body := h.api(http.MethodPost, "contacts("+contact+")/lead_parent_contact/$ref", map[string]any{"@odata.id": h.srv.URL() + apiPrefix + "leads(" + lead + ")"})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("associate: got %d %s, want 204", resp.StatusCode, body)
	}
	if got, _ := h.lookupOf(lead, "_parentcontactid_value"); got != contact {
		t.Fatalf("after associate: _parentcontactid_value %v, want %s", got, contact)
	}
	// A row that does not refer here is left alone.
	if resp, _ := h.api(http.MethodDelete, "contacts("+contact+")/lead_parent_contact("+other+")/$ref", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("disassociate an unrelated row: got %d, want 204", resp.StatusCode)
	}
	if got, _ := h.lookupOf(lead, "_parentcontactid_value"); got != contact {
		t.Errorf("disassociating another row changed this one: %v", got)
	}
	if resp, body := h.api(http.MethodDelete, "contacts("+contact+")/lead_parent_contact/$ref?$id="+h.srv.URL()+apiPrefix+"leads("+lead+")", nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disassociate with $id: got %d %s, want 204", resp.StatusCode, body)
	}
	if got, _ := h.lookupOf(lead, "_parentcontactid_value"); got != nil {
		t.Errorf("after disassociate: _parentcontactid_value %v, want null", got)
	}
	h.api(http.MethodPost, "contacts("+contact+")/lead_parent_contact/$ref", map[string]any{"@odata.id": "leads(" + lead + ")"})
	if resp, _ := h.api(http.MethodDelete, "contacts("+contact+")/lead_parent_contact("+lead+")/$ref", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("disassociate by key: got %d, want 204", resp.StatusCode)
	}
	if got, _ := h.lookupOf(lead, "_parentcontactid_value"); got != nil {
		t.Errorf("after disassociate by key: _parentcontactid_value %v, want null", got)
	}
	resp, body = h.api(http.MethodPost, "contacts("+contact+")/lead_parent_contact/$ref", map[string]any{"@odata.id": "leads(" + newGUID() + ")"})
	wantError(t, resp, body, http.StatusNotFound, codeNotFound)

	for _, path := range []string{"contacts(" + contact + ")/lead_parent_contact(" + lead + ")", "contacts(" + contact + ")/lead_parent_contact/$count"} {
		resp, body := h.api(http.MethodGet, path, nil)
		if msg := wantError(t, resp, body, http.StatusNotImplemented, codeQuery); !strings.Contains(msg, "The emulator does not serve") {
			t.Errorf("GET %s: got %q", path, msg)
		}
	}

	resp, body = h.api(http.MethodPost, "contacts", map[string]any{"lastname": "Deep", "lead_parent_contact": []any{map[string]any{"lastname": "L"}}})
	if msg := wantError(t, resp, body, http.StatusBadRequest, codePayload); !strings.Contains(msg, "does not support deep insert") {
		t.Errorf("deep insert through a collection-valued property: got %q", msg)
	}
}

// TestBatchRef: $ref inside a change set, with $N for both the row and the
// target (reference §6).
func TestBatchRef(t *testing.T) {
	h := start(t, nil)
	body := (&batchBuilder{}).changeSetOf(
		[]string{"POST", "leads", `{"subject":"Batch","lastname":"B"}`},
		[]string{"POST", "contacts", `{"firstname":"Bea","lastname":"Batch"}`},
		[]string{"PUT", "$1/parentcontactid/$ref", `{"@odata.id":"$2"}`},
	).body()
	resp, parts := h.batch(body)
	if resp.StatusCode != http.StatusOK || len(parts) != 3 || parts[2].status != http.StatusNoContent {
		t.Fatalf("got status %d, parts %+v; want 200 with a 204 $ref part", resp.StatusCode, parts)
	}
	id := func(p batchRespPart) string {
		uri := p.header.Get("OData-EntityId")
		return strings.TrimSuffix(uri[strings.Index(uri, "(")+1:], ")")
	}
	lead, contact := id(parts[0]), id(parts[1])
	if got, _ := h.lookupOf(lead, "_parentcontactid_value"); got != contact {
		t.Errorf("_parentcontactid_value: got %v, want the contact %s from the same change set", got, contact)
	}

	t.Run("DELETE $1/…/$ref", func(t *testing.T) {
		h := h.sub(t)
		body := (&batchBuilder{}).changeSetOf(
			[]string{"PATCH", "leads(" + lead + ")", `{"subject":"Again"}`},
			[]string{"DELETE", "$1/parentcontactid/$ref", ""},
		).body()
		if resp, parts := h.batch(body); resp.StatusCode != http.StatusOK || parts[1].status != http.StatusNoContent {
			t.Fatalf("got status %d, parts %+v", resp.StatusCode, parts)
		}
		if got, _ := h.lookupOf(lead, "_parentcontactid_value"); got != nil {
			t.Errorf("_parentcontactid_value: got %v, want null", got)
		}
	})

	t.Run("a $ref to a missing row rolls the change set back", func(t *testing.T) {
		h := h.sub(t)
		_, before := h.api(http.MethodGet, "leads/$count", nil)
		body := (&batchBuilder{}).changeSetOf(
			[]string{"POST", "leads", `{"subject":"Doomed","lastname":"D"}`},
			[]string{"PUT", "$1/parentcontactid/$ref", `{"@odata.id":"contacts(` + newGUID() + `)"}`},
		).body()
		resp, parts := h.batch(body)
		if resp.StatusCode != http.StatusNotFound || len(parts) != 1 || parts[0].contentID != "2" || !strings.Contains(parts[0].body, codeNotFound) {
			t.Fatalf("got status %d, parts %+v; want 404 0x80040217 for part 2", resp.StatusCode, parts)
		}
		if _, after := h.api(http.MethodGet, "leads/$count", nil); string(after) != string(before) {
			t.Errorf("leads: got %s after the failed change set, want %s", after, before)
		}
	})

	t.Run("an undeclared $N in @odata.id", func(t *testing.T) {
		h := h.sub(t)
		body := (&batchBuilder{}).changeSetOf(
			[]string{"POST", "leads", `{"subject":"X","lastname":"X"}`},
			[]string{"PUT", "$1/parentcontactid/$ref", `{"@odata.id":"$7"}`},
		).body()
		resp, parts := h.batch(body)
		if resp.StatusCode != http.StatusBadRequest || len(parts) != 1 || !strings.Contains(parts[0].body, "Content-ID Reference: '$7' does not exist in the batch context.") {
			t.Errorf("got status %d, parts %+v", resp.StatusCode, parts)
		}
	})
}
