// Package queue owns leadbridge's asynq task: its type and payload, how the
// API enqueues it, and the worker's handler that delivers a submission and
// records the outcome on the submission's record.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// TypeDeliver is the task that delivers one submission into Dataverse.
const TypeDeliver = "submission:deliver"

// Name is the queue leadbridge's tasks live in; a dedicated queue, so that
// pausing it for a CRM outage stops nothing else.
const Name = "deliver"

// taskTimeout bounds one delivery attempt, throttle waits included.
const taskTimeout = 5 * time.Minute

// maxRetry is effectively "until the horizon": the handler decides when to
// give up (the configured retry horizon), not asynq's retry count.
const maxRetry = 1 << 20

// Payload is the task's body: only the id — the record in Redis is the truth,
// so an edited submission is delivered as edited.
type Payload struct {
	ID string `json:"id"`
}

// Client enqueues deliveries.
type Client struct {
	c *asynq.Client
	i *asynq.Inspector
}

// NewClient returns a Client on rdb.
func NewClient(rdb redis.UniversalClient) *Client {
	return &Client{c: asynq.NewClientFromRedisClient(rdb), i: asynq.NewInspectorFromRedisClient(rdb)}
}

// Enqueue queues the delivery of submission id. The task id is the
// submission id, so enqueueing twice is harmless: the second is a no-op.
func (q *Client) Enqueue(ctx context.Context, id string) error {
	data, _ := json.Marshal(Payload{ID: id})
	_, err := q.c.EnqueueContext(ctx, asynq.NewTask(TypeDeliver, data),
		asynq.TaskID(id), asynq.Queue(Name), asynq.MaxRetry(maxRetry), asynq.Timeout(taskTimeout))
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

// RetryError asks asynq to run the task again after After. A throttled
// retry is not counted as a failure.
type RetryError struct {
	After     time.Duration
	Err       error
	Throttled bool
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("retry in %s: %v", e.After.Round(time.Millisecond), e.Err)
}
func (e *RetryError) Unwrap() error { return e.Err }

// Backoff is the wait before retry n (0-based) of a transient failure: 1 s
// doubling to 60 s, with jitter so that a recovered CRM is not hit by every
// worker in the same second.
func Backoff(n int) time.Duration {
	d := time.Minute
	if n < 6 {
		d = time.Second << n
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// ServerConfig is the asynq configuration for leadbridge workers.
func ServerConfig(concurrency int, errorHandler asynq.ErrorHandler, logger asynq.Logger) asynq.Config {
	return asynq.Config{
		Concurrency: concurrency,
		Queues:      map[string]int{Name: 1},
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			var re *RetryError
			if errors.As(err, &re) {
				return re.After
			}
			return Backoff(n)
		},
		// Retries are governed by the retry horizon, not by counts; being
		// throttled is not a failure (it keeps the backoff from growing).
		IsFailure: func(err error) bool {
			var re *RetryError
			return !errors.As(err, &re) || !re.Throttled
		},
		ErrorHandler:             errorHandler,
		Logger:                   logger,
		LogLevel:                 asynq.WarnLevel,
		ShutdownTimeout:          40 * time.Second,
		DelayedTaskCheckInterval: time.Second,
		TaskCheckInterval:        200 * time.Millisecond,
	}
}
