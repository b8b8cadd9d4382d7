package submission

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
)

// The life cycle of a submission (shared/DESIGN.md):
//
//	accepted ─► delivering ─► delivered
//	   ▲            ├─► retrying ─► delivering …   (transient, throttled)
//	   │            └─► failed ──► discarded        (permanent, or the horizon passed)
//	   └── retry ◄── failed, discarded
//
// Records change only through the methods below, so that every caller —
// the worker, the status API, the admin console — moves a submission the
// same way, and a wrong move is one error the HTTP layer maps to 409.

// ErrTransition is matched (with errors.Is) by the *TransitionError every
// transition method returns when the submission's status does not allow it.
var ErrTransition = errors.New("submission: not allowed in this status")

// ErrSuperseded: the attempt that asks to record its result is no longer the
// submission's current one (asynq started a newer attempt, or a person
// retried meanwhile); its result is dropped so it cannot overwrite the newer.
var ErrSuperseded = errors.New("submission: a newer delivery attempt owns this submission")

// TransitionError says which move was refused and why, in words an admin
// reads in the console or an API client in a 409.
type TransitionError struct {
	ID      string
	Status  string   // the submission's status
	Action  string   // what was asked: "retry", "discard", …
	Allowed []string // the statuses the action is allowed from
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("only %s submissions can be %s; this one is %s",
		strings.Join(e.Allowed, " or "), pastTense[e.Action], e.Status)
}

// Is makes errors.Is(err, ErrTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrTransition }

var pastTense = map[string]string{
	"begin": "delivered", "retry": "retried", "discard": "discarded",
	"succeed": "marked delivered", "fail": "marked failed", "retry later": "rescheduled",
	"release": "released", "edit": "edited",
}

// transition applies change to the record if its status is one of from.
func (s *Store) transition(ctx context.Context, id, action string, from []string, change func(*Record) error) (*Record, error) {
	return s.update(ctx, id, func(r *Record) error {
		for _, st := range from {
			if r.Status == st {
				return change(r)
			}
		}
		return &TransitionError{ID: id, Status: r.Status, Action: action, Allowed: from}
	})
}

// BeginAttempt marks the submission as being delivered by a new attempt
// and returns it with its AttemptID set. A submission that is delivering
// already is taken over: asynq redoes a task whose worker died, and the
// dead attempt's result, should it ever arrive, is then ErrSuperseded.
func (s *Store) BeginAttempt(ctx context.Context, id string) (*Record, error) {
	attempt := NewID()
	return s.transition(ctx, id, "begin", []string{StatusAccepted, StatusRetrying, StatusDelivering}, func(r *Record) error {
		r.Status = StatusDelivering
		r.AttemptID = attempt
		r.NextAttempt = nil
		return nil
	})
}

// Outcome is what a successful delivery did in the CRM.
type Outcome struct {
	LeadID    string
	ContactID string
	Action    string   // created | updated
	Match     string   // why, in words
	Changes   []Change // what an update changed on the lead
}

// Succeed records that attempt delivered the submission. started is when
// the attempt began; its duration is measured to now.
func (s *Store) Succeed(ctx context.Context, id, attempt string, started time.Time, o Outcome) error {
	_, err := s.ownAttempt(ctx, id, attempt, "succeed", func(r *Record, now time.Time) {
		r.Status = StatusDelivered
		r.LeadID, r.ContactID, r.Action, r.Match, r.Changes = o.LeadID, o.ContactID, o.Action, o.Match, o.Changes
		r.DeliveredAt = &now
		r.LastError = nil
		r.addAttempt(Attempt{At: started.UTC(), Outcome: "delivered", Duration: now.Sub(started).Seconds()})
	})
	return err
}

// Fail records that attempt failed for good: the submission waits in the
// failed list for a person.
func (s *Store) Fail(ctx context.Context, id, attempt string, started time.Time, e ErrorInfo) error {
	_, err := s.ownAttempt(ctx, id, attempt, "fail", func(r *Record, now time.Time) {
		r.Status = StatusFailed
		r.LastError = &e
		r.addAttempt(Attempt{At: started.UTC(), Outcome: "failed", Duration: now.Sub(started).Seconds(), Error: &e})
	})
	return err
}

