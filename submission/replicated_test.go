package submission

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// TestReplicated: a record is confirmed once the replica has it, and not
// while the replica takes nothing in.
func TestReplicated(t *testing.T) {
	t.Parallel()
	primary := testenv.StartRedis(t)
	replica := testenv.StartReplica(t, primary)
	s := NewStore(primary.Client(), retention)

	r := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "k1"})
	if err := s.Replicated(ctx(t), r.ID, 1, 2*time.Second); err != nil {
		t.Fatalf("Replicated with the replica in sync: %v", err)
	}
	if n, err := replica.Client().Exists(ctx(t), keyRecord+r.ID, idemKey("demo", "k1")).Result(); err != nil || n != 2 {
		t.Errorf("record and idempotency key on the replica: got %d, %v; want 2", n, err)
	}
	if err := s.Replicated(ctx(t), r.ID, 2, 50*time.Millisecond); !errors.Is(err, ErrNotReplicated) {
		t.Errorf("Replicated asking 2 replicas of 1: got %v, want ErrNotReplicated", err)
	}
	if err := s.Replicated(ctx(t), "no-such-id", 1, time.Second); !errors.Is(err, ErrNotFound) {
		t.Errorf("Replicated of a record the primary lacks: got %v, want ErrNotFound", err)
	}

	replica.Pause()
	lagging := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "b@example.com"}})
	err := s.Replicated(ctx(t), lagging.ID, 1, 200*time.Millisecond)
	replica.Resume()
	if !errors.Is(err, ErrNotReplicated) {
		t.Errorf("Replicated while the replica is stopped: got %v, want ErrNotReplicated", err)
	}
	if err := s.Replicated(ctx(t), lagging.ID, 1, 5*time.Second); err != nil {
		t.Errorf("Replicated once the replica resumed: %v", err)
	}
}

// TestStoreOnCluster: every operation of the store works on a Redis
// Cluster of three primaries — its scripts and transactions touch keys of
// one hash slot only — and Replicated asks the primary of the records'
// slot (which, with no replicas, confirms nothing).
func TestStoreOnCluster(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t)
	s := NewStore(c.Client(), retention)

	a := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "k"})
	existing, err := s.Create(ctx(t), &Record{Form: "demo", Fields: map[string]string{"email": "a@example.com"}, IdempotencyKey: "k"})
	if err != nil || existing != a.ID {
		t.Fatalf("Create again with the key: got %q, %v; want %s", existing, err, a.ID)
	}
	if _, err := s.Create(ctx(t), &Record{Form: "demo", Fields: map[string]string{"email": "x@example.com"}, IdempotencyKey: "k"}); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("Create with the key and other content: got %v, want ErrKeyReused", err)
	}
	create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "b@example.com"}, LastError: &ErrorInfo{Message: "refused"}})
	rec, err := s.BeginAttempt(ctx(t), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Succeed(ctx(t), a.ID, rec.AttemptID, time.Now(), Outcome{LeadID: "l1", Action: "created"}); err != nil {
		t.Fatal(err)
	}
	counts, err := s.Counts(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if counts[StatusDelivered] != 1 || counts[StatusFailed] != 1 || counts[StatusAccepted] != 0 {
		t.Errorf("counts: got %v, want 1 delivered, 1 failed", counts)
	}
	if list, err := s.List(ctx(t), ListOptions{Status: StatusFailed, Form: "demo"}); err != nil || len(list) != 1 {
		t.Errorf("failed list of demo: got %d records, %v; want 1", len(list), err)
	}
	if _, err := s.Stale(ctx(t), StatusAccepted, time.Minute, 10); err != nil {
		t.Errorf("Stale: %v", err)
	}
	if err := s.Trim(ctx(t)); err != nil {
		t.Errorf("Trim: %v", err)
	}

	// With a waiting cap and replicas asked: the script's placeholders are
	// in the {lb} slot, and the WAIT is left to Replicated (a pipeline's
	// keyless WAIT would go to any node).
	created, err := s.CreateWith(ctx(t), &Record{Form: "other", Fields: map[string]string{"email": "c@example.com"}},
		CreateOptions{WaitingCap: 10, Replicas: 1, ReplicaTimeout: 50 * time.Millisecond})
	if err != nil || created.Replicated || created.Queued {
		t.Errorf("CreateWith on a cluster: got %+v, %v; want stored, the WAIT left to Replicated", created, err)
	}

	if err := s.Replicated(ctx(t), a.ID, 1, 50*time.Millisecond); !errors.Is(err, ErrNotReplicated) {
		t.Errorf("Replicated on a cluster without replicas: got %v, want ErrNotReplicated", err)
	}
	if err := s.Replicated(ctx(t), "no-such-id", 1, 50*time.Millisecond); !errors.Is(err, ErrNotFound) {
		t.Errorf("Replicated of an unknown record: got %v, want ErrNotFound", err)
	}
}

// TestFailoverLosesWhatNoReplicaConfirmed is why Replicated exists: a
// record the primary acknowledged while its replica lagged is gone after
// the sentinels promote that replica, and Replicated had said so in time;
// a record it confirmed survives.
func TestFailoverLosesWhatNoReplicaConfirmed(t *testing.T) {
	t.Parallel()
	sen := testenv.StartSentinel(t)
	s := NewStore(sen.Client(), retention)
	kept := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "kept@example.com"}})
	if err := s.Replicated(ctx(t), kept.ID, 1, 5*time.Second); err != nil {
		t.Fatal(err)
	}

	// A replica that lags: stopped, behind a replication link full of
	// other writes, so that what comes next waits in the primary's own
	// output buffer (not in the kernel's socket buffers, which a stopped
	// process still receives into).
	replica := sen.Nodes[1]
	replica.Pause()
	primary := sen.Nodes[0].Client()
	junk := strings.Repeat("x", 1<<20)
	testenv.Eventually(t, 30*time.Second, func() string {
		if err := primary.Set(ctx(t), "junk:"+NewID(), junk, 0).Err(); err != nil {
			return err.Error()
		}
		list, err := primary.ClientList(ctx(t)).Result()
		if err != nil {
			return err.Error()
		}
		for _, line := range strings.Split(list, "\n") {
			if !strings.Contains(line, " flags=S ") {
				continue
			}
			for _, f := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(f, "omem="); ok {
					if n, _ := strconv.Atoi(v); n >= 4<<20 {
						return ""
					}
				}
			}
		}
		return "replication link not full yet"
	})
	lost := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "lost@example.com"}})
	err := s.Replicated(ctx(t), lost.ID, 1, 100*time.Millisecond)
	old := sen.KillPrimary()
	replica.Resume()
	if !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Replicated with the replica stopped: got %v, want ErrNotReplicated", err)
	}
	sen.WaitFailover(old)

	testenv.Eventually(t, 30*time.Second, func() string {
		if _, err := s.Get(ctx(t), kept.ID); err != nil {
			return "confirmed record after the failover: " + err.Error()
		}
		return ""
	})
	if _, err := s.Get(ctx(t), lost.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("unconfirmed record after the failover: got %v, want ErrNotFound (lost with the old primary)", err)
	}
}
