package submission

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

const retention = time.Hour

// newStore returns a Store on a private redis-server, its client, and the
// clock it reads (real time unless the test advances it).
func newStore(t *testing.T) (*Store, *redis.Client, *testenv.Clock) {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	s := NewStore(rdb, retention)
	clk := testenv.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	s.now = clk.Now
	return s, rdb, clk
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func create(t *testing.T, s *Store, r *Record) *Record {
	t.Helper()
	existing, err := s.Create(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	if existing != "" {
		t.Fatalf("Create(%s) returned existing %s", r.ID, existing)
	}
	return r
}

func setStatus(t *testing.T, s *Store, id, status string) *Record {
	t.Helper()
	r, err := s.update(ctx(t), id, func(r *Record) error {
		r.Status = status
		return nil
	})
	if err != nil {
		t.Fatalf("Update(%s → %s): %v", id, status, err)
	}
	return r
}

// members returns the ids in a sorted set.
func members(t *testing.T, rdb *redis.Client, key string) []string {
	t.Helper()
	ids, err := rdb.ZRange(ctx(t), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func ids(recs []*Record) []string {
	out := make([]string, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func TestCreateAndGet(t *testing.T) {
	s, rdb, clk := newStore(t)
	in := &Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "ann@example.com"}, ClientIP: "192.0.2.1"}
	create(t, s, in)
	if len(in.ID) != 32 {
		t.Errorf("generated id %q, want 32 hex characters", in.ID)
	}
	got, err := s.Get(ctx(t), in.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *in
	want.Status = StatusAccepted
	want.ReceivedAt, want.UpdatedAt = clk.Now(), clk.Now()
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Get = %+v\nwant %+v", *got, want)
	}
	if m := members(t, rdb, keyIndex+StatusAccepted); !reflect.DeepEqual(m, []string{in.ID}) {
		t.Errorf("accepted index = %v, want [%s]", m, in.ID)
	}
	if ttl := rdb.TTL(ctx(t), keyRecord+in.ID).Val(); ttl != -1 {
		t.Errorf("TTL of an accepted record = %s, want none (kept until handled)", ttl)
	}

	t.Run("an unknown id is ErrNotFound", func(t *testing.T) {
		if _, err := s.Get(ctx(t), "0123456789abcdef0123456789abcdef"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("a given id and receipt time are kept", func(t *testing.T) {
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		r := create(t, s, &Record{ID: "fixed-id", Form: "demo", ReceivedAt: at, Status: StatusDelivered})
		got, err := s.Get(ctx(t), "fixed-id")
		if err != nil {
			t.Fatal(err)
		}
		if !got.ReceivedAt.Equal(at) || got.Status != StatusAccepted || r.Status != StatusAccepted {
			t.Errorf("ReceivedAt %s Status %q, want %s and accepted whatever the caller set", got.ReceivedAt, got.Status, at)
		}
	})
}

func TestCreateIdempotency(t *testing.T) {
	s, rdb, _ := newStore(t)
	first := create(t, s, &Record{Form: "demo", IdempotencyKey: "order-42", Fields: map[string]string{"email": "a@example.com", "last_name": "Lee"}})

	again := &Record{Form: "demo", IdempotencyKey: "order-42", Fields: map[string]string{"last_name": "Lee", "email": "a@example.com"}}
	existing, err := s.Create(ctx(t), again)
	if err != nil {
		t.Fatal(err)
	}
	if existing != first.ID {
		t.Fatalf("repeat Create returned %q, want the first id %s", existing, first.ID)
	}
	if _, err := s.Get(ctx(t), again.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the repeat's record %s was written (Get = %v)", again.ID, err)
	}
	if ttl := rdb.TTL(ctx(t), idemKey("demo", "order-42")).Val(); ttl <= idempotencyTTL-time.Minute || ttl > idempotencyTTL {
		t.Errorf("idempotency key TTL = %s, want about %s", ttl, idempotencyTTL)
	}

	t.Run("the same key with other content is refused", func(t *testing.T) {
		for _, fields := range []map[string]string{
			{"email": "b@example.com", "last_name": "Lee"},
			{"email": "a@example.com"},
			{"email": "a@example.com", "last_name": "Lee", "company": "Contoso"},
			{"email": "a@example.com", "last_name": "Lee="}, // no value runs into the next name
		} {
			other := &Record{Form: "demo", IdempotencyKey: "order-42", Fields: fields}
			existing, err := s.Create(ctx(t), other)
			if !errors.Is(err, ErrKeyReused) || existing != "" {
				t.Errorf("Create with %v: got %q, %v; want ErrKeyReused", fields, existing, err)
			}
			if _, err := s.Get(ctx(t), other.ID); !errors.Is(err, ErrNotFound) {
				t.Errorf("the refused record %s was written (Get = %v)", other.ID, err)
			}
		}
		if m := members(t, rdb, keyIndex+StatusAccepted); !reflect.DeepEqual(m, []string{first.ID}) {
			t.Errorf("accepted index = %v, want only [%s]", m, first.ID)
		}
		got, _ := s.Get(ctx(t), first.ID)
		if got.Fields["email"] != "a@example.com" || got.Fields["last_name"] != "Lee" {
			t.Errorf("first record's fields = %v, want them unchanged", got.Fields)
		}
	})
	t.Run("the same key on another form is another submission", func(t *testing.T) {
		other := create(t, s, &Record{Form: "contact-us", IdempotencyKey: "order-42"})
		if other.ID == first.ID {
			t.Error("another form's submission got the first id")
		}
	})
	t.Run("without a key every create is new", func(t *testing.T) {
		a := create(t, s, &Record{Form: "demo"})
		b := create(t, s, &Record{Form: "demo"})
		if a.ID == b.ID {
			t.Error("two creates without a key share an id")
		}
	})
}

func TestUpdateMovesBetweenIndexes(t *testing.T) {
	s, rdb, _ := newStore(t)
	r := create(t, s, &Record{Form: "contact-us"})
	steps := []struct {
		status string
		failed bool // in the form's failed index
	}{
		{StatusDelivering, false},
		{StatusRetrying, false},
		{StatusFailed, true},
		{StatusAccepted, false}, // retried by a person
		{StatusFailed, true},
		{StatusDiscarded, false},
	}
	for _, st := range steps {
		setStatus(t, s, r.ID, st.status)
		for _, other := range Statuses {
			in := len(members(t, rdb, keyIndex+other)) > 0
			if in != (other == st.status) {
				t.Errorf("after → %s: in %s index = %v", st.status, other, in)
			}
		}
		if got := members(t, rdb, keyFailed+"contact-us"); (len(got) == 1) != st.failed {
			t.Errorf("after → %s: form failed index = %v, want in it: %v", st.status, got, st.failed)
		}
		got, _ := s.Get(ctx(t), r.ID)
		if got.Status != st.status {
			t.Errorf("Status = %q, want %q", got.Status, st.status)
		}
	}
}

func TestUpdateRetention(t *testing.T) {
	s, rdb, _ := newStore(t)
	tests := []struct {
		status string
		ttl    bool
	}{
		{StatusDelivered, true},
		{StatusDiscarded, true},
		{StatusFailed, false},
		{StatusRetrying, false},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			r := create(t, s, &Record{Form: "demo"})
			setStatus(t, s, r.ID, tt.status)
			ttl := rdb.TTL(ctx(t), keyRecord+r.ID).Val()
			if tt.ttl && (ttl <= retention-time.Minute || ttl > retention) {
				t.Errorf("TTL = %s, want about the retention %s", ttl, retention)
			}
			if !tt.ttl && ttl != -1 {
				t.Errorf("TTL = %s, want none: the record stays until handled", ttl)
			}
		})
	}
	t.Run("retrying a discarded record drops its expiry", func(t *testing.T) {
		r := create(t, s, &Record{Form: "demo"})
		setStatus(t, s, r.ID, StatusDiscarded)
		setStatus(t, s, r.ID, StatusAccepted)
		if ttl := rdb.TTL(ctx(t), keyRecord+r.ID).Val(); ttl != -1 {
			t.Errorf("TTL = %s, want none", ttl)
		}
	})
}

func TestUpdateAbandonsOnError(t *testing.T) {
	s, _, clk := newStore(t)
	r := create(t, s, &Record{Form: "demo"})
	clk.Advance(time.Second)
	stop := errors.New("already finished")
	_, err := s.update(ctx(t), r.ID, func(r *Record) error {
		r.Status = StatusDelivered
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("Update = %v, want fn's error", err)
	}
	got, _ := s.Get(ctx(t), r.ID)
	if got.Status != StatusAccepted || !got.UpdatedAt.Equal(r.UpdatedAt) {
		t.Errorf("record = %s at %s, want it unchanged", got.Status, got.UpdatedAt)
	}
	if _, err := s.update(ctx(t), "missing", func(*Record) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(missing) = %v, want ErrNotFound", err)
	}
}

func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	s, _, _ := newStore(t)
	s.now = time.Now
	r := create(t, s, &Record{Form: "demo"})
	const writers = 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.update(ctx(t), r.ID, func(r *Record) error {
				r.addAttempt(Attempt{At: time.Now(), Outcome: fmt.Sprintf("writer %d", i)})
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	got, _ := s.Get(ctx(t), r.ID)
	seen := map[string]bool{}
	for _, a := range got.Attempts {
		seen[a.Outcome] = true
	}
	if got.AttemptCount != writers || len(seen) != writers {
		t.Errorf("AttemptCount %d with %d distinct attempts, want %d of each", got.AttemptCount, len(seen), writers)
	}
}

func TestAddAttemptKeepsTheMostRecent(t *testing.T) {
	var r Record
	for i := range 35 {
		r.addAttempt(Attempt{Outcome: fmt.Sprint(i)})
	}
	if r.AttemptCount != 35 || len(r.Attempts) != maxAttempts || r.Attempts[0].Outcome != "5" || r.Attempts[maxAttempts-1].Outcome != "34" {
		t.Errorf("AttemptCount %d, %d kept from %s to %s; want 35, %d kept from 5 to 34",
			r.AttemptCount, len(r.Attempts), r.Attempts[0].Outcome, r.Attempts[len(r.Attempts)-1].Outcome, maxAttempts)
	}
}

func TestList(t *testing.T) {
	s, _, clk := newStore(t)
	// Eight failed submissions, one a second: even ones on form a, odd on b.
	var all []*Record
	for i := range 8 {
		form := "a"
		if i%2 == 1 {
			form = "b"
		}
		r := create(t, s, &Record{Form: form})
		setStatus(t, s, r.ID, StatusFailed)
		all = append(all, r)
		clk.Advance(time.Second)
	}
	newest := func(pick func(i int) bool) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- {
			if pick(i) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}

	tests := []struct {
		name string
		o    ListOptions
		want []string
	}{
		{"newest first", ListOptions{Status: StatusFailed}, newest(func(int) bool { return true })},
		{"limit", ListOptions{Status: StatusFailed, Limit: 3}, newest(func(i int) bool { return i >= 5 })},
		{"one form", ListOptions{Status: StatusFailed, Form: "a"}, newest(func(i int) bool { return i%2 == 0 })},
		{"one form, limited", ListOptions{Status: StatusFailed, Form: "b", Limit: 2}, newest(func(i int) bool { return i%2 == 1 && i >= 5 })},
		{"before a time", ListOptions{Status: StatusFailed, Before: all[3].UpdatedAt}, newest(func(i int) bool { return i < 3 })},
		{"a form nobody used", ListOptions{Status: StatusFailed, Form: "c"}, []string{}},
		{"another status", ListOptions{Status: StatusDelivered}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.List(ctx(t), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(recs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("List = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := s.List(ctx(t), ListOptions{Status: "lost"}); err == nil {
		t.Error("List of an unknown status succeeded")
	}
}

// pages lists every record of o by following Before from the last record of
// each page, as a client of GET /v1/submissions does.
func pages(t *testing.T, s *Store, o ListOptions) []string {
	t.Helper()
	var got []string
	for range 100 {
		recs, err := s.List(ctx(t), o)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(recs)...)
		if len(recs) < o.Limit {
			return got
		}
		o.Before = recs[len(recs)-1].UpdatedAt
	}
	t.Fatal("paging does not end")
	return nil
}

func TestListPaging(t *testing.T) {
	tests := []struct {
		name string
		step time.Duration // clock advance between records
	}{
		{"a second apart", time.Second},
		{"within one millisecond", time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, clk := newStore(t)
			var want []string
			for range 7 {
				r := create(t, s, &Record{Form: "demo"})
				want = append([]string{r.ID}, want...)
				clk.Advance(tt.step)
			}
			if got := pages(t, s, ListOptions{Status: StatusAccepted, Limit: 2}); !reflect.DeepEqual(got, want) {
				t.Errorf("pages of 2 = %v, want every record once, newest first: %v", got, want)
			}
		})
	}
}

// Pages are full whenever more records remain, even when records of other
// forms or expired ones are skipped: a short page tells a client it has
// reached the end.
func TestListFillsPages(t *testing.T) {
	s, rdb, clk := newStore(t)
	var want []string
	for i := range 9 {
		form := "other"
		if i%3 == 0 {
			form = "mine"
		}
		r := create(t, s, &Record{Form: form})
		setStatus(t, s, r.ID, StatusDelivered)
		if form == "mine" {
			want = append([]string{r.ID}, want...)
		}
		clk.Advance(time.Second)
	}
	if got := pages(t, s, ListOptions{Status: StatusDelivered, Form: "mine", Limit: 1}); !reflect.DeepEqual(got, want) {
		t.Errorf("delivered of form mine, pages of 1 = %v, want %v", got, want)
	}

	// An expired record leaves its index entry behind until Trim.
	if err := rdb.Del(ctx(t), keyRecord+want[0]).Err(); err != nil {
		t.Fatal(err)
	}
	if got := pages(t, s, ListOptions{Status: StatusDelivered, Form: "mine", Limit: 1}); !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("after one expired: pages of 1 = %v, want %v", got, want[1:])
	}
}

// TestListEveryStatus: with no status, List merges the status indexes by
// last change, newest first, and pages through them like one index.
func TestListEveryStatus(t *testing.T) {
	for _, step := range []time.Duration{time.Second, time.Microsecond} {
		t.Run("records "+step.String()+" apart", func(t *testing.T) {
			s, rdb, clk := newStore(t)
			statuses := []string{StatusAccepted, StatusFailed, StatusDelivered, StatusFailed, StatusRetrying, StatusDiscarded, StatusDelivered, StatusAccepted, StatusSpam, StatusFailed, StatusDelivering}
			var want, mine []string
			var expired string
			for i, st := range statuses {
				form := "other"
				if i%2 == 0 {
					form = "mine"
				}
				r := create(t, s, &Record{Form: form})
				if st != StatusAccepted {
					setStatus(t, s, r.ID, st)
				}
				clk.Advance(step)
				if i == 5 {
					expired = r.ID // its index entry stays until Trim
					continue
				}
				want = append([]string{r.ID}, want...)
				if form == "mine" {
					mine = append([]string{r.ID}, mine...)
				}
			}
			if err := rdb.Del(ctx(t), keyRecord+expired).Err(); err != nil {
				t.Fatal(err)
			}
			recs, err := s.List(ctx(t), ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(recs); !reflect.DeepEqual(got, want) {
				t.Errorf("List of every status = %v, want %v", got, want)
			}
			for _, limit := range []int{1, 2, 3} {
				if got := pages(t, s, ListOptions{Limit: limit}); !reflect.DeepEqual(got, want) {
					t.Errorf("pages of %d = %v, want every record once, newest first: %v", limit, got, want)
				}
			}
			if got := pages(t, s, ListOptions{Form: "mine", Limit: 2}); !reflect.DeepEqual(got, mine) {
				t.Errorf("form mine, pages of 2 = %v, want %v", got, mine)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	s, _, _ := newStore(t)
	for _, st := range []string{StatusAccepted, StatusAccepted, StatusDelivered, StatusFailed, StatusFailed, StatusFailed} {
		r := create(t, s, &Record{Form: "demo"})
		if st != StatusAccepted {
			setStatus(t, s, r.ID, st)
		}
	}
	got, err := s.Counts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{StatusAccepted: 2, StatusDelivering: 0, StatusRetrying: 0, StatusDelivered: 1, StatusFailed: 3, StatusSpam: 0, StatusDiscarded: 0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
}

func TestTrim(t *testing.T) {
	s, rdb, clk := newStore(t)
	old := map[string]*Record{}
	for _, st := range []string{StatusDelivered, StatusDiscarded, StatusFailed} {
		r := create(t, s, &Record{Form: "demo"})
		old[st] = setStatus(t, s, r.ID, st)
	}
	clk.Advance(retention + time.Second)
	recent := setStatus(t, s, create(t, s, &Record{Form: "demo"}).ID, StatusDelivered)
	if err := s.Trim(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := members(t, rdb, keyIndex+StatusDelivered); !reflect.DeepEqual(got, []string{recent.ID}) {
		t.Errorf("delivered index = %v, want only the recent %s", got, recent.ID)
	}
	if got := members(t, rdb, keyIndex+StatusDiscarded); len(got) != 0 {
		t.Errorf("discarded index = %v, want the old one trimmed", got)
	}
	if got := members(t, rdb, keyIndex+StatusFailed); !reflect.DeepEqual(got, []string{old[StatusFailed].ID}) {
		t.Errorf("failed index = %v, want the failed one kept however old", got)
	}
	if got := members(t, rdb, keyFailed+"demo"); !reflect.DeepEqual(got, []string{old[StatusFailed].ID}) {
		t.Errorf("form failed index = %v, want it kept", got)
	}
}

func TestStale(t *testing.T) {
	s, _, clk := newStore(t)
	old := create(t, s, &Record{Form: "demo"})
	picked := create(t, s, &Record{Form: "demo"})
	setStatus(t, s, picked.ID, StatusDelivering)
	retrying := create(t, s, &Record{Form: "demo"})
	setStatus(t, s, retrying.ID, StatusRetrying)
	clk.Advance(3 * time.Minute)
	fresh := create(t, s, &Record{Form: "demo"})
	setStatus(t, s, create(t, s, &Record{Form: "demo"}).ID, StatusRetrying)
	tests := []struct {
		status string
		want   []string
	}{
		{StatusAccepted, []string{old.ID}},
		{StatusDelivering, []string{picked.ID}},
		{StatusRetrying, []string{retrying.ID}},
		{StatusFailed, nil},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			got, err := s.Stale(ctx(t), tt.status, 2*time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) || (len(got) > 0 && !reflect.DeepEqual(got, tt.want)) {
				t.Errorf("Stale(%s) = %v, want %v (and not the fresh %s)", tt.status, got, tt.want, fresh.ID)
			}
		})
	}
	for range 4 {
		create(t, s, &Record{Form: "demo"})
	}
	clk.Advance(3 * time.Minute)
	if got, _ := s.Stale(ctx(t), StatusAccepted, 2*time.Minute, 3); len(got) != 3 {
		t.Errorf("Stale with limit 3 = %d ids, want 3", len(got))
	}
}
