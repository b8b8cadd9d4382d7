package submission

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors returned by Store.
var (
	// ErrNotFound: no record with that id (never existed, or expired).
	ErrNotFound = errors.New("submission: not found")
	// ErrConflict: the record changed under us too many times in a row.
	ErrConflict = errors.New("submission: concurrent update, try again")
	// ErrKeyReused: Create was given an idempotency key that already names
	// a submission of the same form with different content.
	ErrKeyReused = errors.New("submission: idempotency key already used for different content")
)

// All keys share the {lb} hash tag so that a record and its indexes can be
// changed in one transaction on Redis Cluster too.
const (
	keyRecord = "{lb}:rec:"  // + id → JSON Record
	keyIndex  = "{lb}:idx:"  // + status → zset of ids by last change (score)
	keyFailed = "{lb}:fail:" // + form → zset of failed ids by time (score)
	keyIdem   = "{lb}:idem:" // + form + ":" + sha256(key) → id + ":" + fingerprint(fields)
	// keyWaiting is a hash: origin (Record.Origin) → how many of its
	// submissions wait for delivery, changed with every status change.
	keyWaiting = "{lb}:waiting"
)

// score is an index score: Unix milliseconds with the sub-millisecond part
// as a fraction (a float64 keeps it to a quarter of a microsecond), so that
// records changed within one millisecond still sort by time and a page
// boundary between them loses none. (Whole-millisecond scores written by
// earlier versions still sort in place.)
func score(t time.Time) float64 { return float64(t.UnixNano()) / 1e6 }

// idempotencyTTL is how long an Idempotency-Key maps to its first submission.
const idempotencyTTL = 24 * time.Hour

// Store keeps submission records in Redis.
type Store struct {
	rdb       redis.UniversalClient
	now       func() time.Time
	retention time.Duration // how long delivered and discarded records are kept
	keys      KeyRetention  // how long idempotency keys are kept (retention.go)
	// batch sends concurrent CreateWith calls' scripts together (batch.go);
	// nil on Redis Cluster, where a pipeline's commands go to the nodes of
	// their keys.
	batch *createBatch
}

// NewStore returns a Store on rdb. Records of delivered and discarded
// submissions expire after retention; others stay until handled.
func NewStore(rdb redis.UniversalClient, retention time.Duration) *Store {
	s := &Store{rdb: rdb, now: time.Now, retention: retention}
	if _, cluster := rdb.(*redis.ClusterClient); !cluster {
		s.batch = &createBatch{rdb: rdb}
	}
	return s
}

// createScript stores a new record and indexes it, unless the idempotency
// key already names a submission — then it returns what the key holds: that
// one's id and content fingerprint. One script, so a crash can never leave
// a key without its record or the other way round.
// KEYS[3] is always a key in the {lb} slot (Redis Cluster refuses keys of
// other slots, and "" hashes elsewhere); ARGV[5] says whether it is a real
// idempotency key, ARGV[6] is what to store under it. KEYS[4] is the form's
// failed index, written when ARGV[7] is '1' (a submission refused at intake).
// KEYS[5] is the waiting counts by origin, incremented for ARGV[8] unless
// empty (the record does not wait for delivery). KEYS[6] is the counters of
// the hour it was received, ARGV[9] the field to count it under (its status
// and origin, indexes.go) and ARGV[10] when the key expires (ARGV[9] is
// empty when it is too old to count). The expiry is set when ARGV[9]'s
// count is new, which it is when the key is (every writer of the key sets
// the same expiry, so one that exists has it already), not on every call.
// ARGV[11] is the waiting cap of the record's origin ARGV[12] (0: none):
// when that many of its submissions wait already, nothing is written and
// the answer is "!waiting".
// When ARGV[13] is '1' or '2', the record's queue task is written too
// (QueueEntry): the hash KEYS[7] with the field/value pairs ARGV[16…] and
// ARGV[14] pushed onto the list KEYS[8], unless the hash exists ('2': the
// record's id was made by CreateWith, so no task can have it yet, and the
// script does not ask), and ARGV[15] added to the set KEYS[9]; otherwise
// ('0') KEYS[7…9] are placeholders in the {lb} slot. KEYS[10…] are the
// email indexes the record belongs to (indexes.go).
// Reads come first and the record's SET is the first write, so a write
// refused (Redis out of memory) leaves nothing behind.
var createScript = redis.NewScript(`
local keyed = ARGV[5] == '1'
if keyed then
  local prev = redis.call('GET', KEYS[3])
  if prev then return prev end
end
local cap = tonumber(ARGV[11])
if cap > 0 and tonumber(redis.call('HGET', KEYS[5], ARGV[12]) or '0') >= cap then
  return '!waiting'
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if ARGV[7] == '1' then redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3]) end
if keyed then redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[4]) end
if ARGV[8] ~= '' then redis.call('HINCRBY', KEYS[5], ARGV[8], 1) end
if ARGV[9] ~= '' then
  if redis.call('HINCRBY', KEYS[6], ARGV[9], 1) == 1 then
    redis.call('EXPIREAT', KEYS[6], ARGV[10])
  end
end
for i = 10, #KEYS do redis.call('ZADD', KEYS[i], ARGV[2], ARGV[3]) end
if ARGV[13] ~= '0' then
  if ARGV[13] == '2' or redis.call('EXISTS', KEYS[7]) == 0 then
    redis.call('HSET', KEYS[7], unpack(ARGV, 16))
    redis.call('LPUSH', KEYS[8], ARGV[14])
  end
  redis.call('SADD', KEYS[9], ARGV[15])
end
return ''
`)

