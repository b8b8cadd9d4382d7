package handlers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkIntakeJSON measures POST /f/demo through the real router into a
// real Redis (append-only, fsync on every write): validation, the durable
// record and the asynq enqueue.
func BenchmarkIntakeJSON(b *testing.B) {
	v := newEnv(b)
	b.ReportAllocs()
	b.SetParallelism(16) // many browsers at once, as a real intake sees
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			body := fmt.Sprintf(`{"first_name":"Ann","last_name":"Lee","email":"ann%d@example.com","company":"Contoso"}`, i)
			req := httptest.NewRequest(http.MethodPost, "/f/demo", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			v.e.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "submissions/s")
}
