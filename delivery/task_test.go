package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/leadbridge/leadbridge/config"
	"github.com/leadbridge/leadbridge/crm"
	"github.com/leadbridge/leadbridge/delivery"
	"github.com/leadbridge/leadbridge/emulator"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/lease"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

type fixture struct {
	h     *delivery.TaskHandler
	store *submission.Store
	emu   *testenv.Emulator
	logs  *testenv.Buffer // everything the handler and its CRM client logged, debug included
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	r := testenv.StartRedis(t)
	emu := testenv.StartEmulator(t)
	rdb := r.Client()
	logs := &testenv.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	client, err := crm.New(crm.Config{
		URL: emu.URL(), AuthorityHost: emu.URL(), TenantID: emulator.DefaultTenantID,
		ClientID: emulator.DefaultClientID, ClientSecret: emulator.DefaultClientSecret,
		RootCAs: emu.CertPool(), Timeout: 5 * time.Second, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := config.LoadForms("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	store := submission.NewStore(rdb, time.Hour)
	h := &delivery.TaskHandler{
		Store: store, Horizon: time.Hour, Log: log,
		Deliverer: &delivery.Deliverer{CRM: client, Forms: fs, Locks: lease.New(rdb, "lb:lease", 10*time.Second)},
	}
	return &fixture{h: h, store: store, emu: emu, logs: logs}
}

func (f *fixture) submit(t *testing.T, email string) string {
	t.Helper()
	return f.submitAt(t, email, time.Time{})
}

// submitAt stores a submission received at (zero = now).
func (f *fixture) submitAt(t *testing.T, email string, at time.Time) string {
	t.Helper()
	rec := &submission.Record{Form: "demo", Fields: map[string]string{"email": email, "last_name": "Lee"}, ReceivedAt: at}
	if _, err := f.store.Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

func (f *fixture) process(t *testing.T, id string) error {
	t.Helper()
	payload, _ := json.Marshal(queue.Payload{ID: id})
	return f.h.ProcessTask(context.Background(), asynq.NewTask(queue.TypeDeliver, payload))
}

func (f *fixture) record(t *testing.T, id string) *submission.Record {
	t.Helper()
	r, err := f.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOutageIsRetriedUntilTheHorizonThenFailed(t *testing.T) {
	f := newFixture(t)
	f.emu.Configure(`{"faults":{"down":true}}`)
	f.h.Horizon = 200 * time.Hour
	id := f.submitAt(t, "ann@example.com", time.Now().Add(-100*time.Hour))

	var re *delivery.RetryError
	if err := f.process(t, id); !errors.As(err, &re) || re.Throttled {
		t.Fatalf("while down: got %v, want a non-throttled RetryError", err)
	}
	r := f.record(t, id)
	if r.Status != submission.StatusRetrying || r.NextAttempt == nil || r.LastError.Category != submission.CategoryUnavailable {
		t.Fatalf("record while down: status %s next %v error %+v, want retrying/unavailable with a next attempt", r.Status, r.NextAttempt, r.LastError)
	}

	f.h.Horizon = time.Hour // the horizon has passed
	if err := f.process(t, id); err != nil {
		t.Fatalf("past the horizon: got %v, want nil (kept in the failed list)", err)
	}
	r = f.record(t, id)
	if r.Status != submission.StatusFailed || !strings.Contains(r.LastError.Message, "gave up after") || r.AttemptCount != 2 {
		t.Fatalf("past the horizon: status %s error %+v attempts %d, want failed, gave up, 2", r.Status, r.LastError, r.AttemptCount)
	}

	// A person retries: the horizon starts again from the retry.
	if _, err := f.store.Retry(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	f.process(t, id)
	if r := f.record(t, id); r.Status != submission.StatusRetrying {
		t.Errorf("after a manual retry of an old submission: status %s, want retrying (horizon from the retry)", r.Status)
	}
	f.emu.Configure(`{"faults":{"down":false}}`)
	if err := f.process(t, id); err != nil {
		t.Fatal(err)
	}
	if r := f.record(t, id); r.Status != submission.StatusDelivered || r.LeadID == "" {
		t.Errorf("once up: status %s lead %q, want delivered", r.Status, r.LeadID)
	}
}

// When Dataverse cannot be reached, the worker's log and the stored error
// say which call failed — method, table — but never the query, whose
// $filter holds the person's email.
func TestUnreachableDataverseKeepsPersonalDataOutOfLogs(t *testing.T) {
	f := newFixture(t)
	warm := f.submit(t, "warm@example.com") // a token in MSAL's cache, as a running worker has
	if err := f.process(t, warm); err != nil {
		t.Fatal(err)
	}
	f.emu.Close() // connections now fail: refused
	const email = "o'brien+private@example.com"
	id := f.submit(t, email)
	var re *delivery.RetryError
	if err := f.process(t, id); !errors.As(err, &re) {
		t.Fatalf("got %v, want a RetryError", err)
	}
	r := f.record(t, id)
	if r.Status != submission.StatusRetrying || r.LastError == nil || r.LastError.Category != submission.CategoryUnavailable {
		t.Fatalf("record: status %s error %+v, want retrying, unavailable", r.Status, r.LastError)
	}
	if !strings.HasPrefix(r.LastError.Message, "crm: find contacts: dataverse unreachable: GET contacts: ") {
		t.Errorf("stored error %q, want it to say which call failed", r.LastError.Message)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "dataverse unreachable: GET contacts") {
		t.Errorf("log lacks the failure:\n%s", logs)
	}
	for _, secret := range []string{"o'brien", "o%27brien", "o%27%27brien", "private", "$filter", "%24filter"} {
		if strings.Contains(r.LastError.Message, secret) || strings.Contains(re.Error(), secret) {
			t.Errorf("stored error %q holds %q", r.LastError.Message, secret)
		}
		if strings.Contains(logs, secret) {
			t.Errorf("log holds %q:\n%s", secret, logs)
		}
	}
}

// TestAnOlderAttemptDoesNotOverwriteANewerOne: asynq can start a new attempt
// while an old one still runs; the old one's result must not win.
func TestAnOlderAttemptDoesNotOverwriteANewerOne(t *testing.T) {
	f := newFixture(t)
	f.emu.Configure(`{"latency_ms":300}`)
	id := f.submit(t, "bo@example.com")
	done := make(chan error, 1)
	go func() { done <- f.process(t, id) }()
	testenv.Eventually(t, 10*time.Second, func() string {
		if f.record(t, id).Status != submission.StatusDelivering {
			return "not delivering yet"
		}
		return ""
	})
	// A newer attempt takes the record over, as asynq's redo of the task would.
	newer, err := f.store.BeginAttempt(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("old attempt: got %v, want nil", err)
	}
	if r := f.record(t, id); r.Status != submission.StatusDelivering || r.AttemptID != newer.AttemptID || r.AttemptCount != 0 {
		t.Errorf("record: status %s attempt %q count %d, want the newer attempt's state untouched", r.Status, r.AttemptID, r.AttemptCount)
	}
}

func TestThrottledRetryIsNotAFailure(t *testing.T) {
	cfg := delivery.ServerConfig(1, []string{queue.FormQueue("a")}, nil, nil)
	if len(cfg.Queues) != 2 || cfg.Queues[queue.Legacy] != 1 || cfg.Queues["deliver:form:a"] != 1 || cfg.StrictPriority {
		t.Errorf("queues %v (strict %v), want deliver and deliver:form:a with weight 1 each", cfg.Queues, cfg.StrictPriority)
	}
	if cfg.IsFailure(&delivery.RetryError{Throttled: true}) {
		t.Error("a throttled retry counted as a failure")
	}
	if !cfg.IsFailure(&delivery.RetryError{}) || !cfg.IsFailure(errors.New("x")) {
		t.Error("other errors must count as failures")
	}
	if d := cfg.RetryDelayFunc(3, &delivery.RetryError{After: 7 * time.Second}, nil); d != 7*time.Second {
		t.Errorf("retry delay: got %s, want the RetryError's 7s", d)
	}
}

func TestBackoffDoublesFromOneSecondToAMinuteWithJitter(t *testing.T) {
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{0, 500 * time.Millisecond, time.Second},
		{1, time.Second, 2 * time.Second},
		{5, 16 * time.Second, 32 * time.Second},
		{6, 30 * time.Second, time.Minute},
		{40, 30 * time.Second, time.Minute},
	} {
		for i := 0; i < 200; i++ {
			if d := delivery.Backoff(tc.n); d < tc.min || d > tc.max {
				t.Fatalf("Backoff(%d) = %s, want within [%s, %s]", tc.n, d, tc.min, tc.max)
			}
		}
	}
}

func TestJanitorQueuesRecordsThatHaveNoTask(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	store := submission.NewStore(rdb, time.Hour)
	q := queue.NewClient(rdb)
	ctx := context.Background()
	rec := &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "a@b.co"}}
	if _, err := store.Create(ctx, rec); err != nil { // durable, but the API died before enqueueing
		t.Fatal(err)
	}
	j := &delivery.Janitor{Store: store, Queue: q, Log: slog.New(slog.DiscardHandler),
		StaleAfter: map[string]time.Duration{submission.StatusAccepted: -time.Second}}
	j.Sweep(ctx)
	if ok, err := q.Queued(rec); !ok || err != nil {
		t.Errorf("after a sweep, queued = %v (%v), want true", ok, err)
	}
}

func TestFinishedSubmissionsAreNotDeliveredAgain(t *testing.T) {
	r := testenv.StartRedis(t)
	store := submission.NewStore(r.Client(), time.Hour)
	ctx := context.Background()
	rec := &submission.Record{Form: "demo"}
	store.Create(ctx, rec)
	begun, err := store.BeginAttempt(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Succeed(ctx, rec.ID, begun.AttemptID, time.Now(), submission.Outcome{LeadID: "x", Action: "created"}); err != nil {
		t.Fatal(err)
	}

	// No Deliverer: calling it would panic, so passing proves it was not called.
	h := &delivery.TaskHandler{Store: store, Horizon: time.Hour, Log: slog.New(slog.DiscardHandler)}
	payload, _ := json.Marshal(queue.Payload{ID: rec.ID})
	if err := h.ProcessTask(ctx, asynq.NewTask(queue.TypeDeliver, payload)); err != nil {
		t.Errorf("redo of a delivered submission: got %v, want nil", err)
	}
	if err := h.ProcessTask(ctx, asynq.NewTask(queue.TypeDeliver, []byte("{"))); !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("malformed payload: got %v, want SkipRetry", err)
	}
}

// TestPausedDeliveryWaits: a task picked up while an admin has paused
// delivery leaves the submission untouched and comes back later, without
// counting as a failure; once resumed it delivers.
func TestPausedDeliveryWaits(t *testing.T) {
	f := newFixture(t)
	paused := true
	f.h.Paused = func(context.Context) (bool, error) { return paused, nil }
	id := f.submit(t, "ann@example.com")
	err := f.process(t, id)
	var re *delivery.RetryError
	if !errors.As(err, &re) || !re.Throttled || re.After <= 0 {
		t.Fatalf("while paused: got %v, want a throttled RetryError", err)
	}
	if r := f.record(t, id); r.Status != submission.StatusAccepted || r.AttemptCount != 0 {
		t.Errorf("while paused: status %s, %d attempts; want accepted, none", r.Status, r.AttemptCount)
	}
	if n := len(f.emu.Rows("leads", "$select=leadid")); n != 0 {
		t.Errorf("while paused: %d leads, want 0", n)
	}
	paused = false
	if err := f.process(t, id); err != nil {
		t.Fatal(err)
	}
	if r := f.record(t, id); r.Status != submission.StatusDelivered {
		t.Errorf("after resume: status %s, want delivered", r.Status)
	}
}