// ErrWaitingCap: CreateWith was given a waiting cap, and that many
// submissions of the record's origin wait for delivery already. Nothing was
// written.
var ErrWaitingCap = errors.New("submission: the waiting cap of this origin is reached")

// QueueEntry is a queue's task for a record, written by CreateWith in the
// same call as the record: a hash (Key, with its Fields as name/value
// pairs) made only if no hash has that key yet, and then Push pushed onto
// List; Member is added to Set whatever the hash. Package queue fills it in
// the layout of its queue library; this package knows no more of it. On
// Redis Cluster every key of one script must share a slot, so there is none
// there unless the queue's keys are in the {lb} slot.
type QueueEntry struct {
	Key    string
	Fields []string
	List   string
	Push   string
	Set    string
	Member string
}

// CreateOptions are what CreateWith does in the same Redis call as storing
// the record.
type CreateOptions struct {
	// Entry, when set, is asked for the queue task of a record that is
	// accepted (not of one held as spam or failed); a nil answer queues
	// nothing.
	Entry func(*Record) *QueueEntry
	// WaitingCap refuses the record (ErrWaitingCap) when that many
	// submissions of its origin wait for delivery already; 0 = no cap.
	WaitingCap int64
	// Replicas, when more than 0, makes CreateWith wait (Redis WAIT, at
	// most ReplicaTimeout) until that many replicas hold what it wrote, in
	// the same round trip, as Replicated does.
	Replicas       int
	ReplicaTimeout time.Duration
}

// Created says what CreateWith did.
type Created struct {
	// Existing is the id of the submission that already holds r's
	// idempotency key (same form, same fields); nothing was written.
	Existing string
	// Queued: the record's queue task (CreateOptions.Entry) was written
	// with it.
	Queued bool
	// Replicated: CreateOptions.Replicas replicas confirmed the writes.
	// False when nothing was written (Existing) or on Redis Cluster, where
	// the caller asks Replicated.
	Replicated bool
}

// Create makes r durable: accepted, for delivery; spam when intake held it
// back (r.Spam is set; it is never queued); or failed when intake refused
// its content but keeps it for a person to fix (r.LastError is set, e.g. a
// webhook whose mapped fields are invalid). When r.IdempotencyKey is set
// and a submission of the same form was already created with it, nothing is
// written: if that submission had the same fields, its id is returned as
// existing; otherwise the error is ErrKeyReused (Stripe's rule: a key names
// one request's content). Fields are compared as given, so callers pass the
// normalized values (forms.Validator.Clean's).
func (s *Store) Create(ctx context.Context, r *Record) (existing string, err error) {
	c, err := s.CreateWith(ctx, r, CreateOptions{})
	return c.Existing, err
}

