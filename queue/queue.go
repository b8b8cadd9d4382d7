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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/leadbridge/leadbridge/submission"
)

// TypeDeliver is the task that delivers one submission into Dataverse.
const TypeDeliver = "submission:deliver"

// Legacy is the one queue every delivery went to before there was a queue
// per origin. Workers still serve it, so that tasks queued by an older
// version are delivered.
const Legacy = "deliver"

// Name is Legacy under its earlier name: also the prefix every delivery
// queue's name starts with ("deliver:…"). A task of a submission is in
// QueueOf(record), not in Name.
const Name = Legacy

// QueueOf is the queue of a submission's deliveries: one per origin,
// "deliver:form:<form id>" or "deliver:hook:<source id>" (Record.Origin),
// so that asynq shares the workers between origins and a flood on one
// waits behind nobody else's leads (docs/FLOOD.md). It is the one place the
// name is made: the API's enqueue, a person's retry or release, and the
// janitor all ask it, and a record's name never changes (asynq's task ids
// are unique per queue, so a record under two names would be delivered
// twice).
func QueueOf(r *submission.Record) string { return Legacy + ":" + r.Origin() }

// FormQueue is the queue of a website form's submissions.
func FormQueue(form string) string { return QueueOf(&submission.Record{Form: form, Source: "form"}) }

// HookQueue is the queue of a webhook source's submissions.
func HookQueue(source string) string { return QueueOf(&submission.Record{Source: source}) }

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
	now func() time.Time
}

// NewClient returns a Client on rdb.
func NewClient(rdb redis.UniversalClient) *Client {
	return &Client{c: asynq.NewClientFromRedisClient(rdb), i: asynq.NewInspectorFromRedisClient(rdb), rdb: rdb, now: time.Now}
}

// Enqueue queues the delivery of submission r in its queue (QueueOf). The
// task id is the submission id, so enqueueing twice is harmless: the
// second is a no-op.
func (q *Client) Enqueue(ctx context.Context, r *submission.Record) error {
	data, _ := json.Marshal(Payload{ID: r.ID})
	_, err := q.c.EnqueueContext(ctx, asynq.NewTask(TypeDeliver, data),
		asynq.TaskID(r.ID), asynq.Queue(QueueOf(r)), asynq.MaxRetry(maxRetry), asynq.Timeout(TaskTimeout))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("queue: enqueue %s: %w", r.ID, err)
	}
	return nil
}

// Entry is the asynq task of submission r, as submission.Store.CreateWith
// writes it in the same Redis call as the record: exactly what Enqueue
// writes through asynq v0.26.0 (internal/rdb Enqueue and its enqueueCmd
// script: the task hash asynq:{<queue>}:t:<id> holding the encoded
// message, state "pending" and pending_since in Unix nanoseconds, made
// only if absent; the id pushed onto asynq:{<queue>}:pending; the queue's
// name added to asynq:queues). A test holds the two byte for byte, so an
// asynq upgrade that changes its layout fails it.
//
// It is nil on Redis Cluster: asynq's keys are in the queue's slot, not
// the record's ({lb}), and one script cannot write both. There the caller
// enqueues after the record is stored (Enqueue), and the worker's janitor
// queues a record whose task was lost in between.
func (q *Client) Entry(r *submission.Record) *submission.QueueEntry {
	if _, ok := q.rdb.(*redis.ClusterClient); ok {
		return nil
	}
	name := QueueOf(r)
	prefix := "asynq:{" + name + "}:"
	return &submission.QueueEntry{
		Key: prefix + "t:" + r.ID,
		Fields: []string{
			"msg", string(taskMessage(r.ID, name)),
			"state", "pending",
			"pending_since", strconv.FormatInt(q.now().UnixNano(), 10),
		},
		List:   prefix + "pending",
		Push:   r.ID,
		Set:    "asynq:queues",
		Member: name,
	}
}

// taskMessage is the protocol-buffer encoding of asynq's TaskMessage
// (internal/proto/asynq.proto) for the delivery of submission id in queue,
// with the options Enqueue gives: type, payload, id, queue, retry (maxRetry)
// and timeout (TaskTimeout, in seconds). Fields at their zero value are left
// out, and the rest written in field-number order, as proto.Marshal does.
func taskMessage(id, queue string) []byte {
	payload, _ := json.Marshal(Payload{ID: id})
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType) // type
	b = protowire.AppendString(b, TypeDeliver)
	b = protowire.AppendTag(b, 2, protowire.BytesType) // payload
	b = protowire.AppendBytes(b, payload)
	b = protowire.AppendTag(b, 3, protowire.BytesType) // id
	b = protowire.AppendString(b, id)
	b = protowire.AppendTag(b, 4, protowire.BytesType) // queue
	b = protowire.AppendString(b, queue)
	b = protowire.AppendTag(b, 5, protowire.VarintType) // retry
	b = protowire.AppendVarint(b, uint64(maxRetry))
	b = protowire.AppendTag(b, 8, protowire.VarintType) // timeout, seconds
	b = protowire.AppendVarint(b, uint64(TaskTimeout/time.Second))
	return b
}

// Requeue queues submission r again now, replacing any task asynq still
// keeps for it (retrying, archived, scheduled; in its queue, or in Legacy).
// Used to retry a failed submission or release a held one by hand.
func (q *Client) Requeue(ctx context.Context, r *submission.Record) error {
	for _, name := range []string{QueueOf(r), Legacy} {
		err := q.i.DeleteTask(name, r.ID)
		if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
			// An active task cannot be deleted: it is being delivered already.
			return fmt.Errorf("queue: requeue %s: %w", r.ID, err)
		}
	}
	return q.Enqueue(ctx, r)
}

// Queued reports whether asynq holds a task for submission r in any state,
// in its queue or in Legacy.
func (q *Client) Queued(r *submission.Record) (bool, error) {
	for _, name := range []string{QueueOf(r), Legacy} {
		_, err := q.i.GetTaskInfo(name, r.ID)
		switch {
		case err == nil:
			return true, nil
		case !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound):
			return false, err
		}
	}
	return false, nil
}

// Queues are the queues a worker serves: those of the given forms and
// webhook sources, Legacy, and every other delivery queue asynq knows of
// (a form removed or renamed since its tasks were queued: they drain).
// Sorted, each once.
func (q *Client) Queues(forms, sources []string) ([]string, error) {
	out := []string{Legacy}
	for _, f := range forms {
		out = append(out, FormQueue(f))
	}
	for _, s := range sources {
		out = append(out, HookQueue(s))
	}
	known, err := q.i.Queues()
	if err != nil {
		return nil, fmt.Errorf("queue: list queues: %w", err)
	}
	for _, k := range known {
		if strings.HasPrefix(k, Legacy+":") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Unserved lists the delivery queues asynq knows of that are not in served
// and hold tasks that wait (pending, scheduled or retrying): a form added
// to the API's configuration after the workers started, whose submissions
// wait until the workers restart with it.
func (q *Client) Unserved(served []string) ([]string, error) {
	known, err := q.i.Queues()
	if err != nil {
		return nil, fmt.Errorf("queue: list queues: %w", err)
	}
	var out []string
	for _, k := range known {
		if (k != Legacy && !strings.HasPrefix(k, Legacy+":")) || slices.Contains(served, k) {
			continue
		}
		info, err := q.i.GetQueueInfo(k)
		if err != nil {
			return nil, fmt.Errorf("queue: %s: %w", k, err)
		}
		if info.Pending+info.Scheduled+info.Retry > 0 {
			out = append(out, k)
		}
	}
	return out, nil
}
