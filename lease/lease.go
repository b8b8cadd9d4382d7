// Package lease is a per-key mutual-exclusion lock held in Redis, for work
// that must not run twice at once anywhere in the fleet — above all, two
// workers delivering the same person into the CRM at the same time, which is
// how duplicate leads are born.
//
// A lease expires by itself after its ttl unless its holder keeps renewing it,
// so a worker killed with SIGKILL blocks its key for at most ttl. Because a
// holder can also lose its lease while still running (a stall longer than the
// ttl, a partition from Redis), every lease carries a context that is
// cancelled when the lease is lost: callers stop their in-flight writes on
// it. Each holder is told apart by a token that strictly increases from
// holder to holder (a fencing token), so that a late renewal or release
// never touches its successor's lease.
//
// Redis keys, for a Locker with prefix P and a key K:
//
//	P:{K}         holder's fencing token, expires after ttl unless renewed
//	P:{K}:fence   last token handed out for K (kept for fenceTTL after use)
//	P:{K}:free    pub/sub channel announcing a release, to wake waiters
//
// Both keys carry the same {…} hash tag so the scripts touching them work on
// Redis Cluster.
package lease

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLost means the lease is no longer held by the caller: it expired, was
// taken over by another holder, or was already released. It is returned by
// Release, and is the context.Cause of Lease.Context after a loss.
var ErrLost = errors.New("lease: lost")

// errReleased is the cause of a Lease's context after a normal Release, so
// that context.Cause tells a loss apart from the end of the work.
var errReleased = errors.New("lease: released")

const (
	// The first retries come fast because most holders finish quickly;
	// the cap keeps a crashed holder's expiry from going unnoticed for long
	// when the release notification never comes.
	minPoll = 5 * time.Millisecond
	maxPoll = 200 * time.Millisecond

	// fenceTTL bounds how long the token counter of an idle key survives.
	// Without it the counter of every person ever delivered would stay in
	// Redis forever. Its expiry is safe because a missing counter restarts
	// from the Redis clock in microseconds (see acquireScript), which is far
	// above any token handed out from an earlier counter.
	fenceTTL = 24 * time.Hour
)

// Locker hands out leases on keys. It is safe for concurrent use; one Locker
// per process is enough, and Lockers in different processes sharing a prefix
// and a Redis exclude each other.
type Locker struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration

	// Waiters in this process share one pub/sub connection, opened while
	// anyone waits and closed when nobody does.
	mu      sync.Mutex
	sub     *redis.PubSub
	waiters map[string]map[chan struct{}]struct{} // channel → wake-up channels
}

// New returns a Locker whose Redis keys start with prefix and whose leases
// expire ttl after their last renewal. It panics if ttl is under a
// millisecond, the smallest expiry Redis keeps.
func New(rdb redis.UniversalClient, prefix string, ttl time.Duration) *Locker {
	if ttl < time.Millisecond {
		panic("lease: ttl must be at least 1ms")
	}
	return &Locker{rdb: rdb, prefix: prefix, ttl: ttl, waiters: map[string]map[chan struct{}]struct{}{}}
}

// acquireScript takes the lease if nobody holds it and returns {1, token};
// otherwise it returns {0, remaining ttl of the holder in ms}.
//
// A missing counter is seeded from the Redis clock rather than from zero, so
// tokens keep increasing when the counter has expired, or has been lost with
// a Redis restart that did not persist it. The seed is built as a string
// because Lua would print a 16-digit number in exponent notation.
var acquireScript = redis.NewScript(`
local pttl = redis.call('PTTL', KEYS[1])
if pttl ~= -2 then return {0, pttl} end
if redis.call('EXISTS', KEYS[2]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[2], t[1] .. string.format('%06d', tonumber(t[2])))
end
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local token = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return {1, token}
`)

