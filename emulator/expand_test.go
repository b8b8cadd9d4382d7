package emulator

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// relatedRows are the data of the $expand tests: an account, a contact whose parent
// customer is the account, a lead bound to both (its Customer lookup to the
// contact) and a lead bound to nothing.
type relatedRows struct {
	account, contact, bound, bare string
}

func seedRelated(h *harness) relatedRows {
	h.t.Helper()
	var r relatedRows
	r.account = h.create("accounts", map[string]any{"name": "Contoso"})
	r.contact = h.create("contacts", map[string]any{"firstname": "Ann", "lastname": "Lee", "emailaddress1": "ann@example.com",
		"parentcustomerid_account@odata.bind": "/accounts(" + r.account + ")"})
	r.bound = h.create("leads", map[string]any{"subject": "Bound", "lastname": "Lee",
		"parentcontactid@odata.bind":    "/contacts(" + r.contact + ")",
		"parentaccountid@odata.bind":    "/accounts(" + r.account + ")",
		"customerid_contact@odata.bind": "/contacts(" + r.contact + ")"})
	r.bare = h.create("leads", map[string]any{"subject": "Bare", "lastname": "Solo"})
	return r
}

func keysOf(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestExpandSingleValued(t *testing.T) {
	h := start(t, nil)
	r := seedRelated(h)
	esc := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), "&", "%26") }

	t.Run("by id, with nested $select", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodGet, "leads("+r.bound+")?$select=subject&$expand="+esc("parentcontactid($select=fullname)"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d, want 200; body %s", resp.StatusCode, body)
		}
		row := object(t, body)
		if got, want := row["@odata.context"], h.srv.URL()+apiPrefix+"$metadata#leads(subject,parentcontactid(fullname))/$entity"; got != want {
			t.Errorf("@odata.context: got %v, want %v", got, want)
		}
		if got := keysOf(row); !slices.Equal(got, []string{"@odata.context", "@odata.etag", "leadid", "parentcontactid", "subject"}) {
			t.Errorf("row members: got %v", got)
		}
		pc, _ := row["parentcontactid"].(map[string]any)
		// Rows expanded through a lookup carry the key and the selected columns, no etag.
		if got := keysOf(pc); !slices.Equal(got, []string{"contactid", "fullname"}) || pc["contactid"] != r.contact || pc["fullname"] != "Ann Lee" {
			t.Errorf("parentcontactid: got %v, want {contactid: %s, fullname: Ann Lee}", row["parentcontactid"], r.contact)
		}
	})

	t.Run("collection: a null lookup expands to null; several and nested expands", func(t *testing.T) {
		h := h.sub(t)
		expand := "parentcontactid($select=fullname;$expand=parentcustomerid_account($select=name)),parentaccountid($select=name)," +
			"customerid_contact($select=emailaddress1),customerid_account($select=name)"
		_, body := h.api(http.MethodGet, "leads?$select=subject&$orderby=subject&$expand="+esc(expand), nil)
		got := rows(t, body)
		if len(got) != 2 {
			t.Fatalf("got %d rows, want 2: %s", len(got), body)
		}
		bare, bound := got[0], got[1]
		for _, nav := range []string{"parentcontactid", "parentaccountid", "customerid_contact", "customerid_account"} {
			if v, ok := bare[nav]; !ok || v != nil {
				t.Errorf("bare lead %s: got %v (present %v), want null", nav, v, ok)
			}
		}
		pc, _ := bound["parentcontactid"].(map[string]any)
		acct, _ := pc["parentcustomerid_account"].(map[string]any)
		if pc["fullname"] != "Ann Lee" || acct["name"] != "Contoso" || acct["accountid"] != r.account {
			t.Errorf("nested expand: got %v, want Ann Lee's parent customer Contoso", bound["parentcontactid"])
		}
		if pa, _ := bound["parentaccountid"].(map[string]any); pa["name"] != "Contoso" {
			t.Errorf("parentaccountid: got %v", bound["parentaccountid"])
		}
		if cc, _ := bound["customerid_contact"].(map[string]any); cc["emailaddress1"] != "ann@example.com" {
			t.Errorf("customerid_contact: got %v", bound["customerid_contact"])
		}
		// The Customer lookup holds a contact, so its account side is null.
		if v, ok := bound["customerid_account"]; !ok || v != nil {
			t.Errorf("customerid_account of a lead whose customer is a contact: got %v (present %v), want null", v, ok)
		}
		if ctx := object(t, body)["@odata.context"].(string); !strings.HasSuffix(ctx, "#leads(subject,parentcontactid(fullname,parentcustomerid_account(name)),parentaccountid(name),customerid_contact(emailaddress1),customerid_account(name))") {
			t.Errorf("@odata.context: got %s", ctx)
		}
	})

	t.Run("without nested $select the related row has every column", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "leads("+r.bound+")?$select=subject&$expand=parentaccountid", nil)
		pa, _ := object(t, body)["parentaccountid"].(map[string]any)
		if pa["name"] != "Contoso" || pa["accountid"] != r.account || len(pa) != len(accountSchema.order) {
			t.Errorf("parentaccountid: got %d members %v, want all %d columns", len(pa), pa, len(accountSchema.order))
		}
	})

	t.Run("contact's parent customer, and the user who created a row", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "contacts("+r.contact+")?$select=fullname&$expand="+esc("parentcustomerid_account($select=name),parentcustomerid_contact,createdby($select=fullname)"), nil)
		row := object(t, body)
		if pa, _ := row["parentcustomerid_account"].(map[string]any); pa["name"] != "Contoso" {
			t.Errorf("parentcustomerid_account: got %v", row["parentcustomerid_account"])
		}
		if v, ok := row["parentcustomerid_contact"]; !ok || v != nil {
			t.Errorf("parentcustomerid_contact: got %v, want null", v)
		}
		cb, _ := row["createdby"].(map[string]any)
		if cb["fullname"] != "# "+DefaultClientID || cb["systemuserid"] != h.srv.ids.user || cb["ownerid"] != h.srv.ids.user {
			t.Errorf("createdby: got %v, want the application user with systemuserid and ownerid", row["createdby"])
		}
	})

	t.Run("nav/$ref expands to a link beside the lookup value", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "leads?$select=subject&$orderby=subject&$expand=parentcontactid/$ref", nil)
		got := rows(t, body)
		link, _ := got[1]["parentcontactid"].(map[string]any)
		if link["@odata.id"] != h.srv.URL()+apiPrefix+"contacts("+r.contact+")" || got[1]["_parentcontactid_value"] != r.contact {
			t.Errorf("bound lead: got parentcontactid %v, _parentcontactid_value %v", got[1]["parentcontactid"], got[1]["_parentcontactid_value"])
		}
		if v, ok := got[0]["parentcontactid"]; !ok || v != nil {
			t.Errorf("bare lead: got %v, want null", v)
		}
	})

	t.Run("nested $filter that the related row fails gives null", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "leads("+r.bound+")?$select=subject&$expand="+esc("parentcontactid($select=fullname;$filter=lastname eq 'Nobody')"), nil)
		if v, ok := object(t, body)["parentcontactid"]; !ok || v != nil {
			t.Errorf("parentcontactid: got %v, want null", v)
		}
	})

	t.Run("annotations reach expanded rows", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "leads("+r.bound+")?$select=subject&$expand="+esc("parentcontactid($select=statecode,_parentcustomerid_value)"), nil, "Prefer", preferAll)
		pc, _ := object(t, body)["parentcontactid"].(map[string]any)
		if pc["statecode"+fvSuffix] != "Active" || pc["_parentcustomerid_value"+fvSuffix] != "Contoso" || pc["_parentcustomerid_value"+navSuffix] != "parentcustomerid_account" {
			t.Errorf("expanded contact: got %v", pc)
		}
	})

	t.Run("no 304 when expanding", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "leads("+r.bound+")?$select=subject", nil)
		etag := object(t, body)["@odata.etag"].(string)
		resp, _ := h.api(http.MethodGet, "leads("+r.bound+")?$select=subject&$expand=parentcontactid", nil, "If-None-Match", etag)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("conditional GET with $expand: got status %d, want 200 (reference §3)", resp.StatusCode)
		}
	})

	t.Run("POST with return=representation expands; PATCH ignores $expand", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPost, "leads?$select=subject&$expand="+esc("parentcontactid($select=fullname)"),
			map[string]any{"subject": "Posted", "lastname": "P", "parentcontactid@odata.bind": "contacts(" + r.contact + ")"},
			"Prefer", "return=representation")
		row := object(t, body)
		pc, _ := row["parentcontactid"].(map[string]any)
		if resp.StatusCode != http.StatusCreated || pc["fullname"] != "Ann Lee" {
			t.Fatalf("POST: got %d %s, want 201 with parentcontactid expanded", resp.StatusCode, body)
		}
		if ctx := row["@odata.context"]; !strings.HasSuffix(ctx.(string), "#leads(subject,parentcontactid(fullname))/$entity") {
			t.Errorf("POST @odata.context: got %v", ctx)
		}
		resp, body = h.api(http.MethodPatch, "leads("+row["leadid"].(string)+")?$select=subject&$expand="+esc("parentcontactid($select=fullname),nosuch"),
			map[string]any{"subject": "Patched"}, "Prefer", "return=representation")
		if got := object(t, body); resp.StatusCode != http.StatusOK || got["subject"] != "Patched" || got["parentcontactid"] != nil {
			t.Errorf("PATCH: got %d %s, want 200 without an expansion", resp.StatusCode, body)
		}
		resp, _ = h.api(http.MethodPost, "leads?$expand=parentcontactid", map[string]any{"lastname": "Plain"})
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("POST without representation: got status %d, want 204", resp.StatusCode)
		}
	})
}

