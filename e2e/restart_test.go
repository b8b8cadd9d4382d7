package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// TestRedisCrashLosesNoAcceptedSubmission: submissions accepted while no
// worker runs survive a SIGKILL of Redis (AOF), and so do ones being
// delivered when Redis dies again.
func TestRedisCrashLosesNoAcceptedSubmission(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{config: noContactForm, workers: -1})
	queued := s.submitMany("quick", 30, 30, 10)
	s.Redis.Restart() // SIGKILL, then start on the same AOF

	s.StartWorker()
	var more []string
	for i := 0; i < 30; i++ {
		code, body := s.postJSON("quick", map[string]any{"last_name": "After", "email": fmt.Sprintf("after%d@example.com", i)})
		if code != 202 {
			// The API's pool may still hold a dead connection: the client is
			// told to retry (503), and does.
			testenv.Eventually(t, 10*time.Second, func() string {
				code, body = s.postJSON("quick", map[string]any{"last_name": "After", "email": fmt.Sprintf("after%d@example.com", i)})
				if code != 202 {
					return fmt.Sprintf("post after restart: %d %v", code, body)
				}
				return ""
			})
		}
		more = append(more, body["id"].(string))
		if i == 15 {
			s.Redis.Restart() // again, with deliveries in flight
		}
	}
	s.waitAllDelivered(append(queued, more...), 3*time.Minute)
	s.checkOneLeadPerPerson(60, false)
}

// TestSIGTERMHandsBackWork: a worker stopped with SIGTERM mid-run finishes
// or hands back its tasks; the other worker delivers the rest at once.
func TestSIGTERMHandsBackWork(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{workers: 2, emulator: `{"latency_ms":30}`, env: map[string]string{"LEADBRIDGE_WORKER_CONCURRENCY": "5"}})
	ids := s.submitMany("demo", 100, 50, 20)
	testenv.Eventually(t, time.Minute, func() string {
		if n := len(s.list("delivered")); n < 10 {
			return fmt.Sprintf("%d delivered", n)
		}
		return ""
	})
	w := s.Workers[0]
	stopped := make(chan struct{})
	go func() { w.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(90 * time.Second):
		t.Fatal("worker did not stop within 90 s of SIGTERM")
	}
	if ps := w.ExitState(); ps == nil || !ps.Exited() || ps.ExitCode() != 0 {
		t.Errorf("worker exit after SIGTERM: got %v, want a clean exit 0", ps)
	}
	s.waitAllDelivered(ids, 2*time.Minute)
	s.checkOneLeadPerPerson(50, true)
}
