package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
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

// TestAPIKilledRightAfterAcceptingLosesNothing: the API is SIGKILLed while
// submissions pour in. Every one it answered 202 already has its asynq task
// (record and task are written by one script before the answer), so no
// janitor is needed: a worker started afterwards delivers each, once.
func TestAPIKilledRightAfterAcceptingLosesNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{config: noContactForm, workers: -1})
	var (
		mu       sync.Mutex
		accepted []string
		kill     sync.Once
		wg       sync.WaitGroup
	)
	c := &http.Client{Timeout: 30 * time.Second}
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				body := fmt.Sprintf(`{"last_name":"Killed","email":"k%d.%d@example.com"}`, w, i)
				resp, err := c.Post(s.APIURL+"/f/quick", "application/json", strings.NewReader(body))
				if err != nil {
					return // the API is gone
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Errorf("post: %d %s", resp.StatusCode, data)
					return
				}
				var a map[string]string
				json.Unmarshal(data, &a)
				mu.Lock()
				accepted = append(accepted, a["id"])
				n := len(accepted)
				mu.Unlock()
				if n >= 100 {
					// SIGKILL with the other clients' posts in flight.
					kill.Do(s.API.Kill)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	mu.Lock()
	ids := slices.Clone(accepted)
	mu.Unlock()

	rdb := s.Redis.Client()
	ins := asynq.NewInspectorFromRedisClient(rdb)
	for _, id := range ids {
		info, err := ins.GetTaskInfo(queue.FormQueue("quick"), id)
		if err != nil || info.State != asynq.TaskStatePending {
			t.Errorf("submission %s, answered 202: task %v, %v; want pending", id, info, err)
		}
	}
	s.StartWorker()
	store := submission.NewStore(rdb, time.Hour)
	testenv.Eventually(t, 2*time.Minute, func() string {
		for _, id := range ids {
			r, err := store.Get(context.Background(), id)
			if err != nil {
				return err.Error()
			}
			if r.Status != submission.StatusDelivered {
				return id + " is " + r.Status
			}
		}
		return ""
	})
	t.Logf("%d submissions accepted before the API was killed, each delivered", len(ids))
}
