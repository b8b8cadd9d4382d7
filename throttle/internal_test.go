package throttle

import (
	"context"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestWithMargin(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, 50 * time.Millisecond},
		{1500 * time.Millisecond, 1580 * time.Millisecond},
		{12300 * time.Millisecond, 12596 * time.Millisecond},
		{time.Nanosecond, 51 * time.Millisecond}, // rounded up, never down
	} {
		if got := withMargin(tc.in); got != tc.want {
			t.Errorf("withMargin(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// A request that takes longer than SlotTTL must keep its slot.
func TestHeldSlotIsRefreshed(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	l := New(rdb, "app@org", Options{SlotTTL: 300 * time.Millisecond})
	ctx := context.Background()
	done, err := l.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer done(nil)
	member := l.id + ":1"
	first, err := rdb.ZScore(ctx, l.keys[0], member).Result()
	if err != nil {
		t.Fatalf("slot not in Redis: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		score, err := rdb.ZScore(ctx, l.keys[0], member).Result()
		if err != nil {
			t.Fatalf("slot gone while held: %v", err)
		}
		if score > first {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("slot expiry not pushed back within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
