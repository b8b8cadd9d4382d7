package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/emulator"
)

// Several application users share the load by running a worker deployment
// each, with its own app registration: the workers take tasks from the
// same queues, each app's requests count against its own limits, and the
// leases and dedupe in Redis still make one lead per person, whichever app
// writes it.
func TestSeveralApplicationUsersShareTheLoad(t *testing.T) {
	t.Parallel()
	const secondApp, secondSecret = "5d7e9f10-2a3b-4c5d-8e6f-7a8b9c0d1e2f", "second-application-secret"
	s := startStack(t, options{config: "forms:" + leadForm("quick", "none"), workers: -1,
		env: map[string]string{"LEADBRIDGE_BATCH_SIZE": "1", "LEADBRIDGE_WORKER_CONCURRENCY": "4"}})
	// Each request takes 100 ms, so that neither worker drains the queue
	// before the other polls it.
	s.Emu.Configure(fmt.Sprintf(`{"latency_ms":100,"applications":[{"client_id":%q,"client_secret":%q}]}`, secondApp, secondSecret))
	s.StartWorker()
	s.StartWorkerWith(map[string]string{"AZURE_CLIENT_ID": secondApp, "AZURE_CLIENT_SECRET": secondSecret})

	const people = 40
	var ids []string
	for i := range people + 10 {
		p := i % people // the last ten are repeats of the first ten
		code, body := s.postJSON("quick", map[string]any{"email": fmt.Sprintf("shared%02d@example.com", p), "last_name": fmt.Sprintf("Shared %d", p)})
		if code != http.StatusAccepted {
			t.Fatalf("post %d: %d %v", i, code, body)
		}
		ids = append(ids, body["id"].(string))
	}
	for _, id := range ids {
		s.waitStatus(id, "delivered", 2*time.Minute)
	}

	leads := s.Emu.Rows("leads", "$select=emailaddress1")
	emails := map[string]int{}
	for _, l := range leads {
		emails[strings.ToLower(l["emailaddress1"].(string))]++
	}
	if len(leads) != people || len(emails) != people {
		t.Errorf("%d leads for %d emails, want %d of each", len(leads), len(emails), people)
	}
	writes := map[string]int{}
	for _, r := range s.Emu.Requests("") {
		if r.Method != http.MethodGet && r.Status < 300 {
			writes[r.AppID]++
		}
		if r.Status == http.StatusUnauthorized {
			t.Errorf("a request was refused its token: %+v", r)
		}
	}
	if writes[emulator.DefaultClientID] == 0 || writes[secondApp] == 0 {
		t.Errorf("writes by app: %v, want both applications to have written", writes)
	}
}
