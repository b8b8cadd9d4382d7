package spam_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/spam"
)

// BenchmarkTokenVerify is the cost of verifying one form token (two keys
// configured, as during a rotation: both are always tried).
func BenchmarkTokenVerify(b *testing.B) {
	tk := newTokens(b, key2, key1)
	tok := tk.Issue("contact-us", t0)
	now := t0.Add(10 * time.Second)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.Verify("contact-us", tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck is a submission's spam checks without a captcha: the
// honeypot and the token's fill time, then (as intake is to do) the
// per-token rate limit against a local redis-server, which is where the
// time goes.
func BenchmarkCheck(b *testing.B) {
	tk := newTokens(b, key1)
	ch, err := spam.NewChecker("contact-us", spam.Config{Honeypot: "website_url", MinFill: 2 * time.Second},
		spam.Options{Tokens: tk, Now: func() time.Time { return t0.Add(10 * time.Second) }})
	if err != nil {
		b.Fatal(err)
	}
	fields := map[string]string{"email": "ada@example.com", "website_url": "", spam.TokenField: tk.Issue("contact-us", t0)}
	sub := spam.Submission{Value: values(fields)}
	ctx := context.Background()
	b.Run("checks", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v := ch.Check(ctx, sub); v.Spam {
				b.Fatal(v)
			}
		}
	})
	b.Run("checks and per-token limit", func(b *testing.B) {
		r := testenv.StartRedis(b)
		r.Client().ConfigSet(ctx, "appendfsync", "everysec") // as docker-compose.yml runs it
		l, err := flood.NewLimiter(r.Client(), flood.Options{Secret: key1, Timeout: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		lim := flood.Limits{Token: flood.Rate{N: 1_000_000, Per: time.Second}}
		ip := netip.MustParseAddr("203.0.113.7")
		b.ReportAllocs()
		for b.Loop() {
			v := ch.Check(ctx, sub)
			d, err := l.Allow(ctx, flood.Request{IP: ip, Form: "contact-us", Token: v.ReplayKey}, lim)
			if v.Spam || err != nil || !d.Allowed {
				b.Fatal(v, d, err)
			}
		}
	})
}
