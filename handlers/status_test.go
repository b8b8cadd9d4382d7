package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/submission"
)

func (v *env) api(method, path, body string) (int, map[string]any) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// failedRecord stores a submission and marks it failed, as a worker would.
func (v *env) failedRecord(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	r := &submission.Record{Form: "demo", Fields: map[string]string{"email": "a@b.co", "last_name": "Lee"}}
	if _, err := v.store.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	begun, err := v.store.BeginAttempt(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := submission.ErrorInfo{Category: submission.CategoryInvalidData, Status: 400, Code: "0x8004431A", Message: "bad choice"}
	if err := v.store.Fail(ctx, r.ID, begun.AttemptID, time.Now(), e); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

func TestFailedSubmissionCanBeDiscardedWithAReason(t *testing.T) {
	v := newEnv(t)
	id := v.failedRecord(t)

	code, body := v.api(http.MethodGet, "/v1/submissions?status=failed&form=demo", "")
	if code != 200 || len(body["submissions"].([]any)) != 1 {
		t.Fatalf("failed list: got %d %v, want the one failed submission", code, body)
	}
	if code, body := v.api(http.MethodPost, "/v1/submissions/"+id+"/discard", `{"reason":""}`); code != 422 || body["fields"] == nil {
		t.Errorf("discard without a reason: got %d %v, want 422 naming the reason field", code, body)
	}
	code, body = v.api(http.MethodPost, "/v1/submissions/"+id+"/discard", `{"reason":"test entry from QA"}`)
	if code != 200 || body["status"] != "discarded" || body["discard_reason"] != "test entry from QA" {
		t.Fatalf("discard: got %d %v", code, body)
	}
	if code, _ := v.api(http.MethodPost, "/v1/submissions/"+id+"/discard", `{"reason":"again"}`); code != http.StatusConflict {
		t.Errorf("discarding twice: got %d, want 409", code)
	}
	if _, body := v.api(http.MethodGet, "/v1/submissions?status=failed", ""); len(body["submissions"].([]any)) != 0 {
		t.Errorf("failed list after discard: got %v, want empty", body["submissions"])
	}
}

func TestFailedSubmissionCanBeRetriedUnderTheSameID(t *testing.T) {
	v := newEnv(t)
	id := v.failedRecord(t)
	code, body := v.api(http.MethodPost, "/v1/submissions/"+id+"/retry", "")
	if code != http.StatusAccepted || body["status"] != "accepted" || body["id"] != id {
		t.Fatalf("retry: got %d %v, want 202 accepted with the same id", code, body)
	}
	if n := v.queued(t); n != 1 {
		t.Errorf("queued after retry: got %d, want 1", n)
	}
	if code, _ := v.api(http.MethodPost, "/v1/submissions/"+id+"/retry", ""); code != http.StatusConflict {
		t.Errorf("retrying an accepted submission: got %d, want 409", code)
	}
	if code, _ := v.api(http.MethodPost, "/v1/submissions/nope/retry", ""); code != http.StatusNotFound {
		t.Errorf("retrying an unknown id: got %d, want 404", code)
	}
	if code, body := v.api(http.MethodGet, "/v1/submissions?status=bogus", ""); code != 400 || body["error"] != "bad_request" {
		t.Errorf("unknown status: got %d %v, want 400 JSON", code, body)
	}
}

// TestListWithoutStatusShowsEveryStatus: no status means every status,
// newest first — not silently the failed ones.
func TestListWithoutStatusShowsEveryStatus(t *testing.T) {
	v := newEnv(t)
	failed := v.failedRecord(t)
	accepted := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`)
	var a map[string]string
	json.Unmarshal(accepted.Body.Bytes(), &a)

	code, body := v.api(http.MethodGet, "/v1/submissions", "")
	var got []string
	for _, r := range body["submissions"].([]any) {
		got = append(got, r.(map[string]any)["id"].(string))
	}
	if want := []string{a["id"], failed}; code != 200 || !slices.Equal(got, want) {
		t.Errorf("GET /v1/submissions: got %d %v, want 200 and %v (accepted, then the older failed one)", code, got, want)
	}
	if _, body := v.api(http.MethodGet, "/v1/submissions?status=failed", ""); len(body["submissions"].([]any)) != 1 {
		t.Errorf("status=failed: got %v, want the failed one only", body["submissions"])
	}
}
