package submission

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Origin is where a submission came in: "form:<form id>" for a website
// form, "hook:<source id>" for a webhook source. Deliveries are queued and
// waiting submissions counted per origin, so that a flood through one
// does not hold up the others (docs/FLOOD.md); the admin console groups
// its counts by origin too.
func (r *Record) Origin() string {
	if r.Source == "" || r.Source == "form" {
		return "form:" + r.Form
	}
	return "hook:" + r.Source
}

// IsWaiting reports whether a submission in status waits for delivery:
// accepted, delivering or retrying.
func IsWaiting(status string) bool {
	return status == StatusAccepted || status == StatusDelivering || status == StatusRetrying
}

// Waiting returns how many submissions of origin (Record.Origin) wait for
// delivery. The count changes in the same transaction as the statuses, so
// it is exact for every submission stored since the counter exists; those
// stored before it may take it below zero as they finish, which reads as 0.
// It implements flood.WaitingCounter.
func (s *Store) Waiting(ctx context.Context, origin string) (int64, error) {
	n, err := s.rdb.HGet(ctx, keyWaiting, origin).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("submission: waiting count of %s: %w", origin, err)
	}
	return max(n, 0), nil
}
