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

// Erasing a person (package erase) and retention both delete whole records.
// A record goes with everything the store keeps about it — its indexes, its
// counts, its idempotency key — in one transaction, so that no index entry
// or key outlives the record that explains it.

// Find returns the records for which match is true, reading every record
// the status indexes hold, a hundred at a time. It is a scan of all
// submissions (11–24 ms per thousand records on a loaded 2-core machine:
// erase.BenchmarkEraseAmong10000, docs/BENCHMARKS.md): for erasure, which
// must find a person wherever they are (a phone number, an address inside
// a webhook's payload), not for pages.
func (s *Store) Find(ctx context.Context, match func(*Record) bool) ([]*Record, error) {
	seen := map[string]bool{}
	var out []*Record
	for _, st := range Statuses {
		for start := int64(0); ; start += findBatch {
			zs, err := s.rdb.ZRangeWithScores(ctx, keyIndex+st, start, start+findBatch-1).Result()
			if err != nil {
				return nil, fmt.Errorf("submission: find: %w", err)
			}
			if len(zs) == 0 {
				break
			}
			// A record that does not decode is an error: erasure must not
			// pass over what it cannot read.
			recs, err := s.getMany(ctx, zs)
			if err != nil {
				return nil, err
			}
			for _, r := range recs {
				if r != nil && !seen[r.ID] && match(r) {
					seen[r.ID] = true
					out = append(out, r)
				}
			}
			if int64(len(zs)) < findBatch {
				break
			}
		}
	}
	return out, nil
}

const findBatch = 100

// Erased is what Delete removed with one record.
type Erased struct {
	Record         *Record
	IdempotencyKey bool // the key that named it was deleted too
}

// Delete removes the record id and everything the store keeps about it:
// its entries in the status, failed and email indexes, its idempotency key
// (a form's Idempotency-Key or a webhook's delivery id) when that key still
// names it, and its place in the waiting and hourly counts, in one
// transaction. It returns ErrNotFound when there is no such record. The
// record's queued task is the queue's to delete (queue.Client.Forget).
func (s *Store) Delete(ctx context.Context, id string) (Erased, error) {
	return s.deleteIf(ctx, id, "")
}

// ErrMoved: DeleteIn found the record in another status (a person acted
// on it meanwhile) and left it.
var ErrMoved = errors.New("submission: record changed status; left as it is")

// DeleteIn is Delete for a record still in status, checked in the same
// transaction; ErrMoved otherwise. Retention uses it, so that a failed
// submission a person retries at that moment is not deleted.
func (s *Store) DeleteIn(ctx context.Context, id, status string) (Erased, error) {
	return s.deleteIf(ctx, id, status)
}

func (s *Store) deleteIf(ctx context.Context, id, status string) (Erased, error) {
	key := keyRecord + id
	var out Erased
	txf := func(tx *redis.Tx) error {
		r, err := readTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if status != "" && r.Status != status {
			return ErrMoved
		}
		idem := ""
		if r.IdempotencyKey != "" {
			idem = idemKey(r.Form, r.IdempotencyKey)
			held, err := tx.Get(ctx, idem).Result()
			switch {
			case errors.Is(err, redis.Nil):
				idem = ""
			case err != nil:
				return err
			case !keyNames(held, id):
				idem = "" // the key names another submission now
			}
		}
		hashes := emailHashes(r.Fields)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, key)
			for _, st := range Statuses {
				p.ZRem(ctx, keyIndex+st, id)
			}
			p.ZRem(ctx, keyFailed+r.Form, id)
			if idem != "" {
				p.Del(ctx, idem)
			}
			if IsWaiting(r.Status) {
				p.HIncrBy(ctx, keyWaiting, r.Origin(), -1)
			}
			if stats, exp := s.statsKey(r.ReceivedAt); stats != "" {
				p.HIncrBy(ctx, stats, statsField(r.Status, r.Origin()), -1)
				p.ExpireAt(ctx, stats, time.Unix(exp, 0))
			}
			for _, h := range hashes {
				p.ZRem(ctx, keyEmail+h, id)
			}
			if len(hashes) > 0 {
				p.ZRem(ctx, keyEmailExps, emailExpMember(id, hashes))
			}
			return nil
		})
		out = Erased{Record: r, IdempotencyKey: idem != ""}
		return err
	}
	for range 50 {
		err := s.rdb.Watch(ctx, txf, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrMoved) {
			return Erased{}, err
		}
		if err != nil {
			return Erased{}, fmt.Errorf("submission: delete %s: %w", id, err)
		}
		return out, nil
	}
	return Erased{}, ErrConflict
}

// HeldKey reports whether r's idempotency key still names r: what Delete
// would remove with it (a dry run's count).
func (s *Store) HeldKey(ctx context.Context, r *Record) (bool, error) {
	if r.IdempotencyKey == "" {
		return false, nil
	}
	held, err := s.rdb.Get(ctx, idemKey(r.Form, r.IdempotencyKey)).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("submission: idempotency key: %w", err)
	}
	return keyNames(held, r.ID), nil
}

// keyNames reports whether held, an idempotency key's value ("<id>:<fingerprint>",
// or a plain id as earlier versions stored it), names the submission id.
func keyNames(held, id string) bool {
	return held == id || strings.HasPrefix(held, id+":")
}

// ChangedBefore returns up to limit ids of records in status whose last
// change came before t, oldest first: what retention deletes.
func (s *Store) ChangedBefore(ctx context.Context, status string, t time.Time, limit int) ([]string, error) {
	max := "(" + strconv.FormatFloat(score(t), 'f', -1, 64)
	ids, err := s.rdb.ZRangeByScore(ctx, keyIndex+status, &redis.ZRangeBy{Min: "-inf", Max: max, Count: int64(limit)}).Result()
	if err != nil {
		return nil, fmt.Errorf("submission: changed before: %w", err)
	}
	return ids, nil
}

// EmailRef names an address without showing it, for the audit log of an
// erasure: the same 128-bit SHA-256 the email index uses, "" for what is
// not an address. Someone who knows an address can check it against a
// reference; nobody can read the address from one.
func EmailRef(email string) string {
	e := NormalizeEmail(email)
	if e == "" {
		return ""
	}
	return emailHash(e)
}
