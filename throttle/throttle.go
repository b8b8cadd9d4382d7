// Package throttle paces requests to Dataverse across every worker process
// that shares one app identity, so that the fleet as a whole stays within the
// service protection limits instead of each worker learning them on its own.
//
// Dataverse counts its limits per user, and an application user is one user
// however many processes use its credentials, so the pacing state lives in
// Redis, keyed by identity:
//
//   - After a 429, nobody sends before its Retry-After has passed. The
//     emulator (like the real service, whose Retry-After grows) punishes a
//     request that arrives early, so waiting a little too long is the safe
//     side.
//   - The number of requests in flight is capped. The cap starts at 1, grows
//     by one per round of successful responses (a round being as many
//     responses as the cap), up to the x-ms-dop-hint the service recommends
//     (4 until one is seen) and at most MaxConcurrency; it halves on a 429
//     and drops to what x-ms-ratelimit-burst-remaining-xrm-requests says is
//     left.
//
// Redis keys, for identity I:
//
//	lb:throttle:{I}:state  hash: cap, ok (successes in this round), until
//	                       (no request before, Unix ms), round (end of the
//	                       last counted 429's wait), streak (429s without a
//	                       success between), hint (last x-ms-dop-hint)
//	lb:throttle:{I}:slots  zset of in-flight request ids, scored by the
//	                       Unix ms at which a crashed holder's slot frees itself
//
// Times are the workers' wall clocks, so their skew adds to the wait or
// eats into the safety margin added to every Retry-After; keep the fleet's
// clocks synchronised.
package throttle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/crm"
)

const (
	// DefaultMaxConcurrency is Dataverse's default limit of concurrent
	// requests per user and web server.
	DefaultMaxConcurrency = 52
	// DefaultSlotTTL is how long the slot of a holder that died mid-request
	// stays taken.
	DefaultSlotTTL = 2 * time.Minute

	// unhintedLimit caps the ramp-up until the service tells us its
	// recommended parallelism: guessing high costs 429s that slow everyone.
	unhintedLimit = 4
	// fallbackRetryAfter is the first wait after a 429 without Retry-After;
	// it doubles for every further 429 until a request succeeds. It matches
	// the pause of Microsoft's own client.
	fallbackRetryAfter = 5 * time.Second
	// burstPause is how long the fleet holds off when the service says no
	// requests are left in the current burst.
	burstPause = time.Second
	// stateTTL drops the learned state of an identity that has been idle
	// this long; ramping up again from 1 is cheap.
	stateTTL = 24 * time.Hour
	// reportTimeout bounds the Redis call that reports a response, which
	// runs without the caller's context.
	reportTimeout = 5 * time.Second

	minPoll = 5 * time.Millisecond
	maxPoll = 100 * time.Millisecond
)

// Options tunes a Limiter. The zero value gives Dataverse's defaults.
type Options struct {
	// MaxConcurrency is a hard cap on requests in flight across the fleet,
	// whatever the service hints. Default DefaultMaxConcurrency.
	MaxConcurrency int
	// SlotTTL is how long a slot stays taken when its holder dies without
	// reporting; a live holder's slot is refreshed every SlotTTL/3. Default
	// DefaultSlotTTL; at least 3ms.
	SlotTTL time.Duration
	// Now tells the time; tests inject a clock. Default time.Now.
	Now func() time.Time
	// OnThrottle, if set, is told until when the fleet waits after each
	// 429 (for the admin console's CRM health). It runs on the path of the
	// response, so it must be quick.
	OnThrottle func(until time.Time)
}

// Limiter paces the requests of one app identity. It is safe for concurrent
// use; all Limiters of the same identity on the same Redis share one pace.
type Limiter struct {
	rdb     redis.UniversalClient
	keys    []string // slots, state
	max     int
	slotTTL time.Duration
	now     func() time.Time
	id      string
	seq     atomic.Uint64

	onThrottle func(time.Time)

	// until is the latest "blocked until" this process has seen, so that a
	// 429 is honoured here even if reporting it to Redis failed.
	mu    sync.Mutex
	until time.Time
}

