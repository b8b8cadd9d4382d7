package submission

import (
	"sync"
	"testing"
	"time"
)

func waiting(t *testing.T, s *Store, origin string) int64 {
	t.Helper()
	n, err := s.Waiting(ctx(t), origin)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOrigin(t *testing.T) {
	for _, tt := range []struct{ source, want string }{{"", "form:f"}, {"form", "form:f"}, {"hubspot", "hook:hubspot"}} {
		if got := (&Record{Form: "f", Source: tt.source}).Origin(); got != tt.want {
			t.Errorf("Origin of source %q = %q, want %q", tt.source, got, tt.want)
		}
	}
}

// The waiting count follows every status change, in the same transaction:
// accepted, delivering and retrying count; the others do not.
func TestWaitingFollowsTheLifeCycle(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	c := ctx(t)
	a := create(t, s, &Record{Form: "a", Source: "form", Fields: map[string]string{"x": "1"}})
	create(t, s, &Record{Form: "a", Source: "form", Fields: map[string]string{"x": "2"}})
	create(t, s, &Record{Form: "a", Source: "hubspot", Fields: map[string]string{"x": "3"}})
	spam := create(t, s, &Record{Form: "a", Source: "form", Spam: &SpamInfo{Reason: "honeypot"}})
	create(t, s, &Record{Form: "a", Source: "form", LastError: &ErrorInfo{Category: CategoryInvalidData}})
	if n := waiting(t, s, "form:a"); n != 2 {
		t.Fatalf("after create: %d waiting, want 2 (spam and refused ones do not wait)", n)
	}
	if n := waiting(t, s, "hook:hubspot"); n != 1 {
		t.Errorf("webhook origin: %d, want 1", n)
	}
	// A duplicate create (same key and content) counts nothing.
	dup := &Record{Form: "b", Fields: map[string]string{"x": "1"}, IdempotencyKey: "k"}
	create(t, s, dup)
	if ex, err := s.Create(c, &Record{Form: "b", Fields: map[string]string{"x": "1"}, IdempotencyKey: "k"}); err != nil || ex != dup.ID {
		t.Fatalf("duplicate: %q, %v", ex, err)
	}
	if n := waiting(t, s, "form:b"); n != 1 {
		t.Errorf("after a duplicate: %d, want 1", n)
	}

	rec, err := s.BeginAttempt(c, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RetryLater(c, a.ID, rec.AttemptID, time.Now(), ErrorInfo{Category: CategoryUnavailable}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := waiting(t, s, "form:a"); n != 2 {
		t.Errorf("delivering then retrying: %d, want still 2", n)
	}
	rec, _ = s.BeginAttempt(c, a.ID)
	if err := s.Fail(c, a.ID, rec.AttemptID, time.Now(), ErrorInfo{Category: CategoryInvalidData}); err != nil {
		t.Fatal(err)
	}
	if n := waiting(t, s, "form:a"); n != 1 {
		t.Errorf("after a failure: %d, want 1", n)
	}
	if _, err := s.Retry(c, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Release(c, spam.ID); err != nil {
		t.Fatal(err)
	}
	if n := waiting(t, s, "form:a"); n != 3 {
		t.Errorf("after a retry and a release: %d, want 3", n)
	}
	rec, _ = s.BeginAttempt(c, a.ID)
	if err := s.Succeed(c, a.ID, rec.AttemptID, time.Now(), Outcome{LeadID: "l", Action: "created"}); err != nil {
		t.Fatal(err)
	}
	if n := waiting(t, s, "form:a"); n != 2 {
		t.Errorf("after a delivery: %d, want 2", n)
	}
	if n := waiting(t, s, "form:none"); n != 0 {
		t.Errorf("an origin never seen: %d, want 0", n)
	}
}

// Concurrent deliveries of one origin keep the count exact.
func TestWaitingUnderConcurrentChanges(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	c := ctx(t)
	var ids []string
	for i := 0; i < 40; i++ {
		ids = append(ids, create(t, s, &Record{Form: "a", Fields: map[string]string{"i": string(rune('a' + i))}}).ID)
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := s.BeginAttempt(c, id)
			if err == nil {
				err = s.Succeed(c, id, rec.AttemptID, time.Now(), Outcome{Action: "created"})
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := waiting(t, s, "form:a"); n != 0 {
		t.Errorf("after every delivery: %d waiting, want 0", n)
	}
}
