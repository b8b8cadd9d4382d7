// Package queue owns leadbridge's asynq task as the API sees it: its type,
// its payload and how it is enqueued. It links no Dataverse code: the
// worker's side (the handler that delivers, its retry policy, the janitor)
// lives in package delivery.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// TypeDeliver is the task that delivers one submission into Dataverse.
const TypeDeliver = "submission:deliver"

// Name is the queue leadbridge's tasks live in; a dedicated queue, so that
// pausing it for a CRM outage stops nothing else.
const Name = "deliver"

// TaskTimeout bounds one delivery attempt, throttle waits included.
const TaskTimeout = 5 * time.Minute

// maxRetry is effectively "until the horizon": the worker decides when to
// give up (the configured retry horizon), not asynq's retry count.
const maxRetry = 1 << 20

// Payload is the task's body: only the id — the record in Redis is the truth,
// so an edited submission is delivered as edited.
type Payload struct {
	ID string `json:"id"`
}

// Client enqueues deliveries.
type Client struct {
	c   *asynq.Client
	i   *asynq.Inspector
	rdb redis.UniversalClient
}

// NewClient returns a Client on rdb.
func NewClient(rdb redis.UniversalClient) *Client {
	return &Client{c: asynq.NewClientFromRedisClient(rdb), i: asynq.NewInspectorFromRedisClient(rdb), rdb: rdb}
}

// Enqueue queues the delivery of submission id. The task id is the
// submission id, so enqueueing twice is harmless: the second is a no-op.
func (q *Client) Enqueue(ctx context.Context, id string) error {
	data, _ := json.Marshal(Payload{ID: id})
	_, err := q.c.EnqueueContext(ctx, asynq.NewTask(TypeDeliver, data),
		asynq.TaskID(id), asynq.Queue(Name), asynq.MaxRetry(maxRetry), asynq.Timeout(TaskTimeout))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: enqueue %s: %w", id, err)
	}
	return nil
}

// Requeue queues submission id again now, replacing any task asynq still
// keeps for it (retrying, archived, scheduled). Used to retry a failed
// submission by hand.
func (q *Client) Requeue(ctx context.Context, id string) error {
	err := q.i.DeleteTask(Name, id)
	if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		// An active task cannot be deleted: it is being delivered already.
		return fmt.Errorf("queue: requeue %s: %w", id, err)
	}
	return q.Enqueue(ctx, id)
}

// Queued reports whether asynq holds a task for submission id in any state.
func (q *Client) Queued(id string) (bool, error) {
	_, err := q.i.GetTaskInfo(Name, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return false, nil
	}
	return err == nil, err
}
