package submission

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// entryOf is a queue entry in the shape package queue gives asynq's tasks,
// under test keys; asked counts how often CreateWith asked for one.
func entryOf(asked *atomic.Int32) func(*Record) *QueueEntry {
	return func(r *Record) *QueueEntry {
		asked.Add(1)
		return &QueueEntry{Key: "q:t:" + r.ID, Fields: []string{"msg", "task of " + r.ID, "state", "pending"},
			List: "q:pending", Push: r.ID, Set: "q:queues", Member: "q"}
	}
}

func TestCreateWithWritesTheTaskWithTheRecord(t *testing.T) {
	t.Parallel()
	s, rdb, _ := newStore(t)
	var asked atomic.Int32
	o := CreateOptions{Entry: entryOf(&asked)}

	r := &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "k1"}
	c, err := s.CreateWith(ctx(t), r, o)
	if err != nil || c.Existing != "" || !c.Queued || c.Replicated {
		t.Fatalf("CreateWith: got %+v, %v; want queued, not replicated (none asked)", c, err)
	}
	if got, _ := rdb.HGetAll(ctx(t), "q:t:"+r.ID).Result(); got["msg"] != "task of "+r.ID || got["state"] != "pending" || len(got) != 2 {
		t.Errorf("task hash: got %v, want msg and state", got)
	}
	if got, _ := rdb.LRange(ctx(t), "q:pending", 0, -1).Result(); !slices.Equal(got, []string{r.ID}) {
		t.Errorf("pending list: got %v, want [%s]", got, r.ID)
	}
	if ok, _ := rdb.SIsMember(ctx(t), "q:queues", "q").Result(); !ok {
		t.Error("queue name not added to the set of queues")
	}
	if n, _ := s.Waiting(ctx(t), r.Origin()); n != 1 {
		t.Errorf("waiting count: %d, want 1", n)
	}

	t.Run("a resend writes no second task", func(t *testing.T) {
		c, err := s.CreateWith(ctx(t), &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "k1"}, o)
		if err != nil || c.Existing != r.ID || c.Queued {
			t.Errorf("resend: got %+v, %v; want Existing %s, not queued", c, err, r.ID)
		}
		if n, _ := rdb.LLen(ctx(t), "q:pending").Result(); n != 1 {
			t.Errorf("pending list length %d, want 1", n)
		}
	})
	t.Run("a task that exists already is not pushed again", func(t *testing.T) {
		rdb.HSet(ctx(t), "q:t:fixed", "msg", "older")
		c, err := s.CreateWith(ctx(t), &Record{ID: "fixed", Form: "demo", Fields: map[string]string{"email": "f@example.com"}}, o)
		if err != nil || !c.Queued {
			t.Fatalf("got %+v, %v", c, err)
		}
		if got, _ := rdb.HGet(ctx(t), "q:t:fixed", "msg").Result(); got != "older" {
			t.Errorf("existing task's message: got %q, want it untouched", got)
		}
		if n, _ := rdb.LLen(ctx(t), "q:pending").Result(); n != 1 {
			t.Errorf("pending list length %d, want still 1 (asynq's own rule: one task per id)", n)
		}
	})
	t.Run("spam and refused records get no task", func(t *testing.T) {
		before := asked.Load()
		for _, r := range []*Record{
			{Form: "demo", Fields: map[string]string{"email": "s@example.com"}, Spam: &SpamInfo{Reason: "honeypot"}},
			{Form: "demo", Fields: map[string]string{"email": "x"}, LastError: &ErrorInfo{Message: "invalid"}},
		} {
			c, err := s.CreateWith(ctx(t), r, o)
			if err != nil || c.Queued {
				t.Errorf("%s record: got %+v, %v; want stored, not queued", r.Status, c, err)
			}
			if n, _ := rdb.Exists(ctx(t), keyRecord+r.ID, "q:t:"+r.ID).Result(); n != 1 {
				t.Errorf("%s record: %d of record and task exist, want the record only", r.Status, n)
			}
		}
		if asked.Load() != before {
			t.Errorf("Entry asked %d times for records that are not delivered", asked.Load()-before)
		}
	})
}

func TestCreateWithWaitingCap(t *testing.T) {
	t.Parallel()
	s, rdb, _ := newStore(t)
	o := CreateOptions{WaitingCap: 2}
	for i, email := range []string{"a@example.com", "b@example.com"} {
		if _, err := s.CreateWith(ctx(t), &Record{Form: "capped", Fields: map[string]string{"email": email}, IdempotencyKey: email}, o); err != nil {
			t.Fatalf("submission %d under the cap: %v", i, err)
		}
	}
	before, _ := rdb.DBSize(ctx(t)).Result()
	for _, r := range []*Record{
		{Form: "capped", Fields: map[string]string{"email": "c@example.com"}, IdempotencyKey: "c"},
		{Form: "capped", Fields: map[string]string{"email": "d@example.com"}, Spam: &SpamInfo{Reason: "honeypot"}},
	} {
		_, err := s.CreateWith(ctx(t), r, o)
		if !errors.Is(err, ErrWaitingCap) {
			t.Errorf("past the cap: got %v, want ErrWaitingCap", err)
		}
	}
	if after, _ := rdb.DBSize(ctx(t)).Result(); after != before {
		t.Errorf("keys: %d before the refused submissions, %d after; want nothing written", before, after)
	}
	if n, _ := s.Waiting(ctx(t), "form:capped"); n != 2 {
		t.Errorf("waiting: %d, want 2", n)
	}
	// A resend of a stored submission is answered with its id, cap or not:
	// it adds nothing to the backlog.
	c, err := s.CreateWith(ctx(t), &Record{Form: "capped", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "a@example.com"}, o)
	if err != nil || c.Existing == "" {
		t.Errorf("resend at the cap: got %+v, %v; want the first one's id", c, err)
	}
	// Another origin has its own count.
	if _, err := s.CreateWith(ctx(t), &Record{Form: "other", Fields: map[string]string{"email": "a@example.com"}}, o); err != nil {
		t.Errorf("another form: %v", err)
	}
}

