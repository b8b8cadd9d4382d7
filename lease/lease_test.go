package lease_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/lease"
)

// Two Lockers on separate clients stand for two worker processes. Each
// increment is a GET then a SET, so without mutual exclusion concurrent
// holders overwrite each other and the count comes out short.
func TestMutualExclusion(t *testing.T) {
	r := testenv.StartRedis(t)
	counters := r.Client()
	lockers := []*lease.Locker{
		lease.New(r.Client(), "test:lease", 5*time.Second),
		lease.New(r.Client(), "test:lease", 5*time.Second),
	}
	keys := []string{"lead:email:ann@example.com", "lead:email:bob@example.com", "lead:phone:5551234"}
	const goroutines, rounds = 50, 4

	want := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, len(lockers)*goroutines)
	for _, l := range lockers {
		for g := range goroutines {
			for i := range rounds {
				want[keys[(g+i)%len(keys)]]++
			}
			wg.Go(func() {
				for i := range rounds {
					if err := increment(l, counters, keys[(g+i)%len(keys)]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	for _, key := range keys {
		got, err := counters.Get(context.Background(), "count:"+key).Int()
		if err != nil {
			t.Fatalf("get count of %s: %v", key, err)
		}
		if got != want[key] {
			t.Errorf("%s: got count %d, want %d", key, got, want[key])
		}
	}
}

// increment adds one to key's counter with a deliberately racy read-modify-write
// under the lease.
func increment(l *lease.Locker, rdb *redis.Client, key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	le, err := l.Acquire(ctx, key)
	if err != nil {
		return err
	}
	n, err := rdb.Get(le.Context(), "count:"+key).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	if err := rdb.Set(le.Context(), "count:"+key, n+1, 0).Err(); err != nil {
		return err
	}
	return le.Release(ctx)
}

func TestDifferentKeysDoNotBlockEachOther(t *testing.T) {
	r := testenv.StartRedis(t)
	l := lease.New(r.Client(), "test:lease", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	a, err := l.Acquire(ctx, "lead:email:ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(ctx)
	b, err := l.Acquire(ctx, "lead:email:bob@example.com")
	if err != nil {
		t.Fatalf("acquire a second key while the first is held: %v", err)
	}
	defer b.Release(ctx)
}

func TestAcquireGivesUpWhenContextEnds(t *testing.T) {
	r := testenv.StartRedis(t)
	l := lease.New(r.Client(), "test:lease", 5*time.Second)
	held, err := l.Acquire(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = l.Acquire(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestWaiterGetsLeaseAfterRelease(t *testing.T) {
	r := testenv.StartRedis(t)
	l1 := lease.New(r.Client(), "test:lease", 5*time.Second)
	l2 := lease.New(r.Client(), "test:lease", 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	first, err := l1.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *lease.Lease)
	go func() {
		le, err := l2.Acquire(ctx, "k")
		if err != nil {
			t.Error(err)
		}
		got <- le
	}()
	if err := first.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	second := <-got
	if second == nil {
		return
	}
	if second.Token() <= first.Token() {
		t.Errorf("got token %d after %d, want it greater", second.Token(), first.Token())
	}
	if err := second.Check(ctx); err != nil {
		t.Errorf("check new holder: %v", err)
	}
	second.Release(ctx)
}

func TestFencingTokensIncrease(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	lockers := []*lease.Locker{
		lease.New(rdb, "test:lease", 5*time.Second),
		lease.New(r.Client(), "test:lease", 5*time.Second),
	}
	ctx := context.Background()
	var last int64
	for i := range 10 {
		// Halfway, Redis loses everything, as after a restart that did not
		// persist the counter: tokens must keep increasing all the same.
		if i == 5 {
			if err := rdb.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		le, err := lockers[i%2].Acquire(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if le.Token() <= last {
			t.Errorf("acquisition %d: got token %d after %d, want it greater", i, le.Token(), last)
		}
		last = le.Token()
		if err := le.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReleaseEndsLease(t *testing.T) {
	r := testenv.StartRedis(t)
	l := lease.New(r.Client(), "test:lease", 5*time.Second)
	ctx := context.Background()
	le, err := l.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := le.Check(ctx); err != nil {
		t.Fatalf("check while held: got %v, want nil", err)
	}
	if err := le.Release(ctx); err != nil {
		t.Fatalf("release: %v", err)
	}
	if le.Context().Err() == nil {
		t.Error("Context not cancelled by Release")
	}
	if cause := context.Cause(le.Context()); errors.Is(cause, lease.ErrLost) {
		t.Errorf("Context cause after Release: got %v, want something other than ErrLost", cause)
	}
	if err := le.Check(ctx); !errors.Is(err, lease.ErrLost) {
		t.Errorf("check after release: got %v, want ErrLost", err)
	}
	if err := le.Release(ctx); !errors.Is(err, lease.ErrLost) {
		t.Errorf("second release: got %v, want ErrLost", err)
	}
}

// A holder cut off from Redis cannot know whether someone else has taken its
// key, so once its ttl has run out since the last confirmed renewal it must
// stop its work.
func TestUnreachableRedisLosesLease(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	l := lease.New(rdb, "test:lease", 300*time.Millisecond)
	le, err := l.Acquire(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	rdb.Close()
	waitDone(t, le.Context())
	if cause := context.Cause(le.Context()); !errors.Is(cause, lease.ErrLost) {
		t.Errorf("got cause %v, want ErrLost", cause)
	}
}

func TestCancellingAcquireContextEndsLease(t *testing.T) {
	r := testenv.StartRedis(t)
	l := lease.New(r.Client(), "test:lease", 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	le, err := l.Acquire(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitDone(t, le.Context())
	// Releasing with a fresh context still frees the key at once.
	if err := le.Release(context.Background()); err != nil {
		t.Fatalf("release: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if _, err := l.Acquire(ctx2, "k"); err != nil {
		t.Errorf("acquire after release: %v", err)
	}
}

func waitDone(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("lease context still live after 10s")
	}
}

func Example() {
	// In a worker: one Locker per process, one lease per delivery.
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	locker := lease.New(rdb, "lb:lease", 30*time.Second)
	deliver := func(ctx context.Context, email string) error {
		le, err := locker.Acquire(ctx, "lead:email:"+email)
		if err != nil {
			return err
		}
		defer le.Release(context.WithoutCancel(ctx))
		// Query and write the CRM under le.Context(); writes stop if the lease is lost.
		_ = le.Context()
		return nil
	}
	_ = deliver
}
