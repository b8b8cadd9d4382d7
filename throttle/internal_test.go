package throttle

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, header string
		want         time.Duration
		ok           bool
	}{
		{"whole seconds", "12", 12 * time.Second, true},
		{"fraction", "0.5", 500 * time.Millisecond, true},
		{"fraction above one", "12.3", 12300 * time.Millisecond, true},
		{"zero", "0", 0, true},
		{"spaces", " 3 ", 3 * time.Second, true},
		{"HTTP-date", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{"HTTP-date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"absurd seconds capped", "86400", maxRetryAfter, true},
		{"absurd HTTP-date capped", now.Add(48 * time.Hour).Format(http.TimeFormat), maxRetryAfter, true},
		{"absent", "", 0, false},
		{"negative", "-1", 0, false},
		{"not a number", "soon", 0, false},
		{"NaN", "NaN", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tc.header, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}

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