func TestExpandCollectionValued(t *testing.T) {
	h := start(t, nil)
	r := seedRelated(h)
	for _, s := range []string{"Alpha", "Gamma"} {
		h.create("leads", map[string]any{"subject": s, "lastname": "L", "parentcontactid@odata.bind": "/contacts(" + r.contact + ")"})
	}
	other := h.create("contacts", map[string]any{"lastname": "Nobody"})
	esc := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), "&", "%26") }

	_, body := h.api(http.MethodGet, "contacts?$select=lastname&$orderby=lastname&$expand="+esc("lead_parent_contact($select=subject;$filter=subject ne 'Gamma';$orderby=subject desc;$top=5)"), nil)
	got := rows(t, body)
	if len(got) != 2 {
		t.Fatalf("got %d contacts, want 2: %s", len(got), body)
	}
	lee, nobody := got[0], got[1]
	leads, _ := lee["lead_parent_contact"].([]any)
	var subjects []string
	for _, l := range leads {
		m := l.(map[string]any)
		subjects = append(subjects, m["subject"].(string))
		// Rows of a collection carry their etag and the lookup back to the parent.
		if m["_parentcontactid_value"] != r.contact || !strings.HasPrefix(m["@odata.etag"].(string), `W/"`) || len(m) != 4 {
			t.Errorf("expanded lead: got %v, want @odata.etag, leadid, subject and _parentcontactid_value", m)
		}
	}
	if strings.Join(subjects, ",") != "Bound,Alpha" {
		t.Errorf("lead_parent_contact subjects: got %v, want [Bound Alpha] (filtered, descending)", subjects)
	}
	next, _ := lee["lead_parent_contact@odata.nextLink"].(string)
	wantNext := h.srv.URL() + apiPrefix + "contacts(" + r.contact + ")/lead_parent_contact?$select=subject&$filter=subject%20ne%20'Gamma'&$orderby=subject%20desc&$top=5"
	if next != wantNext {
		t.Errorf("nextLink:\n got %s\nwant %s", next, wantNext)
	}
	if l, _ := nobody["lead_parent_contact"].([]any); l == nil || len(l) != 0 {
		t.Errorf("contact without leads: got %v, want []", nobody["lead_parent_contact"])
	}

	t.Run("a nested In() whose JSON strings hold a quote and a semicolon", func(t *testing.T) {
		h := h.sub(t)
		filter := `Microsoft.Dynamics.CRM.In(PropertyName='subject',PropertyValues=["O'Brian;s","Alpha"])`
		resp, body := h.api(http.MethodGet, "contacts("+r.contact+")?$select=lastname&$expand="+esc("lead_parent_contact($select=subject;$filter="+filter+")"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d; body %s", resp.StatusCode, body)
		}
		leads, _ := object(t, body)["lead_parent_contact"].([]any)
		if len(leads) != 1 || leads[0].(map[string]any)["subject"] != "Alpha" {
			t.Errorf("lead_parent_contact: got %v, want only Alpha", leads)
		}
	})

	t.Run("the nextLink serves the same rows as a filtered collection", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodGet, strings.TrimPrefix(next, h.srv.URL()+apiPrefix), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("got status %d; body %s", resp.StatusCode, body)
		}
		var again []string
		for _, row := range rows(t, body) {
			again = append(again, row["subject"].(string))
		}
		if strings.Join(again, ",") != "Bound,Alpha" {
			t.Errorf("got %v, want [Bound Alpha]", again)
		}
		if ctx := object(t, body)["@odata.context"]; ctx != h.srv.URL()+apiPrefix+"$metadata#leads(subject)" {
			t.Errorf("@odata.context: got %v", ctx)
		}
	})

	t.Run("filtered collection pages", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "contacts("+r.contact+")/lead_parent_contact?$select=subject", nil, "Prefer", "odata.maxpagesize=2")
		link, _ := object(t, body)["@odata.nextLink"].(string)
		if len(rows(t, body)) != 2 || !strings.HasPrefix(link, h.srv.URL()+apiPrefix+"contacts("+r.contact+")/lead_parent_contact?") {
			t.Fatalf("first page: got %s", body)
		}
		_, body = h.api(http.MethodGet, strings.TrimPrefix(link, h.srv.URL()+apiPrefix), nil, "Prefer", "odata.maxpagesize=2")
		if got := rows(t, body); len(got) != 1 {
			t.Errorf("second page: got %d rows, want 1", len(got))
		}
		resp, _ := h.api(http.MethodGet, "contacts("+other+")/lead_parent_contact", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("contact with no leads: got %d, want 200", resp.StatusCode)
		}
	})

	t.Run("account's contacts and leads", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "accounts("+r.account+")?$select=name&$expand="+esc("contact_customer_accounts($select=fullname),lead_parent_account($select=subject),lead_customer_accounts"), nil)
		row := object(t, body)
		cs, _ := row["contact_customer_accounts"].([]any)
		ls, _ := row["lead_parent_account"].([]any)
		lc, _ := row["lead_customer_accounts"].([]any)
		if len(cs) != 1 || cs[0].(map[string]any)["fullname"] != "Ann Lee" || len(ls) != 1 || len(lc) != 0 {
			t.Errorf("got contacts %v, leads %v, customer leads %v; want Ann Lee, one lead, none", cs, ls, lc)
		}
	})
}

