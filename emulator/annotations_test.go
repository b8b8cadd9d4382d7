package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	preferAll       = `odata.include-annotations="*"`
	fvSuffix        = "@" + termFormattedValue
	navSuffix       = "@" + termNavigationProperty
	logicalSuffix   = "@" + termLookupLogicalName
	leadAnnotations = "$select=subject,leadsourcecode,leadqualitycode,statecode,statuscode,donotemail,donotphone," +
		"donotsendmm,msdyn_gdproptout,numberofemployees,createdon,versionnumber," +
		"_parentcontactid_value,_customerid_value,_ownerid_value,_createdby_value"
)

// annotatedLead makes a contact, an account and a lead bound to both, and
// returns the lead's id.
func annotatedLead(h *harness) (lead, contact, account string) {
	h.t.Helper()
	contact = h.create("contacts", map[string]any{"firstname": "Ann", "lastname": "Lee"})
	account = h.create("accounts", map[string]any{"name": "Contoso"})
	lead = h.create("leads", map[string]any{
		"subject": "Pricing", "lastname": "Lee", "leadsourcecode": 8,
		"donotemail": true, "donotsendmm": false, "msdyn_gdproptout": true, "numberofemployees": 1500,
		"parentcontactid@odata.bind":    "/contacts(" + contact + ")",
		"customerid_account@odata.bind": "accounts(" + account + ")",
	})
	return lead, contact, account
}

func TestFormattedValues(t *testing.T) {
	h := start(t, nil)
	lead, contact, account := annotatedLead(h)

	resp, body := h.api(http.MethodGet, "leads("+lead+")?"+leadAnnotations, nil, "Prefer", preferAll)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200; body %s", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Preference-Applied"); !slices.Equal(got, []string{preferAll}) {
		t.Errorf("Preference-Applied: got %q, want [%s]", got, preferAll)
	}
	row := object(t, body)
	createdon, err := time.Parse(time.RFC3339, row["createdon"].(string))
	if err != nil {
		t.Fatalf("createdon %v: %v", row["createdon"], err)
	}
	want := map[string]any{
		"leadsourcecode" + fvSuffix:    "Web",
		"leadqualitycode" + fvSuffix:   "Warm", // the column's default
		"statecode" + fvSuffix:         "Open",
		"statuscode" + fvSuffix:        "New",
		"donotemail" + fvSuffix:        "Do Not Allow",
		"donotphone" + fvSuffix:        "Allow",
		"donotsendmm" + fvSuffix:       "Send",
		"msdyn_gdproptout" + fvSuffix:  "Yes",
		"numberofemployees" + fvSuffix: "1,500",
		"createdon" + fvSuffix:         createdon.Format("1/2/2006 3:04 PM"),

		"_parentcontactid_value":                 contact,
		"_parentcontactid_value" + fvSuffix:      "Ann Lee",
		"_parentcontactid_value" + navSuffix:     "parentcontactid",
		"_parentcontactid_value" + logicalSuffix: "contact",
		"_customerid_value":                      account,
		"_customerid_value" + fvSuffix:           "Contoso",
		"_customerid_value" + navSuffix:          "customerid_account",
		"_customerid_value" + logicalSuffix:      "account",
		"_ownerid_value" + fvSuffix:              "# " + DefaultClientID,
		"_ownerid_value" + navSuffix:             "ownerid",
		"_ownerid_value" + logicalSuffix:         "systemuser",
		"_createdby_value" + navSuffix:           "createdby",
	}
	for k, w := range want {
		if got := row[k]; got != w {
			t.Errorf("%s: got %v, want %v", k, got, w)
		}
	}
	for _, k := range []string{"subject" + fvSuffix, "leadid" + fvSuffix, "versionnumber" + fvSuffix} {
		if v, ok := row[k]; ok {
			t.Errorf("%s: got %v, want no formatted value (strings, ids and big integers have none)", k, v)
		}
	}
}

