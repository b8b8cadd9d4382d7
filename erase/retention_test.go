package erase_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/erase"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// TestRetentionDeletesWhatIsPastItsTime: failed and held submissions past
// their retention go with their keys and tasks, newer ones and other
// statuses stay, and so does one a person acted on; audit entries past
// theirs go. The clock of Retention is moved forward instead of waiting.
func TestRetentionDeletesWhatIsPastItsTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := testenv.StartRedis(t)
	rdb := r.Client()
	store := submission.NewStore(rdb, time.Hour)
	q := queue.NewClient(rdb)
	log := audit.New(rdb)
	mk := func(rec *submission.Record) *submission.Record {
		t.Helper()
		if _, err := store.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	failed := mk(&submission.Record{Form: "demo", Source: "hub", IdempotencyKey: "hook:hub:1", Fields: map[string]string{"email": "a@example.com"},
		LastError: &submission.ErrorInfo{Category: submission.CategoryInvalidData, Message: "bad"}})
	spam := mk(&submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "b@example.com"}, Spam: &submission.SpamInfo{Reason: "honeypot"}})
	waiting := mk(&submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "c@example.com"}})
	acted := mk(&submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "d@example.com"},
		LastError: &submission.ErrorInfo{Category: submission.CategoryInvalidData, Message: "bad"}})
	if _, err := store.Retry(ctx, acted.ID); err != nil { // a person retried it: it waits now
		t.Fatal(err)
	}
	if err := log.Add(ctx, audit.Entry{By: "admin", Action: "discard", Submission: failed.ID, Reason: "test"}); err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	keep := &erase.Retention{Store: store, Queue: q, Audit: log, Failed: 90 * 24 * time.Hour, Spam: 30 * 24 * time.Hour, Log: 365 * 24 * time.Hour,
		Now: func() time.Time { return now }}
	gone := func(id string) bool {
		_, err := store.Get(ctx, id)
		return errors.Is(err, submission.ErrNotFound)
	}

	// A month on: spam past its 30 days, nothing else.
	now = time.Now().Add(31 * 24 * time.Hour)
	got, err := keep.Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got != (erase.Expired{Spam: 1}) || !gone(spam.ID) || gone(failed.ID) {
		t.Errorf("after 31 days: %+v, spam gone %v, failed gone %v; want the spam only", got, gone(spam.ID), gone(failed.ID))
	}
	// A quarter on: the failed one too, with its webhook delivery id.
	now = time.Now().Add(91 * 24 * time.Hour)
	if got, err = keep.Apply(ctx); err != nil || got != (erase.Expired{Failed: 1}) || !gone(failed.ID) {
		t.Errorf("after 91 days: %+v, %v, failed gone %v; want the failed one", got, err, gone(failed.ID))
	}
	if n, _ := rdb.Keys(ctx, "{lb}:idem:*").Result(); len(n) != 0 {
		t.Errorf("idempotency keys left: %v", n)
	}
	if gone(waiting.ID) || gone(acted.ID) {
		t.Errorf("waiting gone %v, retried gone %v; want both kept", gone(waiting.ID), gone(acted.ID))
	}
	// A year and a day on: the audit entry.
	now = time.Now().Add(366 * 24 * time.Hour)
	if got, err = keep.Apply(ctx); err != nil || got.AuditEntries != 1 {
		t.Errorf("after 366 days: %+v, %v; want one audit entry deleted", got, err)
	}
	if n, _ := rdb.XLen(ctx, "lb:audit").Result(); n != 0 {
		t.Errorf("audit entries left: %d", n)
	}

	t.Run("off keeps everything", func(t *testing.T) {
		held := mk(&submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "e@example.com"}, Spam: &submission.SpamInfo{Reason: "too_fast"}})
		off := &erase.Retention{Store: store, Queue: q, Audit: log, Now: func() time.Time { return time.Now().Add(10 * 365 * 24 * time.Hour) }}
		if got, err := off.Apply(ctx); err != nil || got != (erase.Expired{}) || gone(held.ID) {
			t.Errorf("retention off: %+v, %v, held gone %v", got, err, gone(held.ID))
		}
	})
}
