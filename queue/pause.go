package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pausing delivery (e.g. during CRM maintenance) is one leadbridge-level
// flag in Redis, the truth every program reads: Pause sets it and pauses
// every delivery queue asynq knows; workers re-apply it (SyncPause) to
// the queues they serve, so that a queue made after the pause (a form
// added, a first submission of a source) is paused too, and their task
// handler checks it before each delivery as a last guard. Queues are
// recognised by name (IsDeliveryQueue), so this holds however many
// delivery queues there are.
const keyPaused = "lb:delivery:paused" // JSON PauseState while paused

// PauseState says who paused delivery and when.
type PauseState struct {
	Paused bool      `json:"-"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// IsDeliveryQueue reports whether an asynq queue holds deliveries: the
// queue Name, and any queue named Name + ":…" (one per form or source).
func IsDeliveryQueue(q string) bool { return q == Name || strings.HasPrefix(q, Name+":") }

// Pause stops delivery for every worker until Resume: the flag first (the
// truth), then asynq's pause on every delivery queue it knows. Deliveries
// already running finish.
func (q *Client) Pause(ctx context.Context, by string) error {
	data, _ := json.Marshal(PauseState{By: by, At: time.Now().UTC()})
	if err := q.rdb.SetNX(ctx, keyPaused, data, 0).Err(); err != nil {
		return fmt.Errorf("queue: pause: %w", err)
	}
	_, err := q.SyncPause(ctx, nil)
	return err
}

// Resume lets deliveries run again.
func (q *Client) Resume(ctx context.Context) error {
	if err := q.rdb.Del(ctx, keyPaused).Err(); err != nil {
		return fmt.Errorf("queue: resume: %w", err)
	}
	_, err := q.SyncPause(ctx, nil)
	return err
}

// Paused reads the flag.
func (q *Client) Paused(ctx context.Context) (PauseState, error) {
	data, err := q.rdb.Get(ctx, keyPaused).Bytes()
	if errors.Is(err, redis.Nil) {
		return PauseState{}, nil
	}
	if err != nil {
		return PauseState{}, fmt.Errorf("queue: paused: %w", err)
	}
	var st PauseState
	_ = json.Unmarshal(data, &st) // a flag that does not decode still pauses
	st.Paused = true
	return st, nil
}

// SyncPause makes asynq's pause of every delivery queue — those asynq
// lists and those in served (a worker's own) — match the flag, and reports
// the flag. Workers call it now and then; a queue paused or resumed by
// other means (asynqmon) is set back to what the flag says.
func (q *Client) SyncPause(ctx context.Context, served []string) (bool, error) {
	st, err := q.Paused(ctx)
	if err != nil {
		return false, err
	}
	known, err := q.i.Queues() // asynq's call takes no context; its socket timeouts bound it
	if err != nil {
		return st.Paused, fmt.Errorf("queue: list queues: %w", err)
	}
	var errs []error
	for _, name := range slices.Compact(slices.Sorted(slices.Values(append(known, served...)))) {
		if !IsDeliveryQueue(name) {
			continue
		}
		// Pausing a paused queue, or resuming a running one, is an error
		// that says so; the state is what was asked either way.
		if st.Paused {
			if err := q.i.PauseQueue(name); err != nil && !strings.Contains(err.Error(), "already paused") {
				errs = append(errs, err)
			}
		} else if err := q.i.UnpauseQueue(name); err != nil && !strings.Contains(err.Error(), "not paused") {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return st.Paused, fmt.Errorf("queue: sync pause: %w", err)
	}
	return st.Paused, nil
}