func TestExpandErrors(t *testing.T) {
	h := start(t, nil)
	seedRelated(h)
	tooMany := strings.TrimSuffix(strings.Repeat("parentcontactid,", 16), ",")
	tests := []struct {
		name, path, code, msg string
	}{
		{name: "unknown navigation property", path: "leads?$expand=nosuch",
			code: codeQuery, msg: "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.lead'."},
		{name: "unknown property by id", path: "leads(" + newGUID() + ")?$expand=parentcontact",
			code: codeQuery, msg: "Could not find a property named 'parentcontact' on type 'Microsoft.Dynamics.CRM.lead'."},
		{name: "a column is not a navigation property", path: "leads?$expand=subject",
			code: codeQuery, msg: "Property 'subject' on type 'Microsoft.Dynamics.CRM.lead' is not a navigation property or complex property. Only navigation properties can be expanded."},
		{name: "nested unknown column", path: "leads?$expand=parentcontactid($select=nosuch)",
			code: codeQuery, msg: "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.contact'."},
		{name: "$top on a lookup", path: "leads?$expand=parentcontactid($top=1)", code: codeQuery, msg: msgExpandOnlySelectFilter},
		{name: "$orderby on a lookup", path: "leads?$expand=parentcontactid($orderby=fullname)", code: codeQuery, msg: msgExpandOnlySelectFilter},
		{name: "$ref on a collection", path: "contacts?$expand=lead_parent_contact/$ref", code: codeQuery, msg: msgExpandRefOnLookup},
		{name: "more than 15 expansions", path: "leads?$expand=" + tooMany, code: codeTooManyLinks, msg: msgTooManyLinks},
		{name: "unbalanced parentheses", path: "leads?$expand=parentcontactid($select=fullname", code: codeQuery, msg: msgSyntax},
		{name: "$skip inside", path: "contacts?$expand=lead_parent_contact($skip=1)", code: codeQuery, msg: "The query parameter $skip is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			resp, body := h.api(http.MethodGet, tt.path, nil)
			if msg := wantError(t, resp, body, http.StatusBadRequest, tt.code); msg != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", msg, tt.msg)
			}
		})
	}

	// Nested collection expansions are paged per collection in Dataverse;
	// the emulator refuses them plainly instead of answering differently.
	for _, path := range []string{
		"leads?$expand=parentcontactid($expand=lead_parent_contact)",
		"contacts?$expand=lead_parent_contact($expand=parentaccountid)",
	} {
		t.Run(fmt.Sprintf("refused: %s", path), func(t *testing.T) {
			h := h.sub(t)
			resp, body := h.api(http.MethodGet, path, nil)
			if msg := wantError(t, resp, body, http.StatusBadRequest, codeQuery); !strings.Contains(msg, "only at the top level of $expand and without a nested $expand") {
				t.Errorf("message: got %q", msg)
			}
		})
	}
}
