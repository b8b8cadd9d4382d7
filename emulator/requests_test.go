package emulator

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestRequestLog: every Web API call is listed with the request id the
// client sent, so that a test can check a caller sends its id on each one.
func TestRequestLog(t *testing.T) {
	h := start(t, &Config{Limits: Limits{RequestsPerWindow: 3, WindowSeconds: 300}})
	lead := h.create("leads", map[string]any{"lastname": "Lee"}) // no id
	h.api(http.MethodGet, "leads("+lead+")?$select=lastname", nil, "x-ms-client-request-id", "sub-1", "x-ms-client-session-id", "worker-7")
	h.api(http.MethodPatch, "leads("+lead+")", map[string]any{"subject": "x"}, "x-ms-client-request-id", "sub-1")
	h.api(http.MethodGet, "WhoAmI", nil, "client-request-id", "sub-2") // over the limit: 429

	list := func(query string) []RequestRecord {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL()+"/_emulator/requests"+query, nil)
		resp, body := h.send(req)
		var out struct{ Requests []RequestRecord }
		if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /_emulator/requests%s: %d %s", query, resp.StatusCode, body)
		}
		return out.Requests
	}
	sub1 := list("?client_request_id=sub-1")
	if len(sub1) != 2 {
		t.Fatalf("requests of sub-1: got %+v, want 2", sub1)
	}
	if r := sub1[0]; r.Method != http.MethodGet || r.Path != "/api/data/v9.2/leads("+lead+")" || r.Status != 200 ||
		r.Header != "x-ms-client-request-id" || r.ClientSessionID != "worker-7" || r.ServiceRequestID == "" || r.Time.IsZero() {
		t.Errorf("first request of sub-1: got %+v", r)
	}
	if r := sub1[1]; r.Method != http.MethodPatch || r.Status != 204 {
		t.Errorf("second request of sub-1: got %+v", r)
	}
	if sub2 := list("?client_request_id=sub-2"); len(sub2) != 1 || sub2[0].Status != 429 || sub2[0].Header != "client-request-id" {
		t.Errorf("requests of sub-2: got %+v, want the throttled WhoAmI", sub2)
	}
	if all := list(""); len(all) != 4 || all[0].ClientRequestID != "" || all[0].Method != http.MethodPost {
		t.Errorf("all requests: got %+v, want 4, oldest first", all)
	}
	if got := h.srv.Stats().WithoutClientRequestID; got != 1 {
		t.Errorf("requests without an id: got %d, want 1 (the token request is not a Web API call)", got)
	}
	h.srv.Reset()
	if all := list(""); len(all) != 0 || h.srv.Stats().WithoutClientRequestID != 0 {
		t.Errorf("after Reset: got %+v", all)
	}
}

func TestRequestLogWraps(t *testing.T) {
	l := newRequestLog()
	for i := range requestLogSize + 3 {
		l.add(RequestRecord{Status: i})
	}
	got := l.list("")
	if len(got) != requestLogSize || got[0].Status != 3 || got[len(got)-1].Status != requestLogSize+2 {
		t.Errorf("after %d requests: got %d records from %d to %d, want the last %d in order",
			requestLogSize+3, len(got), got[0].Status, got[len(got)-1].Status, requestLogSize)
	}
}