// TestCreateWithReplicasInOneRoundTrip: with replicas asked, the record,
// its task and the WAIT go to Redis as one pipeline; the answer says
// whether the replica confirmed; and a Redis that has not seen the script
// yet (restarted, SCRIPT FLUSH) is sent it.
func TestCreateWithReplicasInOneRoundTrip(t *testing.T) {
	t.Parallel()
	primary := testenv.StartRedis(t)
	replica := testenv.StartReplica(t, primary)
	rdb := primary.Client()
	s := NewStore(rdb, retention)
	var asked atomic.Int32
	o := CreateOptions{Entry: entryOf(&asked), Replicas: 1, ReplicaTimeout: 5 * time.Second}

	if err := rdb.ScriptFlush(ctx(t)).Err(); err != nil {
		t.Fatal(err)
	}
	first := &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}}
	if c, err := s.CreateWith(ctx(t), first, o); err != nil || !c.Replicated || !c.Queued {
		t.Fatalf("first CreateWith after SCRIPT FLUSH: got %+v, %v; want queued and replicated", c, err)
	}
	trips := testenv.CountRoundTrips(rdb)
	r := &Record{Form: "demo", Fields: map[string]string{"email": "b@example.com"}, IdempotencyKey: "b"}
	c, err := s.CreateWith(ctx(t), r, o)
	if err != nil || !c.Replicated || !c.Queued {
		t.Fatalf("CreateWith: got %+v, %v; want queued and replicated", c, err)
	}
	if n := trips.Load(); n != 1 {
		t.Errorf("round trips: %d, want 1", n)
	}
	if n, err := replica.Client().Exists(ctx(t), keyRecord+r.ID, idemKey("demo", "b"), "q:t:"+r.ID).Result(); err != nil || n != 3 {
		t.Errorf("record, key and task on the replica: got %d, %v; want 3", n, err)
	}

	replica.Pause()
	lagging := &Record{Form: "demo", Fields: map[string]string{"email": "c@example.com"}}
	_, err = s.CreateWith(ctx(t), lagging, CreateOptions{Entry: o.Entry, Replicas: 1, ReplicaTimeout: 100 * time.Millisecond})
	replica.Resume()
	if !errors.Is(err, ErrNotReplicated) {
		t.Errorf("replica stopped: got %v, want ErrNotReplicated", err)
	}
	if n, _ := rdb.Exists(ctx(t), keyRecord+lagging.ID, "q:t:"+lagging.ID).Result(); n != 2 {
		t.Errorf("unconfirmed submission on the primary: %d of record and task, want both (a resend finds them)", n)
	}
}

// TestFingerprintIsStable: fingerprints are stored with idempotency keys
// (24 h, or a webhook source's retry horizon), so a resend answered by a
// newer version must hash the same bytes as the version that stored it:
// each name and value, in name order, as "<len>:<name><len>:<value>".
func TestFingerprintIsStable(t *testing.T) {
	t.Parallel()
	for _, fields := range []map[string]string{
		nil,
		{"email": "a@example.com"},
		{"email": "a@example.com", "last_name": "Lée", "message": "1:2", "": ""},
	} {
		h := sha256.New()
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(fields[k]), fields[k])
		}
		if got, want := fingerprint(fields), hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("fingerprint(%v) = %s, want %s", fields, got, want)
		}
	}
	if fingerprint(map[string]string{"ab": "c"}) == fingerprint(map[string]string{"a": "bc"}) {
		t.Error("two different sets of fields share a fingerprint")
	}
}

// The hour's counters expire StatsSpan after the hour, whichever record
// made the key: the first of its hour sets the expiry, later ones keep it
// (a field new in the key sets it again), and each record is counted once,
// under its status and origin.
func TestCreateCountersExpire(t *testing.T) {
	t.Parallel()
	s, rdb, _ := newStore(t)
	first := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}})
	key, exp := s.statsKey(first.ReceivedAt)
	want := time.Unix(exp, 0)
	for i, r := range []*Record{
		{Form: "demo", Fields: map[string]string{"email": "b@example.com"}},
		{Form: "other", Fields: map[string]string{"email": "c@example.com"}},
		{Form: "demo", Fields: map[string]string{"email": "d@example.com"}, Spam: &SpamInfo{Reason: "honeypot"}},
	} {
		if i == 2 {
			// A key that lost its expiry is given it again by the next
			// status that is new in it.
			rdb.Persist(ctx(t), key)
		}
		create(t, s, r)
	}
	got, err := rdb.ExpireTime(ctx(t), key).Result()
	if err != nil || got != time.Duration(want.Unix())*time.Second {
		t.Errorf("%s expires at %v (%v), want %v", key, got, err, want.Unix())
	}
	counts, _ := rdb.HGetAll(ctx(t), key).Result()
	wantCounts := map[string]string{"accepted|form:demo": "2", "accepted|form:other": "1", "spam|form:demo": "1"}
	if !maps.Equal(counts, wantCounts) {
		t.Errorf("counters: got %v, want %v", counts, wantCounts)
	}
	rdb.Del(ctx(t), key)
	create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "e@example.com"}})
	if got, _ := rdb.ExpireTime(ctx(t), key).Result(); got != time.Duration(want.Unix())*time.Second {
		t.Errorf("a new key of the hour expires at %v, want %v", got, want.Unix())
	}
}
