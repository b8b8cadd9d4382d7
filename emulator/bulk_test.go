package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func leadTarget(fields map[string]any) map[string]any {
	fields["@odata.type"] = "Microsoft.Dynamics.CRM.lead"
	return fields
}

func (h *harness) countOf(set, filter string) int {
	h.t.Helper()
	resp, body := h.api(http.MethodGet, set+"?$select="+schemaBySet[set].pk+"&$filter="+q(filter), nil)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("count %s: %d %s", set, resp.StatusCode, body)
	}
	return len(rows(h.t, body))
}

// TestBulkMessages: CreateMultiple, UpdateMultiple and UpsertMultiple as
// "Use bulk operation messages" documents them for a standard table.
func TestBulkMessages(t *testing.T) {
	h := start(t, &Config{AlternateKeys: map[string][]string{"leads": {"emailaddress1"}}})

	t.Run("CreateMultiple answers the ids in Targets order", func(t *testing.T) {
		h := h.sub(t)
		targets := []any{
			leadTarget(map[string]any{"lastname": "One", "emailaddress1": "one@bulk.example"}),
			leadTarget(map[string]any{"lastname": "Two", "emailaddress1": "two@bulk.example", "ownerid@odata.bind": "/teams(" + h.srv.TeamID("Sales EMEA") + ")"}),
			leadTarget(map[string]any{"lastname": "Three", "emailaddress1": "three@bulk.example", "new_interests": "100000001"}),
		}
		resp, body := h.api(http.MethodPost, "leads/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": targets})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("CreateMultiple: got %d, want 200; body %s", resp.StatusCode, body)
		}
		out := object(t, body)
		if ctx, _ := out["@odata.context"].(string); !strings.HasSuffix(ctx, "/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse") {
			t.Errorf("context: got %q", ctx)
		}
		ids, _ := out["Ids"].([]any)
		if len(ids) != 3 {
			t.Fatalf("Ids: got %v", out["Ids"])
		}
		for i, want := range []string{"One", "Two", "Three"} {
			row := h.row(fmt.Sprintf("leads(%s)?$select=lastname,_ownerid_value", ids[i]))
			if row["lastname"] != want {
				t.Errorf("Ids[%d] is %v, want the row of %s", i, row["lastname"], want)
			}
		}
	})
	t.Run("one invalid target fails the request and writes nothing", func(t *testing.T) {
		h := h.sub(t)
		targets := []any{
			leadTarget(map[string]any{"lastname": "Fine", "emailaddress1": "fine@rollback.example"}),
			leadTarget(map[string]any{"lastname": strings.Repeat("x", 51), "emailaddress1": "long@rollback.example"}),
		}
		resp, body := h.api(http.MethodPost, "leads/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": targets})
		if msg := wantError(t, resp, body, http.StatusBadRequest, codeLength); !strings.Contains(msg, "'lastname' attribute of the 'lead' entity") {
			t.Errorf("message: %q", msg)
		}
		if n := h.countOf("leads", "endswith(emailaddress1,'@rollback.example')"); n != 0 {
			t.Errorf("rows after the failed request: got %d, want 0", n)
		}
	})
	t.Run("UpdateMultiple by primary key", func(t *testing.T) {
		h := h.sub(t)
		a := h.create("leads", map[string]any{"lastname": "A", "emailaddress1": "a@update.example"})
		b := h.create("leads", map[string]any{"lastname": "B", "emailaddress1": "b@update.example"})
		resp, body := h.api(http.MethodPost, "leads/Microsoft.Dynamics.CRM.UpdateMultiple", map[string]any{"Targets": []any{
			leadTarget(map[string]any{"leadid": a, "subject": "updated A"}),
			leadTarget(map[string]any{"leadid": b, "subject": "updated B"}),
		}})
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Fatalf("UpdateMultiple: got %d %s, want 204 and no body", resp.StatusCode, body)
		}
		if row := h.row("leads(" + b + ")?$select=subject"); row["subject"] != "updated B" {
			t.Errorf("b: got %v", row["subject"])
		}
		missing := newGUID()
		resp, body = h.api(http.MethodPost, "leads/Microsoft.Dynamics.CRM.UpdateMultiple", map[string]any{"Targets": []any{
			leadTarget(map[string]any{"leadid": a, "subject": "not applied"}),
			leadTarget(map[string]any{"leadid": missing, "subject": "x"}),
		}})
		if msg := wantError(t, resp, body, http.StatusNotFound, codeNotFound); msg != "lead With Ids = "+missing+" Do Not Exist" {
			t.Errorf("message: %q", msg)
		}
		if row := h.row("leads(" + a + ")?$select=subject"); row["subject"] != "updated A" {
			t.Errorf("a after the failed request: got %v, want it unchanged", row["subject"])
		}
	})
	t.Run("UpsertMultiple by alternate key", func(t *testing.T) {
		h := h.sub(t)
		existing := h.create("leads", map[string]any{"lastname": "Old", "emailaddress1": "old@upsert.example"})
		resp, body := h.api(http.MethodPost, "leads/Microsoft.Dynamics.CRM.UpsertMultiple", map[string]any{"Targets": []any{
			leadTarget(map[string]any{"@odata.id": "leads(emailaddress1='old@upsert.example')", "subject": "updated"}),
			leadTarget(map[string]any{"@odata.id": "leads(emailaddress1='new@upsert.example')", "lastname": "New", "subject": "created"}),
		}})
		if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
			t.Fatalf("UpsertMultiple: got %d %s, want 204 and no body", resp.StatusCode, body)
		}
		if row := h.row("leads(" + existing + ")?$select=subject"); row["subject"] != "updated" {
			t.Errorf("existing: got %v", row["subject"])
		}
		resp, body = h.api(http.MethodGet, "leads(emailaddress1='new@upsert.example')?$select=lastname,subject", nil)
		if row := object(t, body); resp.StatusCode != http.StatusOK || row["subject"] != "created" {
			t.Errorf("created by key: got %d %s", resp.StatusCode, body)
		}
	})
	errs := []struct {
		name, path string
		body       any
		status     int
		code, msg  string
	}{
		{"a target without @odata.type", "leads/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": []any{map[string]any{"lastname": "x"}}}, 400, codePayload,
			`Targets[0] of CreateMultiple has no @odata.type: every record must name its type, "@odata.type": "Microsoft.Dynamics.CRM.lead".`},
		{"a target of another table", "leads/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": []any{map[string]any{"lastname": "x", "@odata.type": "Microsoft.Dynamics.CRM.contact"}}}, 400, codePayload,
			"Targets[0] of CreateMultiple is a 'Microsoft.Dynamics.CRM.contact', but the request is bound to leads: all the records must be of that table."},
		{"no targets", "leads/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": []any{}}, 400, codePayload,
			"The Targets parameter of CreateMultiple must hold at least one record."},
		{"a table that does not support it", "annotations/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": []any{map[string]any{"notetext": "x", "@odata.type": "Microsoft.Dynamics.CRM.annotation"}}}, 400, codeNotSupported,
			"The 'CreateMultiple' method does not support entities of type 'annotation'. MessageProcessorCache returned MessageProcessor.Empty."},
		{"an update without the row", "leads/Microsoft.Dynamics.CRM.UpdateMultiple", map[string]any{"Targets": []any{leadTarget(map[string]any{"subject": "x"})}}, 400, codePayload,
			"A target has neither leadid nor @odata.id: UpdateMultiple and UpsertMultiple need the row each record is for."},
		{"GET", "leads/Microsoft.Dynamics.CRM.CreateMultiple", nil, 405, codeQuery, "The requested resource does not support http method 'GET'."},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			h := h.sub(t)
			method := http.MethodPost
			if tt.body == nil {
				method = http.MethodGet
			}
			resp, body := h.api(method, tt.path, tt.body)
			if msg := wantError(t, resp, body, tt.status, tt.code); msg != tt.msg {
				t.Errorf("message:\n got %q\nwant %q", msg, tt.msg)
			}
		})
	}
}

