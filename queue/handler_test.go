package queue

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
	"github.com/leadbridge/leadbridge/submission"
)

type fixture struct {
	h     *Handler
	store *submission.Store
	emu   *testenv.Emulator
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	r := testenv.StartRedis(t)
	emu := testenv.StartEmulator(t)
	rdb := r.Client()
	client, err := crm.New(crm.Config{
		URL: emu.URL(), AuthorityHost: emu.URL(), TenantID: emulator.DefaultTenantID,
		ClientID: emulator.DefaultClientID, ClientSecret: emulator.DefaultClientSecret,
		RootCAs: emu.CertPool(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := config.LoadForms("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	store := submission.NewStore(rdb, time.Hour)
	log := slog.New(slog.DiscardHandler)
	h := &Handler{
		Store: store, Horizon: time.Hour, Log: log,
		Deliverer: &delivery.Deliverer{CRM: client, Forms: fs, Locks: lease.New(rdb, "lb:lease", 10*time.Second)},
	}
	return &fixture{h: h, store: store, emu: emu}
}

func (f *fixture) submit(t *testing.T, email string) string {
	t.Helper()
	rec := &submission.Record{Form: "demo", Fields: map[string]string{"email": email, "last_name": "Lee"}}
	if _, err := f.store.Create(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

func (f *fixture) process(t *testing.T, id string) error {
	t.Helper()
	payload, _ := json.Marshal(Payload{ID: id})
	return f.h.ProcessTask(context.Background(), asynq.NewTask(TypeDeliver, payload))
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
	id := f.submit(t, "ann@example.com")

	var re *RetryError
	if err := f.process(t, id); !errors.As(err, &re) || re.Throttled {
		t.Fatalf("while down: got %v, want a non-throttled RetryError", err)
	}
	r := f.record(t, id)
	if r.Status != submission.StatusRetrying || r.NextAttempt == nil || r.LastError.Category != submission.CategoryUnavailable {
		t.Fatalf("record while down: status %s next %v error %+v, want retrying/unavailable with a next attempt", r.Status, r.NextAttempt, r.LastError)
	}

	f.h.Horizon = 0 // the horizon has passed
	if err := f.process(t, id); err != nil {
		t.Fatalf("past the horizon: got %v, want nil (kept in the failed list)", err)
	}
	r = f.record(t, id)
	if r.Status != submission.StatusFailed || !strings.Contains(r.LastError.Message, "gave up after") || r.AttemptCount != 2 {
		t.Fatalf("past the horizon: status %s error %+v attempts %d, want failed, gave up, 2", r.Status, r.LastError, r.AttemptCount)
	}

	// A person retries: the horizon starts again from the retry.
	f.h.Horizon = time.Hour
	f.store.Update(context.Background(), id, func(r *submission.Record) error {
		now := time.Now()
		r.Status, r.RetriedAt = submission.StatusAccepted, &now
		r.ReceivedAt = now.Add(-100 * time.Hour)
		return nil
	})
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
	// A newer attempt takes the record over.
	f.store.Update(context.Background(), id, func(r *submission.Record) error { r.AttemptID = "newer"; return nil })
	if err := <-done; err != nil {
		t.Fatalf("old attempt: got %v, want nil", err)
	}
	if r := f.record(t, id); r.Status != submission.StatusDelivering || r.AttemptID != "newer" || r.AttemptCount != 0 {
		t.Errorf("record: status %s attempt %q count %d, want the newer attempt's state untouched", r.Status, r.AttemptID, r.AttemptCount)
	}
}

func TestThrottledRetryIsNotAFailure(t *testing.T) {
	cfg := ServerConfig(1, nil, nil)
	if cfg.IsFailure(&RetryError{Throttled: true}) {
		t.Error("a throttled retry counted as a failure")
	}
	if !cfg.IsFailure(&RetryError{}) || !cfg.IsFailure(errors.New("x")) {
		t.Error("other errors must count as failures")
	}
	if d := cfg.RetryDelayFunc(3, &RetryError{After: 7 * time.Second}, nil); d != 7*time.Second {
		t.Errorf("retry delay: got %s, want the RetryError's 7s", d)
	}
}