// RetryLater records that attempt failed transiently and that the next one
// is due at next.
func (s *Store) RetryLater(ctx context.Context, id, attempt string, started time.Time, e ErrorInfo, next time.Time) error {
	_, err := s.ownAttempt(ctx, id, attempt, "retry later", func(r *Record, now time.Time) {
		r.Status = StatusRetrying
		next := next.UTC()
		r.NextAttempt = &next
		r.LastError = &e
		r.addAttempt(Attempt{At: started.UTC(), Outcome: "retrying", Duration: now.Sub(started).Seconds(), Error: &e})
	})
	return err
}

// ownAttempt applies an attempt's result if that attempt still owns the
// record; otherwise ErrSuperseded.
func (s *Store) ownAttempt(ctx context.Context, id, attempt, action string, apply func(*Record, time.Time)) (*Record, error) {
	return s.update(ctx, id, func(r *Record) error {
		if r.Status != StatusDelivering || r.AttemptID != attempt {
			return ErrSuperseded
		}
		apply(r, s.now().UTC())
		return nil
	})
}

// Retry puts a failed or discarded submission back to accepted, under the
// same id, for a person who fixed the cause. The retry horizon restarts now.
// The caller queues it.
func (s *Store) Retry(ctx context.Context, id string) (*Record, error) {
	return s.transition(ctx, id, "retry", []string{StatusFailed, StatusDiscarded}, func(r *Record) error {
		now := s.now().UTC()
		r.Status = StatusAccepted
		r.DiscardReason = ""
		r.RetriedAt = &now
		return nil
	})
}

// Discard marks a failed or spam submission as not to be delivered, with a
// person's reason.
func (s *Store) Discard(ctx context.Context, id, reason string) (*Record, error) {
	return s.transition(ctx, id, "discard", []string{StatusFailed, StatusSpam}, func(r *Record) error {
		r.Status = StatusDiscarded
		r.DiscardReason = reason
		return nil
	})
}

// Release sends a submission that intake held as spam to delivery after
// all. The caller queues it.
func (s *Store) Release(ctx context.Context, id string) (*Record, error) {
	return s.transition(ctx, id, "release", []string{StatusSpam}, func(r *Record) error {
		now := s.now().UTC()
		r.Status = StatusAccepted
		r.RetriedAt = &now
		return nil
	})
}

// Edit replaces a failed, discarded or spam submission's field values with
// a person's corrected ones and puts it back to accepted, under the same id,
// like Retry. The change is kept on the record (Edits): who, when, and each
// changed field's value before and after. The caller validates fields with
// the form's rules first (forms.Validator.Clean) and queues the submission.
func (s *Store) Edit(ctx context.Context, id string, fields map[string]string, by string) (*Record, error) {
	return s.transition(ctx, id, "edit", []string{StatusFailed, StatusDiscarded, StatusSpam}, func(r *Record) error {
		now := s.now().UTC()
		before, after := map[string]string{}, map[string]string{}
		for k, v := range r.Fields {
			if nv, ok := fields[k]; !ok || nv != v {
				before[k] = v
				if ok {
					after[k] = nv
				}
			}
		}
		for k, v := range fields {
			if _, ok := r.Fields[k]; !ok {
				after[k] = v
			}
		}
		if len(before)+len(after) > 0 {
			r.Edits = append(r.Edits, Edit{By: by, At: now, Before: before, After: after})
			if n := len(r.Edits); n > maxEdits {
				r.Edits = append([]Edit(nil), r.Edits[n-maxEdits:]...)
			}
		}
		r.Fields = maps.Clone(fields)
		r.Status = StatusAccepted
		r.DiscardReason = ""
		r.RetriedAt = &now
		return nil
	})
}

// maxEdits bounds the edits kept on a record, as maxAttempts bounds attempts.
const maxEdits = 20