// TestBulkMessageAvailability: which tables take the bulk messages, found
// the way "Use bulk operation messages" (Availability with standard tables)
// shows.
func TestBulkMessageAvailability(t *testing.T) {
	h := start(t, nil)
	available := func(table string) int {
		resp, body := h.api(http.MethodGet, "sdkmessagefilters?$select=sdkmessagefilterid&$filter="+
			q("sdkmessageid/name eq @message and primaryobjecttypecode eq @table")+"&@message="+q("'CreateMultiple'")+"&@table="+q("'"+table+"'"), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sdkmessagefilters for %s: %d %s", table, resp.StatusCode, body)
		}
		return len(rows(t, body))
	}
	for table, want := range map[string]int{"lead": 1, "contact": 1, "account": 1, "new_enquiry": 1, "annotation": 0, "systemuser": 0} {
		if got := available(table); got != want {
			t.Errorf("CreateMultiple filters for %s: got %d, want %d", table, got, want)
		}
	}
	resp, body := h.api(http.MethodGet, "sdkmessagefilters?$select=primaryobjecttypecode&$filter="+q("sdkmessageid/name eq 'UpsertMultiple'"), nil)
	var tables []string
	for _, r := range rows(t, body) {
		tables = append(tables, r["primaryobjecttypecode"].(string))
	}
	if resp.StatusCode != http.StatusOK || strings.Join(tables, ",") != "account,campaign,contact,lead,new_enquiry" {
		t.Errorf("UpsertMultiple tables: got %d %v", resp.StatusCode, tables)
	}
	resp, body = h.api(http.MethodPost, "sdkmessagefilters", map[string]any{"name": "x"})
	wantError(t, resp, body, http.StatusBadRequest, codeNotSupported)
	// Only the paths a table declares are filterable.
	resp, body = h.api(http.MethodGet, "leads?$select=leadid&$filter="+q("parentcontactid/fullname eq 'x'"), nil)
	if msg := wantError(t, resp, body, http.StatusBadRequest, codeQuery); msg != "The emulator does not support navigation paths such as 'parentcontactid/...' in $filter." {
		t.Errorf("a path leads do not declare: %q", msg)
	}
}

