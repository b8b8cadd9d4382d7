package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/emulator/odata"
)

func TestQuery(t *testing.T) {
	h := start(t, nil)
	contact := h.create("contacts", map[string]any{"lastname": "C"})
	people := []map[string]any{
		{"lastname": "Adams", "emailaddress1": "ann@example.com", "leadsourcecode": 8, "parentcontactid@odata.bind": "/contacts(" + contact + ")"},
		{"lastname": "O'Brien", "emailaddress1": "bob+tag@example.com", "leadsourcecode": 1},
		{"lastname": "Chen", "emailaddress1": "cy@example.org", "statecode": 2, "statuscode": 4},
	}
	ids := make([]string, len(people))
	for i, p := range people {
		ids[i] = h.create("leads", p)
	}
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

	tests := []struct {
		name  string
		query string
		want  []string // lastnames, in order
	}{
		{name: "all in creation order", query: "$select=lastname", want: []string{"Adams", "O'Brien", "Chen"}},
		{name: "eq is case-insensitive", query: "$filter=" + esc("emailaddress1 eq 'ANN@EXAMPLE.COM'"), want: []string{"Adams"}},
		{name: "escaped quote and plus", query: "$filter=" + esc("lastname eq 'O''Brien' and emailaddress1 eq 'bob+tag@example.com'"), want: []string{"O'Brien"}},
		{name: "and statecode", query: "$filter=" + esc("statecode eq 0"), want: []string{"Adams", "O'Brien"}},
		{name: "lookup by guid", query: "$filter=" + esc("_parentcontactid_value eq "+contact), want: []string{"Adams"}},
		{name: "orderby desc", query: "$orderby=lastname%20desc", want: []string{"O'Brien", "Chen", "Adams"}},
		{name: "top", query: "$orderby=lastname&$top=2", want: []string{"Adams", "Chen"}},
		{name: "contains", query: "$filter=" + esc("contains(emailaddress1,'example.com')"), want: []string{"Adams", "O'Brien"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			resp, body := h.api(http.MethodGet, "leads?"+tt.query, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got status %d, want 200; body %s", resp.StatusCode, body)
			}
			var got []string
			for _, r := range rows(t, body) {
				got = append(got, fmt.Sprint(r["lastname"]))
				if etag, _ := r["@odata.etag"].(string); !strings.HasPrefix(etag, `W/"`) {
					t.Errorf("row without @odata.etag: %v", r)
				}
				if id, _ := r["leadid"].(string); !odata.IsGUID(id) {
					t.Errorf("row without leadid: %v", r)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("select returns only the key and the selected columns", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "leads?$select=emailaddress1&$top=1", nil)
		r := rows(t, body)[0]
		if len(r) != 3 {
			t.Errorf("got keys %v, want @odata.etag, leadid, emailaddress1", r)
		}
		if ctx := object(t, body)["@odata.context"]; ctx != h.srv.URL()+"/api/data/v9.2/$metadata#leads(emailaddress1)" {
			t.Errorf("@odata.context: got %v", ctx)
		}
	})

	t.Run("count", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "leads?$select=leadid&$count=true&$top=1", nil)
		if got := object(t, body)["@odata.count"]; got != float64(3) {
			t.Errorf("@odata.count: got %v, want 3 (all matches, not the page)", got)
		}
		resp, body := h.api(http.MethodGet, "leads/$count", nil)
		if resp.StatusCode != 200 || string(body) != "3" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("leads/$count: got %d %q %q, want 200 text/plain 3", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	})

	errs := []struct {
		name  string
		query string
		msg   string
	}{
		{name: "unterminated literal", query: "$filter=" + esc("lastname eq 'O'Brien'"),
			msg: "There is an unterminated literal at position 21 in 'lastname eq 'O'Brien''."},
		{name: "unknown filter column", query: "$filter=" + esc("nosuch eq 1"),
			msg: "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.lead'."},
		{name: "unknown select column", query: "$select=nosuch",
			msg: "Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.lead'."},
		{name: "skip", query: "$skip=1", msg: "The query parameter $skip is not supported"},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			resp, body := h.api(http.MethodGet, "leads?"+tt.query, nil)
			if msg := wantError(t, resp, body, http.StatusBadRequest, codeQuery); msg != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", msg, tt.msg)
			}
		})
	}

	t.Run("unknown entity set", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodGet, "opportunities", nil)
		wantError(t, resp, body, http.StatusNotFound, codeQuery)
	})
}