// renewScript extends the lease if the caller still holds it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// releaseScript deletes the lease only if the caller still holds it — a
// holder whose lease expired must never delete its successor's — and wakes
// the waiters.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '')
return 1
`)

func (l *Locker) keys(key string) (holder, fence, channel string) {
	holder = l.prefix + ":{" + key + "}"
	return holder, holder + ":fence", holder + ":free"
}

// Acquire blocks until it holds the lease on key, or ctx ends. The lease is
// renewed in the background every ttl/3 until Release, until it is lost, or
// until ctx ends — so a caller that abandons its work without releasing still
// frees the key after ttl.
//
// Errors are ctx's error when ctx ends first, or a Redis error (wrapped); the
// key is left out of them because it usually holds personal data.
func (l *Locker) Acquire(ctx context.Context, key string) (*Lease, error) {
	holder, fence, channel := l.keys(key)
	var wake <-chan struct{}
	wait := minPoll
	for {
		took, n, err := l.tryOnce(ctx, holder, fence)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("lease: acquire: %w", ctx.Err())
			}
			return nil, err
		}
		if took {
			return l.start(ctx, holder, channel, n), nil
		}

		// Subscribe only once the key turns out busy, so an uncontended
		// Acquire costs one round trip; then try again straight away, since
		// the release may have been announced before the subscription began.
		if wake == nil {
			var unwatch func()
			wake, unwatch = l.watch(channel)
			defer unwatch()
			continue
		}

		// A holder that crashed announces nothing: wake up when its lease
		// runs out if that comes before the next poll.
		d := jitter(wait)
		if n >= 0 && time.Duration(n)*time.Millisecond < d {
			d = time.Duration(n)*time.Millisecond + time.Millisecond
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("lease: acquire: %w", ctx.Err())
		case <-wake:
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, maxPoll)
	}
}

// jitter spreads waiters over [d/2, d) so that many of them do not hit Redis
// in lockstep.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// watch registers interest in releases announced on channel. The returned
// channel receives a value (dropped if one is already pending) whenever one
// is announced; unwatch must be called once the caller stops waiting.
//
// Subscription errors are ignored: waiters poll anyway, so a lost
// notification only costs latency.
func (l *Locker) watch(channel string) (wake <-chan struct{}, unwatch func()) {
	w := make(chan struct{}, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sub == nil {
		l.sub = l.rdb.Subscribe(context.Background(), channel)
		go l.dispatch(l.sub.Channel())
	} else if len(l.waiters[channel]) == 0 {
		_ = l.sub.Subscribe(context.Background(), channel)
	}
	if l.waiters[channel] == nil {
		l.waiters[channel] = map[chan struct{}]struct{}{}
	}
	l.waiters[channel][w] = struct{}{}

	return w, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.waiters[channel], w)
		if len(l.waiters[channel]) > 0 {
			return
		}
		delete(l.waiters, channel)
		if len(l.waiters) == 0 {
			_ = l.sub.Close()
			l.sub = nil
			return
		}
		_ = l.sub.Unsubscribe(context.Background(), channel)
	}
}

// dispatch wakes every local waiter of a released key; they race to take it,
// and the losers go back to waiting. It ends when its subscription is closed.
func (l *Locker) dispatch(msgs <-chan *redis.Message) {
	for m := range msgs {
		l.mu.Lock()
		for w := range l.waiters[m.Channel] {
			select {
			case w <- struct{}{}:
			default:
			}
		}
		l.mu.Unlock()
	}
}

// Lease is a held lock on one key. Its methods are safe for concurrent use.
type Lease struct {
	rdb     redis.UniversalClient
	holder  string
	channel string
	token   int64
	ttl     time.Duration

	ctx    context.Context
	cancel context.CancelCauseFunc

	stopRenewal context.CancelFunc // stops the renewal loop and its Redis call
	renewalDone chan struct{}
}

func (l *Locker) start(ctx context.Context, holder, channel string, token int64) *Lease {
	acquired := time.Now()
	lctx, cancel := context.WithCancelCause(ctx)
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	le := &Lease{
		rdb: l.rdb, holder: holder, channel: channel, token: token, ttl: l.ttl,
		ctx: lctx, cancel: cancel, stopRenewal: stop, renewalDone: make(chan struct{}),
	}
	go func() {
		defer close(le.renewalDone)
		le.renew(rctx, acquired)
	}()
	return le
}

// renew keeps the lease alive until rctx is stopped or the lease's context
// ends. Redis errors are retried, but only until the lease would have expired
// since the last renewal Redis confirmed: from then on another holder may
// have it, so the lease counts as lost even though Redis never said so.
func (le *Lease) renew(rctx context.Context, lastSent time.Time) {
	interval := le.ttl / 3
	expires := lastSent.Add(le.ttl)
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-rctx.Done():
			return
		case <-le.ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		if !sent.Before(expires) {
			le.cancel(ErrLost)
			return
		}
		cctx, cancel := context.WithDeadline(rctx, expires)
		held, err := renewScript.Run(cctx, le.rdb, []string{le.holder},
			le.tokenString(), le.ttl.Milliseconds()).Int()
		cancel()
		switch {
		case rctx.Err() != nil:
			return
		case err == nil && held == 1:
			expires = sent.Add(le.ttl)
			t.Reset(interval)
		case err == nil:
			le.cancel(ErrLost)
			return
		default:
			// Retry soon, and once more right at the expiry so the loss is
			// reported on time.
			t.Reset(min(interval/4+1, time.Until(expires)))
		}
	}
}

func (le *Lease) tokenString() string { return strconv.FormatInt(le.token, 10) }

// Context returns a context derived from the one given to Acquire that is
// cancelled when the lease is lost (its context.Cause is then ErrLost) or
// released. Run the work the lease protects under it.
func (le *Lease) Context() context.Context { return le.ctx }

// Release gives the lease up, waking the next waiter, and cancels Context.
// It returns ErrLost if the lease was no longer held — it never deletes
// another holder's lease — or a Redis error (wrapped). After a Redis error
// the release is tried again in the background until it succeeds or the
// lease has expired by itself (after its ttl): a Redis that fails over or
// restarts would otherwise hold the key up for the whole ttl. Pass a ctx
// that is still live: not Context(), which a loss may already have
// cancelled.
func (le *Lease) Release(ctx context.Context) error {
	le.stopRenewal()
	<-le.renewalDone
	expires := time.Now().Add(le.ttl) // at the latest: no renewal runs any more
	held, err := le.release(ctx)
	switch {
	case err != nil:
		le.cancel(errReleased)
		go le.releaseLater(expires)
		return fmt.Errorf("lease: release: %w", err)
	case held != 1:
		le.cancel(ErrLost)
		return ErrLost
	}
	le.cancel(errReleased)
	return nil
}

func (le *Lease) release(ctx context.Context) (held int, err error) {
	return releaseScript.Run(ctx, le.rdb, []string{le.holder}, le.tokenString(), le.channel).Int()
}

// releaseLater retries a release that Redis did not answer, with a growing
// pause, until Redis answers or the lease expires. The token check of the
// release script keeps a late try from touching a successor's lease.
func (le *Lease) releaseLater(expires time.Time) {
	pause := minPoll * 10
	for {
		pause = min(2*pause, time.Second)
		if time.Now().Add(pause).After(expires) {
			return
		}
		time.Sleep(pause)
		ctx, cancel := context.WithDeadline(context.Background(), expires)
		_, err := le.release(ctx)
		cancel()
		if err == nil {
			return
		}
	}
}

// tryOnce runs the acquire script once. When it took the lease, n is its
// fencing token; when another holder has it, n is what is left of that
// holder's lease in milliseconds (negative if Redis does not know).
func (l *Locker) tryOnce(ctx context.Context, holder, fence string) (took bool, n int64, err error) {
	res, err := acquireScript.Run(ctx, l.rdb, []string{holder, fence},
		l.ttl.Milliseconds(), fenceTTL.Milliseconds()).Slice()
	if err != nil {
		return false, 0, fmt.Errorf("lease: acquire: %w", err)
	}
	if ok, _ := res[0].(int64); ok != 1 {
		pttl, isInt := res[1].(int64)
		if !isInt {
			pttl = -1
		}
		return false, pttl, nil
	}
	s, _ := res[1].(string)
	token, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return false, 0, fmt.Errorf("lease: acquire: bad token %q", s)
	}
	return true, token, nil
}
