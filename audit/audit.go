// Package audit keeps the log of what admins did in the console — who, when,
// which action, on which submission, why — in a capped Redis stream, newest
// first when read. It holds ids, never a submission's field values.
package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// key is the stream; entries beyond MaxEntries (approximately: Redis trims
// whole nodes) are dropped, oldest first.
const key = "lb:audit"

// MaxEntries is how many entries the log keeps.
const MaxEntries = 100_000

// Entry is one admin action.
type Entry struct {
	ID         string    // the stream entry's id; the cursor for paging
	At         time.Time // when (from the entry id)
	By         string    // who: the admin's user name or e-mail
	Action     string    // sign-in, retry, edit, discard, release, bulk-retry, export, pause, resume, …
	Submission string    // the submission acted on, if one
	Reason     string    // what the admin wrote (discard)
	Detail     string    // what else says what happened: a filter, a count
}

// Log writes and reads the audit log.
type Log struct {
	rdb redis.UniversalClient
}

// New returns a Log on rdb.
func New(rdb redis.UniversalClient) *Log { return &Log{rdb: rdb} }

// Add appends an entry; its time is Redis's.
func (l *Log) Add(ctx context.Context, e Entry) error {
	err := l.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: key, MaxLen: MaxEntries, Approx: true,
		Values: []any{"by", e.By, "action", e.Action, "submission", e.Submission, "reason", e.Reason, "detail", e.Detail},
	}).Err()
	if err != nil {
		return fmt.Errorf("audit: add: %w", err)
	}
	return nil
}

// List returns up to n entries older than before (an Entry.ID; "" = the
// newest), newest first, and the cursor of the next page ("" at the end).
func (l *Log) List(ctx context.Context, before string, n int) ([]Entry, string, error) {
	end := "+"
	if before != "" {
		if !validID(before) {
			return nil, "", fmt.Errorf("audit: invalid cursor %q", before)
		}
		end = "(" + before
	}
	msgs, err := l.rdb.XRevRangeN(ctx, key, end, "-", int64(n)+1).Result()
	if err != nil {
		return nil, "", fmt.Errorf("audit: list: %w", err)
	}
	next := ""
	if len(msgs) > n {
		msgs = msgs[:n]
		next = msgs[n-1].ID
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, entryOf(m))
	}
	return out, next, nil
}

// validID: a stream id, <ms>-<seq>.
func validID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return ok && err1 == nil && err2 == nil
}

// entryOf reads one stream message as an Entry.
func entryOf(m redis.XMessage) Entry {
	e := Entry{ID: m.ID, At: idTime(m.ID)}
	e.By, _ = m.Values["by"].(string)
	e.Action, _ = m.Values["action"].(string)
	e.Submission, _ = m.Values["submission"].(string)
	e.Reason, _ = m.Values["reason"].(string)
	e.Detail, _ = m.Values["detail"].(string)
	return e
}

func idTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseInt(ms, 10, 64)
	return time.UnixMilli(n).UTC()
}
