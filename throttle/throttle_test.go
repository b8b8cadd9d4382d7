package throttle_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/throttle"
)

const identity = "00000000-0000-0000-0000-000000000001@org.crm.dynamics.com"

// newClock is the settable time shared by the Limiters of a test.
func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)) }

// response builds a response carrying the given header name/value pairs.
func response(status int, headers ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &http.Response{StatusCode: status, Header: h}
}

// send acquires a slot and reports resp, as one request would.
func send(t *testing.T, l *throttle.Limiter, resp *http.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := l.Acquire(ctx)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	done(resp)
}

func capOf(t *testing.T, l *throttle.Limiter) int {
	t.Helper()
	c, err := l.Cap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func throttled(t *testing.T, l *throttle.Limiter) time.Duration {
	t.Helper()
	d, err := l.Throttled(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Two Limiters on separate clients stand for two worker processes: a 429
// seen by one holds the other back for the whole Retry-After.
func TestRetryAfterHonouredFleetWide(t *testing.T) {
	r := testenv.StartRedis(t)
	a := throttle.New(r.Client(), identity, throttle.Options{})
	b := throttle.New(r.Client(), identity, throttle.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	done, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	received := time.Now()
	done(response(http.StatusTooManyRequests, "Retry-After", "1.5"))
	earliest := received.Add(1500 * time.Millisecond)

	if d := throttled(t, b); d <= 0 {
		t.Errorf("other process: got Throttled %v, want > 0", d)
	}
	if _, err := b.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if returned := time.Now(); returned.Before(earliest) {
		t.Errorf("other process acquired at %v, %v before Retry-After ran out", returned, earliest.Sub(returned))
	}
	if d := throttled(t, b); d != 0 {
		t.Errorf("after the wait: got Throttled %v, want 0", d)
	}
}

func TestConcurrencyStaysUnderHint(t *testing.T) {
	r := testenv.StartRedis(t)
	limiters := []*throttle.Limiter{
		throttle.New(r.Client(), identity, throttle.Options{}),
		throttle.New(r.Client(), identity, throttle.Options{}),
	}
	work := r.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var inFlight, maxSeen atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		l := limiters[i%2]
		wg.Go(func() {
			for range 3 {
				done, err := l.Acquire(ctx)
				if err != nil {
					errs <- err
					return
				}
				n := inFlight.Add(1)
				for m := maxSeen.Load(); n > m && !maxSeen.CompareAndSwap(m, n); m = maxSeen.Load() {
				}
				// A round trip to Redis stands for the request, so that
				// holders overlap as real requests do.
				err = work.Ping(ctx).Err()
				inFlight.Add(-1)
				done(response(http.StatusOK, "x-ms-dop-hint", "3"))
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := maxSeen.Load(); got > 3 {
		t.Errorf("got %d requests in flight at once, want at most 3", got)
	}
	t.Logf("at most %d requests in flight", maxSeen.Load())
	if got := capOf(t, limiters[0]); got != 3 {
		t.Errorf("got cap %d after 300 successes with hint 3, want 3", got)
	}
}

func TestRampUp(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int
		hint string // x-ms-dop-hint on every response, "" for none
		want []int  // cap after each round
	}{
		{name: "stops at 4 without a hint", want: []int{1, 2, 3, 4, 4, 4}},
		{name: "follows the hint", hint: "6", want: []int{1, 2, 3, 4, 5, 6, 6}},
		{name: "stops at a lower hint", hint: "2", want: []int{1, 2, 2, 2}},
		{name: "stops at MaxConcurrency", max: 3, hint: "52", want: []int{1, 2, 3, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testenv.StartRedis(t)
			l := throttle.New(r.Client(), identity, throttle.Options{MaxConcurrency: tc.max})
			var headers []string
			if tc.hint != "" {
				headers = []string{"x-ms-dop-hint", tc.hint}
			}
			for i, want := range tc.want {
				got := capOf(t, l)
				if got != want {
					t.Fatalf("round %d: got cap %d, want %d", i, got, want)
				}
				// One round is as many successes as the cap.
				for range got {
					send(t, l, response(http.StatusOK, headers...))
				}
			}
		})
	}
}

func TestDecreaseOn429(t *testing.T) {
	r := testenv.StartRedis(t)
	clk := newClock()
	l := throttle.New(r.Client(), identity, throttle.Options{Now: clk.Now})
	for capOf(t, l) < 8 {
		send(t, l, response(http.StatusOK, "x-ms-dop-hint", "8"))
	}

	// Three requests in flight when the service starts refusing: their
	// 429s are one event and halve the cap once.
	ctx := context.Background()
	var dones []func(*http.Response)
	for range 3 {
		done, err := l.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	dones[0](response(http.StatusTooManyRequests, "Retry-After", "2"))
	dones[1](response(http.StatusTooManyRequests, "Retry-After", "1"))
	dones[2](response(http.StatusTooManyRequests, "Retry-After", "0.5"))
	if got := capOf(t, l); got != 4 {
		t.Errorf("after one burst of 429s: got cap %d, want 4", got)
	}
	// 2 s + 50 ms + 2 %, measured on the injected clock.
	if got, want := throttled(t, l), 2090*time.Millisecond; got != want {
		t.Errorf("got Throttled %v, want %v", got, want)
	}

	// A 429 after the wait is a new event.
	clk.Advance(2090 * time.Millisecond)
	send(t, l, response(http.StatusTooManyRequests, "Retry-After", "1"))
	if got := capOf(t, l); got != 2 {
		t.Errorf("after a second 429: got cap %d, want 2", got)
	}
	for range 2 {
		clk.Advance(time.Minute)
		send(t, l, response(http.StatusTooManyRequests, "Retry-After", "1"))
	}
	if got := capOf(t, l); got != 1 {
		t.Errorf("after more 429s: got cap %d, want 1 (the floor)", got)
	}
}

func TestRetryAfterAbsentBacksOffExponentially(t *testing.T) {
	r := testenv.StartRedis(t)
	clk := newClock()
	l := throttle.New(r.Client(), identity, throttle.Options{Now: clk.Now})
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second} {
		send(t, l, response(http.StatusTooManyRequests))
		if got := throttled(t, l); got != want {
			t.Errorf("429 number %d: got Throttled %v, want %v", i+1, got, want)
		}
		clk.Advance(want)
	}
	// A success ends the streak.
	send(t, l, response(http.StatusOK))
	send(t, l, response(http.StatusTooManyRequests))
	if got, want := throttled(t, l), 5*time.Second; got != want {
		t.Errorf("429 after a success: got Throttled %v, want %v", got, want)
	}
}

func TestBurstRemainingSlowsDown(t *testing.T) {
	r := testenv.StartRedis(t)
	clk := newClock()
	l := throttle.New(r.Client(), identity, throttle.Options{Now: clk.Now})
	for capOf(t, l) < 4 {
		send(t, l, response(http.StatusOK))
	}
	const header = "x-ms-ratelimit-burst-remaining-xrm-requests"

	send(t, l, response(http.StatusOK, header, "100"))
	if got := capOf(t, l); got != 4 {
		t.Errorf("with plenty left: got cap %d, want 4", got)
	}
	send(t, l, response(http.StatusOK, header, "2"))
	if got := capOf(t, l); got != 2 {
		t.Errorf("with 2 left: got cap %d, want 2", got)
	}
	send(t, l, response(http.StatusOK, header, "1,5"))
	if got := capOf(t, l); got != 2 {
		t.Errorf("with an unreadable value: got cap %d, want 2 (ignored)", got)
	}
	if got := throttled(t, l); got != 0 {
		t.Errorf("before running out: got Throttled %v, want 0", got)
	}
	send(t, l, response(http.StatusOK, header, "0"))
	if got := capOf(t, l); got != 1 {
		t.Errorf("with none left: got cap %d, want 1", got)
	}
	if got, want := throttled(t, l), time.Second; got != want {
		t.Errorf("with none left: got Throttled %v, want %v", got, want)
	}
}

func TestFailedRequestOnlyFreesSlot(t *testing.T) {
	r := testenv.StartRedis(t)
	l := throttle.New(r.Client(), identity, throttle.Options{})
	for range 5 {
		send(t, l, nil)
		send(t, l, response(http.StatusServiceUnavailable))
	}
	if got := capOf(t, l); got != 1 {
		t.Errorf("got cap %d after failures only, want 1", got)
	}
	if got := throttled(t, l); got != 0 {
		t.Errorf("got Throttled %v after failures only, want 0", got)
	}
}

// A worker that dies holding a slot loses it after SlotTTL.
func TestCrashedHolderSlotExpires(t *testing.T) {
	r := testenv.StartRedis(t)
	clk := newClock()
	opts := throttle.Options{SlotTTL: time.Minute, Now: clk.Now}
	crashing := redis.NewClient(&redis.Options{Addr: r.Addr})
	dead := throttle.New(crashing, identity, opts)
	live := throttle.New(r.Client(), identity, opts)

	if _, err := dead.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	crashing.Close() // the worker is gone: nothing reports or refreshes its slot

	// The cap is 1 and the slot is taken.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := live.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("while the slot is taken: got %v, want context.DeadlineExceeded", err)
	}

	clk.Advance(time.Minute)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done, err := live.Acquire(ctx)
	if err != nil {
		t.Fatalf("after SlotTTL: %v", err)
	}
	done(response(http.StatusOK))
}

// TestOnThrottleIsToldTheWait: the worker publishes until when Dataverse
// throttles (for the admin console) from this callback.
func TestOnThrottleIsToldTheWait(t *testing.T) {
	r := testenv.StartRedis(t)
	clk := newClock()
	var got []time.Time
	l := throttle.New(r.Client(), identity, throttle.Options{Now: clk.Now, OnThrottle: func(until time.Time) { got = append(got, until) }})
	send(t, l, response(http.StatusOK))
	if len(got) != 0 {
		t.Fatalf("after a 200: told %v, want nothing", got)
	}
	send(t, l, response(http.StatusTooManyRequests, "Retry-After", "30"))
	if len(got) != 1 || got[0].Before(clk.Now().Add(30*time.Second)) || got[0].After(clk.Now().Add(32*time.Second)) {
		t.Errorf("after a 429 with Retry-After 30: told %v, want about %s", got, clk.Now().Add(30*time.Second))
	}
}
