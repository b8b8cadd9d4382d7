package submission

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func fail(t *testing.T, s *Store, id, category string) *Record {
	t.Helper()
	r, err := s.update(ctx(t), id, func(r *Record) error {
		r.Status = StatusFailed
		r.LastError = &ErrorInfo{Category: category, Status: 400, Message: "refused"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestTallyFollowsStatusChanges(t *testing.T) {
	s, _, clk := newStore(t)
	a := create(t, s, &Record{Form: "pricing", Source: "form"})
	b := create(t, s, &Record{Form: "pricing", Source: "hubspot"})
	create(t, s, &Record{Form: "demo", Spam: &SpamInfo{Reason: "honeypot"}})
	setStatus(t, s, a.ID, StatusDelivering)
	setStatus(t, s, a.ID, StatusDelivered)
	fail(t, s, b.ID, CategoryInvalidData)

	got, err := s.Tally(ctx(t), clk.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{StatusDelivered: 1, StatusFailed: 1, StatusSpam: 1}; !reflect.DeepEqual(nonZero(got.ByStatus), want) {
		t.Errorf("ByStatus = %v, want %v", got.ByStatus, want)
	}
	want := map[string]map[string]int64{
		"form:pricing": {StatusDelivered: 1},
		"hook:hubspot": {StatusFailed: 1},
		"form:demo":    {StatusSpam: 1},
	}
	if !reflect.DeepEqual(got.ByOrigin, want) {
		t.Errorf("ByOrigin = %v, want %v", got.ByOrigin, want)
	}
	if got.Total() != 3 {
		t.Errorf("Total = %d, want 3", got.Total())
	}

	// A day later the last 24 hours hold none of them, the last week all.
	clk.Advance(25 * time.Hour)
	day, _ := s.Tally(ctx(t), clk.Now().Add(-24*time.Hour))
	week, _ := s.Tally(ctx(t), clk.Now().Add(-7*24*time.Hour))
	if day.Total() != 0 || week.Total() != 3 {
		t.Errorf("a day later: last 24 h %d, last 7 days %d; want 0 and 3", day.Total(), week.Total())
	}
	// An old submission's change still moves its count, in its own hour.
	fail(t, s, a.ID, CategoryInvalidData) // (not a real transition; the index does not care)
	week, _ = s.Tally(ctx(t), clk.Now().Add(-7*24*time.Hour))
	if w := map[string]int64{StatusFailed: 2, StatusSpam: 1}; !reflect.DeepEqual(nonZero(week.ByStatus), w) {
		t.Errorf("after a change a day later: %v, want %v", week.ByStatus, w)
	}
}

// Hours counted by earlier versions, which kept each status's count in all
// as a field of its own next to the per-origin ones, read the same as hours
// counted now, and a status change in such an hour moves both alike.
func TestTallyReadsHoursOfEarlierVersions(t *testing.T) {
	s, rdb, clk := newStore(t)
	a := create(t, s, &Record{Form: "pricing", Source: "form"})
	b := create(t, s, &Record{Form: "pricing", Source: "hubspot"})
	now, err := s.Tally(ctx(t), clk.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The same two submissions as an earlier version counted them.
	key, _ := s.statsKey(a.ReceivedAt)
	rdb.Del(ctx(t), key)
	rdb.HSet(ctx(t), key, StatusAccepted, 2, "accepted|form:pricing", 1, "accepted|hook:hubspot", 1)
	old, err := s.Tally(ctx(t), clk.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(old, now) {
		t.Errorf("an earlier version's hour: got %+v, want %+v as counted now", old, now)
	}
	setStatus(t, s, b.ID, StatusDelivering)
	got, _ := s.Tally(ctx(t), clk.Now().Add(-time.Hour))
	want := map[string]int64{StatusAccepted: 1, StatusDelivering: 1}
	if !reflect.DeepEqual(nonZero(got.ByStatus), want) || got.ByOrigin["hook:hubspot"][StatusDelivering] != 1 {
		t.Errorf("after a change: ByStatus %v, ByOrigin %v; want %v", got.ByStatus, got.ByOrigin, want)
	}
}

func nonZero(m map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func TestBacklog(t *testing.T) {
	s, _, clk := newStore(t)
	if b, err := s.Backlog(ctx(t)); err != nil || b.Waiting != 0 || !b.Oldest.IsZero() {
		t.Fatalf("empty: %+v, %v", b, err)
	}
	first := create(t, s, &Record{Form: "demo"})
	setStatus(t, s, first.ID, StatusRetrying)
	clk.Advance(time.Minute)
	create(t, s, &Record{Form: "demo"})
	fail(t, s, create(t, s, &Record{Form: "demo"}).ID, CategoryInvalidData)
	b, err := s.Backlog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if b.Waiting != 2 || b.OldestID != first.ID || !b.Oldest.Equal(first.ReceivedAt) {
		t.Errorf("Backlog = %+v, want 2 waiting, the oldest %s received at %s", b, first.ID, first.ReceivedAt)
	}
}

func TestSearchFilters(t *testing.T) {
	s, _, clk := newStore(t)
	mk := func(form, source, email, category string) *Record {
		r := create(t, s, &Record{Form: form, Source: source, Fields: map[string]string{"email": email, "last_name": "Lee"}})
		clk.Advance(time.Second)
		if category != "" {
			r = fail(t, s, r.ID, category)
			clk.Advance(time.Second)
		}
		return r
	}
	p1 := mk("pricing", "form", "ann@example.com", CategoryInvalidData)
	p2 := mk("pricing", "form", "bo@example.com", CategoryConfiguration)
	d1 := mk("demo", "form", "Ann@Example.com", CategoryInvalidData)
	h1 := mk("pricing", "hubspot", "cy@example.com", CategoryInvalidData)
	ok := mk("pricing", "form", "ann@example.com", "")
	mid := clk.Now()
	clk.Advance(time.Hour)
	late := mk("demo", "form", "dee@example.com", CategoryInvalidData)

	tests := []struct {
		name string
		q    Query
		want []*Record
	}{
		{"every failed, newest first", Query{Status: StatusFailed}, []*Record{late, h1, d1, p2, p1}},
		{"one form's failed", Query{Status: StatusFailed, Origin: "form:pricing"}, []*Record{p2, p1}},
		{"one webhook source", Query{Status: StatusFailed, Origin: "hook:hubspot"}, []*Record{h1}},
		{"a category", Query{Status: StatusFailed, Category: CategoryConfiguration}, []*Record{p2}},
		{"a date range", Query{Status: StatusFailed, From: p2.UpdatedAt, To: mid}, []*Record{h1, d1, p2}},
		{"by email, in any case", Query{Email: " ANN@example.COM "}, []*Record{ok, d1, p1}},
		{"by email, failed only", Query{Email: "ann@example.com", Status: StatusFailed}, []*Record{d1, p1}},
		{"by email and form", Query{Email: "ann@example.com", Origin: "form:demo"}, []*Record{d1}},
		{"by id", Query{ID: p2.ID}, []*Record{p2}},
		{"by id, other status", Query{ID: ok.ID, Status: StatusFailed}, nil},
		{"unknown id", Query{ID: "ffff"}, nil},
		{"not an email", Query{Email: "ann"}, nil},
		{"every status", Query{}, []*Record{late, ok, h1, d1, p2, p1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := s.Search(ctx(t), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := ids(page.Records), ids(tt.want); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// TestSearchPagesLoseNothing: records changed in the same instant (the same
// index score) are split across pages without one lost or repeated.
func TestSearchPagesLoseNothing(t *testing.T) {
	s, _, clk := newStore(t)
	var want []string
	for i := range 23 {
		r := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "ann@example.com"}})
		fail(t, s, r.ID, CategoryInvalidData) // the clock stands still: equal scores
		want = append(want, r.ID)
		if i%5 == 0 {
			clk.Advance(time.Millisecond)
		}
	}
	for _, q := range []Query{{Status: StatusFailed}, {Email: "ann@example.com"}, {}} {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			var got []string
			q.Limit = 4
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("more than 10 pages")
				}
				page, err := s.Search(ctx(t), q)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ids(page.Records)...)
				if page.Next == "" {
					break
				}
				q.Cursor = page.Next
			}
			slices.Sort(got)
			w := slices.Sorted(slices.Values(want))
			if !slices.Equal(got, w) {
				t.Errorf("pages hold %d ids (%v), want the %d records once each", len(got), got, len(w))
			}
		})
	}
}

func TestSearchStopsAtMaxScan(t *testing.T) {
	s, _, clk := newStore(t)
	match := create(t, s, &Record{Form: "rare"})
	fail(t, s, match.ID, CategoryInvalidData)
	for range 30 {
		clk.Advance(time.Millisecond)
		fail(t, s, create(t, s, &Record{Form: "common"}).ID, CategoryInvalidData)
	}
	q := Query{Status: StatusFailed, Category: CategoryInvalidData, Origin: "hook:none", MaxScan: 10}
	page, err := s.Search(ctx(t), q)
	if err != nil {
		t.Fatal(err)
	}
	if !page.Partial || page.Next == "" || len(page.Records) != 0 {
		t.Fatalf("page = %d records, partial %v, next %q; want none, partial, a cursor", len(page.Records), page.Partial, page.Next)
	}
	q.Origin, q.MaxScan = "form:rare", 100
	q.Status = "" // every status: the form filter is applied record by record
	for page.Next != "" {
		q.Cursor = page.Next
		if page, err = s.Search(ctx(t), q); err != nil {
			t.Fatal(err)
		}
		if len(page.Records) > 0 {
			break
		}
	}
	if got := ids(page.Records); !slices.Equal(got, []string{match.ID}) {
		t.Errorf("going on from the cursor: %v, want %s", got, match.ID)
	}
	if _, err := s.Search(ctx(t), Query{Cursor: "nonsense"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v, want ErrBadCursor", err)
	}
}

func TestEmailIndexFollowsEditsAndExpiry(t *testing.T) {
	s, rdb, clk := newStore(t)
	r := create(t, s, &Record{Form: "demo", Fields: map[string]string{"email": "old@example.com"}})
	fail(t, s, r.ID, CategoryInvalidData)
	if _, err := s.Edit(ctx(t), r.ID, map[string]string{"email": "new@example.com"}, "admin"); err != nil {
		t.Fatal(err)
	}
	find := func(email string) []string {
		page, err := s.Search(ctx(t), Query{Email: email})
		if err != nil {
			t.Fatal(err)
		}
		return ids(page.Records)
	}
	if got := find("old@example.com"); len(got) != 0 {
		t.Errorf("old address after the edit: %v, want nothing", got)
	}
	if got := find("new@example.com"); !slices.Equal(got, []string{r.ID}) {
		t.Errorf("new address after the edit: %v, want %s", got, r.ID)
	}
	for _, k := range rdb.Keys(ctx(t), "*").Val() {
		if strings.Contains(k, "example") {
			t.Errorf("key %q holds an address", k)
		}
	}
	// Delivered, then expired: gone from the index once trimmed.
	setStatus(t, s, r.ID, StatusDelivered)
	rdb.Del(ctx(t), keyRecord+r.ID) // as its TTL would
	clk.Advance(retention + time.Second)
	if err := s.Trim(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx(t), keyEmail+emailHash("new@example.com"), keyEmailExps).Val(); n != 0 {
		t.Errorf("after trim %d email index keys remain, want 0", n)
	}
}
