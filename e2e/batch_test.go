package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Batched delivery, logged at debug level, with one row Dataverse refuses
// (a last name longer than the org allows): the others of its batch are
// delivered, it alone fails with Dataverse's error, and neither the
// worker's nor the api's log holds an email or a name.
func TestBatchedDeliveryFailsOnlyTheBadRowAndLogsNoPersonalData(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{config: "forms:" + leadForm("linked", "link"), workers: -1, env: map[string]string{"LEADBRIDGE_LOG_LEVEL": "debug"}})
	s.Emu.Configure(`{"max_lengths":{"leads":{"lastname":12}}}`)
	var ids []string
	bad := ""
	for i := range 30 {
		last := fmt.Sprintf("Surname%02d", i%10)
		if i == 7 {
			last = "Verylongsurname"
		}
		code, body := s.postJSON("linked", map[string]any{"last_name": last, "first_name": "Given", "email": fmt.Sprintf("secret.person%02d@example.com", i%10+i/20*100)})
		if code != http.StatusAccepted {
			t.Fatalf("post %d: %d %v", i, code, body)
		}
		if i == 7 {
			bad = body["id"].(string)
			continue
		}
		ids = append(ids, body["id"].(string))
	}
	s.StartWorker() // the 30 are waiting: they are taken in batches
	rec := s.waitStatus(bad, "failed", time.Minute)
	if le, _ := rec["last_error"].(map[string]any); le["category"] != "invalid_data" || le["status"] != float64(400) {
		t.Errorf("the bad row's error: %v, want invalid_data, 400", rec["last_error"])
	}
	waitEachDelivered(s, ids)
	logs := s.Workers[0].Output() + s.API.Output()
	if !strings.Contains(logs, "batch delivered") {
		t.Error("the worker logged no batch: were the submissions batched?")
	}
	for _, secret := range []string{"secret.person", "example.com", "Surname", "Verylongsurname", "Given"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a log holds %q", secret)
		}
	}
}

// waitEachDelivered waits until every id is delivered.
func waitEachDelivered(s *stack, ids []string) {
	s.t.Helper()
	for _, id := range ids {
		s.waitStatus(id, "delivered", time.Minute)
	}
}
