package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/crm"
)

// TestRequestIDFollowsASubmissionIntoDataverse: the X-Request-ID given at
// intake is on every log line the worker writes about that delivery, and
// every Dataverse call made for it carries the GUID derived from it as
// x-ms-client-request-id (one at a time), or its batch's GUID, which the
// submission's log lines name, so the org's diagnostics (the emulator's
// request log) show that submission's calls.
func TestRequestIDFollowsASubmissionIntoDataverse(t *testing.T) {
	s := startStack(t, options{})
	post := func(requestID, email string) string {
		b, _ := json.Marshal(map[string]any{"last_name": "Lee", "email": email, "company": "Contoso"})
		req, _ := http.NewRequest(http.MethodPost, s.APIURL+"/f/demo", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-ID", requestID)
		code, body := s.do(req)
		if code != http.StatusAccepted {
			t.Fatalf("post: got %d %v, want 202", code, body)
		}
		return body["id"].(string)
	}
	// Dataverse fails the first attempts, so that each delivery has a
	// retry and a success to log.
	s.Emu.Configure(`{"faults":{"error_rate":1}}`)
	// One id that is not a GUID (derived), one that is (sent as is).
	ids := map[string]string{
		"lb-e2e-request-0001":                  post("lb-e2e-request-0001", "ann@example.com"),
		"0C9A7E52-5D0B-4A43-9E55-3C1A2B4D6E70": post("0C9A7E52-5D0B-4A43-9E55-3C1A2B4D6E70", "bo@example.com"),
	}
	for _, id := range ids {
		s.waitStatus(id, "retrying", 60*time.Second)
	}
	s.Emu.Configure(`{"faults":{"error_rate":0}}`)
	for _, id := range ids {
		s.waitStatus(id, "delivered", 60*time.Second)
	}

	seen := map[string]bool{}
	for reqID, subID := range ids {
		guid := crm.ClientRequestID(reqID)
		// Every worker line about this submission carries its request id.
		// One at a time, its calls carry the GUID derived from it; in a
		// batch, the batch's own GUID, which its lines name.
		callIDs := map[string]bool{}
		var lines int
		for _, line := range strings.Split(s.Workers[0].Output(), "\n") {
			if !strings.Contains(line, "id="+subID) {
				continue
			}
			lines++
			if !strings.Contains(line, "request_id="+reqID) || !strings.Contains(line, "dataverse_request_id="+guid) {
				t.Errorf("worker log line without request_id=%s dataverse_request_id=%s: %s", reqID, guid, line)
			}
			_, batch, inBatch := strings.Cut(line, "dataverse_batch_request_id=")
			switch {
			case oneAtATime(t) && inBatch:
				t.Errorf("one at a time, a line names a batch: %s", line)
			case oneAtATime(t):
				callIDs[guid] = true
			case !inBatch:
				t.Errorf("batched, a line names no batch request id: %s", line)
			default:
				batch, _, _ = strings.Cut(batch, " ")
				callIDs[batch] = true
			}
		}
		if lines < 2 {
			t.Errorf("%d worker log lines name submission %s, want its retry and its delivery", lines, subID)
		}
		var wrote, refused bool
		for id := range callIDs {
			calls := s.Emu.Requests(id)
			for _, c := range calls {
				if oneAtATime(t) && seen[c.Path+c.ServiceRequestID] {
					t.Errorf("call %s %s listed under two request ids", c.Method, c.Path)
				}
				seen[c.Path+c.ServiceRequestID] = true
				if c.Header != "x-ms-client-request-id" {
					t.Errorf("call %s %s: id came in %q, want x-ms-client-request-id", c.Method, c.Path, c.Header)
				}
				wrote = wrote || (c.Method != http.MethodGet && strings.HasPrefix(c.Path, "/api/data/v9.2/leads") && c.Status < 300)
				refused = refused || c.Status == http.StatusServiceUnavailable
			}
		}
		if !refused {
			t.Errorf("request id %s: no refused call under the ids its log lines name (%v)", reqID, callIDs)
		}
		if !wrote {
			t.Errorf("request id %s: no lead written under the ids its log lines name (%v)", reqID, callIDs)
		}
	}
	if n := s.Emu.Stats().WithoutClientRequestID; n != 0 {
		t.Errorf("emulator saw %d Web API calls without a client request id, want 0 (WhoAmI at start included)", n)
	}
}
