package flood_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// redisWaiting counts waiting submissions the way the submission store is
// to: one counter per form, read with one GET.
type redisWaiting struct{ rdb redis.UniversalClient }

func (w redisWaiting) Waiting(ctx context.Context, form string) (int64, error) {
	n, err := w.rdb.Get(ctx, "test:waiting:"+form).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

func TestCheckWaiting(t *testing.T) {
	cases := []struct {
		name         string
		waiting, max int64
		allowed      bool
	}{
		{"no cap", 1_000_000, 0, true},
		{"below the cap", 99, 100, true},
		{"at the cap", 100, 100, false},
		{"past the cap", 150, 100, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := flood.CheckWaiting(c.waiting, c.max, 0)
			if d.Allowed != c.allowed {
				t.Fatalf("CheckWaiting(%d, %d) = %+v, want allowed %v", c.waiting, c.max, d, c.allowed)
			}
			if !d.Allowed && (d.Limit != flood.LimitWaiting || !d.Overloaded() || d.RetryAfter != time.Minute) {
				t.Errorf("refusal %+v: want limit %s (503) after the default minute", d, flood.LimitWaiting)
			}
		})
	}
}

func TestWaitingCap(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	ctx := context.Background()
	w := flood.WaitingCap{Counter: redisWaiting{rdb}, RetryAfter: 2 * time.Minute, Timeout: 10 * time.Second}

	rdb.Set(ctx, "test:waiting:busy", 500, 0)
	rdb.Set(ctx, "test:waiting:quiet", 3, 0)
	d, err := w.Check(ctx, "busy", 500)
	if err != nil || d.Allowed || !d.Overloaded() || d.RetryAfterSeconds() != 120 {
		t.Fatalf("busy form at its cap: got %+v, %v; want refused, 503, Retry-After 120", d, err)
	}
	if d, err := w.Check(ctx, "quiet", 500); err != nil || !d.Allowed {
		t.Fatalf("quiet form while another is full: got %+v, %v; want allowed", d, err)
	}
	if d, err := w.Check(ctx, "busy", 0); err != nil || !d.Allowed {
		t.Fatalf("no cap set: got %+v, %v; want allowed", d, err)
	}
}

func TestWaitingCapRedisPaused(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ReadTimeout: 5 * time.Minute})
	t.Cleanup(func() { rdb.Close() })
	w := flood.WaitingCap{Counter: redisWaiting{rdb}, Timeout: 100 * time.Millisecond}
	rdb.Ping(context.Background())
	r.Pause()
	defer r.Resume()
	d, err := w.Check(context.Background(), "f", 10)
	if !d.Allowed || !d.Unchecked || !errors.Is(err, flood.ErrUnavailable) {
		t.Fatalf("Redis paused: got %+v, %v; want allowed, unchecked, ErrUnavailable", d, err)
	}
}

// countingReader counts readings of the real Redis.
type countingReader struct {
	read flood.MemoryReader
	n    atomic.Int64
}

func (c *countingReader) Read(ctx context.Context) (flood.Memory, error) {
	c.n.Add(1)
	return c.read(ctx)
}

func TestRedisMemoryReadsTheServer(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "maxmemory", "64mb").Err(); err != nil {
		t.Fatal(err)
	}
	m, err := flood.RedisMemory(rdb)(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Used <= 0 || m.Max != 64<<20 {
		t.Fatalf("RedisMemory = %+v, want some bytes used of a 64 MiB maxmemory", m)
	}
}

func TestMemoryGuard(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	ctx := context.Background()
	used, err := flood.RedisMemory(rdb)(ctx)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("no maxmemory and no limit: no cap", func(t *testing.T) {
		g, _ := flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{Timeout: 10 * time.Second})
		if d, err := g.Check(ctx); err != nil || !d.Allowed || d.Unchecked {
			t.Fatalf("got %+v, %v; want allowed, checked", d, err)
		}
	})
	t.Run("past an explicit limit", func(t *testing.T) {
		g, _ := flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{Limit: used.Used / 2, Timeout: 10 * time.Second})
		d, err := g.Check(ctx)
		if err != nil || d.Allowed || d.Limit != flood.LimitMemory || !d.Overloaded() || d.RetryAfterSeconds() != 30 {
			t.Fatalf("got %+v, %v; want refused by %s (503) with the default 30 s", d, err, flood.LimitMemory)
		}
	})
	t.Run("past a fraction of maxmemory", func(t *testing.T) {
		// maxmemory ten times what is used: 90% is far, 5% is passed.
		if err := rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used.Used*10, 10)).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.ConfigSet(ctx, "maxmemory", "0") })
		g, _ := flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{Timeout: 10 * time.Second})
		if d, err := g.Check(ctx); err != nil || !d.Allowed {
			t.Fatalf("at ~10%% of maxmemory, default fraction 0.9: got %+v, %v; want allowed", d, err)
		}
		g, _ = flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{Fraction: 0.05, Timeout: 10 * time.Second})
		if d, err := g.Check(ctx); err != nil || d.Allowed {
			t.Fatalf("at ~10%% of maxmemory, fraction 0.05: got %+v, %v; want refused", d, err)
		}
	})
}

