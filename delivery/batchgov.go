package delivery

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/leadbridge/leadbridge/crm"
)

// governor keeps batched delivery within Dataverse's execution-time limit
// (20 minutes per 5-minute window by default) instead of learning it from
// 429s. A bulk request is cheap in requests and dear in execution time (its
// rows' time is charged to it), so that is the limit batches meet first.
//
// It reads what each answer says is left of the budget
// (x-ms-ratelimit-time-remaining-xrm-requests, at the request's admission)
// and subtracts what this process spent since and what its writes in
// flight will cost (rows × the time a row has taken). A request's time is
// charged when it ends, and leaves the window one window later: a write
// may start when the budget as it will be at its end, counting this
// process's own charges that leave the window by then, has room for it.
// Without that, a bulk write that takes seconds would wait for budget that
// is free by the time it is charged: at a 30-second window and 5-second
// writes, a seventh of the budget stayed unused. Others' charges (another
// worker of the same application user) are not known, so they are taken
// never to leave; the next answer says what did. When a write waits and no
// answer has come for a while it asks again with a WhoAmI. Where no answer
// carries the header, batches run on at most defaultLanes at once: 1,200 s
// per 300 s is four requests executing all the time.
//
// The batch size starts at 10 (Microsoft's advice for batches), doubles
// after a batch while the budget left holds two batches of the doubled
// size, and halves on a 429.
type governor struct {
	probe func(context.Context) (crm.Budget, error)

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced when the state changes
	lanes    int           // batches running
	size     int
	maxSize  int
	known    bool          // an answer carried the execution-time header
	execLeft time.Duration // as of at
	at       time.Time     // admission of the request whose answer said execLeft
	inflight time.Duration // reserved by writes in flight
	perRow   time.Duration // execution time of one written row, learned
	window   time.Duration // the limits' window: a charge leaves it this long after it was made
	// past are this process's requests, oldest end first: those that
	// ended after at are spent since the budget was read, those of the
	// window before leave it over time.
	past     []charge
	probing  bool
	lastInfo time.Time
	lastHit  time.Time // last 429
}

type charge struct {
	end  time.Time
	cost time.Duration
}

const (
	maxLanes     = 8
	defaultLanes = 4
	minBatch     = 10
	// probeAfter is how long a write waits for the budget without any
	// fresh answer before it asks for one.
	probeAfter = 500 * time.Millisecond
	// refillShare is the part of an own charge counted as freed when it
	// leaves the window: its time is measured here, end to end, which
	// overstates what the server charged by the network's share.
	refillShare = 0.9
)

// newGovernor: window is the limits' sliding window (Dataverse's is 300
// seconds; 0 counts no charge as leaving it).
func newGovernor(maxSize int, window time.Duration, probe func(context.Context) (crm.Budget, error)) *governor {
	return &governor{
		probe: probe, changed: make(chan struct{}),
		size: min(minBatch, maxSize), maxSize: maxSize, perRow: 100 * time.Millisecond, window: window,
	}
}

func (g *governor) wake() {
	close(g.changed)
	g.changed = make(chan struct{})
}

// lane waits until another batch may run.
func (g *governor) lane() {
	g.mu.Lock()
	for {
		limit := maxLanes
		if !g.known {
			limit = defaultLanes
		}
		if g.lanes < limit {
			g.lanes++
			g.mu.Unlock()
			return
		}
		ch := g.changed
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
}

func (g *governor) laneDone() {
	g.mu.Lock()
	g.lanes--
	g.wake()
	g.mu.Unlock()
}

func (g *governor) batchSize() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.size
}

// available is the execution time left for new work; g.mu held.
func (g *governor) available() time.Duration {
	left := g.execLeft - g.inflight
	for i := len(g.past) - 1; i >= 0 && g.past[i].end.After(g.at); i-- {
		left -= g.past[i].cost
	}
	return left
}

// availableAt is the execution time left for new work at t, when a write
// starting now would be charged: available, plus this process's charges
// that leave the window by then and were still in it when the budget was
// last read; g.mu held.
func (g *governor) availableAt(t time.Time) time.Duration {
	left := g.available()
	if g.window <= 0 {
		return left
	}
	from, to := g.at.Add(-g.window), t.Add(-g.window)
	var freed time.Duration
	for _, c := range g.past {
		if c.end.After(to) {
			break
		}
		if c.end.After(from) {
			freed += c.cost
		}
	}
	return left + time.Duration(refillShare*float64(freed))
}

