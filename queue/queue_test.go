package queue

import (
	"context"
	"slices"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

func TestQueueOf(t *testing.T) {
	for _, tt := range []struct {
		r    submission.Record
		want string
	}{
		{submission.Record{Form: "contact-us", Source: "form"}, "deliver:form:contact-us"},
		{submission.Record{Form: "contact-us"}, "deliver:form:contact-us"},
		{submission.Record{Form: "contact-us", Source: "hubspot"}, "deliver:hook:hubspot"},
	} {
		if got := QueueOf(&tt.r); got != tt.want {
			t.Errorf("QueueOf(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
	if FormQueue("a") != "deliver:form:a" || HookQueue("b") != "deliver:hook:b" {
		t.Errorf("FormQueue, HookQueue = %q, %q", FormQueue("a"), HookQueue("b"))
	}
}

func TestEnqueueTwiceIsOneTask(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	q := NewClient(r.Client())
	ctx := context.Background()
	rec := &submission.Record{ID: "abc", Form: "f", Source: "form"}
	for i := 0; i < 2; i++ {
		if err := q.Enqueue(ctx, rec); err != nil {
			t.Fatalf("enqueue %d: %v", i, err)
		}
	}
	ins := asynq.NewInspectorFromRedisClient(r.Client())
	info, err := ins.GetQueueInfo("deliver:form:f")
	if err != nil {
		t.Fatal(err)
	}
	if info.Pending != 1 {
		t.Errorf("pending tasks: got %d, want 1", info.Pending)
	}
	if err := q.Requeue(ctx, rec); err != nil {
		t.Fatalf("requeue: %v", err)
	}
	if ok, _ := q.Queued(rec); !ok {
		t.Error("requeued task is not queued")
	}
	if ok, _ := q.Queued(&submission.Record{ID: "abc", Form: "g"}); ok {
		t.Error("a task of form f is taken for one of form g")
	}
}

// A task an older version queued in the one "deliver" queue counts as
// queued, and a requeue moves it to its own queue instead of doubling it.
func TestLegacyQueue(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	q := NewClient(r.Client())
	ctx := context.Background()
	if _, err := q.c.EnqueueContext(ctx, asynq.NewTask(TypeDeliver, []byte(`{"id":"old"}`)), asynq.TaskID("old"), asynq.Queue(Legacy)); err != nil {
		t.Fatal(err)
	}
	rec := &submission.Record{ID: "old", Form: "f"}
	if ok, err := q.Queued(rec); !ok || err != nil {
		t.Errorf("Queued of a legacy task: %v, %v; want true", ok, err)
	}
	if err := q.Requeue(ctx, rec); err != nil {
		t.Fatal(err)
	}
	ins := asynq.NewInspectorFromRedisClient(r.Client())
	if info, _ := ins.GetQueueInfo(Legacy); info.Size != 0 {
		t.Errorf("legacy queue after the requeue: %d tasks, want 0", info.Size)
	}
	if err := q.Enqueue(ctx, &submission.Record{ID: "x", Form: "removed"}); err != nil {
		t.Fatal(err)
	}
	got, err := q.Queues([]string{"f", "g"}, []string{"hubspot"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"deliver", "deliver:form:f", "deliver:form:g", "deliver:form:removed", "deliver:hook:hubspot"}
	if !slices.Equal(got, want) {
		t.Errorf("Queues = %v, want %v", got, want)
	}
	un, err := q.Unserved([]string{"deliver", "deliver:form:f"})
	if err != nil || !slices.Equal(un, []string{"deliver:form:removed"}) {
		t.Errorf("Unserved = %v, %v; want [deliver:form:removed] (f's queue is served, and empty)", un, err)
	}
}
