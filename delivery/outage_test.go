package delivery

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/queue"
)

// TestHoldWhileRedisDown: a task's end is handed back to asynq only once
// Redis answers again, with the handler's own result; when Redis stays
// away, after the wait.
func TestHoldWhileRedisDown(t *testing.T) {
	handlerErr := errors.New("retry in 1s: redis down")
	handler := asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return handlerErr })
	task := asynq.NewTask("t", nil)

	t.Run("until Redis answers", func(t *testing.T) {
		pings := 0
		ping := func(context.Context) error {
			pings++
			if pings < 4 {
				return errors.New("connection refused")
			}
			return nil
		}
		err := HoldWhileRedisDown(ping, time.Minute)(handler).ProcessTask(context.Background(), task)
		if !errors.Is(err, handlerErr) {
			t.Errorf("error: got %v, want the handler's", err)
		}
		if pings != 4 {
			t.Errorf("pings: got %d, want 4 (until the first answer)", pings)
		}
	})
	t.Run("no longer than the wait", func(t *testing.T) {
		pings := 0
		ping := func(context.Context) error { pings++; return errors.New("connection refused") }
		err := HoldWhileRedisDown(ping, 200*time.Millisecond)(handler).ProcessTask(context.Background(), task)
		if !errors.Is(err, handlerErr) || pings < 2 {
			t.Errorf("got %v after %d pings, want the handler's error after a few", err, pings)
		}
	})
	t.Run("a healthy Redis costs one ping", func(t *testing.T) {
		pings := 0
		ping := func(context.Context) error { pings++; return nil }
		ok := asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })
		if err := HoldWhileRedisDown(ping, time.Minute)(ok).ProcessTask(context.Background(), task); err != nil || pings != 1 {
			t.Errorf("got %v after %d pings, want nil after 1", err, pings)
		}
	})
}

// TestPingRedisAsksEveryClusterPrimary: on Redis Cluster the probe fails
// while any primary is down — the one holding the queue need not be the
// one a plain PING reaches.
func TestPingRedisAsksEveryClusterPrimary(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t)
	ping := PingRedis(c.Client())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ping(ctx); err != nil {
		t.Fatalf("ping with every primary up: %v", err)
	}
	n := c.NodeFor("asynq:{" + queue.FormQueue("demo") + "}:pending")
	n.Kill()
	for i := 0; i < 10; i++ { // a plain PING would reach another primary now and then
		if err := ping(ctx); err == nil {
			t.Fatalf("ping with the queue's primary down: got nil, want an error")
		}
	}
	n.Start()
	c.WaitOK()
	if err := ping(ctx); err != nil {
		t.Errorf("ping with every primary back: %v", err)
	}
}
