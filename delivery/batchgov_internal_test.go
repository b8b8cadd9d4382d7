package delivery

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/crm"
)

// govAt is a governor that last read the budget at `at`, with left of it,
// and whose own charges are past.
func govAt(window time.Duration, at time.Time, left time.Duration, past ...charge) *governor {
	g := newGovernor(100, window, nil)
	g.known, g.at, g.execLeft, g.past = true, at, left, past
	return g
}

// Own charges still in the window when the budget was read count as freed
// once they leave it; older ones were already out of the header's figure.
func TestBudgetCountsOwnChargesLeavingTheWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	w := 30 * time.Second
	g := govAt(w, t0, 10*time.Second,
		charge{end: t0.Add(-40 * time.Second), cost: 50 * time.Second}, // out of the window before t0
		charge{end: t0.Add(-28 * time.Second), cost: 20 * time.Second}, // leaves at t0+2s
		charge{end: t0.Add(-10 * time.Second), cost: 30 * time.Second}, // leaves at t0+20s
	)
	for _, c := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 10 * time.Second},
		{time.Second, 10 * time.Second},
		{3 * time.Second, 10*time.Second + 18*time.Second}, // 90% of 20 s
		{25 * time.Second, 10*time.Second + 45*time.Second},
	} {
		if got := g.availableAt(t0.Add(c.at)); got != c.want {
			t.Errorf("availableAt(t0+%s) = %s, want %s", c.at, got, c.want)
		}
	}
	// A write of 5 s may go 5 s before a charge leaves: it is charged at
	// its end.
	// The first charge leaves at t0+2s: a 5 s write could have started
	// at t0-3s, so the next moment worth waking for is the second's, t0+15s.
	if got := g.nextRefill(t0, 5*time.Second); !got.Equal(t0.Add(15 * time.Second)) {
		t.Errorf("nextRefill = t0%+v, want t0+15s", got.Sub(t0))
	}
	// Without a window nothing is counted as leaving.
	g.window = 0
	if got := g.availableAt(t0.Add(time.Hour)); got != 10*time.Second {
		t.Errorf("no window: availableAt = %s, want 10s", got)
	}
}

// Answers arriving out of order still leave past sorted by end, and
// charges two windows old are dropped.
func TestObservedKeepsChargesInOrder(t *testing.T) {
	w := time.Second
	g := newGovernor(100, w, nil)
	now := time.Now()
	g.observed(now.Add(-3*time.Second), now.Add(-2500*time.Millisecond), crm.Budget{}) // two windows old by the last
	g.observed(now.Add(-300*time.Millisecond), now, crm.Budget{})
	g.observed(now.Add(-time.Second), now.Add(-200*time.Millisecond), crm.Budget{})
	if len(g.past) != 2 {
		t.Fatalf("%d charges kept, want 2", len(g.past))
	}
	if !g.past[0].end.Before(g.past[1].end) {
		t.Error("charges not sorted by end")
	}
}

// While the window is full a write neither starts nor asks for the budget
// (a WhoAmI then would be refused, and stop every call until its
// Retry-After); once its own charge leaves the window, it starts without
// asking.
func TestReserveWaitsForItsOwnChargesToLeave(t *testing.T) {
	var probes atomic.Int32
	probe := func(context.Context) (crm.Budget, error) {
		probes.Add(1)
		return crm.Budget{ExecKnown: true}, nil
	}
	now := time.Now()
	w := 30 * time.Second
	g := newGovernor(100, w, probe)
	g.perRow = 10 * time.Millisecond
	g.known, g.at, g.execLeft = true, now, 0

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if _, err := g.reserve(ctx, 10); err == nil {
		t.Fatal("a write started with the window full and nothing leaving it")
	}
	if n := probes.Load(); n != 0 {
		t.Errorf("%d probes while the window was full, want none", n)
	}

	// A charge of this process leaves the window in 200 ms.
	g.mu.Lock()
	g.past = []charge{{end: time.Now().Add(200*time.Millisecond - w), cost: 2 * time.Second}}
	g.mu.Unlock()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	done, err := g.reserve(ctx2, 10)
	if err != nil {
		t.Fatalf("the write never started: %v", err)
	}
	done(time.Now(), crm.Budget{}, true)
	if n := probes.Load(); n != 0 {
		t.Errorf("%d probes, want none: the refill was foreseen", n)
	}
}
