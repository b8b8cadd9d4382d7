package queue

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

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
