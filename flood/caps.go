package flood

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// within runs fn with a deadline of timeout and returns at the deadline even
// if fn does not: a hung Redis must not hang intake, whatever the client's
// own timeouts. fn's goroutine ends when the client gives up on its own.
func within[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type answer struct {
		v   T
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := fn(ctx)
		ch <- answer{v, err}
	}()
	select {
	case a := <-ch:
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// WaitingCounter is what the submission store provides: how many of a
// form's (or webhook source's) submissions are waiting for delivery
// (accepted, delivering or retrying; not delivered, failed, spam or
// discarded). A counter kept up to date by the store's transitions answers
// in one GET; counting an index would cost a round trip per status.
type WaitingCounter interface {
	Waiting(ctx context.Context, form string) (int64, error)
}

// WaitingCap refuses new submissions of a form whose waiting submissions
// reached a cap, so that a flood that gets past the rate limits (many
// addresses, each within its rate) fills one form's backlog, not Redis: past
// the cap intake answers 503 and the client keeps the submission and tries
// again later, instead of leadbridge accepting more than it can deliver.
type WaitingCap struct {
	// Counter reads the waiting count.
	Counter WaitingCounter
	// RetryAfter is what a refused client is told to wait; 60 s when zero.
	// How long the backlog takes to drain is not known here, so it is a
	// setting, not an estimate.
	RetryAfter time.Duration
	// Timeout bounds the count's read; 250 ms when zero.
	Timeout time.Duration
}

// Check reads form's waiting count and compares it with max (the form's
// cap; 0 means no cap, and nothing is read). The request is refused when
// max submissions or more are waiting.
//
// When the count cannot be read, the Decision is Allowed and Unchecked and
// the error wraps ErrUnavailable: the durable write that follows fails too
// if Redis is down, and answers 503 itself.
func (w WaitingCap) Check(ctx context.Context, form string, max int64) (Decision, error) {
	if max <= 0 {
		return allowed, nil
	}
	n, err := within(ctx, cmp.Or(w.Timeout, 250*time.Millisecond), func(ctx context.Context) (int64, error) {
		return w.Counter.Waiting(ctx, form)
	})
	if err != nil {
		return Decision{Allowed: true, Unchecked: true}, fmt.Errorf("%w: waiting count of %s: %v", ErrUnavailable, form, err)
	}
	return CheckWaiting(n, max, w.RetryAfter), nil
}

// CheckWaiting is WaitingCap's rule on a count the caller already has:
// refused when waiting ≥ max (max > 0), with retryAfter (60 s when zero).
func CheckWaiting(waiting, max int64, retryAfter time.Duration) Decision {
	if max <= 0 || waiting < max {
		return allowed
	}
	return Decision{Limit: LimitWaiting, RetryAfter: cmp.Or(retryAfter, time.Minute)}
}

// Memory is a reading of Redis's memory.
type Memory struct {
	Used int64 // bytes in use (INFO used_memory)
	Max  int64 // Redis's maxmemory; 0 when unset
}

// MemoryReader reads Redis's memory.
type MemoryReader func(ctx context.Context) (Memory, error)

// RedisMemory reads INFO memory from rdb. On Redis Cluster it asks every
// master and returns the fullest (by Used/Max, or by Used when no Max is
// set), since the shard that fills first is the one that starts refusing
// writes.
func RedisMemory(rdb redis.UniversalClient) MemoryReader {
	return func(ctx context.Context) (Memory, error) {
		cc, ok := rdb.(*redis.ClusterClient)
		if !ok {
			return readMemory(ctx, rdb)
		}
		var mu sync.Mutex
		var fullest Memory
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			m, err := readMemory(ctx, c)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if fuller(m, fullest) {
				fullest = m
			}
			return nil
		})
		return fullest, err
	}
}

// fuller reports whether a is closer to refusing writes than b.
func fuller(a, b Memory) bool {
	if a.Max > 0 && b.Max > 0 {
		return float64(a.Used)/float64(a.Max) > float64(b.Used)/float64(b.Max)
	}
	return a.Used > b.Used
}

func readMemory(ctx context.Context, c redis.Cmdable) (Memory, error) {
	s, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return Memory{}, err
	}
	return parseInfoMemory(s)
}