// The memory is read at most once per Every, however many requests ask.
func TestMemoryGuardReadsOncePerInterval(t *testing.T) {
	r := testenv.StartRedis(t)
	rd := &countingReader{read: flood.RedisMemory(r.Client())}
	clock := testenv.NewClock(time.Now())
	g, err := flood.NewMemoryGuard(rd.Read, flood.MemoryOptions{Limit: 1 << 40, Now: clock.Now, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if d, err := g.Check(context.Background()); err != nil || !d.Allowed {
			t.Fatalf("got %+v, %v; want allowed", d, err)
		}
	}
	if n := rd.n.Load(); n != 1 {
		t.Fatalf("100 checks within a second read Redis %d times, want 1", n)
	}
	clock.Advance(time.Second)
	g.Check(context.Background())
	if n := rd.n.Load(); n != 2 {
		t.Fatalf("a check a second later: %d readings in all, want 2", n)
	}
}

// While one caller reads, the others answer from the last reading at once.
func TestMemoryGuardOneReaderAtATime(t *testing.T) {
	release := make(chan struct{})
	var reads atomic.Int64
	slow := func(ctx context.Context) (flood.Memory, error) {
		reads.Add(1)
		<-release
		return flood.Memory{Used: 10, Max: 100}, nil
	}
	g, _ := flood.NewMemoryGuard(slow, flood.MemoryOptions{Timeout: time.Hour})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		g.Check(context.Background())
	}()
	testenv.Eventually(t, 10*time.Second, func() string {
		if reads.Load() != 1 {
			return "the first check has not started reading"
		}
		return ""
	})
	d, err := g.Check(context.Background())
	if err != nil || !d.Allowed || !d.Unchecked {
		t.Fatalf("check during the first reading, with none yet: got %+v, %v; want allowed, unchecked", d, err)
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d readings in flight, want 1", n)
	}
	close(release)
	wg.Wait()
	if d, _ := g.Check(context.Background()); !d.Allowed || d.Unchecked {
		t.Fatalf("after the reading: got %+v, want allowed, checked", d)
	}
}

func TestMemoryGuardRedisPaused(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ReadTimeout: 5 * time.Minute})
	t.Cleanup(func() { rdb.Close() })
	rdb.Ping(context.Background())
	clock := testenv.NewClock(time.Now())
	g, _ := flood.NewMemoryGuard(flood.RedisMemory(rdb), flood.MemoryOptions{Limit: 1, Timeout: 100 * time.Millisecond, Now: clock.Now})
	r.Pause()
	d, err := g.Check(context.Background())
	if !d.Allowed || !d.Unchecked || !errors.Is(err, flood.ErrUnavailable) {
		t.Fatalf("Redis paused: got %+v, %v; want allowed, unchecked, ErrUnavailable", d, err)
	}
	d, err = g.Check(context.Background())
	if !d.Allowed || !d.Unchecked || err != nil {
		t.Fatalf("again within the interval: got %+v, %v; want allowed, unchecked, no second error", d, err)
	}
	r.Resume()
	clock.Advance(time.Second)
	if d, err := g.Check(context.Background()); err != nil || d.Allowed {
		t.Fatalf("Redis back, past a 1-byte limit: got %+v, %v; want refused", d, err)
	}
}

func TestMemoryGuardOptions(t *testing.T) {
	read := func(context.Context) (flood.Memory, error) { return flood.Memory{}, nil }
	for _, o := range []flood.MemoryOptions{{Limit: -1}, {Fraction: 1.5}, {Fraction: -0.1}} {
		if _, err := flood.NewMemoryGuard(read, o); err == nil {
			t.Errorf("NewMemoryGuard(%+v): nil error, want one", o)
		}
	}
}
