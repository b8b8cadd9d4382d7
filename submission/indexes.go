package submission

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Indexes the admin console reads, kept by Create and update in the same
// script or transaction as the record itself (so they never disagree with
// it), all under the {lb} hash tag:
//
//	{lb}:stats:<hour>  hash: how many submissions received in that hour
//	                   (Unix seconds of its start) are in each status now,
//	                   per form or webhook source (Record.Origin): field
//	                   "<status>|<origin>" (statsField). A status change
//	                   moves one count from the old status to the new. The
//	                   count of a status in all is their sum (Tally); keys
//	                   written by earlier versions also hold it as field
//	                   "<status>", which Tally skips. Kept StatsSpan after
//	                   the hour, then gone with its key.
//	{lb}:email:<hash>  zset of the ids of submissions with that email
//	                   address in any field, by receipt; <hash> is
//	                   emailHash of the address, so no address is in a
//	                   key name.
//	{lb}:emailexp      zset of "<id>|<hash>,<hash>…" by the time the record
//	                   expires (delivered and discarded records expire after
//	                   the retention period): Trim then drops those ids from
//	                   their email indexes.
const (
	keyStats     = "{lb}:stats:"
	keyEmail     = "{lb}:email:"
	keyEmailExps = "{lb}:emailexp"
)

// StatsSpan is how long the counters of an hour are kept: a week and a day,
// so that "the last 7 days" always has all its hours.
const StatsSpan = 8 * 24 * time.Hour

// statsKey is the counters' key for the hour t falls in, and when that key
// expires; "" when t is too old to be counted any more.
func (s *Store) statsKey(t time.Time) (string, int64) {
	h := t.UTC().Truncate(time.Hour)
	if s.now().Sub(h) > StatsSpan-time.Hour {
		return "", 0
	}
	return keyStats + strconv.FormatInt(h.Unix(), 10), h.Add(StatsSpan).Unix()
}

// statsField is the counters' field of a status and an origin.
func statsField(status, origin string) string { return status + "|" + origin }

// NormalizeEmail is the form in which email addresses are indexed and
// searched: trimmed and lower-cased; "" for anything that is not one plain
// address.
func NormalizeEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if !strings.Contains(s, "@") || len(s) > 320 {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return ""
	}
	return s
}

// emailHash names an address in a key: a SHA-256 of it, so that Redis key
// names (visible in monitoring, slow logs and key dumps) hold no address.
func emailHash(email string) string {
	h := sha256.Sum256([]byte("leadbridge/email/" + email))
	return hex.EncodeToString(h[:16])
}

// emailHashes are the hashes of every email address among a record's
// field values, sorted and without repeats.
func emailHashes(fields map[string]string) []string {
	var out []string
	for _, v := range fields {
		if e := NormalizeEmail(v); e != "" {
			out = append(out, emailHash(e))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func emailKeys(hashes []string) []string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = keyEmail + h
	}
	return out
}

// expiring: records in these statuses expire after the retention period.
func expiring(status string) bool { return status == StatusDelivered || status == StatusDiscarded }

// emailExpMember is a record's entry in {lb}:emailexp.
func emailExpMember(id string, hashes []string) string {
	return id + "|" + strings.Join(hashes, ",")
}

// reindex queues, on p (the transaction of update), the changes to the
// console's indexes that a record's move from (oldStatus, oldFields) to r
// makes.
func (s *Store) reindex(ctx context.Context, p redis.Pipeliner, oldStatus string, oldFields map[string]string, r *Record, now time.Time) {
	if oldStatus != r.Status {
		if key, exp := s.statsKey(r.ReceivedAt); key != "" {
			origin := r.Origin()
			p.HIncrBy(ctx, key, statsField(oldStatus, origin), -1)
			p.HIncrBy(ctx, key, statsField(r.Status, origin), 1)
			p.ExpireAt(ctx, key, time.Unix(exp, 0))
		}
	}
	before, after := emailHashes(oldFields), emailHashes(r.Fields)
	if !slices.Equal(before, after) {
		for _, h := range before {
			if !slices.Contains(after, h) {
				p.ZRem(ctx, keyEmail+h, r.ID)
			}
		}
		for _, h := range after {
			p.ZAdd(ctx, keyEmail+h, redis.Z{Score: score(r.ReceivedAt), Member: r.ID})
		}
	}
	if expiring(oldStatus) && len(before) > 0 {
		p.ZRem(ctx, keyEmailExps, emailExpMember(r.ID, before))
	}
	if expiring(r.Status) && len(after) > 0 {
		p.ZAdd(ctx, keyEmailExps, redis.Z{Score: score(now.Add(s.retention)), Member: emailExpMember(r.ID, after)})
	}
}

// trimEmails drops expired records from the email indexes, a batch at a
// time. A record still present (its expiry was pushed back) is left.
func (s *Store) trimEmails(ctx context.Context) error {
	max := strconv.FormatFloat(score(s.now()), 'f', -1, 64)
	for range 20 {
		due, err := s.rdb.ZRangeByScore(ctx, keyEmailExps, &redis.ZRangeBy{Min: "-inf", Max: max, Count: 500}).Result()
		if err != nil || len(due) == 0 {
			return err
		}
		for _, m := range due {
			id, hashes, _ := strings.Cut(m, "|")
			n, err := s.rdb.Exists(ctx, keyRecord+id).Result()
			if err != nil {
				return err
			}
			if n > 0 {
				continue // its expiry moved; update re-scored this entry
			}
			_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for _, h := range strings.Split(hashes, ",") {
					p.ZRem(ctx, keyEmail+h, id)
				}
				p.ZRem(ctx, keyEmailExps, m)
				return nil
			})
			if err != nil {
				return err
			}
		}
		if len(due) < 500 {
			return nil
		}
	}
	return nil
}
