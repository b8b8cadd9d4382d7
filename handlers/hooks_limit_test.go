package handlers_test

import (
	"net/http"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/internal/hooktest"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// A webhook source's leads queue in a queue of its own (deliver:hook:<id>),
// and past the waiting cap a verified delivery is answered 503 with
// Retry-After, which platforms retry, instead of growing Redis.
func TestHookWaitingCapAndQueue(t *testing.T) {
	v := newHookEnvWith(t, hookOptions{waitingCap: 1})
	k := hooktest.Kinds()[0]
	first := v.oneLead(t, v.deliver(t, k.New(base, ada("7001"), k.Secrets[0], v.clock.Now())), submission.StatusAccepted)
	info, err := asynq.NewInspectorFromRedisClient(v.rdb).GetTaskInfo(queue.HookQueue(k.Source), first.ID)
	if err != nil || info.Queue != "deliver:hook:"+k.Source {
		t.Errorf("the lead's task: %v, %v; want it in deliver:hook:%s", info, err, k.Source)
	}
	rec := v.deliver(t, k.New(base, ada("7002"), k.Secrets[0], v.clock.Now()))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("past the waiting cap: %d Retry-After %q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if n := v.records(t); n != 1 {
		t.Errorf("records: %d, want 1", n)
	}
}
