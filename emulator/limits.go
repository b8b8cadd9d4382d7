package emulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Service protection limits (reference §1), enforced per user (client id)
// as one Dataverse web server would:
//
//   - requests: at most RequestsPerWindow admitted requests in the sliding
//     window (a $batch counts once);
//   - execution time: at most ExecutionMSPerWindow milliseconds charged in
//     the window. The charge is simulated: latency_ms per operation (every
//     operation of a $batch), so the facet behaves the same on any machine;
//     the emulator's own processing time is not charged;
//   - concurrency: at most Concurrent requests in flight; the excess fails
//     at once.
//
// Dataverse lets a client overshoot the windowed facets "for a while"; the
// emulator enforces them exactly, which is the stricter test of a client.
// A refusal starts a wait for the whole user: until its Retry-After has
// passed every request from that user is refused with the remaining time.
// A request that arrives during the wait, more than earlyRetryGrace after
// the 429 that started it, is an early retry: it is counted in Stats and
// doubles the wait (capped at the window), as Dataverse lengthens
// Retry-After for clients that keep sending.

// earlyRetryGrace is how long after a 429 requests still count as having
// been in flight before the caller could know about it.
const earlyRetryGrace = 250 * time.Millisecond

// concurrencyWait is the Retry-After of a concurrency refusal at the default
// 300 s window; it scales with window_seconds like every other wait, but
// never below the one second Retry-After can say.
const concurrencyWait = time.Second

type limiter struct {
	mu    sync.Mutex
	users map[string]*userLimits
	stats *statsCounter
}

type userLimits struct {
	requests []time.Time // admitted requests still in the window, oldest first
	exec     []execCharge
	execSum  int64
	inflight int

	blockedUntil time.Time     // the user's current wait ends
	blockStart   time.Time     // when the 429 that started it was sent
	lastWait     time.Duration // the Retry-After last sent in this wait
	blockCode    string
	blockMsg     string
}

type execCharge struct {
	at time.Time
	ms int64
}

func newLimiter(stats *statsCounter) *limiter {
	return &limiter{users: map[string]*userLimits{}, stats: stats}
}

func (l *limiter) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Requests in flight keep their count: they will release it.
	for id, u := range l.users {
		l.users[id] = &userLimits{inflight: u.inflight}
	}
}

// admission is the limiter's verdict and the capacity left afterwards.
type admission struct {
	ok         bool
	retryAfter time.Duration
	code, msg  string
	// Remaining capacity for the headers; -1 when the facet is off.
	requestsLeft int
	execLeftMS   int64
}

func window(lim Limits) time.Duration { return time.Duration(lim.WindowSeconds) * time.Second }

// admit decides whether a request from user may start now. An admitted
// request must be ended with release.
func (l *limiter) admit(user string, lim Limits, now time.Time) admission {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.users[user]
	if u == nil {
		u = &userLimits{}
		l.users[user] = u
	}
	win := window(lim)
	u.prune(now, win)

	if now.Before(u.blockedUntil) {
		if now.Sub(u.blockStart) > earlyRetryGrace {
			l.stats.earlyRetry()
			u.lastWait = min(2*u.lastWait, max(win, u.lastWait))
			u.blockedUntil = now.Add(u.lastWait)
		}
		return u.refusal(lim, u.blockedUntil.Sub(now), u.blockCode, u.blockMsg)
	}

	var wait time.Duration
	var code, msg string
	switch {
	case lim.Concurrent > 0 && u.inflight >= lim.Concurrent:
		wait = concurrencyWait * time.Duration(lim.WindowSeconds) / defaultWindowSeconds
		code = codeThrottleConcurrency
		msg = fmt.Sprintf("Number of concurrent requests exceeded the limit of %d.", lim.Concurrent)
	case lim.RequestsPerWindow > 0 && len(u.requests) >= lim.RequestsPerWindow:
		// Enough of the oldest requests must leave the window to make room.
		wait = u.requests[len(u.requests)-lim.RequestsPerWindow].Add(win).Sub(now)
		code = codeThrottleRequests
		msg = fmt.Sprintf("Number of requests exceeded the limit of %d over time window of %d seconds.", lim.RequestsPerWindow, lim.WindowSeconds)
	case lim.ExecutionMSPerWindow > 0 && u.execSum >= int64(lim.ExecutionMSPerWindow):
		sum := u.execSum
		for _, c := range u.exec {
			sum -= c.ms
			if sum < int64(lim.ExecutionMSPerWindow) {
				wait = c.at.Add(win).Sub(now)
				break
			}
		}
		code = codeThrottleExecution
		// Two spaces before "milliseconds", as in the documented message.
		msg = fmt.Sprintf("Combined execution time of incoming requests exceeded limit of %s  milliseconds over time window of %d seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.", thousands(int64(lim.ExecutionMSPerWindow)), lim.WindowSeconds)
	}
	if code != "" {
		wait = wholeSeconds(wait)
		u.blockedUntil, u.blockStart, u.lastWait = now.Add(wait), now, wait
		u.blockCode, u.blockMsg = code, msg
		return u.refusal(lim, wait, code, msg)
	}

	u.inflight++
	if lim.RequestsPerWindow > 0 {
		u.requests = append(u.requests, now)
	}
	return admission{ok: true, requestsLeft: u.requestsLeft(lim), execLeftMS: u.execLeft(lim)}
}

