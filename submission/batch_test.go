package submission

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// holdBatch makes s's calls wait as they do while pipelines are on their
// way, and returns a function that sends those waiting, once n wait.
func holdBatch(t *testing.T, s *Store) (release func(n int)) {
	t.Helper()
	b := s.batch
	b.mu.Lock()
	was := b.sending
	b.sending = maxSending
	b.mu.Unlock()
	return func(n int) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			b.mu.Lock()
			k := len(b.waiting)
			b.mu.Unlock()
			if k == n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d calls waiting, want %d", k, n)
			}
			time.Sleep(time.Millisecond)
		}
		b.drain() // frees one way
		b.mu.Lock()
		b.sending = was
		b.mu.Unlock()
	}
}

// TestConcurrentCreatesShareARoundTrip: calls that wait while pipelines
// are on their way go to Redis together, and each gets its own answer, as
// it would alone: new records stored and queued, a resend of one of them
// answered with its id, a key reused with other content refused, one past
// the waiting cap refused with nothing written. A Redis that has not seen
// the script (SCRIPT FLUSH) is sent it.
func TestConcurrentCreatesShareARoundTrip(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedis(t)
	rdb := rs.Client()
	s := NewStore(rdb, retention)
	var asked atomic.Int32
	o := CreateOptions{Entry: entryOf(&asked)}
	first := &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "a"}
	if _, err := s.CreateWith(ctx(t), first, o); err != nil {
		t.Fatal(err)
	}
	capped := &Record{Form: "capped", Fields: map[string]string{"email": "z@example.com"}}
	if _, err := s.CreateWith(ctx(t), capped, o); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx(t)).Err(); err != nil {
		t.Fatal(err)
	}

	type call struct {
		r       *Record
		o       CreateOptions
		created Created
		err     error
	}
	calls := []*call{
		{r: &Record{Form: "demo", Fields: map[string]string{"email": "b@example.com"}, IdempotencyKey: "b"}, o: o},
		{r: &Record{Form: "demo", Fields: map[string]string{"email": "c@example.com"}}, o: o},
		{r: &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "a"}, o: o},
		{r: &Record{Form: "demo", Fields: map[string]string{"email": "other@example.com"}, IdempotencyKey: "a"}, o: o},
		{r: &Record{Form: "capped", Fields: map[string]string{"email": "y@example.com"}}, o: CreateOptions{Entry: o.Entry, WaitingCap: 1}},
	}
	release := holdBatch(t, s)
	trips := testenv.CountRoundTrips(rdb)
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.created, c.err = s.CreateWith(ctx(t), c.r, c.o) })
	}
	release(len(calls))
	wg.Wait()

	// One pipeline, refused for want of the script, then sent with it.
	if n := trips.Load(); n != 2 {
		t.Errorf("round trips: %d, want 2 (the pipeline, and again with the script)", n)
	}
	for i, c := range calls[:2] {
		if c.err != nil || c.created.Existing != "" || !c.created.Queued {
			t.Errorf("new submission %d: got %+v, %v; want stored and queued", i, c.created, c.err)
		}
		got, err := s.Get(ctx(t), c.r.ID)
		if err != nil || got.Fields["email"] != c.r.Fields["email"] {
			t.Errorf("new submission %d: Get: %v, %v", i, got, err)
		}
		if n, _ := rdb.Exists(ctx(t), "q:t:"+c.r.ID).Result(); n != 1 {
			t.Errorf("new submission %d: no task", i)
		}
	}
	if c := calls[2]; c.err != nil || c.created.Existing != first.ID {
		t.Errorf("resend: got %+v, %v; want Existing %s", c.created, c.err, first.ID)
	}
	if c := calls[3]; !errors.Is(c.err, ErrKeyReused) {
		t.Errorf("key reused with other content: got %v, want ErrKeyReused", c.err)
	}
	if c := calls[4]; !errors.Is(c.err, ErrWaitingCap) {
		t.Errorf("past the waiting cap: got %v, want ErrWaitingCap", c.err)
	}
	if n, _ := rdb.Exists(ctx(t), keyRecord+calls[4].r.ID).Result(); n != 0 {
		t.Error("the record refused at the waiting cap was stored")
	}
	if n, _ := s.Waiting(ctx(t), "form:demo"); n != 3 {
		t.Errorf("waiting count: %d, want 3", n)
	}
}

// TestCreateGivenUpWhileWaitingWritesNothing: a call whose context ends
// before its pipeline leaves is not sent, and says so.
func TestCreateGivenUpWhileWaitingWritesNothing(t *testing.T) {
	t.Parallel()
	s, rdb, _ := newStore(t)
	release := holdBatch(t, s)
	c, cancel := context.WithCancel(ctx(t))
	r := &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "a"}
	done := make(chan error)
	go func() {
		_, err := s.CreateWith(c, r, CreateOptions{})
		done <- err
	}()
	release(1) // sent: the way is free again
	if err := <-done; err != nil {
		t.Fatalf("first call: %v", err)
	}

	release = holdBatch(t, s)
	r2 := &Record{Form: "demo", Fields: map[string]string{"email": "b@example.com"}, IdempotencyKey: "b"}
	go func() {
		_, err := s.CreateWith(c, r2, CreateOptions{})
		done <- err
	}()
	for {
		s.batch.mu.Lock()
		n := len(s.batch.waiting)
		s.batch.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("call given up while waiting: got %v, want context.Canceled", err)
	}
	release(0)
	if n, _ := rdb.Exists(ctx(t), keyRecord+r2.ID, idemKey("demo", "b")).Result(); n != 0 {
		t.Errorf("call given up while waiting: %d of its keys written, want none", n)
	}
	if _, err := s.CreateWith(ctx(t), &Record{Form: "demo", Fields: map[string]string{"email": "c@example.com"}}, CreateOptions{}); err != nil {
		t.Errorf("a call after them: %v", err)
	}
}
