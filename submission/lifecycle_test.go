package submission

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestTransitions moves a submission in every status through every person's
// action and checks that exactly the moves of the life cycle are allowed.
func TestTransitions(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	actions := []struct {
		name    string
		do      func(id string) (*Record, error)
		allowed map[string]string // from → to
	}{
		{"retry", func(id string) (*Record, error) { return s.Retry(ctx(t), id) },
			map[string]string{StatusFailed: StatusAccepted, StatusDiscarded: StatusAccepted}},
		{"discard", func(id string) (*Record, error) { return s.Discard(ctx(t), id, "test entry") },
			map[string]string{StatusFailed: StatusDiscarded, StatusSpam: StatusDiscarded}},
		{"release", func(id string) (*Record, error) { return s.Release(ctx(t), id) },
			map[string]string{StatusSpam: StatusAccepted}},
		{"edit", func(id string) (*Record, error) { return s.Edit(ctx(t), id, map[string]string{"x": "y"}, "ann") },
			map[string]string{StatusFailed: StatusAccepted, StatusDiscarded: StatusAccepted, StatusSpam: StatusAccepted}},
		{"begin", func(id string) (*Record, error) { return s.BeginAttempt(ctx(t), id) },
			map[string]string{StatusAccepted: StatusDelivering, StatusRetrying: StatusDelivering, StatusDelivering: StatusDelivering}},
	}
	for _, a := range actions {
		for _, from := range Statuses {
			t.Run(a.name+" from "+from, func(t *testing.T) {
				r := create(t, s, &Record{Form: "demo"})
				setStatus(t, s, r.ID, from)
				got, err := a.do(r.ID)
				want, ok := a.allowed[from]
				if !ok {
					var te *TransitionError
					if !errors.Is(err, ErrTransition) || !errors.As(err, &te) || te.Status != from {
						t.Fatalf("got %v, want a TransitionError from %s", err, from)
					}
					if now, _ := s.Get(ctx(t), r.ID); now.Status != from {
						t.Errorf("refused move changed the status to %s", now.Status)
					}
					return
				}
				if err != nil || got.Status != want {
					t.Fatalf("got %v, %v; want status %s", got, err, want)
				}
				if stored, _ := s.Get(ctx(t), r.ID); stored.Status != want {
					t.Errorf("stored status %s, want %s", stored.Status, want)
				}
			})
		}
	}
	if _, err := s.Retry(ctx(t), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("retry of an unknown id: got %v, want ErrNotFound", err)
	}
}

func TestTransitionErrorSaysWhatIsAllowed(t *testing.T) {
	err := &TransitionError{ID: "x", Status: StatusDelivered, Action: "retry", Allowed: []string{StatusFailed, StatusDiscarded}}
	if got, want := err.Error(), "only failed or discarded submissions can be retried; this one is delivered"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestAttemptOutcomes: an attempt's result is recorded only while that
// attempt owns the submission, with the attempt's time and duration.
func TestAttemptOutcomes(t *testing.T) {
	t.Parallel()
	s, _, clk := newStore(t)
	begin := func(t *testing.T) *Record {
		t.Helper()
		r := create(t, s, &Record{Form: "demo"})
		b, err := s.BeginAttempt(ctx(t), r.ID)
		if err != nil || b.AttemptID == "" || b.Status != StatusDelivering {
			t.Fatalf("BeginAttempt = %+v, %v", b, err)
		}
		return b
	}
	e := ErrorInfo{Category: CategoryUnavailable, Status: 503, Message: "Service Unavailable"}

	t.Run("succeed", func(t *testing.T) {
		r := begin(t)
		started := clk.Now()
		clk.Advance(1500 * time.Millisecond)
		if err := s.Succeed(ctx(t), r.ID, r.AttemptID, started, Outcome{LeadID: "L", ContactID: "C", Action: "created", Match: "why"}); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx(t), r.ID)
		if got.Status != StatusDelivered || got.LeadID != "L" || got.ContactID != "C" || got.Action != "created" || got.Match != "why" ||
			got.DeliveredAt == nil || got.AttemptCount != 1 || got.Attempts[0].Duration != 1.5 || got.Attempts[0].Outcome != "delivered" {
			t.Errorf("delivered record: %+v", got)
		}
	})
	t.Run("retry later, then fail", func(t *testing.T) {
		r := begin(t)
		next := clk.Now().Add(time.Minute)
		if err := s.RetryLater(ctx(t), r.ID, r.AttemptID, clk.Now(), e, next); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Get(ctx(t), r.ID)
		if got.Status != StatusRetrying || got.NextAttempt == nil || !got.NextAttempt.Equal(next) || got.LastError.Status != 503 {
			t.Errorf("retrying record: %+v", got)
		}
		again, _ := s.BeginAttempt(ctx(t), r.ID)
		if again.NextAttempt != nil {
			t.Error("a new attempt kept the old next-attempt time")
		}
		if err := s.Fail(ctx(t), r.ID, again.AttemptID, clk.Now(), e); err != nil {
			t.Fatal(err)
		}
		got, _ = s.Get(ctx(t), r.ID)
		if got.Status != StatusFailed || got.AttemptCount != 2 || got.Attempts[1].Error == nil {
			t.Errorf("failed record: %+v", got)
		}
	})
	t.Run("a superseded attempt changes nothing", func(t *testing.T) {
		old := begin(t)
		newer, _ := s.BeginAttempt(ctx(t), old.ID)
		for name, err := range map[string]error{
			"succeed":     s.Succeed(ctx(t), old.ID, old.AttemptID, clk.Now(), Outcome{LeadID: "L"}),
			"fail":        s.Fail(ctx(t), old.ID, old.AttemptID, clk.Now(), e),
			"retry later": s.RetryLater(ctx(t), old.ID, old.AttemptID, clk.Now(), e, clk.Now()),
		} {
			if !errors.Is(err, ErrSuperseded) {
				t.Errorf("%s by the old attempt: got %v, want ErrSuperseded", name, err)
			}
		}
		got, _ := s.Get(ctx(t), old.ID)
		if got.Status != StatusDelivering || got.AttemptID != newer.AttemptID || got.AttemptCount != 0 {
			t.Errorf("record after superseded results: %+v", got)
		}
	})
	t.Run("a person's retry restarts the horizon", func(t *testing.T) {
		r := begin(t)
		s.Fail(ctx(t), r.ID, r.AttemptID, clk.Now(), e)
		clk.Advance(time.Hour)
		got, err := s.Retry(ctx(t), r.ID)
		if err != nil || !got.HorizonStart().Equal(clk.Now()) {
			t.Errorf("after retry: horizon start %v (%v), want %v", got.HorizonStart(), err, clk.Now())
		}
	})
}

