package flood_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/flood"
)

func TestParseRate(t *testing.T) {
	good := []struct {
		in   string
		want flood.Rate
	}{
		{"10/minute", flood.Rate{N: 10, Per: time.Minute}},
		{"100/hour", flood.Rate{N: 100, Per: time.Hour}},
		{"5/second", flood.Rate{N: 5, Per: time.Second}},
		{"1000/day", flood.Rate{N: 1000, Per: 24 * time.Hour}},
		{" 3 / minute ", flood.Rate{N: 3, Per: time.Minute}},
	}
	for _, c := range good {
		t.Run(c.in, func(t *testing.T) {
			got, err := flood.ParseRate(c.in)
			if err != nil || got != c.want {
				t.Fatalf("ParseRate(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			}
			if back, err := flood.ParseRate(got.String()); err != nil || back != got {
				t.Errorf("String() %q does not read back: %+v, %v", got.String(), back, err)
			}
		})
	}
	bad := []string{"", "10", "10/minutes", "10 per minute", "0/minute", "-1/minute", "1.5/minute",
		"10/fortnight", "/minute", "10/", "2000000/second", "ten/minute"}
	for _, in := range bad {
		t.Run("refuses "+in, func(t *testing.T) {
			_, err := flood.ParseRate(in)
			if err == nil {
				t.Fatalf("ParseRate(%q) = nil error, want one", in)
			}
			if !strings.Contains(err.Error(), "N/minute") {
				t.Errorf("error %q does not say what a rate looks like", err)
			}
		})
	}
}

func TestRateZeroIsNoLimit(t *testing.T) {
	if !(flood.Rate{}).IsZero() {
		t.Error("the zero Rate is a limit, want none")
	}
	if got := (flood.Rate{}).String(); got != "none" {
		t.Errorf("String() = %q, want none", got)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	cases := []struct {
		d    flood.Decision
		want int
	}{
		{flood.Decision{Allowed: true}, 0},
		{flood.Decision{RetryAfter: 0}, 1},
		{flood.Decision{RetryAfter: 10 * time.Millisecond}, 1},
		{flood.Decision{RetryAfter: time.Second}, 1},
		{flood.Decision{RetryAfter: 1001 * time.Millisecond}, 2},
		{flood.Decision{RetryAfter: 6 * time.Second}, 6},
	}
	for _, c := range cases {
		if got := c.d.RetryAfterSeconds(); got != c.want {
			t.Errorf("%+v: RetryAfterSeconds() = %d, want %d", c.d, got, c.want)
		}
	}
}

func TestOverloaded(t *testing.T) {
	for limit, want := range map[string]bool{
		flood.LimitIP: false, flood.LimitIPForm: false, flood.LimitForm: false, flood.LimitToken: false,
		flood.LimitWaiting: true, flood.LimitMemory: true,
	} {
		if got := (flood.Decision{Limit: limit}).Overloaded(); got != want {
			t.Errorf("Limit %s: Overloaded() = %v, want %v", limit, got, want)
		}
	}
}