// release ends an admitted request and charges its execution time.
func (l *limiter) release(user string, execMS int64, lim Limits, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.users[user]
	if u == nil {
		return // reset while in flight
	}
	u.inflight = max(u.inflight-1, 0)
	if lim.ExecutionMSPerWindow > 0 && execMS > 0 {
		u.exec = append(u.exec, execCharge{at: now, ms: execMS})
		u.execSum += execMS
	}
}

func (u *userLimits) refusal(lim Limits, wait time.Duration, code, msg string) admission {
	return admission{retryAfter: wait, code: code, msg: msg, requestsLeft: u.requestsLeft(lim), execLeftMS: u.execLeft(lim)}
}

func (u *userLimits) prune(now time.Time, win time.Duration) {
	cut := now.Add(-win)
	i := 0
	for i < len(u.requests) && !u.requests[i].After(cut) {
		i++
	}
	u.requests = u.requests[i:]
	j := 0
	for j < len(u.exec) && !u.exec[j].at.After(cut) {
		u.execSum -= u.exec[j].ms
		j++
	}
	u.exec = u.exec[j:]
}

func (u *userLimits) requestsLeft(lim Limits) int {
	if lim.RequestsPerWindow == 0 {
		return -1
	}
	return max(lim.RequestsPerWindow-len(u.requests), 0)
}

func (u *userLimits) execLeft(lim Limits) int64 {
	if lim.ExecutionMSPerWindow == 0 {
		return -1
	}
	return max(int64(lim.ExecutionMSPerWindow)-u.execSum, 0)
}

// setHeaders writes the capacity headers. Their format is unconfirmed
// (reference §1, "don't depend on them"): the request count is an integer,
// the execution time left is in seconds with two decimals and thousands
// separators ("1,200.00"), the shape seen in captures of real responses.
// A facet that is off sends no header.
func (a admission) setHeaders(h http.Header) {
	if a.requestsLeft >= 0 {
		setRaw(h, "x-ms-ratelimit-burst-remaining-xrm-requests", strconv.Itoa(a.requestsLeft))
	}
	if a.execLeftMS >= 0 {
		setRaw(h, "x-ms-ratelimit-time-remaining-xrm-requests", thousands(a.execLeftMS/1000)+fmt.Sprintf(".%02d", a.execLeftMS%1000/10))
	}
}

// result is the 429 for a refusal.
func (a admission) result() *result {
	r := apiError(http.StatusTooManyRequests, a.code, a.msg)
	r.header.Set("Retry-After", formatSeconds(a.retryAfter))
	return r
}

// wholeSeconds rounds a wait up to whole seconds, at least one: the only
// waits Retry-After can express, so that a user's wait ends exactly when
// the Retry-After that started it says.
func wholeSeconds(d time.Duration) time.Duration {
	return max(time.Second, time.Duration(math.Ceil(d.Seconds()))*time.Second)
}

// formatSeconds renders what is left of a wait as Retry-After: whole
// seconds, rounded up so that a client sleeping exactly that long is never
// early. Dataverse documents an integer (Microsoft's retry sample parses it
// as one), so a fractional value would break such clients.
func formatSeconds(d time.Duration) string {
	return strconv.Itoa(int(wholeSeconds(d) / time.Second))
}

// thousands formats 1200000 as "1,200,000", as the documented messages do.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// dopHint is the x-ms-dop-hint value: the configured concurrency limit, a
// client that keeps to it is never refused for concurrency; with the limit
// off, 52, Dataverse's documented default limit.
func dopHint(lim Limits) string {
	if lim.Concurrent > 0 {
		return strconv.Itoa(lim.Concurrent)
	}
	return strconv.Itoa(defaultConcurrent)
}
