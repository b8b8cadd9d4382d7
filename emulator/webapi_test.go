package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

func TestCreate(t *testing.T) {
	h := start(t, nil)
	lead := map[string]any{"subject": "Web form", "firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com", "leadsourcecode": 8}

	t.Run("plain create is 204 with OData-EntityId", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPost, "leads", lead)
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Fatalf("got status %d body %q, want 204 and no body", resp.StatusCode, body)
		}
		loc := resp.Header.Get("OData-EntityId")
		prefix := h.srv.URL() + "/api/data/v9.2/leads("
		if !strings.HasPrefix(loc, prefix) || !odata.IsGUID(strings.TrimSuffix(strings.TrimPrefix(loc, prefix), ")")) {
			t.Errorf("OData-EntityId: got %q, want %s<guid>)", loc, prefix)
		}
		if got := resp.Header.Get("OData-Version"); got != "4.0" {
			t.Errorf("OData-Version: got %q, want 4.0", got)
		}
	})

	t.Run("return=representation is 201 with the selected columns", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPost, "leads?$select=subject,emailaddress1", lead, "Prefer", "return=representation")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("got status %d, want 201; body %s", resp.StatusCode, body)
		}
		if got := resp.Header.Get("Preference-Applied"); got != "return=representation" {
			t.Errorf("Preference-Applied: got %q", got)
		}
		if got := resp.Header.Get("OData-EntityId"); got != "" {
			t.Errorf("OData-EntityId: got %q, want none with return=representation", got)
		}
		if got := resp.Header.Get("Content-Type"); got != contentTypeJSON {
			t.Errorf("Content-Type: got %q, want %q", got, contentTypeJSON)
		}
		row := object(t, body)
		if got, want := row["@odata.context"], h.srv.URL()+"/api/data/v9.2/$metadata#leads(subject,emailaddress1)/$entity"; got != want {
			t.Errorf("@odata.context: got %v, want %s", got, want)
		}
		if etag, _ := row["@odata.etag"].(string); !strings.HasPrefix(etag, `W/"`) {
			t.Errorf("@odata.etag: got %v, want W/\"n\"", row["@odata.etag"])
		}
		if id, _ := row["leadid"].(string); !odata.IsGUID(id) {
			t.Errorf("leadid: got %v, want a GUID (the key is always returned)", row["leadid"])
		}
		if row["subject"] != "Web form" || row["emailaddress1"] != "ann@example.com" {
			t.Errorf("got %v, want the posted subject and email", row)
		}
		if _, ok := row["firstname"]; ok {
			t.Errorf("firstname returned although not selected: %v", row)
		}
	})

	t.Run("system columns", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodPost, "leads", lead, "Prefer", "return=representation")
		row := object(t, body)
		if row["statecode"] != float64(0) || row["statuscode"] != float64(1) {
			t.Errorf("state/status: got %v/%v, want 0/1", row["statecode"], row["statuscode"])
		}
		for _, c := range []string{"createdon", "modifiedon"} {
			s, _ := row[c].(string)
			if len(s) != len("2026-11-27T12:00:00Z") || !strings.HasSuffix(s, "Z") {
				t.Errorf("%s: got %v, want an ISO UTC time like 2026-11-27T12:00:00Z", c, row[c])
			}
		}
		if row["fullname"] != "Ann Lee" {
			t.Errorf("fullname: got %v, want Ann Lee", row["fullname"])
		}
	})
}

func TestRetrieveAndDelete(t *testing.T) {
	h := start(t, nil)
	id := h.create("leads", map[string]any{"subject": "s", "lastname": "Lee"})

	resp, body := h.api(http.MethodGet, "leads("+id+")?$select=lastname", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: got status %d, want 200; body %s", resp.StatusCode, body)
	}
	row := object(t, body)
	if row["leadid"] != id || row["lastname"] != "Lee" {
		t.Errorf("GET: got %v", row)
	}
	if etag := resp.Header.Get("ETag"); etag == "" || etag != row["@odata.etag"] {
		t.Errorf("ETag header %q, @odata.etag %v: want equal and set", etag, row["@odata.etag"])
	}

	t.Run("If-None-Match with the current etag is 304", func(t *testing.T) {
		h := h.sub(t)
		resp, _ := h.api(http.MethodGet, "leads("+id+")", nil, "If-None-Match", resp.Header.Get("ETag"))
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("got status %d, want 304", resp.StatusCode)
		}
	})

	resp, body = h.api(http.MethodDelete, "leads("+id+")", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: got status %d, want 204; body %s", resp.StatusCode, body)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		resp, body = h.api(m, "leads("+id+")", nil)
		msg := wantError(t, resp, body, http.StatusNotFound, codeNotFound)
		if want := "lead With Id = " + id + " Does Not Exist"; msg != want {
			t.Errorf("%s after delete: message %q, want %q", m, msg, want)
		}
	}
}

func TestWhoAmIAndHeaders(t *testing.T) {
	h := start(t, nil)
	resp, body := h.api(http.MethodGet, "WhoAmI", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d; body %s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("x-ms-service-request-id"); !odata.IsGUID(got) {
		t.Errorf("x-ms-service-request-id: got %q, want a GUID", got)
	}
	if got := resp.Header.Get("x-ms-dop-hint"); got != "52" {
		t.Errorf("x-ms-dop-hint with the concurrency limit off: got %q, want 52", got)
	}
	if err := h.srv.UpdateConfig([]byte(`{"limits":{"concurrent":8}}`)); err != nil {
		t.Fatal(err)
	}
	resp, _ = h.api(http.MethodGet, "WhoAmI()", nil)
	if got := resp.Header.Get("x-ms-dop-hint"); got != "8" {
		t.Errorf("x-ms-dop-hint with concurrent 8: got %q, want 8", got)
	}
}

// TestWhoAmIIsAFunction: a function answers GET only; anything else finds no
// resource at all (404 with an empty code), as the troubleshooting page of
// the Web API shows for POST WhoAmI.
func TestWhoAmIIsAFunction(t *testing.T) {
	h := start(t, nil)
	for _, method := range []string{http.MethodPost, http.MethodPatch, http.MethodDelete} {
		resp, body := h.api(method, "WhoAmI", "{}")
		msg := wantError(t, resp, body, http.StatusNotFound, "")
		if want := "No HTTP resource was found that matches the request URI '" + h.srv.URL() + apiPrefix + "WhoAmI'."; msg != want {
			t.Errorf("%s WhoAmI: message %q, want %q", method, msg, want)
		}
	}
}
