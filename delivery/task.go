package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/crmhealth"
	"github.com/leadbridge/leadbridge/metrics"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// TaskHandler is the worker's asynq handler: it delivers the submission a
// task names and records the outcome through the submission's life cycle.
type TaskHandler struct {
	Store     *submission.Store
	Deliverer *Deliverer
	Batcher   *Batcher      // nil: one submission at a time; else batched where the form allows (batch.go)
	Fetcher   *Fetcher      // reads thin webhook leads (ids only) before delivery, fetch.go; nil: they fail
	Horizon   time.Duration // give up retrying transient failures after this long since receipt (or a person's retry)
	Log       *slog.Logger
	Now       func() time.Time  // nil = time.Now
	Metrics   *metrics.Delivery // nil = not counted
	// Paused, if set, is asked before each delivery: while an admin has
	// paused delivery the task waits instead (queue.Client.Paused; asynq's
	// own queue pause normally keeps it from being picked up at all).
	Paused func(context.Context) (bool, error)
	// Health, if set, is told each attempt's outcome, for the admin
	// console's CRM health.
	Health *crmhealth.Publisher
}

// pausedRecheck is how long a task that found delivery paused waits before
// it asks again.
const pausedRecheck = 2 * time.Second

// ProcessTask implements asynq.Handler.
func (h *TaskHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p queue.Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID == "" {
		h.Log.Error("dropping malformed task", "type", t.Type(), "err", err)
		return fmt.Errorf("malformed payload: %v: %w", err, asynq.SkipRetry)
	}
	if h.Paused != nil {
		if paused, err := h.Paused(ctx); err == nil && paused {
			// Not a failure: like a throttle, it does not grow the backoff.
			return &RetryError{After: pausedRecheck, Throttled: true, Err: errors.New("delivery is paused")}
		}
	}
	started := h.now()
	rec, err := h.Store.BeginAttempt(ctx, p.ID)
	switch {
	case errors.Is(err, submission.ErrNotFound), errors.Is(err, submission.ErrTransition):
		h.Log.Info("nothing to deliver", "id", p.ID, "reason", err)
		return nil // a redo after a crash, or a stale task
	case err != nil:
		return &RetryError{After: Backoff(0), Err: err} // Redis trouble: try again soon
	}

	// The intake request's id goes with every log line and every Dataverse
	// call of this delivery (as x-ms-client-request-id), so that one
	// submission can be followed from its POST into the org's diagnostics.
	// Records from before request ids were kept fall back to their own id.
	reqID := rec.RequestID
	if reqID == "" {
		reqID = rec.ID
	}
	ctx = crm.WithRequestID(ctx, reqID)
	log := h.Log.With("request_id", reqID, "dataverse_request_id", crm.ClientRequestID(reqID))

	// Outcomes are recorded even if the task's context ended meanwhile.
	rctx := context.WithoutCancel(ctx)
	var res Result
	derr := h.fetch(ctx, rec) // a thin webhook lead is read from its platform first
	switch {
	case derr == nil && h.Batcher != nil:
		res, derr = h.Batcher.Deliver(ctx, rec)
	case derr == nil:
		res, derr = h.Deliverer.Deliver(ctx, rec)
	}
	if derr == nil {
		err := h.Store.Succeed(rctx, p.ID, rec.AttemptID, started, submission.Outcome(res))
		return h.recorded(log, err, rec, "delivered", submission.ErrorInfo{}, started, nil, "lead", res.LeadID, "action", res.Action)
	}
	v := Classify(derr)
	if v.Retry && started.Sub(rec.HorizonStart()) > h.Horizon {
		v.Retry = false
		v.Error.Message = fmt.Sprintf("gave up after %s of retries: %s", h.Horizon, v.Error.Message)
	}
	if !v.Retry {
		// Kept in leadbridge's failed list, not asynq's archive: the task ends.
		err := h.Store.Fail(rctx, p.ID, rec.AttemptID, started, v.Error)
		return h.recorded(log, err, rec, "failed", v.Error, started, nil)
	}
	wait := v.After
	if wait == 0 {
		n, _ := asynq.GetRetryCount(ctx)
		wait = Backoff(n)
	}
	err = h.Store.RetryLater(rctx, p.ID, rec.AttemptID, started, v.Error, h.now().Add(wait))
	return h.recorded(log, err, rec, "retrying", v.Error, started, &RetryError{After: wait, Err: derr, Throttled: v.Throttled},
		"in", wait.Round(time.Millisecond))
}

// recorded finishes an attempt whose outcome the store was asked to keep
// (err is the store's answer): it logs, on the delivery's log, and counts the outcome and returns
// next, the instruction for asynq (nil ends the task). A superseded attempt
// ends quietly: the newer one's result stands. An outcome the store could
// not keep makes the task run again; delivery is idempotent, so the next
// attempt finds what this one wrote and records it.
func (h *TaskHandler) recorded(log *slog.Logger, err error, rec *submission.Record, outcome string, e submission.ErrorInfo, started time.Time, next *RetryError, attrs ...any) error {
	switch {
	case errors.Is(err, submission.ErrSuperseded):
		log.Warn("attempt ended, but a newer attempt owns the submission; its result stands", "id", rec.ID, "outcome", outcome)
		return nil
	case err != nil:
		log.Warn("attempt ended, but its outcome could not be recorded; trying again", "id", rec.ID, "outcome", outcome, "err", err)
		if next == nil {
			next = &RetryError{After: Backoff(0)}
		}
		return &RetryError{After: next.After, Throttled: next.Throttled, Err: fmt.Errorf("record %s: %w", outcome, err)}
	}
	took := h.now().Sub(started).Seconds()
	h.publish(log, outcome, e)
	if h.Metrics != nil {
		h.Metrics.Attempts.WithLabelValues(rec.Form, outcome, e.Category).Inc()
		h.Metrics.Duration.WithLabelValues(outcome).Observe(took)
	}
	attrs = append([]any{"id", rec.ID, "form", rec.Form, "seconds", took}, attrs...)
	if e.Category != "" {
		attrs = append(attrs, "category", e.Category, "status", e.Status, "code", e.Code, "err", e.Message)
	}
	switch outcome {
	case "delivered":
		log.Info("delivered", attrs...)
	case "failed":
		log.Warn("delivery failed; needs a person", attrs...)
	default:
		log.Info("delivery will be retried", attrs...)
	}
	if next == nil {
		return nil
	}
	return next
}

// publish tells Health what an attempt found out about Dataverse.
func (h *TaskHandler) publish(log *slog.Logger, outcome string, e submission.ErrorInfo) {
	if h.Health == nil {
		return
	}
	var err error
	if outcome == "delivered" {
		err = h.Health.OK(context.Background())
	} else {
		err = h.Health.Failed(context.Background(), e)
	}
	if err != nil {
		log.Debug("crm health not published", "err", err)
	}
}

func (h *TaskHandler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
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

// ServerConfig is the asynq configuration for leadbridge workers serving
// queues (queue.Client.Queues), all with the same weight: asynq then picks
// the queue of each next task at random among those holding work, so every
// origin gets its share of the workers whatever the others' backlogs.
func ServerConfig(concurrency int, queues []string, errorHandler asynq.ErrorHandler, logger asynq.Logger) asynq.Config {
	weights := map[string]int{queue.Legacy: 1}
	for _, q := range queues {
		weights[q] = 1
	}
	return asynq.Config{
		Concurrency: concurrency,
		Queues:      weights,
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
