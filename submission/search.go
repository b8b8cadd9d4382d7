package submission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Query selects records for Search. Every field is optional; they narrow
// together.
type Query struct {
	Status   string    // "" = every status
	Origin   string    // Record.Origin(): "form:<id>" or "hook:<source>"
	Category string    // the last error's category
	From, To time.Time // last changed at or after From, before To
	Email    string    // an address in any field (NormalizeEmail'd here)
	ID       string    // one submission
	Cursor   string    // where the previous page ended (Page.Next)
	Limit    int       // records per page; default 50, at most MaxLimit
	// MaxScan bounds how many index entries one call reads while looking
	// for matches; default and at most MaxScanLimit. A page cut short by
	// it says so (Page.Partial), with a cursor to go on from.
	MaxScan int
}

// Limits of Search, so that no filter makes one request read without end.
const (
	MaxLimit     = 500
	MaxScanLimit = 20000
	// maxByEmail bounds the submissions one email search reads.
	maxByEmail = 1000
)

// Page is one page of Search's results, most recently changed first.
type Page struct {
	Records []*Record
	// Next continues after the last record (or the last entry read, when
	// Partial); "" when nothing more matches.
	Next string
	// Partial: MaxScan entries were read before Limit matches were found;
	// more may match further on.
	Partial bool
}

// ErrBadCursor: Query.Cursor is not one Search returned.
var ErrBadCursor = errors.New("submission: invalid page cursor")

// Search returns the records that match q, most recently changed first
// (by the time of their last status change; with an email, by the time they
// changed last), a page at a time. It reads the narrowest index the query
// allows — one submission, the submissions with that email, a form's failed
// list, one status — and filters the rest record by record, at most
// q.MaxScan of them.
func (s *Store) Search(ctx context.Context, q Query) (Page, error) {
	if q.Status != "" && !ValidStatus(q.Status) {
		return Page{}, fmt.Errorf("submission: unknown status %q", q.Status)
	}
	if q.Limit <= 0 {
		q.Limit = DefaultListLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	if q.MaxScan <= 0 || q.MaxScan > MaxScanLimit {
		q.MaxScan = MaxScanLimit
	}
	switch {
	case q.ID != "":
		r, err := s.Get(ctx, q.ID)
		if errors.Is(err, ErrNotFound) {
			return Page{}, nil
		}
		if err != nil || !q.matches(r) {
			return Page{}, err
		}
		return Page{Records: []*Record{r}}, nil
	case q.Email != "":
		return s.searchEmail(ctx, q)
	}
	cur, err := parseCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	hi := "+inf"
	if !q.To.IsZero() {
		hi = "(" + strconv.FormatFloat(score(q.To), 'f', -1, 64)
	}
	if cur.set && (q.To.IsZero() || cur.score < score(q.To)) {
		hi = strconv.FormatFloat(cur.score, 'f', -1, 64) // ties are skipped below
	}
	lo := "-inf"
	if !q.From.IsZero() {
		lo = strconv.FormatFloat(score(q.From), 'f', -1, 64)
	}
	var heads []*indexCursor
	form, isForm := strings.CutPrefix(q.Origin, "form:")
	switch {
	case q.Status == StatusFailed && isForm:
		heads = []*indexCursor{{key: keyFailed + form}}
	case q.Status != "":
		heads = []*indexCursor{{key: keyIndex + q.Status}}
	default:
		for _, st := range Statuses {
			heads = append(heads, &indexCursor{key: keyIndex + st})
		}
	}
	var page Page
	scanned := 0
	var last redis.Z
	batch := int64(min(q.Limit*2, 500))
	for len(page.Records) < q.Limit {
		if scanned >= q.MaxScan {
			page.Partial = true
			page.Next = cursor{set: true, score: last.Score, id: last.Member.(string)}.String()
			return page, nil
		}
		// The next entries, newest first across the indexes, read together.
		var zs []redis.Z
		for len(zs) < min(getBatch, q.MaxScan-scanned) {
			var next *indexCursor
			for _, c := range heads {
				if err := c.fillRange(ctx, s.rdb, lo, hi, batch); err != nil {
					return Page{}, fmt.Errorf("submission: search: %w", err)
				}
				if len(c.buf) > 0 && (next == nil || after(c.buf[0], next.buf[0])) {
					next = c
				}
			}
			if next == nil {
				break // every index is exhausted
			}
			z := next.buf[0]
			next.buf = next.buf[1:]
			if cur.set && z.Score == cur.score && z.Member.(string) >= cur.id {
				continue // on or before the previous page's end
			}
			zs = append(zs, z)
		}
		if len(zs) == 0 {
			return page, nil
		}
		recs, err := s.getMany(ctx, zs)
		if err != nil {
			return Page{}, err
		}
		for i, z := range zs {
			scanned++
			last = z
			if recs[i] == nil || !q.matches(recs[i]) {
				continue // expired after retention, or not asked for
			}
			page.Records = append(page.Records, recs[i])
			if len(page.Records) == q.Limit {
				break
			}
		}
	}
	page.Next = cursor{set: true, score: last.Score, id: last.Member.(string)}.String()
	return page, nil
}

// getBatch is how many records Search reads in one round trip.
const getBatch = 100

// getMany reads the records of index entries in one MGET (their keys share
// the {lb} slot); nil for one that expired.
func (s *Store) getMany(ctx context.Context, zs []redis.Z) ([]*Record, error) {
	keys := make([]string, len(zs))
	for i, z := range zs {
		keys[i] = keyRecord + z.Member.(string)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("submission: search: %w", err)
	}
	out := make([]*Record, len(vals))
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var r Record
		if err := json.Unmarshal([]byte(str), &r); err != nil {
			return nil, fmt.Errorf("submission: decode %s: %w", zs[i].Member, err)
		}
		out[i] = &r
	}
	return out, nil
}