// New returns a Limiter for identity, e.g. "<client id>@<Dataverse host>".
func New(rdb redis.UniversalClient, identity string, opts Options) *Limiter {
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = DefaultMaxConcurrency
	}
	if opts.SlotTTL <= 0 {
		opts.SlotTTL = DefaultSlotTTL
	}
	// Slots are kept in whole milliseconds and refreshed every third.
	opts.SlotTTL = max(opts.SlotTTL, 3*time.Millisecond)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	base := "lb:throttle:{" + identity + "}"
	l := &Limiter{
		rdb:     rdb,
		keys:    []string{base + ":slots", base + ":state"},
		max:     opts.MaxConcurrency,
		slotTTL: opts.SlotTTL,
		now:     opts.Now,
		id:      hex.EncodeToString(b[:]),
	}
	l.onThrottle = opts.OnThrottle
	return l
}

// Results of acquireScript.
const (
	resBlocked  = 0 // {0, until ms}
	resFull     = 1
	resAcquired = 2
)

// acquireScript takes a slot unless the fleet is blocked or all slots under
// the cap are taken. Expired slots, left by holders that died, are dropped
// first.
//
// ARGV: now ms, slot expiry ms, holder id, MaxConcurrency, slot ttl ms.
var acquireScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local untilMs = tonumber(redis.call('HGET', KEYS[2], 'until')) or 0
if untilMs > now then return {0, untilMs} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local cap = math.min(tonumber(redis.call('HGET', KEYS[2], 'cap')) or 1, tonumber(ARGV[4]))
if redis.call('ZCARD', KEYS[1]) >= cap then return {1, 0} end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {2, 0}
`)

// reportScript frees a slot and learns from the response.
//
// Many requests are in flight when the service starts refusing, and their
// 429s arrive together; they are one event, not many. Only a 429 that comes
// after the wait set by the last counted one ("round") halves the cap and
// lengthens the fallback wait, otherwise one burst of refusals would take
// the cap straight to 1.
//
// Numbers are written with %d because Redis would store a Lua number of
// Unix milliseconds in exponent notation.
//
// ARGV: holder id, now ms, kind (none|ok|error|429), Retry-After ms with
// margin (-1 if absent), dop hint (-1 if absent), burst remaining (-1 if
// absent), MaxConcurrency, state ttl ms, fallback ms, max Retry-After ms,
// burst pause ms, unhinted limit.
var reportScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
local kind = ARGV[3]
if kind == 'none' then return {0, 0} end
local now, ra, hint, burst = tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local s = redis.call('HMGET', KEYS[2], 'cap', 'ok', 'until', 'round', 'streak', 'hint')
local cap = tonumber(s[1]) or 1
local ok = tonumber(s[2]) or 0
local untilMs = tonumber(s[3]) or 0
local round = tonumber(s[4]) or 0
local streak = tonumber(s[5]) or 0
if hint < 1 then hint = tonumber(s[6]) or -1 end
local limit = tonumber(ARGV[7])
if hint >= 1 then limit = math.min(limit, hint) else limit = math.min(limit, tonumber(ARGV[12])) end

if kind == '429' then
  local counted = now >= round
  if counted then
    cap = math.max(1, math.floor(cap / 2))
    ok = 0
    streak = streak + 1
  end
  if ra < 0 then
    ra = math.min(tonumber(ARGV[9]) * 2 ^ (math.max(streak, 1) - 1), tonumber(ARGV[10]))
  end
  untilMs = math.max(untilMs, now + ra)
  if counted then round = untilMs end
elseif kind == 'ok' then
  streak = 0
  ok = ok + 1
  if ok >= cap then
    cap = cap + 1
    ok = 0
  end
end

if burst >= 0 then
  if burst < cap then
    cap = math.max(1, burst)
    ok = 0
  end
  if burst == 0 then untilMs = math.max(untilMs, now + tonumber(ARGV[11])) end
end
cap = math.max(1, math.min(cap, limit))

local function int(x) return string.format('%d', x) end
local fields = {'cap', int(cap), 'ok', int(ok), 'until', int(untilMs), 'round', int(round), 'streak', int(streak)}
if hint >= 1 then
  table.insert(fields, 'hint')
  table.insert(fields, int(hint))
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('PEXPIRE', KEYS[2], int(math.max(tonumber(ARGV[8]), untilMs - now + 60000)))
return {untilMs, cap}
`)

