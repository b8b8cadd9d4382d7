package flood_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// newLimiter is one API replica's limiter, on its own connection to r. The
// timeout is generous: these tests are about counting, and a loaded 2-core
// machine must not turn a slow answer into a fail-open.
func newLimiter(t *testing.T, r *testenv.Redis) *flood.Limiter {
	t.Helper()
	l, err := flood.NewLimiter(r.Client(), flood.Options{Secret: secret, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func allow(t *testing.T, l *flood.Limiter, req flood.Request, lim flood.Limits) flood.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), req, lim)
	if err != nil {
		t.Fatalf("Allow(%+v): %v", req, err)
	}
	if d.Unchecked {
		t.Fatalf("Allow(%+v) unchecked", req)
	}
	return d
}

var (
	ip1 = netip.MustParseAddr("203.0.113.7")
	ip2 = netip.MustParseAddr("198.51.100.20")
)

func TestLimitIsSharedByReplicas(t *testing.T) {
	r := testenv.StartRedis(t)
	a, b := newLimiter(t, r), newLimiter(t, r)
	lim := flood.Limits{IPForm: flood.Rate{N: 4, Per: time.Hour}}
	req := flood.Request{IP: ip1, Form: "contact-us"}

	for i, l := range []*flood.Limiter{a, b, a, b} {
		if d := allow(t, l, req, lim); !d.Allowed {
			t.Fatalf("request %d of 4 within 4/hour denied: %+v", i+1, d)
		}
	}
	for name, l := range map[string]*flood.Limiter{"replica a": a, "replica b": b} {
		d := allow(t, l, req, lim)
		if d.Allowed || d.Limit != flood.LimitIPForm {
			t.Fatalf("%s: 5th request within an hour: got %+v, want denied by %s", name, d, flood.LimitIPForm)
		}
		// 4/hour lets one more in every 15 minutes: the wait is just under
		// that (the time since the first request has passed already).
		if d.RetryAfter <= 14*time.Minute || d.RetryAfter > 15*time.Minute {
			t.Errorf("%s: RetryAfter = %s, want just under 15m", name, d.RetryAfter)
		}
		if got := d.RetryAfterSeconds(); got < 14*60 || got > 15*60 {
			t.Errorf("%s: RetryAfterSeconds = %d, want about 900", name, got)
		}
	}

	if d := allow(t, b, flood.Request{IP: ip2, Form: "contact-us"}, lim); !d.Allowed {
		t.Errorf("another client on the same form: denied %+v, want allowed", d)
	}
	if d := allow(t, a, flood.Request{IP: ip1, Form: "newsletter"}, lim); !d.Allowed {
		t.Errorf("the same client on another form: denied %+v, want allowed", d)
	}
}

func TestPerIPLimitCoversEveryForm(t *testing.T) {
	r := testenv.StartRedis(t)
	l := newLimiter(t, r)
	lim := flood.Limits{IP: flood.Rate{N: 2, Per: time.Minute}}
	allow(t, l, flood.Request{IP: ip1, Form: "a"}, lim)
	allow(t, l, flood.Request{IP: ip1, Form: "b"}, lim)
	d := allow(t, l, flood.Request{IP: ip1, Form: "c"}, lim)
	if d.Allowed || d.Limit != flood.LimitIP {
		t.Fatalf("third form from one client within 2/minute: got %+v, want denied by %s", d, flood.LimitIP)
	}
	if d.RetryAfter <= 25*time.Second || d.RetryAfter > 30*time.Second {
		t.Errorf("RetryAfter = %s, want just under 30s (2/minute lets one in every 30s)", d.RetryAfter)
	}
}

