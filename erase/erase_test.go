package erase_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/audit"
	"github.com/leadbridge/leadbridge/crmhealth"
	"github.com/leadbridge/leadbridge/erase"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/lease"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

const (
	annEmail = "ann.lee@example.com"
	annPhone = "5550102030" // its last ten digits
	bobEmail = "bob@example.org"
)

// holdsAnn: a text quotes Ann's address (any case) or her number as she
// wrote it in the submissions below.
func holdsAnn(s string) bool {
	l := strings.ToLower(s)
	return strings.Contains(l, annEmail) || strings.Contains(s, annPhone) ||
		strings.Contains(s, "555 010 2030") || strings.Contains(s, "555.010.2030") || strings.Contains(s, "555-010-2030")
}

func holdsBob(s string) bool { return strings.Contains(strings.ToLower(s), bobEmail) }

// world is a Redis holding Ann's and Bob's traces in every kind of key
// leadbridge writes about a person.
type world struct {
	rdb   redis.UniversalClient
	nodes []*redis.Client // every primary, to scan
	store *submission.Store
	q     *queue.Client
	ann   []string // Ann's submission ids
	bob   []string
	bobWH string // Bob's webhook submission, which has an idempotency key
}

func create(t *testing.T, ctx context.Context, s *submission.Store, r *submission.Record) string {
	t.Helper()
	if _, err := s.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// newRedisWorld is a world on one redis-server.
func newRedisWorld(t *testing.T) *world {
	t.Helper()
	r := testenv.StartRedis(t)
	return newWorld(t, r.Client(), r.Client())
}

func newWorld(t *testing.T, rdb redis.UniversalClient, nodes ...*redis.Client) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{rdb: rdb, nodes: nodes, store: submission.NewStore(rdb, 24*time.Hour), q: queue.NewClient(rdb)}

	// Ann: waiting (with a task and an idempotency key), held as spam,
	// a webhook lead refused at intake with her address only in its
	// payload (upper case), delivered, and one known by her phone only.
	a1 := &submission.Record{Form: "demo", Source: "form", IdempotencyKey: "page-view-1",
		Fields: map[string]string{"email": annEmail, "first_name": "Ann", "phone": "+1 (555) 010-2030"}}
	create(t, ctx, w.store, a1)
	if err := w.q.Enqueue(ctx, a1); err != nil {
		t.Fatal(err)
	}
	a2 := create(t, ctx, w.store, &submission.Record{Form: "demo", Source: "form",
		Fields: map[string]string{"email": annEmail, "last_name": "Lee"}, Spam: &submission.SpamInfo{Reason: "honeypot"}})
	a3 := create(t, ctx, w.store, &submission.Record{Form: "demo", Source: "hub", IdempotencyKey: "hook:hub:991",
		Fields:    map[string]string{"email": "not-an-address"},
		Payload:   &submission.Payload{ContentType: "application/json", Body: `{"properties":{"email":{"value":"ANN.LEE@EXAMPLE.COM"}}}`},
		LastError: &submission.ErrorInfo{Category: submission.CategoryInvalidData, Message: "email: must be a valid email address"}})
	a4 := create(t, ctx, w.store, &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": annEmail}})
	rec, err := w.store.BeginAttempt(ctx, a4)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.Succeed(ctx, a4, rec.AttemptID, time.Now(), submission.Outcome{LeadID: "l-1", Action: "created"}); err != nil {
		t.Fatal(err)
	}
	a5 := create(t, ctx, w.store, &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"phone": "555.010.2030", "last_name": "Lee"}})
	w.ann = []string{a1.ID, a2, a3, a4, a5}

	// A task retrying with Dataverse's message quoting Ann's address, as
	// asynq keeps it: run by a real asynq server that fails it once (and
	// a1's with it; Bob's tasks are queued after).
	a6 := &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": annEmail}}
	create(t, ctx, w.store, a6)
	if err := w.q.Enqueue(ctx, a6); err != nil {
		t.Fatal(err)
	}
	w.ann = append(w.ann, a6.ID)
	failOnce(t, rdb, a6)

	// Bob: waiting with a task, a webhook lead with a delivery id, delivered.
	b1 := &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": bobEmail, "phone": "+44 20 7946 0958"}}
	create(t, ctx, w.store, b1)
	if err := w.q.Enqueue(ctx, b1); err != nil {
		t.Fatal(err)
	}
	w.bobWH = create(t, ctx, w.store, &submission.Record{Form: "demo", Source: "hub", IdempotencyKey: "hook:hub:992",
		Fields: map[string]string{"email": bobEmail}, Payload: &submission.Payload{Body: `{"email":"bob@example.org"}`}})
	b3 := create(t, ctx, w.store, &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": bobEmail}})
	rec, err = w.store.BeginAttempt(ctx, b3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.Succeed(ctx, b3, rec.AttemptID, time.Now(), submission.Outcome{LeadID: "l-2", Action: "created"}); err != nil {
		t.Fatal(err)
	}
	w.bob = []string{b1.ID, w.bobWH, b3}

	// Leases: released ones leave their fencing counters; one is held.
	locks := lease.New(rdb, erase.LeasePrefix, time.Minute)
	for _, k := range []string{"lead:email:" + annEmail, "lead:phone:" + annPhone, "lead:email:" + bobEmail} {
		l, err := locks.Acquire(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	held, err := locks.Acquire(ctx, "contact:email:"+annEmail)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Release(context.Background()) })

	// The audit log and the CRM health note quoting them.
	log := audit.New(rdb)
	for _, e := range []audit.Entry{
		{By: "admin", Action: "discard", Submission: a2, Reason: "spam, says Ann.Lee@example.com"},
		{By: "admin", Action: "retry", Submission: a3},
		{By: "admin", Action: "discard", Submission: b3, Reason: "Bob (bob@example.org) asked us to"},
	} {
		if err := log.Add(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := crmhealth.NewPublisher(rdb).Failed(ctx, submission.ErrorInfo{Category: submission.CategoryInvalidData,
		Message: "A record with the same value ann.lee@example.com already exists"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// failOnce runs rec's task in a real asynq server whose handler fails
// with a Dataverse-like message quoting Ann's address, and waits until
// asynq keeps the task as retrying (an hour away).
func failOnce(t *testing.T, rdb redis.UniversalClient, rec *submission.Record) {
	t.Helper()
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Queues:         map[string]int{queue.QueueOf(rec): 1},
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
		LogLevel:       asynq.FatalLevel,
	})
	err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		return errors.New("crm: create lead: 400 0x80040237: the value ann.lee@example.com is already used")
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	testenv.Eventually(t, 20*time.Second, func() string {
		info, err := insp.GetTaskInfo(queue.QueueOf(rec), rec.ID)
		if err != nil {
			return err.Error()
		}
		if info.State != asynq.TaskStateRetry || !strings.Contains(info.LastErr, annEmail) {
			return fmt.Sprintf("task %s, last error %q", info.State, info.LastErr)
		}
		return ""
	})
}

// holding scans every primary of the world.
func (w *world) holding(t *testing.T, found func(string) bool) []string {
	t.Helper()
	var out []string
	for _, n := range w.nodes {
		out = append(out, testenv.KeysHolding(t, n, found)...)
	}
	slices.Sort(out)
	return out
}

func TestEraseLeavesNoTraceAndOthersIntact(t *testing.T) {
	t.Parallel()
	eraseLeavesNoTrace(t, newRedisWorld(t))
}

// TestEraseOnACluster: the same on a three-primary Redis Cluster, where the
// leases and the queue live on other primaries than the records.
func TestEraseOnACluster(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t)
	var nodes []*redis.Client
	for _, n := range c.Nodes {
		nodes = append(nodes, n.Client())
	}
	eraseLeavesNoTrace(t, newWorld(t, c.Client(), nodes...))
}

func eraseLeavesNoTrace(t *testing.T, w *world) {
	ctx := context.Background()
	rdb := w.rdb
	if hits := w.holding(t, holdsAnn); len(hits) < 10 {
		t.Fatalf("the world holds Ann in only %d keys, so the test shows little:\n%s", len(hits), strings.Join(hits, "\n"))
	}
	bobBefore := w.holding(t, holdsBob)
	waitingBefore, _ := w.store.Waiting(ctx, "form:demo")

	e := erase.New(rdb, w.store, w.q)
	want := erase.Report{
		Submissions:     map[string]int{"accepted": 2, "spam": 1, "failed": 1, "delivered": 1, "retrying": 0},
		IdempotencyKeys: 2, Tasks: 2, Leases: 4, AuditEntries: 1, CRMHealth: 1,
		EmailRef: submission.EmailRef(annEmail),
	}
	// a6 is accepted in the store: the handler above failed outside the
	// life cycle.
	want.Submissions["accepted"] = 3
	delete(want.Submissions, "retrying")

	t.Run("dry run counts and removes nothing", func(t *testing.T) {
		before := w.holding(t, holdsAnn)
		got, err := e.Erase(ctx, erase.Person{Email: "  Ann.Lee@Example.COM ", Phone: "+1 555 010 2030"}, true)
		if err != nil {
			t.Fatal(err)
		}
		dry := want
		dry.DryRun = true
		if !reflect.DeepEqual(got, dry) {
			t.Errorf("dry-run report:\ngot  %+v\nwant %+v", got, dry)
		}
		if after := w.holding(t, holdsAnn); !slices.Equal(before, after) {
			t.Errorf("a dry run changed what Redis holds:\nbefore %q\nafter  %q", before, after)
		}
	})

	got, err := e.Erase(ctx, erase.Person{Email: "  Ann.Lee@Example.COM ", Phone: "+1 555 010 2030"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report:\ngot  %+v\nwant %+v", got, want)
	}
	if hits := w.holding(t, holdsAnn); len(hits) > 0 {
		t.Errorf("after erase, Redis still holds Ann in:\n%s", strings.Join(hits, "\n"))
	}
	for _, id := range w.ann {
		if _, err := w.store.Get(ctx, id); !errors.Is(err, submission.ErrNotFound) {
			t.Errorf("Ann's submission %s: got %v, want ErrNotFound", id, err)
		}
	}

	// Bob is untouched: every key that held him still does, his records
	// read, his task waits, his delivery id still makes a repeat a duplicate.
	if after := w.holding(t, holdsBob); !slices.Equal(bobBefore, after) {
		t.Errorf("Bob's keys changed:\nbefore %q\nafter  %q", bobBefore, after)
	}
	for _, id := range w.bob {
		if _, err := w.store.Get(ctx, id); err != nil {
			t.Errorf("Bob's submission %s: %v", id, err)
		}
	}
	b1, _ := w.store.Get(ctx, w.bob[0])
	if queued, err := w.q.Queued(b1); err != nil || !queued {
		t.Errorf("Bob's task: queued %v, %v; want true", queued, err)
	}
	again := &submission.Record{Form: "demo", Source: "hub", IdempotencyKey: "hook:hub:992", Fields: map[string]string{"email": bobEmail}}
	if existing, err := w.store.Create(ctx, again); err != nil || existing != w.bobWH {
		t.Errorf("Bob's webhook delivery id again: got %q, %v; want %s", existing, err, w.bobWH)
	}
	// Counts: Ann's three waiting submissions left the form's waiting count.
	if n, _ := w.store.Waiting(ctx, "form:demo"); n != waitingBefore-3 {
		t.Errorf("waiting for form:demo: got %d, want %d", n, waitingBefore-3)
	}
	tally, err := w.store.Tally(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(tally); strings.Contains(string(b), ":-") {
		t.Errorf("a count went below zero: %s", b)
	}

	t.Run("again finds nothing", func(t *testing.T) {
		got, err := e.Erase(ctx, erase.Person{Email: annEmail}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total() != 0 || got.Leases != 0 || got.AuditEntries != 0 || got.Tasks != 0 {
			t.Errorf("second erase: %s", got.Summary())
		}
	})
}

func TestEraseRefusesWhatIsNotAPerson(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	rdb := r.Client()
	e := erase.New(rdb, submission.NewStore(rdb, time.Hour), queue.NewClient(rdb))
	for _, p := range []erase.Person{{}, {Email: "ann"}, {Email: "a@b@c"}, {Phone: "12345"}, {Phone: "1234567890123456"}, {Email: " ", Phone: " "}} {
		if _, err := e.Erase(context.Background(), p, false); err == nil {
			t.Errorf("Erase(%+v): no error", p)
		}
	}
}

// TestEraseMatchesWholeAddressesOnly: erasing ann@example.com leaves
// joann@example.com, ann@example.com.au and ann@example.community alone,
// and finds the address inside text (a payload, angle brackets, a mailto).
func TestEraseMatchesWholeAddressesOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := testenv.StartRedis(t)
	rdb := r.Client()
	store := submission.NewStore(rdb, time.Hour)
	var keep, drop []string
	for _, c := range []struct {
		email, payload string
		erased         bool
	}{
		{"joann@example.com", "", false},
		{"ann@example.com.au", "", false},
		{"ann@example.community", "", false},
		{"not-given", `{"contact":"Ann <ANN@example.com>"}`, true},
		{"not-given", `mailto:ann@example.com?subject=hi`, true},
		{"not-given", `{"email":"ann@example.com."}`, true},
		{"ann@example.com", "", true},
	} {
		rec := &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": c.email}}
		if c.payload != "" {
			rec.Payload = &submission.Payload{Body: c.payload}
		}
		if _, err := store.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if c.erased {
			drop = append(drop, rec.ID)
		} else {
			keep = append(keep, rec.ID)
		}
	}
	rep, err := erase.New(rdb, store, queue.NewClient(rdb)).Erase(ctx, erase.Person{Email: "ann@example.com"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total() != len(drop) {
		t.Errorf("erased %d, want %d", rep.Total(), len(drop))
	}
	for _, id := range keep {
		if _, err := store.Get(ctx, id); err != nil {
			t.Errorf("another person's %s: %v", id, err)
		}
	}
	for _, id := range drop {
		if _, err := store.Get(ctx, id); !errors.Is(err, submission.ErrNotFound) {
			t.Errorf("Ann's %s: %v, want ErrNotFound", id, err)
		}
	}
}
