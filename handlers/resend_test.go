package handlers_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/queue"
)

// TestResendQueuesAStoredSubmissionWithoutATask: a resend (same
// Idempotency-Key) of a submission whose record survived but whose task did
// not — Redis failed over, or went down, between the two writes — queues it
// again at once instead of leaving it to the janitor.
func TestResendQueuesAStoredSubmissionWithoutATask(t *testing.T) {
	v := newEnv(t)
	body := `{"last_name":"Lee","email":"ann@example.com"}`
	first := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-1")
	if first.Code != http.StatusAccepted {
		t.Fatalf("POST: got %d %s, want 202", first.Code, first.Body.String())
	}
	var a map[string]string
	json.Unmarshal(first.Body.Bytes(), &a)
	if err := asynq.NewInspectorFromRedisClient(v.rdb).DeleteTask(queue.FormQueue("demo"), a["id"]); err != nil {
		t.Fatalf("delete the task: %v", err)
	}
	if n := v.queued(t); n != 0 {
		t.Fatalf("tasks after deleting it: got %d, want 0", n)
	}
	again := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-1")
	if again.Code != http.StatusAccepted {
		t.Fatalf("resend: got %d %s, want 202", again.Code, again.Body.String())
	}
	if n := v.queued(t); n != 1 {
		t.Errorf("tasks after the resend: got %d, want 1", n)
	}
	if n := v.records(t); n != 1 {
		t.Errorf("records: got %d, want 1", n)
	}
}
