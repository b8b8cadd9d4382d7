package delivery

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/leadbridge/leadbridge/forms"
	"github.com/leadbridge/leadbridge/submission"
)

// Batched delivery. Every submission is still its own asynq task (its task
// id is its submission id, so enqueueing, the janitor, a person's retry and
// the failed list work as before), and each task still records its own
// attempt, outcome and retry. What changes is what the task does with
// Dataverse: instead of calling it, it hands its submission to the Batcher
// and waits. The Batcher gathers the submissions of one form that are
// waiting at that moment — up to a batch size that adapts to the
// execution-time budget — and delivers them together: one In() query per
// match rule (and one for contacts), then CreateMultiple / UpdateMultiple
// (or one $batch of change sets), then each task gets its own result.
//
// asynq's group aggregation was not used (libraries.md §7): it replaces the
// tasks by one aggregate task with a new id, so the per-submission task ids
// that make enqueueing idempotent would be lost; the aggregate retries as a
// unit; a crash between enqueueing the aggregate and deleting the set
// replays the batch; it needs the API to enqueue into groups; and it has
// no per-queue settings and a grace period of at least a second.

// Write strategies of a batch (LEADBRIDGE_BATCH_WRITES).
const (
	// WritesBulk: CreateMultiple for the new contacts, then for the new
	// leads, and UpdateMultiple for matched leads: three requests at most.
	WritesBulk = "bulk"
	// WritesChangeSets: one $batch in which each lead (with the contact it
	// creates) is a change set, with Prefer: odata.continue-on-error.
	WritesChangeSets = "changesets"
)

// Batcher delivers the submissions of batchable forms in batches. It is
// safe for concurrent use; one per worker process.
type Batcher struct {
	D      *Deliverer
	Max    int           // the largest batch
	Start  int           // the first batch size, which then adapts; 0: min(10, Max)
	Linger time.Duration // how long a batch waits for company once a lane is free; 0: 20 ms
	Writes string        // WritesBulk (default) or WritesChangeSets
	// Window is the service protection limits' sliding window (Dataverse's
	// default is 300 seconds); 0: that default.
	Window time.Duration
	Log    *slog.Logger

	once    sync.Once
	mu      sync.Mutex
	waiting map[string][]*pending // by form
	running map[string]bool       // a collector runs for the form
	gov     *governor
}

// DefaultLimitWindow is the window of Dataverse's service protection
// limits (reference §1: 6,000 requests and 1,200 s of execution per 300 s).
const DefaultLimitWindow = 300 * time.Second

// pending is a submission waiting for its batch.
type pending struct {
	ctx       context.Context
	rec       *submission.Record
	done      chan outcome // buffered: the batch never blocks on it
	deferrals int          // times put back because its person's lease was held elsewhere
}

type outcome struct {
	res Result
	err error
	// requestID is the x-ms-client-request-id the batch's Dataverse calls
	// carried: a batch writes for many submissions, so its calls carry a
	// GUID of their own, which each member logs. "" when the submission was
	// delivered one at a time, under its own id.
	requestID string
}

// Batchable reports whether a form's submissions can be delivered in
// batches: it writes leads, every match rule can be asked for many people
// at once with In() (email, email+company; a phone match needs contains()
// per person), the lead is not written by an alternate-key upsert, and the
// form maps nothing that needs calls of its own per lead (mapping.go: an
// owner, a campaign, an account, lookups, a note). Submissions of other
// forms take the one-at-a-time path. A new form feature of that kind must
// be excluded here too.
func Batchable(f *forms.Form) bool {
	if f.AlternateKey != "" || !f.IsLead() || f.Owner != nil || f.Campaign != nil || f.Account != nil || f.Note != nil {
		return false
	}
	for _, fd := range f.Fields {
		if fd.Kind == forms.KindLookup {
			return false
		}
	}
	for _, r := range f.Match {
		if r != forms.MatchEmail && r != forms.MatchEmailCompany {
			return false
		}
	}
	return true
}

func (b *Batcher) init() {
	b.once.Do(func() {
		b.waiting = map[string][]*pending{}
		b.running = map[string]bool{}
		if b.Max < 1 {
			b.Max = 1
		}
		if b.Linger <= 0 {
			b.Linger = 20 * time.Millisecond
		}
		if b.Log == nil {
			b.Log = slog.New(slog.DiscardHandler)
		}
		if b.Window <= 0 {
			b.Window = DefaultLimitWindow
		}
		b.gov = newGovernor(b.Max, b.Window, b.D.CRM.Budget)
		if b.Start > 0 {
			b.gov.size = min(b.Start, b.Max)
		}
	})
}

// Deliver delivers rec, in a batch when its form allows it, and returns its
// own result, with the client request id its batch's Dataverse calls
// carried ("" when it went one at a time, under its own). It returns when
// the batch is done or ctx ends; a batch whose task gave up still
// finishes, and the retry finds what it wrote.
func (b *Batcher) Deliver(ctx context.Context, rec *submission.Record) (Result, string, error) {
	b.init()
	f, ok := b.D.Forms[rec.Form]
	if !ok || !Batchable(f) {
		res, err := b.D.Deliver(ctx, rec)
		return res, "", err
	}
	p := &pending{ctx: ctx, rec: rec, done: make(chan outcome, 1)}
	b.enqueue(f, p)
	select {
	case o := <-p.done:
		return o.res, o.requestID, o.err
	case <-ctx.Done():
		return Result{}, "", ctx.Err()
	}
}

// enqueue adds p to its form's queue and makes sure a collector runs.
func (b *Batcher) enqueue(f *forms.Form, p *pending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting[f.ID] = append(b.waiting[f.ID], p)
	if !b.running[f.ID] {
		b.running[f.ID] = true
		go b.collect(f)
	}
}

// Throttled tells the batcher that Dataverse answered 429: batches shrink.
func (b *Batcher) Throttled() {
	b.init()
	b.gov.throttled()
}

// collect starts batches of form f while submissions wait: it waits for a
// lane (the execution-time budget), lingers briefly for company, and takes
// up to the current batch size.
func (b *Batcher) collect(f *forms.Form) {
	for {
		b.gov.lane()
		time.Sleep(b.Linger)
		b.mu.Lock()
		q := b.waiting[f.ID]
		// Submissions whose task gave up meanwhile are not delivered now:
		// their retry is already scheduled.
		q = slices.DeleteFunc(q, func(p *pending) bool { return p.ctx.Err() != nil })
		n := min(len(q), b.gov.batchSize())
		if n == 0 {
			delete(b.waiting, f.ID)
			b.running[f.ID] = false
			b.mu.Unlock()
			b.gov.laneDone()
			return
		}
		items := slices.Clone(q[:n])
		b.waiting[f.ID] = q[n:]
		b.mu.Unlock()
		go func() {
			defer b.gov.laneDone()
			b.deliverBatch(f, items)
		}()
	}
}