// CreateWith is Create that also, in the same Redis call (one script, and
// WAIT pipelined after it): refuses r when its origin's waiting cap is
// reached, writes its queue task, and waits for replicas — as o says. A
// record and its task are written together or not at all, so no accepted
// record can be left without its task by a crash of the caller.
//
// Errors: ErrKeyReused, ErrWaitingCap, ErrNotReplicated (the writes are on
// the primary but not confirmed by enough replicas in time), or Redis's.
func (s *Store) CreateWith(ctx context.Context, r *Record, o CreateOptions) (Created, error) {
	now := s.now().UTC()
	task := "1" // a queue task is written unless its hash exists
	if r.ID == "" {
		r.ID = NewID()
		task = "2" // an id of 128 random bits, new: no task has it
	}
	if r.ReceivedAt.IsZero() {
		r.ReceivedAt = now
	}
	r.Status = StatusAccepted
	switch {
	case r.Spam != nil:
		r.Status = StatusSpam
	case r.LastError != nil:
		r.Status = StatusFailed
	}
	r.UpdatedAt = now
	data, err := json.Marshal(r)
	if err != nil {
		return Created{}, err
	}
	fp := fingerprint(r.Fields)
	idem, keyed := keyIdem+"none", "0"
	if r.IdempotencyKey != "" {
		idem, keyed = idemKey(r.Form, r.IdempotencyKey), "1"
	}
	ttl := s.keyTTL(r)
	failed := "0"
	if r.Status == StatusFailed {
		failed = "1"
	}
	waiting := ""
	if IsWaiting(r.Status) {
		waiting = r.Origin()
	}
	stats, statsExp := s.statsKey(r.ReceivedAt)
	counted := statsField(r.Status, r.Origin())
	if stats == "" {
		stats, counted = keyStats+"none", ""
	}
	var entry *QueueEntry
	if o.Entry != nil && r.Status == StatusAccepted {
		entry = o.Entry(r)
	}
	keys := []string{keyRecord + r.ID, keyIndex + r.Status, idem, keyFailed + r.Form, keyWaiting, stats}
	args := []any{data, score(now), r.ID, int(ttl.Seconds()), keyed, r.ID + ":" + fp, failed,
		waiting, counted, statsExp, max(o.WaitingCap, 0), r.Origin()}
	if entry != nil {
		keys = append(keys, entry.Key, entry.List, entry.Set)
		args = append(args, task, entry.Push, entry.Member)
		for _, f := range entry.Fields {
			args = append(args, f)
		}
	} else {
		keys = append(keys, keyIdem+"none", keyIdem+"none", keyIdem+"none")
		args = append(args, "0", "", "")
	}
	keys = append(keys, emailKeys(emailHashes(r.Fields))...)

	res, acked, err := s.runCreate(ctx, keys, args, o)
	if err != nil {
		return Created{}, fmt.Errorf("submission: create: %w", err)
	}
	switch {
	case res == "!waiting":
		return Created{}, ErrWaitingCap
	case res != "":
		// Keys stored before fingerprints were (a plain id) count as the same.
		id, prevFP, _ := strings.Cut(res, ":")
		if prevFP != "" && prevFP != fp {
			return Created{}, ErrKeyReused
		}
		return Created{Existing: id}, nil
	}
	c := Created{Queued: entry != nil, Replicated: acked >= 0}
	if acked >= 0 && acked < int64(o.Replicas) {
		return c, fmt.Errorf("%w: %d of %d replicas within %s", ErrNotReplicated, acked, o.Replicas, o.ReplicaTimeout)
	}
	return c, nil
}

// runCreate runs createScript, followed on the same connection by WAIT
// when o asks for replicas (not on Redis Cluster, where a pipeline's
// commands go to the nodes of their keys and WAIT has none). acked is how
// many replicas confirmed, or -1 when no WAIT was sent. Except on Redis
// Cluster, the script goes with those of concurrent calls in one pipeline
// (createBatch).
func (s *Store) runCreate(ctx context.Context, keys []string, args []any, o CreateOptions) (res string, acked int64, err error) {
	if s.batch != nil {
		return s.batch.run(ctx, keys, args, o)
	}
	_, cluster := s.rdb.(*redis.ClusterClient)
	if o.Replicas <= 0 || cluster {
		res, err := createScript.Run(ctx, s.rdb, keys, args...).Text()
		return res, -1, err
	}
	pipe := func(eval func(redis.Scripter) *redis.Cmd) (*redis.Cmd, *redis.Cmd, error) {
		var script, wait *redis.Cmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			script = eval(p)
			// (WAIT is not among a pipeline's typed commands.)
			wait = p.Do(ctx, "WAIT", o.Replicas, o.ReplicaTimeout.Milliseconds())
			return nil
		})
		return script, wait, err
	}
	script, wait, err := pipe(func(p redis.Scripter) *redis.Cmd { return createScript.EvalSha(ctx, p, keys, args...) })
	if err != nil && redis.HasErrorPrefix(script.Err(), "NOSCRIPT") {
		// The first call since Redis started (or SCRIPT FLUSH): send the script itself.
		script, wait, err = pipe(func(p redis.Scripter) *redis.Cmd { return createScript.Eval(ctx, p, keys, args...) })
	}
	if err != nil {
		return "", -1, err
	}
	res, err = script.Text()
	if err != nil {
		return "", -1, err
	}
	if res != "" {
		return res, -1, nil // nothing written: the WAIT confirmed nothing of ours
	}
	acked, err = wait.Int64()
	if err != nil {
		return "", -1, err
	}
	return res, acked, nil
}

