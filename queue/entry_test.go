package queue

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/submission"
)

// TestEntryIsWhatAsynqEnqueues holds Entry to asynq's own Enqueue, byte for
// byte: the same submission enqueued through asynq.Client, and then (in an
// emptied Redis) stored with its Entry by the record store's script, leaves
// the same task hash, pending list and set of queues.
func TestEntryIsWhatAsynqEnqueues(t *testing.T) {
	t.Parallel()
	rdb := testenv.StartRedis(t).Client()
	ctx := context.Background()
	q := NewClient(rdb)
	for _, rec := range []*submission.Record{
		{ID: "0f8fad5bd9cb469fa16570867728950e", Form: "contact-us", Source: "form"},
		{ID: "hook-id", Form: "contact-us", Source: "hubspot"},
	} {
		name := QueueOf(rec)
		snapshot := func() (map[string]string, []string, []string) {
			t.Helper()
			h, err := rdb.HGetAll(ctx, "asynq:{"+name+"}:t:"+rec.ID).Result()
			if err != nil {
				t.Fatal(err)
			}
			pending, _ := rdb.LRange(ctx, "asynq:{"+name+"}:pending", 0, -1).Result()
			queues, _ := rdb.SMembers(ctx, "asynq:queues").Result()
			return h, pending, queues
		}
		if err := q.Enqueue(ctx, rec); err != nil {
			t.Fatal(err)
		}
		wantHash, wantPending, wantQueues := snapshot()
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		store := submission.NewStore(rdb, time.Hour)
		c, err := store.CreateWith(ctx, &submission.Record{ID: rec.ID, Form: rec.Form, Source: rec.Source}, submission.CreateOptions{Entry: q.Entry})
		if err != nil || !c.Queued {
			t.Fatalf("CreateWith: %+v, %v", c, err)
		}
		gotHash, gotPending, gotQueues := snapshot()
		if got, want := slices.Sorted(maps.Keys(gotHash)), slices.Sorted(maps.Keys(wantHash)); !slices.Equal(got, want) {
			t.Errorf("%s: task hash fields %v, asynq writes %v", name, got, want)
		}
		if gotHash["msg"] != wantHash["msg"] {
			t.Errorf("%s: task message\n got  %x\n want %x (asynq's)", name, gotHash["msg"], wantHash["msg"])
		}
		if gotHash["state"] != wantHash["state"] {
			t.Errorf("%s: state %q, asynq writes %q", name, gotHash["state"], wantHash["state"])
		}
		if ns, err := strconv.ParseInt(gotHash["pending_since"], 10, 64); err != nil || time.Since(time.Unix(0, ns)) > time.Hour || time.Since(time.Unix(0, ns)) < 0 {
			t.Errorf("%s: pending_since %q is not the time of the write in Unix nanoseconds", name, gotHash["pending_since"])
		}
		if !slices.Equal(gotPending, wantPending) || !slices.Equal(gotQueues, wantQueues) {
			t.Errorf("%s: pending %v and queues %v, asynq writes %v and %v", name, gotPending, gotQueues, wantPending, wantQueues)
		}
		if err := rdb.FlushDB(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEntryIsDeliveredByAsynq: a task written with its record is what an
// asynq server runs, with the options Enqueue would have given it.
func TestEntryIsDeliveredByAsynq(t *testing.T) {
	t.Parallel()
	rdb := testenv.StartRedis(t).Client()
	ctx := context.Background()
	q := NewClient(rdb)
	store := submission.NewStore(rdb, time.Hour)
	rec := &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "a@example.com"}}
	if c, err := store.CreateWith(ctx, rec, submission.CreateOptions{Entry: q.Entry}); err != nil || !c.Queued {
		t.Fatalf("CreateWith: %+v, %v", c, err)
	}
	info, err := asynq.NewInspectorFromRedisClient(rdb).GetTaskInfo(QueueOf(rec), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != asynq.TaskStatePending || info.Type != TypeDeliver || info.MaxRetry != maxRetry || info.Timeout != TaskTimeout {
		t.Errorf("task: state %v, type %q, max retry %d, timeout %v; want pending, %q, %d, %v",
			info.State, info.Type, info.MaxRetry, info.Timeout, TypeDeliver, maxRetry, TaskTimeout)
	}
	if queued, err := q.Queued(rec); !queued || err != nil {
		t.Errorf("Queued: %v, %v; want true", queued, err)
	}

	got := make(chan string, 1)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 1, Queues: map[string]int{QueueOf(rec): 1},
		LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeDeliver, func(ctx context.Context, task *asynq.Task) error {
		got <- string(task.Payload())
		return nil
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	select {
	case p := <-got:
		if p != `{"id":"`+rec.ID+`"}` {
			t.Errorf("payload %s, want the submission's id", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("asynq did not run the task within 30 s")
	}
}

// TestNoEntryOnCluster: on Redis Cluster the queue's keys are in another
// slot than the record's, so there is no entry and the caller enqueues.
func TestNoEntryOnCluster(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t)
	if e := NewClient(c.Client()).Entry(&submission.Record{ID: "x", Form: "demo", Source: "form"}); e != nil {
		t.Errorf("Entry on a cluster: %+v, want nil", e)
	}
}