// TestIncludeAnnotationsPatterns: which annotations a preference selects,
// with lists, wildcards and exclusions.
func TestIncludeAnnotationsPatterns(t *testing.T) {
	h := start(t, nil)
	lead, _, _ := annotatedLead(h)
	const fv, nav, logical = "_parentcontactid_value" + fvSuffix, "_parentcontactid_value" + navSuffix, "_parentcontactid_value" + logicalSuffix

	tests := []struct {
		prefer string // the quoted list; "" sends no preference
		want   []string
	}{
		{prefer: "", want: nil},
		{prefer: "*", want: []string{fv, nav, logical}},
		{prefer: termFormattedValue, want: []string{fv}},
		{prefer: "Microsoft.Dynamics.CRM.*", want: []string{nav, logical}},
		{prefer: termLookupLogicalName + "," + termNavigationProperty, want: []string{nav, logical}},
		{prefer: "*,-" + termFormattedValue, want: []string{nav, logical}},
		{prefer: "OData.*.FormattedValue", want: []string{fv}},
		{prefer: "-Microsoft.Dynamics.CRM.*," + termLookupLogicalName, want: []string{logical}},
		{prefer: "odata.community.display.v1.formattedvalue", want: nil}, // term names are case-sensitive
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.prefer), func(t *testing.T) {
			h := h.sub(t)
			var headers []string
			if tt.prefer != "" {
				headers = []string{"Prefer", `odata.include-annotations="` + tt.prefer + `"`}
			}
			resp, body := h.api(http.MethodGet, "leads("+lead+")?$select=_parentcontactid_value", nil, headers...)
			var got []string
			for k := range object(t, body) {
				if strings.Contains(k, "_value@") {
					got = append(got, k)
				}
			}
			slices.Sort(got)
			if want := slices.Sorted(slices.Values(tt.want)); !slices.Equal(got, want) {
				t.Errorf("annotations: got %v, want %v", got, tt.want)
			}
			applied := resp.Header.Get("Preference-Applied")
			if wantApplied := headers; wantApplied == nil && applied != "" || wantApplied != nil && applied != headers[1] {
				t.Errorf("Preference-Applied: got %q, want the preference echoed (or nothing when none was sent)", applied)
			}
		})
	}
}

func TestAnnotationsOnCollectionsAndWrites(t *testing.T) {
	h := start(t, nil)
	annotatedLead(h)
	h.create("leads", map[string]any{"subject": "Other", "lastname": "Other", "leadsourcecode": 1})
	counts := `odata.include-annotations="` + termTotalRecordCount + "," + termTotalCountExceeded + `"`

	t.Run("formatted values on every row, counts only when asked", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodGet, "leads?$select=leadsourcecode&$orderby=subject", nil,
			"Prefer", "odata.maxpagesize=10", "Prefer", `odata.include-annotations="`+termFormattedValue+`"`)
		if got := resp.Header.Values("Preference-Applied"); !slices.Equal(got, []string{"odata.maxpagesize=10", `odata.include-annotations="` + termFormattedValue + `"`}) {
			t.Errorf("Preference-Applied: got %q, want both preferences", got)
		}
		var labels []any
		for _, r := range rows(t, body) {
			labels = append(labels, r["leadsourcecode"+fvSuffix])
		}
		if fmt.Sprint(labels) != "[Advertisement Web]" {
			t.Errorf("leadsourcecode labels: got %v, want [Advertisement Web]", labels)
		}
		if _, ok := object(t, body)["@"+termTotalRecordCount]; ok {
			t.Errorf("totalrecordcount written without being asked for: %s", body)
		}
	})

	tests := []struct {
		name, query    string
		total          float64
		wantExceeded   bool
		wantODataCount bool
	}{
		{name: "without $count the total is -1", query: "$select=leadid&$top=1", total: -1},
		{name: "with $count=true the total is the count", query: "$select=leadid&$top=1&$count=true", total: 2, wantODataCount: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			_, body := h.api(http.MethodGet, "leads?"+tt.query, nil, "Prefer", counts)
			m := object(t, body)
			if got := m["@"+termTotalRecordCount]; got != tt.total {
				t.Errorf("totalrecordcount: got %v, want %v", got, tt.total)
			}
			if got := m["@"+termTotalCountExceeded]; got != tt.wantExceeded {
				t.Errorf("totalrecordcountlimitexceeded: got %v, want %v", got, tt.wantExceeded)
			}
			if _, ok := m["@odata.count"]; ok != tt.wantODataCount {
				t.Errorf("@odata.count present: got %v, want %v", ok, tt.wantODataCount)
			}
		})
	}

	t.Run("POST and PATCH with return=representation", func(t *testing.T) {
		h := h.sub(t)
		resp, body := h.api(http.MethodPost, "leads?$select=leadsourcecode,statecode", map[string]any{"lastname": "New", "leadsourcecode": 7},
			"Prefer", "return=representation", "Prefer", preferAll)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: got status %d, want 201; body %s", resp.StatusCode, body)
		}
		if got := resp.Header.Values("Preference-Applied"); !slices.Equal(got, []string{"return=representation", preferAll}) {
			t.Errorf("POST Preference-Applied: got %q, want return=representation and the annotations", got)
		}
		row := object(t, body)
		if row["leadsourcecode"+fvSuffix] != "Trade Show" || row["statecode"+fvSuffix] != "Open" {
			t.Errorf("POST body: got %s, want Trade Show and Open", body)
		}
		resp, body = h.api(http.MethodPatch, "leads("+row["leadid"].(string)+")?$select=statecode,statuscode", map[string]any{"statecode": 2, "statuscode": 5},
			"Prefer", "return=representation,"+preferAll)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PATCH: got status %d, want 200; body %s", resp.StatusCode, body)
		}
		row = object(t, body)
		if row["statecode"+fvSuffix] != "Disqualified" || row["statuscode"+fvSuffix] != "Cannot Contact" {
			t.Errorf("PATCH body: got %s, want Disqualified and Cannot Contact", body)
		}
	})

	t.Run("no 304 when annotations are asked for", func(t *testing.T) {
		h := h.sub(t)
		_, body := h.api(http.MethodGet, "leads?$select=leadid&$top=1", nil)
		r := rows(t, body)[0]
		path := "leads(" + r["leadid"].(string) + ")?$select=leadsourcecode"
		if resp, _ := h.api(http.MethodGet, path, nil, "If-None-Match", r["@odata.etag"].(string)); resp.StatusCode != http.StatusNotModified {
			t.Fatalf("plain conditional GET: got status %d, want 304", resp.StatusCode)
		}
		resp, _ := h.api(http.MethodGet, path, nil, "If-None-Match", r["@odata.etag"].(string), "Prefer", preferAll)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("conditional GET with annotations: got status %d, want 200 (reference §3)", resp.StatusCode)
		}
	})
}