// TestCreateHeldOrRefused: intake may keep a submission it will not deliver
// now — held as spam, or refused with the reason — under its own status and
// in the failed list a person looks at, never in between.
func TestCreateHeldOrRefused(t *testing.T) {
	t.Parallel()
	s, rdb, _ := newStore(t)
	spam := create(t, s, &Record{Form: "demo", Spam: &SpamInfo{Reason: "honeypot"}})
	refused := create(t, s, &Record{Form: "demo", LastError: &ErrorInfo{Category: CategoryInvalidData, Message: "email: must be a valid email address"}})
	for _, tc := range []struct {
		id, status string
	}{{spam.ID, StatusSpam}, {refused.ID, StatusFailed}} {
		if got, _ := s.Get(ctx(t), tc.id); got.Status != tc.status {
			t.Errorf("stored status %s, want %s", got.Status, tc.status)
		}
		if ids := members(t, rdb, keyIndex+tc.status); len(ids) != 1 || ids[0] != tc.id {
			t.Errorf("%s index: %v, want [%s]", tc.status, ids, tc.id)
		}
	}
	if ids := members(t, rdb, keyFailed+"demo"); len(ids) != 1 || ids[0] != refused.ID {
		t.Errorf("failed list of the form: %v, want [%s]", ids, refused.ID)
	}
	if ids := members(t, rdb, keyIndex+StatusAccepted); len(ids) != 0 {
		t.Errorf("accepted index: %v, want empty", ids)
	}

	// A webhook's delivery id is remembered for its platform's retry horizon.
	create(t, s, &Record{Form: "demo", IdempotencyKey: "hook:meta:123", KeyTTL: 36 * time.Hour})
	ttl, err := rdb.TTL(ctx(t), idemKey("demo", "hook:meta:123")).Result()
	if err != nil || ttl <= 35*time.Hour || ttl > 36*time.Hour {
		t.Errorf("key TTL %s (%v), want 36 h", ttl, err)
	}
}

func TestEditKeepsWhoWhenBeforeAfter(t *testing.T) {
	t.Parallel()
	s, _, clk := newStore(t)
	r := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "ann@example.com", "job_title": "Head of everything at a very long name", "company": "Contoso"}})
	setStatus(t, s, r.ID, StatusFailed)
	got, err := s.Edit(ctx(t), r.ID, map[string]string{"email": "ann@example.com", "job_title": "CEO", "phone": "+1 555"}, "admin")
	if err != nil {
		t.Fatal(err)
	}
	want := Edit{By: "admin", At: clk.Now(),
		Before: map[string]string{"job_title": "Head of everything at a very long name", "company": "Contoso"},
		After:  map[string]string{"job_title": "CEO", "phone": "+1 555"}}
	if len(got.Edits) != 1 || !reflect.DeepEqual(got.Edits[0], want) {
		t.Errorf("Edits = %+v, want [%+v]", got.Edits, want)
	}
	if got.Status != StatusAccepted || got.RetriedAt == nil || got.Fields["job_title"] != "CEO" || got.Fields["company"] != "" {
		t.Errorf("after the edit: status %s, retried %v, fields %v", got.Status, got.RetriedAt, got.Fields)
	}
	// Nothing changed: a retry, with no edit recorded.
	setStatus(t, s, r.ID, StatusFailed)
	got, err = s.Edit(ctx(t), r.ID, got.Fields, "admin")
	if err != nil || len(got.Edits) != 1 || got.Status != StatusAccepted {
		t.Errorf("an edit that changes nothing: %d edits, status %s, %v; want 1 edit kept, accepted", len(got.Edits), got.Status, err)
	}
}
