package delivery

import (
	"context"
	"log/slog"
	"time"

	"github.com/leadbridge/leadbridge/erase"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// Janitor repairs what a crash can leave behind and applies retention: it
// queues submissions that were made durable but never reached the queue,
// and trims expired index entries.
type Janitor struct {
	Store      *submission.Store
	Queue      *queue.Client
	Log        *slog.Logger
	StaleAfter map[string]time.Duration // nil = StaleAfter()
	// Served are the queues this worker serves; a delivery queue with
	// waiting tasks that is not among them is logged (restart the workers
	// with the API's configuration). nil: not checked.
	Served []string
	// Retention deletes failed and held submissions and audit entries past
	// their time (erase.Retention); nil: kept until a person acts.
	Retention *erase.Retention
}

// Run sweeps every interval until ctx ends.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		j.Sweep(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// StaleAfter is how long a record may sit in a status before the janitor
// checks that asynq still holds its task. Retries wait at most a minute
// (throttled ones at most crm.MaxRetryAfter) and an attempt is bounded by
// queue.TaskTimeout, so these are generous.
func StaleAfter() map[string]time.Duration {
	return map[string]time.Duration{
		submission.StatusAccepted:   2 * time.Minute,
		submission.StatusRetrying:   15 * time.Minute,
		submission.StatusDelivering: queue.TaskTimeout + 5*time.Minute,
	}
}

// Sweep does one pass.
func (j *Janitor) Sweep(ctx context.Context) {
	stale := j.StaleAfter
	if stale == nil {
		stale = StaleAfter()
	}
	for status, age := range stale {
		ids, err := j.Store.Stale(ctx, status, age, 500)
		if err != nil {
			j.Log.Warn("janitor: list stale", "status", status, "err", err)
			continue
		}
		for _, id := range ids {
			rec, err := j.Store.Get(ctx, id)
			if err != nil {
				continue // expired, or Redis trouble: the next sweep sees
			}
			queued, err := j.Queue.Queued(rec)
			if err != nil || queued {
				continue
			}
			if err := j.Queue.Enqueue(ctx, rec); err != nil {
				j.Log.Warn("janitor: enqueue", "id", id, "err", err)
				continue
			}
			j.Log.Warn("janitor: queued a submission that had no task", "id", id, "status", status, "queue", queue.QueueOf(rec))
		}
	}
	if err := j.Store.Trim(ctx); err != nil {
		j.Log.Warn("janitor: trim", "err", err)
	}
	if j.Retention != nil {
		n, err := j.Retention.Apply(ctx)
		if err != nil {
			j.Log.Warn("janitor: retention", "err", err)
		}
		if n != (erase.Expired{}) {
			j.Log.Info("janitor: deleted what was past its retention", "failed", n.Failed, "spam", n.Spam, "audit_entries", n.AuditEntries)
		}
	}
	if j.Served != nil {
		un, err := j.Queue.Unserved(j.Served)
		if err != nil {
			j.Log.Warn("janitor: list queues", "err", err)
		}
		for _, q := range un {
			j.Log.Warn("janitor: a delivery queue holds tasks no worker of this configuration serves; restart the workers with the API's forms", "queue", q)
		}
	}
}
