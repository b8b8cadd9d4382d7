// Package flood keeps a flood of submissions, from one source or many, from
// hurting anyone else. It gives intake three answers, all shared by every
// API replica through Redis:
//
//   - Limiter: per-IP, per-form and per-token rate limits. Denied means
//     "429, retry after D".
//   - WaitingCap: a form's (or webhook source's) submissions waiting for
//     delivery, beyond which intake answers "503, retry after D".
//   - MemoryGuard: Redis memory used against a cap, read at most about once
//     a second, beyond which intake answers "503, retry after D".
//
// The package speaks no HTTP: it returns a Decision, and the caller maps it
// to a status (Decision.Overloaded tells 503 from 429) and a Retry-After
// header (Decision.RetryAfterSeconds).
//
// # Rate limits
//
// Limits are GCRA (the generic cell rate algorithm) through
// github.com/go-redis/redis_rate: one Lua script per check, on one key, timed
// by the Redis server's clock, so replicas whose clocks disagree still share
// one count, and on Redis Cluster each key lives wherever it hashes (no
// multi-key script, so no hash tags are needed). A denied request does not
// use up anything: a client that keeps hammering is let in again as soon as
// its rate allows, and its Retry-After is exact.
//
// # Keys
//
// No personal data is written in clear: a client address becomes a keyed
// hash (HMAC-SHA256 with Options.Secret, 128 bits), so a dump of Redis does
// not list who submitted. Every replica must be given the same Secret, or
// they count apart. An IPv6 address counts by its /64 network (one
// household's or one server's allocation), since anyone holding a /64 can
// use a fresh address for every request. Keys, for form F:
//
//	rate:lb:ip:<hash>          every form together, from one client
//	rate:lb:ipform:F:<hash>    form F, from one client
//	rate:lb:form:F             form F, from everyone
//	rate:lb:token:F:<hash>     form F, submissions made with one form token
//
// Each expires as soon as its client is back to a full burst.
//
// # When Redis does not answer
//
// Rate limits fail open. A check that Redis does not answer within
// Options.Timeout (250 ms unless set, for all the limits of one request) is
// allowed, marked Unchecked, and returned with an error wrapping
// ErrUnavailable; for Options.Backoff (1 s) after that, checks are allowed
// at once without asking Redis, so a hung Redis costs intake one timeout a
// second, not one per request. Refusing instead would turn a Redis hiccup
// into lost leads for people who did nothing wrong, and protects nothing:
// with Redis down, intake cannot make a submission durable anyway and
// answers 503 there.
//
// The timeout holds whatever the client's options. go-redis bounds its
// socket reads by the context's deadline only with ContextTimeoutEnabled
// (otherwise it waits its ReadTimeout, 3 s by default, per try); with it,
// the checks run on the caller's goroutine; without it, on one of their own
// that the caller stops waiting for, which costs a goroutine hand-off per
// request (about 0.1 ms on a busy 2-core machine, see BenchmarkAllow).
package flood

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// ErrUnavailable is wrapped by the error returned with a check that Redis
// did not answer (in time, or at all): the check was allowed unchecked.
var ErrUnavailable = errors.New("flood: redis unavailable, not checked")

// The limits a Decision may name.
const (
	LimitIP      = "ip"      // every form together, from one client
	LimitIPForm  = "ip_form" // one form, from one client
	LimitForm    = "form"    // one form, from everyone
	LimitToken   = "token"   // one form token
	LimitWaiting = "waiting" // submissions waiting for delivery (WaitingCap)
	LimitMemory  = "memory"  // Redis memory (MemoryGuard)
)

// minRetry: Retry-After is whole seconds, and at least one.
const minRetry = time.Second

