package submission

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tally is how many submissions received in a period are in each status
// now, in all and per origin (Record.Origin).
type Tally struct {
	Since    time.Time                   // the start of the first hour counted
	ByStatus map[string]int64            // status → count
	ByOrigin map[string]map[string]int64 // origin → status → count
}

// Total is the number of submissions received in the period.
func (t Tally) Total() int64 {
	var n int64
	for _, v := range t.ByStatus {
		n += v
	}
	return n
}

// Tally counts the submissions received since the start of the hour that
// since falls in (at most StatsSpan ago), by the status they are in now.
// Counts are kept per hour, so the period starts on the hour.
func (s *Store) Tally(ctx context.Context, since time.Time) (Tally, error) {
	now := s.now().UTC()
	start := since.UTC().Truncate(time.Hour)
	if earliest := now.Add(-StatsSpan + time.Hour).Truncate(time.Hour); start.Before(earliest) {
		start = earliest
	}
	t := Tally{Since: start, ByStatus: map[string]int64{}, ByOrigin: map[string]map[string]int64{}}
	var cmds []*redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for h := start; !h.After(now); h = h.Add(time.Hour) {
			cmds = append(cmds, p.HGetAll(ctx, keyStats+strconv.FormatInt(h.Unix(), 10)))
		}
		return nil
	})
	if err != nil {
		return Tally{}, fmt.Errorf("submission: tally: %w", err)
	}
	for _, c := range cmds {
		for field, v := range c.Val() {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			status, origin, perOrigin := strings.Cut(field, "|")
			if !perOrigin {
				// The status in all, as earlier versions also kept it: the
				// sum of its per-origin fields, counted from those.
				continue
			}
			t.ByStatus[status] += n
			if t.ByOrigin[origin] == nil {
				t.ByOrigin[origin] = map[string]int64{}
			}
			t.ByOrigin[origin][status] += n
		}
	}
	for o, m := range t.ByOrigin {
		for st, n := range m {
			if n == 0 {
				delete(m, st)
			}
		}
		if len(m) == 0 {
			delete(t.ByOrigin, o)
		}
	}
	return t, nil
}

// Backlog is what waits for delivery.
type Backlog struct {
	Waiting  int64     // accepted, delivering and retrying submissions
	Oldest   time.Time // when the longest-waiting one was received (or retried by a person); zero if none
	OldestID string
}

// Backlog reports how many submissions wait for delivery and since when the
// longest-waiting one has.
func (s *Store) Backlog(ctx context.Context) (Backlog, error) {
	waiting := []string{StatusAccepted, StatusRetrying, StatusDelivering}
	var cards []*redis.IntCmd
	var firsts []*redis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, st := range waiting {
			cards = append(cards, p.ZCard(ctx, keyIndex+st))
			firsts = append(firsts, p.ZRangeWithScores(ctx, keyIndex+st, 0, 0))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Backlog{}, fmt.Errorf("submission: backlog: %w", err)
	}
	var b Backlog
	for i := range waiting {
		b.Waiting += cards[i].Val()
		zs := firsts[i].Val()
		if len(zs) == 0 {
			continue
		}
		// The index is by last change; the wait began at receipt (or a
		// person's retry), which the record knows.
		r, err := s.Get(ctx, zs[0].Member.(string))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return Backlog{}, err
		}
		if at := r.HorizonStart(); b.Oldest.IsZero() || at.Before(b.Oldest) {
			b.Oldest, b.OldestID = at, r.ID
		}
	}
	return b, nil
}