// Acquire waits until a request may be sent: no Retry-After is in force for
// the identity and a slot is free under the fleet's cap. The returned done
// must be called exactly once, with the response, or nil when the request
// got none (connection error, timeout); it frees the slot and adjusts the
// pace, and needs no context of its own. A 429 is not an error here: report
// it to done and call Acquire again before resending.
//
// Acquire returns ctx's error if ctx ends first, or a Redis error (wrapped).
func (l *Limiter) Acquire(ctx context.Context) (done func(resp *http.Response), err error) {
	id := l.id + ":" + strconv.FormatUint(l.seq.Add(1), 10)
	poll := minPoll
	for {
		now := l.now()
		if until := l.localUntil(); now.Before(until) {
			if err := sleep(ctx, until.Sub(now)); err != nil {
				return nil, err
			}
			continue
		}
		res, err := acquireScript.Run(ctx, l.rdb, l.keys,
			now.UnixMilli(), now.Add(l.slotTTL).UnixMilli(), id, l.max, l.slotTTL.Milliseconds()).Int64Slice()
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("throttle: acquire: %w", ctx.Err())
			}
			return nil, fmt.Errorf("throttle: acquire: %w", err)
		}
		switch res[0] {
		case resAcquired:
			return l.hold(id), nil
		case resBlocked:
			// Sleep to the very end of the block; the script checks again
			// with a fresh clock, so waking a little early cannot let a
			// request through.
			err = sleep(ctx, time.UnixMilli(res[1]).Sub(now))
		default:
			err = sleep(ctx, poll/2+mrand.N(poll/2+1))
			poll = min(2*poll, maxPoll)
		}
		if err != nil {
			return nil, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("throttle: acquire: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

func (l *Limiter) localUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.until
}

func (l *Limiter) block(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.until) {
		l.until = until
	}
}

// hold keeps slot id alive until the returned done is called.
func (l *Limiter) hold(id string) func(*http.Response) {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(l.slotTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			// XX: a slot already released or expired must not come back.
			ctx, cancel := context.WithTimeout(context.Background(), l.slotTTL/3)
			_ = l.rdb.ZAddXX(ctx, l.keys[0], redis.Z{
				Score: float64(l.now().Add(l.slotTTL).UnixMilli()), Member: id,
			}).Err()
			cancel()
		}
	}()
	var once sync.Once
	return func(resp *http.Response) {
		once.Do(func() {
			close(stop)
			l.report(id, resp)
		})
	}
}

// report frees slot id and feeds resp to the fleet's pace. A Redis failure
// here is not the caller's problem: the slot frees itself after SlotTTL and
// this process still honours a 429 on its own.
func (l *Limiter) report(id string, resp *http.Response) {
	now := l.now()
	kind, ra, hint, burst := "none", int64(-1), int64(-1), int64(-1)
	if resp != nil {
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			kind = "429"
			if d, ok := crm.ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
				ra = withMargin(d).Milliseconds()
			}
		case resp.StatusCode >= 500:
			kind = "error"
		default:
			kind = "ok"
		}
		if n, ok := parseCount(resp.Header.Get("x-ms-dop-hint")); ok && n >= 1 {
			hint = n
		}
		if n, ok := parseCount(resp.Header.Get("x-ms-ratelimit-burst-remaining-xrm-requests")); ok {
			burst = n
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
	defer cancel()
	res, err := reportScript.Run(ctx, l.rdb, l.keys,
		id, now.UnixMilli(), kind, ra, hint, burst, l.max, stateTTL.Milliseconds(),
		fallbackRetryAfter.Milliseconds(), crm.MaxRetryAfter.Milliseconds(), burstPause.Milliseconds(),
		unhintedLimit).Int64Slice()
	switch {
	case err == nil:
		l.block(time.UnixMilli(res[0]))
	case kind == "429" && ra >= 0:
		l.block(now.Add(time.Duration(ra) * time.Millisecond))
	case kind == "429":
		l.block(now.Add(fallbackRetryAfter))
	}
	if kind == "429" && l.onThrottle != nil {
		l.onThrottle(l.localUntil())
	}
}

// withMargin pads a Retry-After against clock skew between workers and the
// time the response took to reach us, rounded up to the millisecond the
// state is kept in.
func withMargin(d time.Duration) time.Duration {
	d += 50*time.Millisecond + d/50
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// parseCount reads a non-negative integer header. The format of the
// x-ms-ratelimit-* headers is undocumented, so anything else is ignored
// rather than guessed at.
func parseCount(h string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
