package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/hooktest"
)

// BenchmarkWebhook measures the response time of a verified webhook
// delivery through the real router into a real redis-server (append-only,
// fsync on every write): reading the body, verifying its signature,
// parsing and mapping it, validating the lead, the durable record (one Lua
// script) and the asynq enqueue. Every delivery is a new lead (no
// repeats). It reports the median and 99th percentile of the time the
// router took to answer (signing the delivery, which the platform does, is
// outside it) as p50-ms and p99-ms:
//
//   - per kind, one delivery at a time: the time a platform waits;
//   - Parallel16: 32 deliveries at once (16 per core), mixed kinds: the
//     same under load, and the deliveries per second;
//   - Parallel16-everysec: the same with Redis fsyncing once a second, as
//     docker-compose.yml runs it, instead of on every write as the tests do.
func BenchmarkWebhook(b *testing.B) {
	v := newHookEnv(b)
	var mu sync.Mutex
	n := 0
	next := func(k hooktest.Kind) *hooktest.Delivery {
		mu.Lock()
		n++
		l := hooktest.Ada(fmt.Sprint(1_000_000 + n))
		mu.Unlock()
		l.Email = "lead" + l.ID + "@example.com"
		return k.New(base, l, k.Secrets[1], time.Now())
	}
	serve := func(b *testing.B, d *hooktest.Delivery) time.Duration {
		r := d.Request()
		rec := httptest.NewRecorder()
		start := time.Now()
		v.e.ServeHTTP(rec, r)
		took := time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		return took
	}
	report := func(b *testing.B, took []time.Duration) {
		slices.Sort(took)
		pct := func(p float64) float64 {
			return float64(took[int(float64(len(took)-1)*p)]) / float64(time.Millisecond)
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	}
	for _, source := range []string{"standard", "hubspot", "typeform", "meta", "google", "mailchimp"} {
		b.Run(source, func(b *testing.B) {
			k := hooktest.KindOf(source)
			took := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			for b.Loop() {
				took = append(took, serve(b, next(k)))
			}
			report(b, took)
		})
	}
	parallel := func(b *testing.B) {
		kinds := hooktest.Kinds()
		var took []time.Duration
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			var mine []time.Duration
			i := 0
			for pb.Next() {
				i++
				mine = append(mine, serve(b, next(kinds[i%len(kinds)])))
			}
			mu.Lock()
			took = append(took, mine...)
			mu.Unlock()
		})
		report(b, took)
	}
	b.Run("Parallel16", parallel)
	b.Run("Parallel16-everysec", func(b *testing.B) {
		if err := v.rdb.ConfigSet(context.Background(), "appendfsync", "everysec").Err(); err != nil {
			b.Fatal(err)
		}
		defer v.rdb.ConfigSet(context.Background(), "appendfsync", "always")
		parallel(b)
	})
}
