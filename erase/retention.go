package erase

import (
	"context"
	"errors"
	"time"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// Retention deletes what leadbridge keeps past its time: failed and
// spam-held submissions nobody acted on (with everything Store.Delete
// removes, and their tasks), and audit-log entries. Delivered and discarded
// records expire by themselves (a Redis TTL on the record; Store.Trim
// drops their index entries), as do idempotency keys, sessions and the
// other short-lived keys. The worker's janitor runs it every sweep.
type Retention struct {
	Store  *submission.Store
	Queue  *queue.Client
	Audit  *audit.Log
	Failed time.Duration // 0: failed submissions stay until a person acts
	Spam   time.Duration // 0: held ones stay until a person acts
	Log    time.Duration // of audit entries; 0: only the cap of audit.MaxEntries
	Now    func() time.Time
}

// Expired is what one Apply deleted.
type Expired struct {
	Failed, Spam int
	AuditEntries int64
}

// expireBatch bounds the records one Apply deletes per status; the next
// sweep takes the rest.
const expireBatch = 500

// Apply deletes what is past its retention now.
func (r *Retention) Apply(ctx context.Context) (Expired, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	var out Expired
	var errs []error
	for _, k := range []struct {
		status string
		keep   time.Duration
		n      *int
	}{{submission.StatusFailed, r.Failed, &out.Failed}, {submission.StatusSpam, r.Spam, &out.Spam}} {
		if k.keep <= 0 {
			continue
		}
		ids, err := r.Store.ChangedBefore(ctx, k.status, now.Add(-k.keep), expireBatch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range ids {
			rec, err := r.Store.Get(ctx, id)
			if errors.Is(err, submission.ErrNotFound) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				break
			}
			if rec.Status != k.status {
				continue // a person acted meanwhile
			}
			// A failed or held submission has no task waiting (at most an
			// old archived one); should a person retry it between here and
			// DeleteIn, the janitor queues it again (it stays accepted).
			if _, _, err := r.Queue.Forget(rec); err != nil {
				errs = append(errs, err)
				break
			}
			_, err = r.Store.DeleteIn(ctx, id, k.status)
			if errors.Is(err, submission.ErrNotFound) || errors.Is(err, submission.ErrMoved) {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				break
			}
			*k.n++
		}
	}
	if r.Log > 0 {
		n, err := r.Audit.TrimBefore(ctx, now.Add(-r.Log))
		out.AuditEntries = n
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}