// A client held back by its own limit must not use up the form's shared
// allowance, or one flooder would lock everyone else out.
func TestDeniedClientSparesTheFormsAllowance(t *testing.T) {
	r := testenv.StartRedis(t)
	l := newLimiter(t, r)
	lim := flood.Limits{IPForm: flood.Rate{N: 1, Per: time.Hour}, Form: flood.Rate{N: 3, Per: time.Hour}}
	for i := range 20 {
		d := allow(t, l, flood.Request{IP: ip1, Form: "f"}, lim)
		if i > 0 && (d.Allowed || d.Limit != flood.LimitIPForm) {
			t.Fatalf("flooder's request %d: got %+v, want denied by %s", i+1, d, flood.LimitIPForm)
		}
	}
	for i := 2; i <= 3; i++ {
		ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		if d := allow(t, l, flood.Request{IP: ip, Form: "f"}, lim); !d.Allowed {
			t.Fatalf("person %d while one client floods: denied %+v, want allowed", i, d)
		}
	}
	d := allow(t, l, flood.Request{IP: netip.AddrFrom4([4]byte{192, 0, 2, 9}), Form: "f"}, lim)
	if d.Allowed || d.Limit != flood.LimitForm {
		t.Fatalf("4th client within the form's 3/hour: got %+v, want denied by %s", d, flood.LimitForm)
	}
}

func TestTokenLimitAcrossAddresses(t *testing.T) {
	r := testenv.StartRedis(t)
	l := newLimiter(t, r)
	lim := flood.Limits{Token: flood.Rate{N: 2, Per: time.Hour}, IPForm: flood.Rate{N: 100, Per: time.Hour}}
	tok := "5f0c6b1f2d3e4a5b6c7d8e9f00112233"
	allow(t, l, flood.Request{IP: ip1, Form: "f", Token: tok}, lim)
	allow(t, l, flood.Request{IP: ip2, Form: "f", Token: tok}, lim)
	d := allow(t, l, flood.Request{IP: netip.MustParseAddr("192.0.2.77"), Form: "f", Token: tok}, lim)
	if d.Allowed || d.Limit != flood.LimitToken {
		t.Fatalf("one token used a third time from a third address: got %+v, want denied by %s", d, flood.LimitToken)
	}
	if d := allow(t, l, flood.Request{IP: ip1, Form: "f", Token: "another"}, lim); !d.Allowed {
		t.Errorf("a fresh token: denied %+v", d)
	}
	if d := allow(t, l, flood.Request{IP: ip1, Form: "f"}, lim); !d.Allowed {
		t.Errorf("no token (the form asks for none): denied %+v", d)
	}
}

func TestIPv6CountsByPrefix(t *testing.T) {
	r := testenv.StartRedis(t)
	l := newLimiter(t, r)
	lim := flood.Limits{IPForm: flood.Rate{N: 1, Per: time.Hour}}
	allow(t, l, flood.Request{IP: netip.MustParseAddr("2001:db8:1:2::1"), Form: "f"}, lim)
	if d := allow(t, l, flood.Request{IP: netip.MustParseAddr("2001:db8:1:2:ffff::9"), Form: "f"}, lim); d.Allowed {
		t.Error("another address in the same /64: allowed, want counted with the first")
	}
	if d := allow(t, l, flood.Request{IP: netip.MustParseAddr("2001:db8:1:3::1"), Form: "f"}, lim); !d.Allowed {
		t.Error("an address in another /64: denied, want counted apart")
	}
	allow(t, l, flood.Request{IP: netip.MustParseAddr("192.0.2.1"), Form: "f"}, lim)
	if d := allow(t, l, flood.Request{IP: netip.MustParseAddr("::ffff:192.0.2.1"), Form: "f"}, lim); d.Allowed {
		t.Error("IPv4-mapped form of a counted IPv4 address: allowed, want the same count")
	}
}

// A dump of Redis must not list who submitted: addresses are hashed.
func TestKeysHoldNoAddress(t *testing.T) {
	r := testenv.StartRedis(t)
	l := newLimiter(t, r)
	lim := flood.Limits{IP: flood.Rate{N: 9, Per: time.Minute}, IPForm: flood.Rate{N: 9, Per: time.Minute},
		Form: flood.Rate{N: 9, Per: time.Minute}, Token: flood.Rate{N: 9, Per: time.Minute}}
	allow(t, l, flood.Request{IP: ip1, Form: "contact-us", Token: "tok-1"}, lim)

	rdb := r.Client()
	keys, err := rdb.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("keys = %q, want one per limit (4)", keys)
	}
	prefixes := []string{"rate:lb:ip:", "rate:lb:ipform:contact-us:", "rate:lb:form:contact-us", "rate:lb:token:contact-us:"}
	for _, k := range keys {
		if strings.Contains(k, "203.0.113.7") || strings.Contains(k, "tok-1") {
			t.Errorf("key %q holds the address or token in clear", k)
		}
		known := false
		for _, p := range prefixes {
			known = known || strings.HasPrefix(k, p)
		}
		if !known {
			t.Errorf("key %q: want one of the documented shapes %q", k, prefixes)
		}
		if ttl := rdb.TTL(context.Background(), k).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("key %q: TTL %s, want it to expire within the period (1m)", k, ttl)
		}
	}
}