// fingerprint is a hash of a submission's field values, in name order, each
// name and value length-prefixed so no two sets of fields share one.
// (Keys stored by earlier versions hold fingerprints of the same bytes.)
func fingerprint(fields map[string]string) string {
	var b []byte
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		b = strconv.AppendInt(b, int64(len(k)), 10)
		b = append(append(b, ':'), k...)
		b = strconv.AppendInt(b, int64(len(fields[k])), 10)
		b = append(append(b, ':'), fields[k]...)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func idemKey(form, key string) string {
	h := sha256.Sum256([]byte(key))
	return keyIdem + form + ":" + hex.EncodeToString(h[:])
}

// Get returns the record with that id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Record, error) {
	data, err := s.rdb.Get(ctx, keyRecord+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("submission: get: %w", err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("submission: decode %s: %w", id, err)
	}
	return &r, nil
}

// readTx reads and decodes the record id inside the transaction tx, which
// watches it: ErrNotFound when there is none.
func readTx(ctx context.Context, tx *redis.Tx, id string) (*Record, error) {
	data, err := tx.Get(ctx, keyRecord+id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode %s: %w", id, err)
	}
	return &r, nil
}

// update applies fn to the current record and writes it back with its
// indexes in one optimistic transaction, retried if another writer raced.
// fn may return an error to abandon the update. Only the transition methods
// of lifecycle.go call it.
func (s *Store) update(ctx context.Context, id string, fn func(*Record) error) (*Record, error) {
	key := keyRecord + id
	var out *Record
	txf := func(tx *redis.Tx) error {
		r, err := readTx(ctx, tx, id)
		if err != nil {
			return err
		}
		old, oldFields := r.Status, maps.Clone(r.Fields)
		if err := fn(r); err != nil {
			return err
		}
		now := s.now().UTC()
		r.UpdatedAt = now
		next, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			var ttl time.Duration
			if r.Status == StatusDelivered || r.Status == StatusDiscarded {
				ttl = s.retention
			}
			p.Set(ctx, key, next, ttl)
			if old != r.Status {
				p.ZRem(ctx, keyIndex+old, id)
			}
			p.ZAdd(ctx, keyIndex+r.Status, redis.Z{Score: score(now), Member: id})
			if r.Status == StatusFailed {
				p.ZAdd(ctx, keyFailed+r.Form, redis.Z{Score: score(now), Member: id})
			} else if old == StatusFailed {
				p.ZRem(ctx, keyFailed+r.Form, id)
			}
			switch was, is := IsWaiting(old), IsWaiting(r.Status); {
			case is && !was:
				p.HIncrBy(ctx, keyWaiting, r.Origin(), 1)
			case was && !is:
				p.HIncrBy(ctx, keyWaiting, r.Origin(), -1)
			}
			s.reindex(ctx, p, old, oldFields, r, now)
			return nil
		})
		out = r
		return err
	}
	for i := 0; i < 50; i++ {
		err := s.rdb.Watch(ctx, txf, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil, err
			}
			return nil, fmt.Errorf("submission: update %s: %w", id, err)
		}
		return out, nil
	}
	return nil, ErrConflict
}

// DefaultListLimit is how many records List returns when no limit is given.
const DefaultListLimit = 50

// ListOptions selects records for List.
type ListOptions struct {
	Status string    // "" = every status
	Form   string    // "" = every form
	Before time.Time // only those last changed before this (zero = now); for paging
	Limit  int       // default 50, at most 500
}

