package queue

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

func TestBackoffDoublesFromOneSecondToAMinuteWithJitter(t *testing.T) {
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{0, 500 * time.Millisecond, time.Second},
		{1, time.Second, 2 * time.Second},
		{5, 16 * time.Second, 32 * time.Second},
		{6, 30 * time.Second, time.Minute},
		{40, 30 * time.Second, time.Minute},
	} {
		for i := 0; i < 200; i++ {
			if d := Backoff(tc.n); d < tc.min || d > tc.max {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", tc.n, d, tc.min, tc.max)
			}
		}
	}
}

func TestEnqueueTwiceIsOneTask(t *testing.T) {
	r := testenv.StartRedis(t)
	q := NewClient(r.Client())
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := q.Enqueue(ctx, "abc"); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
	info, err := asynq.NewInspectorFromRedisClient(r.Client()).GetQueueInfo(Name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Pending != 1 {
		t.Errorf("pending tasks: got %d, want 1", info.Pending)
	}
	if err := q.Requeue(ctx, "abc"); err != nil {
		t.Fatalf("requeue: %v", err)
	}
	if ok, _ := q.Queued("abc"); !ok {
		t.Error("requeued task is not queued")
	}
}

func TestJanitorQueuesRecordsThatHaveNoTask(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	store := submission.NewStore(rdb, time.Hour)
	q := NewClient(rdb)
	ctx := context.Background()
	rec := &submission.Record{Form: "demo", Fields: map[string]string{"email": "a@b.co"}}
	if _, err := store.Create(ctx, rec); err != nil { // durable, but the API died before enqueueing
		t.Fatal(err)
	}
	j := &Janitor{Store: store, Queue: q, Log: slog.New(slog.DiscardHandler),
		StaleAfter: map[string]time.Duration{submission.StatusAccepted: -time.Second}}
	j.Sweep(ctx)
	if ok, err := q.Queued(rec.ID); !ok || err != nil {
		t.Errorf("after a sweep, queued = %v (%v), want true", ok, err)
	}
}

func TestFinishedSubmissionsAreNotDeliveredAgain(t *testing.T) {
	r := testenv.StartRedis(t)
	store := submission.NewStore(r.Client(), time.Hour)
	ctx := context.Background()
	rec := &submission.Record{Form: "demo"}
	store.Create(ctx, rec)
	store.Update(ctx, rec.ID, func(r *submission.Record) error { r.Status = submission.StatusDelivered; return nil })

	// No Deliverer: calling it would panic, so passing proves it was not called.
	h := &Handler{Store: store, Horizon: time.Hour, Log: slog.New(slog.DiscardHandler)}
	payload, _ := json.Marshal(Payload{ID: rec.ID})
	if err := h.ProcessTask(ctx, asynq.NewTask(TypeDeliver, payload)); err != nil {
		t.Errorf("redo of a delivered submission: got %v, want nil", err)
	}
	if err := h.ProcessTask(ctx, asynq.NewTask(TypeDeliver, []byte("{"))); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("malformed payload: got %v, want SkipRetry", err)
	}
}