func TestPaging(t *testing.T) {
	h := start(t, nil)
	for i := range 7 {
		h.create("leads", map[string]any{"lastname": fmt.Sprintf("L%d", i)})
	}
	var got []string
	path := "leads?$select=lastname&$top=1"
	pages := 0
	for path != "" {
		resp, body := h.api(http.MethodGet, path, nil, "Prefer", "odata.maxpagesize=3")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: got status %d; body %s", pages+1, resp.StatusCode, body)
		}
		if pa := resp.Header.Get("Preference-Applied"); pa != "odata.maxpagesize=3" {
			t.Errorf("Preference-Applied: got %q, want odata.maxpagesize=3", pa)
		}
		for _, r := range rows(t, body) {
			got = append(got, r["lastname"].(string))
		}
		pages++
		next, _ := object(t, body)["@odata.nextLink"].(string)
		if next == "" {
			break
		}
		if !strings.Contains(next, "$skiptoken=") {
			t.Fatalf("nextLink %q has no $skiptoken", next)
		}
		path = strings.TrimPrefix(next, h.srv.URL()+apiPrefix)
		if pages > 5 {
			t.Fatal("too many pages")
		}
	}
	if pages != 3 || strings.Join(got, ",") != "L0,L1,L2,L3,L4,L5,L6" {
		t.Errorf("got %d pages %v, want 3 pages L0..L6 ($top ignored with maxpagesize)", pages, got)
	}
}

// TestEqualityIndexAgreesWithScan: the index may only narrow, so for any
// filter the rows found must be exactly those a full scan finds, after
// updates, deletes and rolled-back change sets.
func TestEqualityIndexAgreesWithScan(t *testing.T) {
	h := start(t, nil)
	a := h.create("leads", map[string]any{"lastname": "A", "emailaddress1": "Ann@Example.com"})
	b := h.create("leads", map[string]any{"lastname": "B", "emailaddress1": "ann@example.COM"})
	c := h.create("leads", map[string]any{"lastname": "C", "emailaddress1": "old@example.com"})
	h.create("leads", map[string]any{"lastname": "D", "emailaddress1": "ÄNN@example.com"})
	h.api(http.MethodPatch, "leads("+c+")", map[string]any{"emailaddress1": "ann@example.com"})
	h.api(http.MethodDelete, "leads("+b+")", nil)
	h.batch((&batchBuilder{}).changeSetOf(
		[]string{"POST", "leads", `{"lastname":"E","emailaddress1":"ann@example.com"}`},
		[]string{"POST", "leads", `{"nosuch":1}`},
	).body())

	filters := []string{
		"emailaddress1 eq 'ANN@example.com'",
		"emailaddress1 eq 'ann@example.com' and statecode eq 0",
		"statecode eq 0 and emailaddress1 eq 'äNN@EXAMPLE.com'",
		"emailaddress1 eq 'old@example.com'",
		"emailaddress1 eq 'nobody@example.com' or lastname eq 'A'",
		"leadid eq " + a,
		"leadid eq " + b,
		"not (emailaddress1 eq 'ann@example.com')",
	}
	st := h.srv.store
	st.mu.Lock()
	defer st.mu.Unlock()
	tbl := st.tables["leads"]
	for _, src := range filters {
		f, err := odata.ParseFilter(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		var want []string
		tbl.scan(func(r *record) bool {
			if f.Match(r.cols) {
				want = append(want, r.cols["lastname"].(string))
			}
			return true
		})
		var got []string
		for _, r := range matching(tbl, queryOptions{filter: f, top: -1}) {
			got = append(got, r.cols["lastname"].(string))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v, want %v (as a scan finds)", src, got, want)
		}
	}
	if _, ok := tbl.candidates(mustFilter(t, "emailaddress1 eq 'x' or lastname eq 'A'")); ok {
		t.Error("an 'or' at the top level was narrowed by the index")
	}
}

func mustFilter(t *testing.T, src string) *odata.Filter {
	t.Helper()
	f, err := odata.ParseFilter(src)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// A number column compared with a quoted text is refused as Dataverse
// refuses it; compared with a number it matches. (A client that quotes
// every literal fails here as it would against an org.)
func TestNumberColumnComparedWithText(t *testing.T) {
	h := start(t, nil)
	h.create("new_enquiries", map[string]any{"new_name": "First", "new_enquiryno": 1042})
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	resp, body := h.api(http.MethodGet, "new_enquiries?$select=new_name&$filter="+esc("new_enquiryno eq '1042'"), nil)
	want := "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'."
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), want) || !strings.Contains(string(body), "0x80060888") {
		t.Errorf("quoted number: got %d %s, want 400 0x80060888 %q", resp.StatusCode, body, want)
	}
	resp, body = h.api(http.MethodGet, "new_enquiries?$select=new_name&$filter="+esc("new_enquiryno eq 1042"), nil)
	if resp.StatusCode != http.StatusOK || len(rows(t, body)) != 1 {
		t.Errorf("number: got %d %s, want the one enquiry", resp.StatusCode, body)
	}
	// Text columns stay comparable with text, choices with numbers.
	resp, body = h.api(http.MethodGet, "new_enquiries?$select=new_name&$filter="+esc("new_name eq 'First' and statecode eq 0"), nil)
	if resp.StatusCode != http.StatusOK || len(rows(t, body)) != 1 {
		t.Errorf("text and choice: got %d %s, want the one enquiry", resp.StatusCode, body)
	}
}