// TestBulkMessagesAgainstLimits: one request for the request-count facet,
// latency_ms per target for the execution-time facet.
func TestBulkMessagesAgainstLimits(t *testing.T) {
	create := func(h *harness, n int) (*http.Response, []byte) {
		var targets []any
		for i := range n {
			targets = append(targets, leadTarget(map[string]any{"lastname": fmt.Sprint("Row ", i)}))
		}
		return h.api(http.MethodPost, "leads/Microsoft.Dynamics.CRM.CreateMultiple", map[string]any{"Targets": targets})
	}
	t.Run("one request however many rows", func(t *testing.T) {
		h := start(t, &Config{Limits: Limits{RequestsPerWindow: 2, WindowSeconds: 300}})
		if resp, body := create(h, 50); resp.StatusCode != http.StatusOK {
			t.Fatalf("CreateMultiple of 50: got %d %s", resp.StatusCode, body)
		}
		if resp, body := h.api(http.MethodGet, "WhoAmI", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("second request: got %d %s, want 200 (the bulk request counted once)", resp.StatusCode, body)
		}
		resp, body := h.api(http.MethodGet, "WhoAmI", nil)
		wantError(t, resp, body, http.StatusTooManyRequests, codeThrottleRequests)
	})
	// A row of a bulk message costs bulk_row_percent of latency_ms (25 by
	// default), the message at least latency_ms: at 10 ms, 19 rows are
	// 47.5 ms and 20 rows 50 ms against a limit of 50 ms; charged as single
	// writes, 4 rows are 40 ms and 5 rows 50 ms.
	for _, tt := range []struct {
		rows, percent int
		want          int
	}{{1, 0, http.StatusOK}, {19, 0, http.StatusOK}, {20, 0, http.StatusTooManyRequests},
		{4, 100, http.StatusOK}, {5, 100, http.StatusTooManyRequests}} {
		t.Run(fmt.Sprintf("%d rows at 10 ms, percent %d (0: the default), against 50 ms", tt.rows, tt.percent), func(t *testing.T) {
			h := start(t, &Config{LatencyMS: 10, BulkRowPercent: tt.percent, Limits: Limits{ExecutionMSPerWindow: 50, WindowSeconds: 300}})
			if resp, body := create(h, tt.rows); resp.StatusCode != http.StatusOK {
				t.Fatalf("CreateMultiple: got %d %s", resp.StatusCode, body)
			}
			resp, body := h.api(http.MethodGet, "WhoAmI", nil)
			if resp.StatusCode != tt.want {
				t.Errorf("next request: got %d %s, want %d", resp.StatusCode, body, tt.want)
			}
		})
	}
}

// TestBatchContinueOnError: with odata.continue-on-error a failed change
// set is reported as its failed part, and the change sets and requests
// after it still run and are reported each.
func TestBatchContinueOnError(t *testing.T) {
	h := start(t, nil)
	body := (&batchBuilder{}).
		changeSetOf(
			[]string{"POST", "leads", `{"lastname":"Rolled back","emailaddress1":"cs1@batch.example"}`},
			[]string{"POST", "leads", `{"lastname":"Bad","leadsourcecode":99}`},
		).
		changeSetOf(
			[]string{"POST", "contacts", `{"lastname":"Kept","emailaddress1":"cs2@batch.example"}`},
			[]string{"POST", "leads", `{"lastname":"Kept","emailaddress1":"cs2@batch.example","parentcontactid@odata.bind":"$1"}`},
		).
		op("POST", "leads/Microsoft.Dynamics.CRM.CreateMultiple", `{"Targets":[{"lastname":"Bulk","emailaddress1":"bulk@batch.example","@odata.type":"Microsoft.Dynamics.CRM.lead"}]}`).
		op("GET", "leads?$select=lastname&$filter="+q("endswith(emailaddress1,'@batch.example')"), "").
		body()
	resp, parts := h.batch(body, "Prefer", "odata.continue-on-error")
	if resp.StatusCode != http.StatusOK || len(parts) != 5 {
		t.Fatalf("got status %d with %d parts, want 200 with 5: %+v", resp.StatusCode, len(parts), parts)
	}
	got := fmt.Sprint(parts[0].status, parts[0].contentID, parts[1].status, parts[2].status, parts[3].status, parts[4].status)
	if want := fmt.Sprint(400, "2", 204, 204, 200, 200); got != want {
		t.Errorf("statuses (Content-ID of the failure): got %s, want %s", got, want)
	}
	if !strings.Contains(parts[0].body, codePicklist) {
		t.Errorf("failed part: got %s, want the picklist error", parts[0].body)
	}
	if n := h.countOf("leads", "emailaddress1 eq 'cs1@batch.example'"); n != 0 {
		t.Errorf("leads of the failed change set: got %d, want 0", n)
	}
	if rows := rows(t, []byte(parts[4].body)); len(rows) != 2 {
		t.Errorf("the GET after both: got %v, want the change set's lead and the bulk one", rows)
	}
}
