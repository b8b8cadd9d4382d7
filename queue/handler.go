package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/delivery"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/submission"
)

// Handler delivers submissions: it is the worker's asynq handler.
type Handler struct {
	Store     *submission.Store
	Deliverer *delivery.Deliverer
	Horizon   time.Duration // give up retrying transient failures after this long since receipt
	Log       *slog.Logger
	Now       func() time.Time
	Metrics   *metrics.Delivery // nil = not counted
}

var (
	errFinished   = errors.New("already finished")
	errSuperseded = errors.New("a newer attempt took over")
)

// ProcessTask implements asynq.Handler.
func (h *Handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID == "" {
		h.Log.Error("dropping malformed task", "type", t.Type(), "err", err)
		return fmt.Errorf("malformed payload: %v: %w", err, asynq.SkipRetry)
	}
	now := h.now()
	// Each attempt marks the record with its own id. asynq may start a new
	// attempt while an old one still runs (task deadline, lost lease); the
	// old one's result is then dropped instead of overwriting the new one's.
	attempt := submission.NewID()
	rec, err := h.Store.Update(ctx, p.ID, func(r *submission.Record) error {
		switch r.Status {
		case submission.StatusDelivered, submission.StatusDiscarded, submission.StatusSpam:
			return errFinished // a redo after a crash, or a stale task
		}
		r.Status = submission.StatusDelivering
		r.AttemptID = attempt
		r.NextAttempt = nil
		return nil
	})
	if errors.Is(err, submission.ErrNotFound) || errors.Is(err, errFinished) {
		h.Log.Info("nothing to deliver", "id", p.ID, "reason", err)
		return nil
	}
	if err != nil {
		return &RetryError{After: Backoff(0), Err: err} // Redis trouble: try again soon
	}

	res, derr := h.Deliverer.Deliver(ctx, rec)
	took := h.now().Sub(now).Seconds()
	if derr == nil {
		_, err := h.Store.Update(context.WithoutCancel(ctx), p.ID, func(r *submission.Record) error {
			if r.Status != submission.StatusDelivering || r.AttemptID != attempt {
				return errSuperseded
			}
			at := h.now().UTC()
			r.Status = submission.StatusDelivered
			r.LeadID, r.ContactID, r.Action, r.Match = res.LeadID, res.ContactID, res.Action, res.Match
			r.DeliveredAt = &at
			r.LastError = nil
			r.AddAttempt(submission.Attempt{At: now.UTC(), Outcome: "delivered", Duration: took})
			return nil
		})
		if errors.Is(err, errSuperseded) {
			h.Log.Warn("delivered, but a newer attempt owns the record; its result stands", "id", p.ID)
			return nil
		}
		if err != nil {
			// Delivered but not recorded: retrying is safe, the dedupe
			// finds the lead just written and records it then.
			return &RetryError{After: Backoff(0), Err: err}
		}
		h.observe(rec.Form, "delivered", "", took)
		h.Log.Info("delivered", "id", p.ID, "form", rec.Form, "lead", res.LeadID, "action", res.Action, "seconds", took)
		return nil
	}

	info, retry := delivery.Classify(derr)
	if retry && now.Sub(rec.HorizonStart()) > h.Horizon {
		retry = false
		info.Message = fmt.Sprintf("gave up after %s of retries: %s", h.Horizon, info.Message)
	}
	n, _ := asynq.GetRetryCount(ctx)
	wait := Backoff(n)
	throttled := info.Category == submission.CategoryThrottled
	var api *crm.APIError
	if throttled && errors.As(derr, &api) && api.RetryAfter > 0 {
		// Still throttled after the client's own waits: come back when
		// Dataverse said to, and don't count it as a failure.
		wait = min(api.RetryAfter, 10*time.Minute) + time.Second
	}
	_, err = h.Store.Update(context.WithoutCancel(ctx), p.ID, func(r *submission.Record) error {
		if r.Status != submission.StatusDelivering || r.AttemptID != attempt {
			return errSuperseded
		}
		outcome := "failed"
		r.Status = submission.StatusFailed
		r.NextAttempt = nil
		if retry {
			outcome = "retrying"
			r.Status = submission.StatusRetrying
			next := h.now().Add(wait).UTC()
			r.NextAttempt = &next
		}
		e := info
		r.LastError = &e
		r.AddAttempt(submission.Attempt{At: now.UTC(), Outcome: outcome, Duration: took, Error: &e})
		return nil
	})
	if errors.Is(err, errSuperseded) {
		h.Log.Warn("attempt failed, but a newer attempt owns the record; its result stands", "id", p.ID, "err", derr)
		return nil
	}
	if err != nil {
		return &RetryError{After: wait, Err: fmt.Errorf("record failure: %v (delivery: %w)", err, derr), Throttled: throttled}
	}
	if !retry {
		h.observe(rec.Form, "failed", info.Category, took)
		h.Log.Warn("delivery failed; needs a person", "id", p.ID, "form", rec.Form, "category", info.Category, "status", info.Status, "code", info.Code, "err", info.Message)
		return nil // kept in leadbridge's failed list, not asynq's archive
	}
	h.observe(rec.Form, "retrying", info.Category, took)
	h.Log.Info("delivery will be retried", "id", p.ID, "category", info.Category, "in", wait.Round(time.Millisecond), "err", info.Message)
	return &RetryError{After: wait, Err: derr, Throttled: throttled}
}

func (h *Handler) observe(form, outcome, category string, seconds float64) {
	if h.Metrics == nil {
		return
	}
	h.Metrics.Attempts.WithLabelValues(form, outcome, category).Inc()
	h.Metrics.Duration.WithLabelValues(outcome).Observe(seconds)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// Janitor repairs what a crash can leave behind and applies retention: it
// queues submissions that were made durable but never reached the queue,
// and trims expired index entries.
type Janitor struct {
	Store      *submission.Store
	Queue      *Client
	Log        *slog.Logger
	StaleAfter map[string]time.Duration // nil = StaleAfter()
}

// Run sweeps every interval until ctx ends.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		j.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StaleAfter is how long a record may sit in a status before the janitor
// checks that asynq still holds its task. Retries wait at most a minute and
// an attempt is bounded by taskTimeout, so these are generous.
func StaleAfter() map[string]time.Duration {
	return map[string]time.Duration{
		submission.StatusAccepted:   2 * time.Minute,
		submission.StatusRetrying:   10 * time.Minute,
		submission.StatusDelivering: taskTimeout + 5*time.Minute,
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
			queued, err := j.Queue.Queued(id)
			if err != nil || queued {
				continue
			}
			if err := j.Queue.Enqueue(ctx, id); err != nil {
				j.Log.Warn("janitor: enqueue", "id", id, "err", err)
				continue
			}
			j.Log.Warn("janitor: queued a submission that had no task", "id", id, "status", status)
		}
	}
	if err := j.Store.Trim(ctx); err != nil {
		j.Log.Warn("janitor: trim", "err", err)
	}
}