// TestTotalRecordCountLimitExceeded: past 5,000 matches the count stops at
// 5,000 and says so.
func TestTotalRecordCountLimitExceeded(t *testing.T) {
	h := start(t, nil)
	for b := range 6 {
		bb := &batchBuilder{}
		for i := range 1000 {
			bb.op("POST", "leads", fmt.Sprintf(`{"lastname":"L%d-%d"}`, b, i))
		}
		if resp, _ := h.batch(bb.body()); resp.StatusCode != http.StatusOK {
			t.Fatalf("seed batch %d: got status %d", b, resp.StatusCode)
		}
	}
	_, body := h.api(http.MethodGet, "leads?$select=leadid&$count=true", nil, "Prefer",
		`odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount*"`, "Prefer", "odata.maxpagesize=1")
	m := object(t, body)
	if m["@odata.count"] != float64(5000) || m["@"+termTotalRecordCount] != float64(5000) || m["@"+termTotalCountExceeded] != true {
		t.Errorf("got @odata.count %v, totalrecordcount %v, limitexceeded %v; want 5000, 5000, true",
			m["@odata.count"], m["@"+termTotalRecordCount], m["@"+termTotalCountExceeded])
	}
}

func TestParseIncludeAnnotations(t *testing.T) {
	tests := []struct {
		in   string
		want annotations
	}{
		{"*", annFormatted | annNavigationProperty | annLookupLogicalName | annTotalRecordCount | annTotalCountExceeded},
		{"", 0},
		{" OData.Community.Display.V1.FormattedValue , Microsoft.Dynamics.CRM.lookuplogicalname ", annFormatted | annLookupLogicalName},
		{"*.FormattedValue", annFormatted},
		{"Microsoft.Dynamics.CRM.totalrecordcount", annTotalRecordCount},
		{"Microsoft.Dynamics.CRM.totalrecordcount*", annTotalRecordCount | annTotalCountExceeded},
		{"*,-Microsoft.Dynamics.CRM.*", annFormatted},
		{"-*", 0},
		{"Microsoft.Dynamics.CRM.lookuplogicalname,-Microsoft.Dynamics.CRM.lookuplogicalname", 0},
	}
	for _, tt := range tests {
		if got := parseIncludeAnnotations(tt.in); got != tt.want {
			t.Errorf("parseIncludeAnnotations(%q): got %05b, want %05b", tt.in, got, tt.want)
		}
	}
}