// Decision is the answer to a check.
type Decision struct {
	// Allowed: go on with the request.
	Allowed bool
	// Limit names what denied the request (one of the Limit constants);
	// "" when allowed.
	Limit string
	// RetryAfter is how long the client should wait before trying again;
	// zero when allowed.
	RetryAfter time.Duration
	// Unchecked: the check could not be made (Redis did not answer) and the
	// request was allowed by policy (fail open). Count it in metrics.
	Unchecked bool
}

// Overloaded reports whether leadbridge itself is full (a waiting or memory
// cap: answer 503) rather than the client too fast (a rate limit: 429).
func (d Decision) Overloaded() bool {
	return d.Limit == LimitWaiting || d.Limit == LimitMemory
}

// RetryAfterSeconds is RetryAfter for a Retry-After header: whole seconds,
// rounded up, at least 1 when denied (0 when allowed). Rounding up matters:
// a client that comes back at "0" would be denied again.
func (d Decision) RetryAfterSeconds() int {
	if d.Allowed {
		return 0
	}
	return int(math.Ceil(max(d.RetryAfter, minRetry).Seconds()))
}

var allowed = Decision{Allowed: true}

// Limits are the rates one request is checked against. A zero Rate is not
// checked.
type Limits struct {
	IP     Rate // every form together, from one client address
	IPForm Rate // this form, from one client address
	Form   Rate // this form, from everyone
	Token  Rate // this form, with one form token (replay of a token)
}

// Request is what a request is counted by.
type Request struct {
	// IP is the client's address as intake determined it (behind trusted
	// proxies only, never a client-supplied header). The zero Addr skips
	// the per-IP limits.
	IP netip.Addr
	// Form is the form's id (or a webhook source's).
	Form string
	// Token identifies the form token the submission came with (the spam
	// package's replay key); "" skips the per-token limit.
	Token string
}

// Options tune a Limiter.
type Options struct {
	// Secret keys the hash of client addresses and tokens in Redis keys.
	// Required, at least 16 bytes, the same on every replica.
	Secret []byte
	// Timeout bounds one Allow, all its limits together; 250 ms when zero.
	Timeout time.Duration
	// Backoff is how long checks are allowed without asking Redis after
	// Redis failed to answer one; 1 s when zero.
	Backoff time.Duration
	// IPv6Prefix is the prefix length an IPv6 address is counted by; 64
	// when zero.
	IPv6Prefix int
	// Now is the clock for Backoff; time.Now when nil. (Rates run on the
	// Redis server's clock.)
	Now func() time.Time
}

// Limiter checks rate limits in Redis. It is safe for concurrent use.
type Limiter struct {
	rl         *redis_rate.Limiter
	secret     []byte
	timeout    time.Duration
	backoff    time.Duration
	ipv6Prefix int
	now        func() time.Time
	// direct: the client bounds its own I/O by the context's deadline, so
	// the checks run on the caller's goroutine; otherwise they run in one
	// of their own (see within), which costs a goroutine hand-off.
	direct bool
	// downUntil is the Unix nanosecond time until which Redis is not asked.
	downUntil atomic.Int64
}