// parseInfoMemory reads used_memory and maxmemory from INFO's text.
func parseInfoMemory(s string) (Memory, error) {
	var m Memory
	var seen bool
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "used_memory":
			dst, seen = &m.Used, true
		case "maxmemory":
			dst = &m.Max
		default:
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("INFO memory: %s: %q is not a number", k, v)
		}
		*dst = n
	}
	if !seen {
		return Memory{}, errors.New("INFO memory: no used_memory")
	}
	return m, nil
}

// MemoryOptions tune a MemoryGuard.
type MemoryOptions struct {
	// Limit is the memory, in bytes, beyond which intake is refused. When
	// zero it is Fraction of Redis's maxmemory; when that is unset too,
	// there is no cap.
	Limit int64
	// Fraction of maxmemory used as the limit when Limit is zero; 0.9 when
	// zero. The rest is headroom for what is already accepted: a delivered
	// submission's record changes too, and with maxmemory-policy noeviction
	// Redis refuses every write once full, deliveries' included.
	Fraction float64
	// Every is how long one reading is used; 1 s when zero. INFO is cheap
	// but not free, and memory does not move much in a second.
	Every time.Duration
	// Timeout bounds one reading; 250 ms when zero.
	Timeout time.Duration
	// RetryAfter is what a refused client is told to wait; 30 s when zero.
	RetryAfter time.Duration
	// Now is the clock readings are aged by; time.Now when nil.
	Now func() time.Time
}

// MemoryGuard refuses intake while Redis's memory is past a cap. It reads
// the memory at most once per Options.Every, whoever asks, and answers from
// the last reading in between; it is safe for concurrent use.
type MemoryGuard struct {
	read MemoryReader
	o    MemoryOptions

	mu         sync.Mutex
	last       Memory
	lastOK     bool      // last holds a good reading
	at         time.Time // when the last reading (good or failed) was taken
	refreshing bool
}

// NewMemoryGuard returns a MemoryGuard on read (usually RedisMemory). It
// fails only on bad options.
func NewMemoryGuard(read MemoryReader, o MemoryOptions) (*MemoryGuard, error) {
	if o.Limit < 0 {
		return nil, fmt.Errorf("flood: memory limit %d: must not be negative", o.Limit)
	}
	o.Fraction = cmp.Or(o.Fraction, 0.9)
	if o.Fraction <= 0 || o.Fraction > 1 {
		return nil, fmt.Errorf("flood: memory fraction %g: must be in (0, 1]", o.Fraction)
	}
	o.Every = cmp.Or(o.Every, time.Second)
	o.Timeout = cmp.Or(o.Timeout, 250*time.Millisecond)
	o.RetryAfter = cmp.Or(o.RetryAfter, 30*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	return &MemoryGuard{read: read, o: o}, nil
}

// Check answers from the last reading, taking a new one first when the last
// is older than Every (and no other caller is taking one: they use the last
// reading meanwhile).
//
// When Redis cannot be read, the Decision is Allowed and Unchecked (the
// durable write that follows answers 503 itself if Redis is down), and the
// error, wrapping ErrUnavailable, is returned only to the caller whose
// reading failed, so that a dead Redis costs a log line a second, not one
// per request.
func (g *MemoryGuard) Check(ctx context.Context) (Decision, error) {
	g.mu.Lock()
	stale := g.at.IsZero() || g.o.Now().Sub(g.at) >= g.o.Every
	if !stale || g.refreshing {
		d := g.decide()
		g.mu.Unlock()
		return d, nil
	}
	g.refreshing = true
	g.mu.Unlock()

	m, err := within(ctx, g.o.Timeout, func(ctx context.Context) (Memory, error) { return g.read(ctx) })

	g.mu.Lock()
	defer g.mu.Unlock()
	g.refreshing = false
	if err != nil && ctx.Err() != nil {
		// The caller went away: not a reading; let the next caller try.
		return g.decide(), nil
	}
	g.at = g.o.Now()
	g.last, g.lastOK = m, err == nil
	if err != nil {
		return g.decide(), fmt.Errorf("%w: INFO memory: %v", ErrUnavailable, err)
	}
	return g.decide(), nil
}

// decide applies the cap to the last reading; g.mu is held.
func (g *MemoryGuard) decide() Decision {
	if !g.lastOK {
		return Decision{Allowed: true, Unchecked: true}
	}
	limit := g.o.Limit
	if limit == 0 {
		limit = int64(float64(g.last.Max) * g.o.Fraction)
	}
	if limit <= 0 || g.last.Used < limit {
		return allowed
	}
	return Decision{Limit: LimitMemory, RetryAfter: g.o.RetryAfter}
}