// List returns records, most recently changed first: of one status, or of
// every status merged by last change. A page holds Limit records whenever
// that many remain, even when index entries of other forms or of expired
// records are skipped on the way, so a short page means the end. The next
// page is the one Before the last record's UpdatedAt.
func (s *Store) List(ctx context.Context, o ListOptions) ([]*Record, error) {
	if o.Status != "" && !ValidStatus(o.Status) {
		return nil, fmt.Errorf("submission: unknown status %q", o.Status)
	}
	if o.Limit <= 0 {
		o.Limit = DefaultListLimit
	}
	o.Limit = min(o.Limit, 500)
	max := "+inf"
	if !o.Before.IsZero() {
		max = "(" + strconv.FormatFloat(score(o.Before), 'f', -1, 64)
	}
	var heads []*indexCursor
	switch {
	case o.Status == StatusFailed && o.Form != "":
		heads = []*indexCursor{{key: keyFailed + o.Form}}
	case o.Status != "":
		heads = []*indexCursor{{key: keyIndex + o.Status}}
	default:
		for _, st := range Statuses {
			heads = append(heads, &indexCursor{key: keyIndex + st})
		}
	}
	out := make([]*Record, 0, o.Limit)
	for len(out) < o.Limit {
		// The newest entry not yet taken, across the indexes.
		var next *indexCursor
		for _, c := range heads {
			if err := c.fill(ctx, s.rdb, max, int64(o.Limit-len(out))); err != nil {
				return nil, fmt.Errorf("submission: list: %w", err)
			}
			if len(c.buf) > 0 && (next == nil || c.buf[0].Score > next.buf[0].Score) {
				next = c
			}
		}
		if next == nil {
			break // every index is exhausted
		}
		id := next.buf[0].Member.(string)
		next.buf = next.buf[1:]
		r, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // expired after retention; the janitor drops the index entry
		}
		if err != nil {
			return nil, err
		}
		if o.Form != "" && r.Form != o.Form {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// indexCursor reads one index zset newest first, a batch at a time.
type indexCursor struct {
	key    string
	offset int64
	buf    []redis.Z
	done   bool
}

// fill reads the next batch of up to n entries scored at most max when
// the buffer is empty.
func (c *indexCursor) fill(ctx context.Context, rdb redis.UniversalClient, max string, n int64) error {
	if len(c.buf) > 0 || c.done {
		return nil
	}
	zs, err := rdb.ZRevRangeByScoreWithScores(ctx, c.key, &redis.ZRangeBy{Max: max, Min: "-inf", Offset: c.offset, Count: n}).Result()
	if err != nil {
		return err
	}
	c.offset += int64(len(zs))
	c.buf = zs
	c.done = int64(len(zs)) < n
	return nil
}

// Counts returns how many records each status index holds.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	cmds := map[string]*redis.IntCmd{}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, st := range Statuses {
			cmds[st] = p.ZCard(ctx, keyIndex+st)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("submission: counts: %w", err)
	}
	out := make(map[string]int64, len(cmds))
	for st, c := range cmds {
		out[st] = c.Val()
	}
	return out, nil
}

// Trim drops index entries of delivered and discarded records older than the
// retention period (their records have expired by then), in the status and
// the email indexes.
func (s *Store) Trim(ctx context.Context) error {
	cut := fmt.Sprintf("(%d", s.now().Add(-s.retention).UnixMilli())
	for _, st := range []string{StatusDelivered, StatusDiscarded} {
		if err := s.rdb.ZRemRangeByScore(ctx, keyIndex+st, "-inf", cut).Err(); err != nil {
			return fmt.Errorf("submission: trim: %w", err)
		}
	}
	if err := s.trimEmails(ctx); err != nil {
		return fmt.Errorf("submission: trim: %w", err)
	}
	return nil
}

// Stale returns ids of records in status whose last change is older than
// age: "accepted" ones whose task never reached the queue (the API died in
// between), or "retrying"/"delivering" ones whose task was lost.
func (s *Store) Stale(ctx context.Context, status string, age time.Duration, limit int) ([]string, error) {
	max := fmt.Sprintf("(%d", s.now().Add(-age).UnixMilli())
	return s.rdb.ZRangeByScore(ctx, keyIndex+status, &redis.ZRangeBy{Min: "-inf", Max: max, Count: int64(limit)}).Result()
}