// NewLimiter returns a Limiter on rdb. It fails only on bad Options.
func NewLimiter(rdb redis.UniversalClient, o Options) (*Limiter, error) {
	if len(o.Secret) < 16 {
		return nil, errors.New("flood: the limiter's secret must have at least 16 bytes (it keys the hash of client addresses)")
	}
	l := &Limiter{
		rl:         redis_rate.NewLimiter(rdb),
		secret:     o.Secret,
		timeout:    cmp.Or(o.Timeout, 250*time.Millisecond),
		backoff:    cmp.Or(o.Backoff, time.Second),
		ipv6Prefix: cmp.Or(o.IPv6Prefix, 64),
		now:        o.Now,
		direct:     honoursDeadlines(rdb),
	}
	if o.Timeout < 0 || o.Backoff < 0 {
		return nil, errors.New("flood: the limiter's Timeout and Backoff must not be negative")
	}
	if l.ipv6Prefix < 1 || l.ipv6Prefix > 128 {
		return nil, fmt.Errorf("flood: IPv6Prefix %d: must be from 1 to 128", o.IPv6Prefix)
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// Allow checks req against every non-zero limit in lim and counts it. The
// most specific limits are checked first (token, this form from this client,
// every form from this client, then this form from everyone) and the first
// that denies answers; so a client denied for its own rate does not use up
// the form's shared allowance, which is what keeps other people able to
// submit while one floods.
//
// When Redis does not answer, the Decision is Allowed and Unchecked and the
// error wraps ErrUnavailable (or the caller's context error): log it, count
// it, and go on with the Decision. The Decision is always usable.
func (l *Limiter) Allow(ctx context.Context, req Request, lim Limits) (Decision, error) {
	checks := l.checks(req, lim)
	if len(checks) == 0 {
		return allowed, nil
	}
	if until := l.downUntil.Load(); until != 0 && l.now().UnixNano() < until {
		return Decision{Allowed: true, Unchecked: true}, fmt.Errorf("%w: backing off after a failure", ErrUnavailable)
	}
	run := func(ctx context.Context) (Decision, error) {
		for _, c := range checks {
			res, err := l.rl.Allow(ctx, c.key, c.limit)
			if err != nil {
				return Decision{}, err
			}
			if res.Allowed == 0 {
				return Decision{Limit: c.name, RetryAfter: max(res.RetryAfter, 0)}, nil
			}
		}
		return allowed, nil
	}
	var d Decision
	var err error
	if l.direct {
		cctx, cancel := context.WithTimeout(ctx, l.timeout)
		d, err = run(cctx)
		cancel()
	} else {
		d, err = within(ctx, l.timeout, run)
	}
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up (the client went away): not Redis's fault.
			return Decision{Allowed: true, Unchecked: true}, fmt.Errorf("flood: rate limit not checked: %w", ctx.Err())
		}
		l.downUntil.Store(l.now().Add(l.backoff).UnixNano())
		return Decision{Allowed: true, Unchecked: true}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if l.downUntil.Load() != 0 {
		l.downUntil.Store(0)
	}
	return d, nil
}

// check is one limit to check: its name, its key and its rate.
type check struct {
	name  string
	key   string
	limit redis_rate.Limit
}

// checks lists the limits req is checked against, most specific first.
func (l *Limiter) checks(req Request, lim Limits) []check {
	var cs []check
	add := func(name, key string, r Rate) {
		if !r.IsZero() {
			cs = append(cs, check{name, key, redis_rate.Limit{Rate: r.N, Burst: r.N, Period: r.Per}})
		}
	}
	if req.Token != "" && !lim.Token.IsZero() {
		add(LimitToken, "lb:token:"+req.Form+":"+l.hash("token", []byte(req.Token)), lim.Token)
	}
	if req.IP.IsValid() && (!lim.IPForm.IsZero() || !lim.IP.IsZero()) {
		ip := l.ipHash(req.IP)
		add(LimitIPForm, "lb:ipform:"+req.Form+":"+ip, lim.IPForm)
		add(LimitIP, "lb:ip:"+ip, lim.IP)
	}
	add(LimitForm, "lb:form:"+req.Form, lim.Form)
	return cs
}

// honoursDeadlines reports whether rdb bounds its socket I/O by the
// context's deadline (go-redis does only with ContextTimeoutEnabled).
func honoursDeadlines(rdb redis.UniversalClient) bool {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// ipHash is the keyed hash of a client address, IPv6 by its prefix.
func (l *Limiter) ipHash(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(l.ipv6Prefix) // cannot fail: the length was checked
		ip = p.Addr()
	}
	b, _ := ip.MarshalBinary()
	return l.hash("ip", b)
}

// hash is a 128-bit HMAC-SHA256 of v, separated by kind so that a token
// can never count as an address.
func (l *Limiter) hash(kind string, v []byte) string {
	m := hmac.New(sha256.New, l.secret)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write(v)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
