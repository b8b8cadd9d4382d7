package queue

import (
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/submission"
)

// Forget deletes every task asynq keeps for submission r — waiting,
// scheduled, retrying or archived, in its queue or in Legacy — with its
// payload and its last error, which may quote Dataverse's message about the
// person. It reports how many it deleted, and whether a worker is running
// one right now (asynq cannot delete a running task: it ends by itself
// once its record is gone, as a redo whose record is missing does).
func (q *Client) Forget(r *submission.Record) (deleted int, active bool, err error) {
	for _, name := range []string{QueueOf(r), Legacy} {
		info, err := q.i.GetTaskInfo(name, r.ID)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			continue
		case err != nil:
			return deleted, active, fmt.Errorf("queue: forget %s: %w", r.ID, err)
		case info.State == asynq.TaskStateActive:
			active = true
			continue
		}
		err = q.i.DeleteTask(name, r.ID)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		case err != nil:
			return deleted, active, fmt.Errorf("queue: forget %s: %w", r.ID, err)
		default:
			deleted++
		}
	}
	return deleted, active, nil
}

// Holds reports how many tasks asynq keeps for submission r (Forget's count
// without deleting them, for a dry run).
func (q *Client) Holds(r *submission.Record) (int, error) {
	n := 0
	for _, name := range []string{QueueOf(r), Legacy} {
		_, err := q.i.GetTaskInfo(name, r.ID)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		case err != nil:
			return n, fmt.Errorf("queue: %s: %w", r.ID, err)
		default:
			n++
		}
	}
	return n, nil
}
