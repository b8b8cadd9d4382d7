package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/handlers"
	"github.com/leadbridge/leadbridge/health"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// TestWaitReplicasAnswers503UntilTheReplicaHasIt: with WaitReplicas, a
// submission the replica has not taken in within WaitTimeout is answered
// 503 (send again with the same key), not 202; the resend, once the
// replica is back, is answered 202 with the same submission.
func TestWaitReplicasAnswers503UntilTheReplicaHasIt(t *testing.T) {
	primary := testenv.StartRedis(t)
	replica := testenv.StartReplica(t, primary)
	rdb, err := config.Redis{URL: primary.URL}.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	fs, err := config.LoadForms("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	store := submission.NewStore(rdb, time.Hour)
	reg := metrics.Registry()
	e, err := handlers.New(handlers.Deps{
		Forms: fs, Store: store, Queue: queue.NewClient(rdb),
		Health:       health.New(func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, metrics.Handler(reg), slog.New(slog.DiscardHandler)),
		MaxBodyBytes: 64 << 10, Metrics: metrics.NewIntake(reg),
		WaitReplicas: 1, WaitTimeout: 2 * time.Second, // long enough for a loaded machine's replica; the lagging post waits it out
	})
	if err != nil {
		t.Fatal(err)
	}
	v := &env{e: e, rdb: rdb, redis: primary, store: store}

	ok := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`)
	if ok.Code != http.StatusAccepted {
		t.Fatalf("POST with the replica in sync: got %d %s, want 202", ok.Code, ok.Body.String())
	}
	var a map[string]string
	json.Unmarshal(ok.Body.Bytes(), &a)
	if n, err := replica.Client().Exists(context.Background(), "{lb}:rec:"+a["id"]).Result(); err != nil || n != 1 {
		t.Errorf("accepted record on the replica: got %d, %v; want it there", n, err)
	}

	body := `{"last_name":"Ng","email":"bo@example.com"}`
	replica.Pause()
	lagging := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-2")
	replica.Resume()
	var got struct {
		Retry bool   `json:"retry_with_same_idempotency_key"`
		Key   string `json:"idempotency_key"`
	}
	json.Unmarshal(lagging.Body.Bytes(), &got)
	if lagging.Code != http.StatusServiceUnavailable || !got.Retry || got.Key != "k-2" {
		t.Fatalf("POST with the replica stopped: got %d %s, want 503 asking for a resend with k-2", lagging.Code, lagging.Body.String())
	}
	again := v.post("/f/demo", "application/json", body, "Idempotency-Key", "k-2")
	if again.Code != http.StatusAccepted {
		t.Fatalf("resend with the replica back: got %d %s, want 202", again.Code, again.Body.String())
	}
	if n := v.records(t); n != 2 {
		t.Errorf("records: got %d, want 2", n)
	}
}

// TestIntakeIsOneRedisRoundTrip: a new submission to the demo form, with
// the defences cmd/api wires (rate limiter, memory guard, waiting cap), is
// one Redis round trip from POST to 202 — record, idempotency key, waiting
// count and cap, and the asynq task in one script — and that task is in
// asynq's queue by the time the 202 is written: an API that dies right
// after the answer has left nothing undone. With WaitReplicas the WAIT goes
// in the same pipeline.
func TestIntakeIsOneRedisRoundTrip(t *testing.T) {
	for _, replicas := range []int{0, 1} {
		t.Run(fmt.Sprintf("wait for %d replicas", replicas), func(t *testing.T) {
			t.Parallel()
			var n *atomic.Int32
			v := newEnvWith(t, envOptions{deps: func(d *handlers.Deps, rdb redis.UniversalClient) {
				d.Limiter, _ = flood.NewLimiter(rdb, flood.Options{Secret: []byte("test-secret-0123456789")})
				d.Memory, _ = flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{})
				d.RateLimitIP, d.WaitingCap = config.DefaultRateLimitIP, config.DefaultWaitingCap
				d.WaitReplicas, d.WaitTimeout = replicas, 5*time.Second
				n = testenv.CountRoundTrips(rdb)
			}})
			if replicas > 0 {
				testenv.StartReplica(t, v.redis)
			}
			// The first one loads the script and reads Redis's memory once.
			if rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"first@example.com"}`); rec.Code != http.StatusAccepted {
				t.Fatalf("first POST: %d %s", rec.Code, rec.Body.String())
			}
			n.Store(0)
			rec := v.post("/f/demo", "application/json", `{"last_name":"Lee","email":"ann@example.com"}`)
			trips := n.Load()
			if rec.Code != http.StatusAccepted {
				t.Fatalf("POST: %d %s", rec.Code, rec.Body.String())
			}
			if trips != 1 {
				t.Errorf("Redis round trips for one submission: %d, want 1", trips)
			}
			var a map[string]string
			json.Unmarshal(rec.Body.Bytes(), &a)
			info, err := asynq.NewInspectorFromRedisClient(v.rdb).GetTaskInfo(queue.FormQueue("demo"), a["id"])
			if err != nil || info.State != asynq.TaskStatePending {
				t.Errorf("task of the accepted submission: %v, %v; want pending", info, err)
			}
			if n, _ := v.store.Waiting(context.Background(), "form:demo"); n != 2 {
				t.Errorf("waiting count: %d, want 2", n)
			}
		})
	}
}