// after: index entry a comes before b newest first — a higher score, or
// the same score and a greater id (the order ZREVRANGEBYSCORE gives).
func after(a, b redis.Z) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Member.(string) > b.Member.(string)
}

// searchEmail reads the submissions with an email address, newest change
// first, and pages through them in memory (one person has few).
func (s *Store) searchEmail(ctx context.Context, q Query) (Page, error) {
	email := NormalizeEmail(q.Email)
	if email == "" {
		return Page{}, nil
	}
	ids, err := s.rdb.ZRevRange(ctx, keyEmail+emailHash(email), 0, maxByEmail-1).Result()
	if err != nil {
		return Page{}, fmt.Errorf("submission: search: %w", err)
	}
	var all []*Record
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Page{}, err
		}
		if q.matches(r) && (q.From.IsZero() || !r.UpdatedAt.Before(q.From)) && (q.To.IsZero() || r.UpdatedAt.Before(q.To)) {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, b *Record) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	cur, err := parseCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	if cur.set {
		all = slices.DeleteFunc(all, func(r *Record) bool {
			sc := score(r.UpdatedAt)
			return sc > cur.score || (sc == cur.score && r.ID >= cur.id)
		})
	}
	var page Page
	if len(all) > q.Limit {
		all = all[:q.Limit]
		last := all[len(all)-1]
		page.Next = cursor{set: true, score: score(last.UpdatedAt), id: last.ID}.String()
	}
	page.Records = all
	return page, nil
}

// matches applies the filters an index did not.
func (q Query) matches(r *Record) bool {
	switch {
	case q.Status != "" && r.Status != q.Status:
		return false
	case q.Origin != "" && r.Origin() != q.Origin:
		return false
	case q.Category != "" && (r.LastError == nil || r.LastError.Category != q.Category):
		return false
	}
	return true
}

// cursor is a position in an index: the last entry's score and id.
type cursor struct {
	set   bool
	score float64
	id    string
}

func (c cursor) String() string {
	return strconv.FormatFloat(c.score, 'f', -1, 64) + "_" + c.id
}

func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{}, nil
	}
	sc, id, ok := strings.Cut(s, "_")
	f, err := strconv.ParseFloat(sc, 64)
	if !ok || err != nil || id == "" || len(id) > 64 {
		return cursor{}, ErrBadCursor
	}
	return cursor{set: true, score: f, id: id}, nil
}

// fillRange reads the next batch of up to n entries scored from lo to hi
// when the buffer is empty.
func (c *indexCursor) fillRange(ctx context.Context, rdb redis.UniversalClient, lo, hi string, n int64) error {
	if len(c.buf) > 0 || c.done {
		return nil
	}
	zs, err := rdb.ZRevRangeByScoreWithScores(ctx, c.key, &redis.ZRangeBy{Max: hi, Min: lo, Offset: c.offset, Count: n}).Result()
	if err != nil {
		return err
	}
	c.offset += int64(len(zs))
	c.buf = zs
	c.done = int64(len(zs)) < n
	return nil
}