// nextRefill is when the next of this process's charges leaves the window
// for a write of cost starting then, or the zero time; g.mu held.
func (g *governor) nextRefill(now time.Time, cost time.Duration) time.Time {
	for _, c := range g.past {
		if at := c.end.Add(g.window - cost); at.After(now) {
			return at
		}
	}
	return time.Time{}
}

// observed records a request of this process: when it was sent, when its
// answer came and what the answer said of the budget.
func (g *governor) observed(start, end time.Time, b crm.Budget) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b.ExecKnown && start.After(g.at) {
		g.known, g.execLeft, g.at, g.lastInfo = true, b.ExecLeft, start, end
	}
	// Answers can come out of order; keep past sorted by end.
	i := len(g.past)
	for i > 0 && g.past[i-1].end.After(end) {
		i--
	}
	g.past = slices.Insert(g.past, i, charge{end: end, cost: end.Sub(start)})
	// Drop what neither count needs: charges two windows old that ended
	// before the budget was read (or when it never was).
	cut := 0
	for cut < len(g.past) && g.past[cut].end.Before(end.Add(-2*g.window)) && (!g.known || !g.past[cut].end.After(g.at)) {
		cut++
	}
	g.past = g.past[max(cut, len(g.past)-10000):]
	g.wake()
}

// reserve waits until a write of rows may start and returns the func to
// call when its answer came (with what it said of the budget).
func (g *governor) reserve(ctx context.Context, rows int) (func(start time.Time, b crm.Budget, ok bool), error) {
	g.mu.Lock()
	for {
		cost := time.Duration(rows) * g.perRow
		// A request is refused while the window's charges reach the limit,
		// and a refusal stops every call until its Retry-After: keep a
		// little of the budget for what is not reserved (probes, rows that
		// took longer than learnt).
		headroom := cost/10 + 2*g.perRow
		now := time.Now()
		// The request is admitted while the window's charges are under
		// the limit now (writes in flight are not charged yet), and must
		// leave room for itself at its end.
		admitted := g.availableAt(now)+g.inflight >= 2*g.perRow
		if !g.known || (admitted && g.availableAt(now.Add(cost)) >= cost+headroom) {
			g.inflight += cost
			g.mu.Unlock()
			return func(start time.Time, b crm.Budget, ok bool) { g.wrote(rows, cost, start, b, ok) }, nil
		}
		// A probe is a request too: sent while the window is full it
		// would be refused, and stop every call until its Retry-After.
		if !g.probing && admitted && time.Since(g.lastInfo) >= probeAfter {
			g.probing = true
			g.mu.Unlock()
			start := time.Now()
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			b, err := g.probe(pctx)
			cancel()
			if err == nil {
				g.observed(start, time.Now(), b)
			}
			g.mu.Lock()
			g.probing = false
			g.lastInfo = time.Now()
			continue
		}
		ch := g.changed
		sleep := probeAfter / 2
		if at := g.nextRefill(now, cost); !at.IsZero() {
			sleep = min(sleep, at.Sub(now)+time.Millisecond)
		}
		g.mu.Unlock()
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
		g.mu.Lock()
	}
}

// wrote ends a reservation: it learns a row's cost from the write's time
// and grows the batch size while the budget allows.
func (g *governor) wrote(rows int, reserved time.Duration, start time.Time, b crm.Budget, ok bool) {
	end := time.Now()
	g.mu.Lock()
	g.inflight -= reserved
	if ok && rows > 0 {
		g.perRow = (3*g.perRow + end.Sub(start)/time.Duration(rows)) / 4
		next := min(2*g.size, g.maxSize)
		if time.Since(g.lastHit) > 10*time.Second && next > g.size &&
			(!g.known || g.available() >= 2*time.Duration(next)*g.perRow) {
			g.size = next
		}
	}
	g.mu.Unlock()
	g.observed(start, end, b)
}

// throttled halves the batch size after a 429.
func (g *governor) throttled() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastHit = time.Now()
	g.size = max(min(minBatch, g.maxSize), g.size/2)
	g.wake()
}
