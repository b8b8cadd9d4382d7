package flood_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/flood"
	"github.com/leadbridge/leadbridge/internal/testenv"
)

// BenchmarkAllow is the per-request cost of rate limiting against a local
// redis-server: one limit (one EVALSHA round trip), and the three a form
// submission is usually checked against (per IP and form, per IP, per form).
// An allowed check writes its key, so with appendfsync always (testenv's
// setting) every allowed check waits for an fsync; everysec is what
// docker-compose.yml runs.
func BenchmarkAllow(b *testing.B) {
	for _, fsync := range []string{"always", "everysec"} {
		b.Run("fsync="+fsync, func(b *testing.B) { benchmarkAllow(b, fsync) })
	}
}

func benchmarkAllow(b *testing.B, fsync string) {
	r := testenv.StartRedis(b)
	if err := r.Client().ConfigSet(context.Background(), "appendfsync", fsync).Err(); err != nil {
		b.Fatal(err)
	}
	l, err := flood.NewLimiter(r.Client(), flood.Options{Secret: secret, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	// A client that bounds its reads by the context's deadline lets the
	// limiter skip its own goroutine.
	direct := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { direct.Close() })
	ld, err := flood.NewLimiter(direct, flood.Options{Secret: secret, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	lots := flood.Rate{N: 1_000_000, Per: time.Second}
	req := flood.Request{IP: netip.MustParseAddr("203.0.113.7"), Form: "contact-us"}
	b.Run("PING round trip (baseline)", func(b *testing.B) {
		rdb := r.Client()
		b.ReportAllocs()
		for b.Loop() {
			if err := rdb.Ping(ctx).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name string
		lim  flood.Limits
	}{
		{"one limit", flood.Limits{IPForm: lots}},
		{"three limits", flood.Limits{IPForm: lots, IP: lots, Form: lots}},
		{"denied", flood.Limits{IPForm: flood.Rate{N: 1, Per: time.Hour}}},
	} {
		for _, lc := range []struct {
			name string
			l    *flood.Limiter
		}{{"", l}, {" (ContextTimeoutEnabled)", ld}} {
			b.Run(bc.name+lc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if d, err := lc.l.Allow(ctx, req, bc.lim); err != nil || d.Unchecked {
						b.Fatalf("%+v, %v", d, err)
					}
				}
			})
		}
	}
}

// BenchmarkMemoryGuard is the cost of the memory cap on a request that is
// answered from the cached reading (all but about one a second).
func BenchmarkMemoryGuard(b *testing.B) {
	r := testenv.StartRedis(b)
	g, err := flood.NewMemoryGuard(flood.RedisMemory(r.Client()), flood.MemoryOptions{Limit: 1 << 40, Every: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	g.Check(ctx)
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := g.Check(ctx); !d.Allowed {
			b.Fatal(d)
		}
	}
}
