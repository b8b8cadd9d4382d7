package queue

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

func TestPausePausesEveryDeliveryQueue(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	rdb := r.Client()
	q := NewClient(rdb)
	ins := asynq.NewInspectorFromRedisClient(rdb)
	ctx := context.Background()
	if err := q.Enqueue(ctx, &submission.Record{ID: "a", Form: "demo"}); err != nil {
		t.Fatal(err)
	}
	// Another program's queue, and one per form as issue 8 names them.
	c := asynq.NewClientFromRedisClient(rdb)
	for _, name := range []string{"mail", Name + ":form:pricing"} {
		if _, err := c.Enqueue(asynq.NewTask("x", nil), asynq.Queue(name)); err != nil {
			t.Fatal(err)
		}
	}
	paused := func(name string) bool {
		t.Helper()
		info, err := ins.GetQueueInfo(name)
		if err != nil {
			t.Fatal(err)
		}
		return info.Paused
	}

	if err := q.Pause(ctx, "ann"); err != nil {
		t.Fatal(err)
	}
	st, err := q.Paused(ctx)
	if err != nil || !st.Paused || st.By != "ann" || st.At.IsZero() {
		t.Fatalf("Paused = %+v, %v; want paused by ann", st, err)
	}
	if !paused(FormQueue("demo")) || !paused(Name+":form:pricing") || paused("mail") {
		t.Errorf("after Pause: deliver:form:demo %v, deliver:form:pricing %v, mail %v; want the delivery queues only",
			paused(FormQueue("demo")), paused(Name+":form:pricing"), paused("mail"))
	}
	if err := q.Pause(ctx, "bo"); err != nil {
		t.Errorf("a second Pause: %v", err)
	}
	if st, _ := q.Paused(ctx); st.By != "ann" {
		t.Errorf("a second Pause changed who paused to %q", st.By)
	}

	// A queue the worker starts serving later is paused when it syncs;
	// one resumed by other means is paused again.
	if err := ins.UnpauseQueue(FormQueue("demo")); err != nil {
		t.Fatal(err)
	}
	on, err := q.SyncPause(ctx, []string{Name + ":hook:hubspot"})
	if err != nil || !on {
		t.Fatalf("SyncPause = %v, %v", on, err)
	}
	if !paused(FormQueue("demo")) {
		t.Error("SyncPause left the queue resumed by hand running")
	}

	if err := q.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := q.Paused(ctx); st.Paused {
		t.Error("still paused after Resume")
	}
	if paused(FormQueue("demo")) || paused(Name+":form:pricing") {
		t.Error("a delivery queue is still paused after Resume")
	}
	if err := q.Resume(ctx); err != nil {
		t.Errorf("a second Resume: %v", err)
	}
}