func TestSecretIsRequired(t *testing.T) {
	r := testenv.StartRedis(t)
	if _, err := flood.NewLimiter(r.Client(), flood.Options{Secret: []byte("short")}); err == nil {
		t.Error("NewLimiter with a 5-byte secret: nil error, want one")
	}
}

// A hung Redis (paused with SIGSTOP: connections open, nothing answered) must
// not hang intake: the check is allowed unchecked within the limiter's
// timeout, although these clients would wait five minutes on their own,
// whether or not they bound their reads by the context's deadline.
func TestRedisPausedFailsOpen(t *testing.T) {
	for _, deadlines := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", deadlines), func(t *testing.T) {
			testRedisPaused(t, deadlines)
		})
	}
}

func testRedisPaused(t *testing.T, deadlines bool) {
	r := testenv.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ReadTimeout: 5 * time.Minute, WriteTimeout: 5 * time.Minute,
		ContextTimeoutEnabled: deadlines})
	t.Cleanup(func() { rdb.Close() })
	clock := testenv.NewClock(time.Now())
	l, err := flood.NewLimiter(rdb, flood.Options{Secret: secret, Timeout: 100 * time.Millisecond, Backoff: time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	lim := flood.Limits{IPForm: flood.Rate{N: 1, Per: time.Hour}, Form: flood.Rate{N: 100, Per: time.Hour}}
	req := flood.Request{IP: ip1, Form: "f"}
	allow(t, l, req, lim) // the one request the rate allows; Redis is fine

	r.Pause()
	type answer struct {
		d   flood.Decision
		err error
	}
	done := make(chan answer, 1)
	go func() {
		d, err := l.Allow(context.Background(), req, lim)
		done <- answer{d, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-time.After(time.Minute): // a bound on hanging, not a measure of speed
		r.Resume()
		t.Fatal("Allow still waiting a minute after Redis hung: the limiter's timeout did not hold")
	}
	if !a.d.Allowed || !a.d.Unchecked || !errors.Is(a.err, flood.ErrUnavailable) {
		t.Fatalf("Redis paused: got %+v, %v; want allowed, unchecked, ErrUnavailable", a.d, a.err)
	}

	// Within the back-off Redis is not asked at all.
	d, err := l.Allow(context.Background(), req, lim)
	if !d.Allowed || !d.Unchecked || !errors.Is(err, flood.ErrUnavailable) {
		t.Fatalf("within the back-off: got %+v, %v; want allowed, unchecked, ErrUnavailable", d, err)
	}

	r.Resume()
	clock.Advance(time.Second)
	// The count survived: the client is over its rate, and is told so again.
	d, err = l.Allow(context.Background(), req, lim)
	if err != nil || d.Allowed || d.Unchecked || d.Limit != flood.LimitIPForm {
		t.Fatalf("after Redis resumed: got %+v, %v; want denied by %s, checked", d, err, flood.LimitIPForm)
	}
}

func TestCallerGoneIsNotABackoff(t *testing.T) {
	r := testenv.StartRedis(t)
	l := newLimiter(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lim := flood.Limits{IPForm: flood.Rate{N: 1, Per: time.Hour}}
	d, err := l.Allow(ctx, flood.Request{IP: ip1, Form: "f"}, lim)
	if !d.Allowed || !errors.Is(err, context.Canceled) || errors.Is(err, flood.ErrUnavailable) {
		t.Fatalf("cancelled caller: got %+v, %v; want allowed with context.Canceled, not ErrUnavailable", d, err)
	}
	if d := allow(t, l, flood.Request{IP: ip1, Form: "f"}, lim); !d.Allowed {
		t.Fatalf("next caller: %+v, want allowed and checked", d)
	}
}
