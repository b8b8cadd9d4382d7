package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/metrics"
)

// counts is a StatusCounter for tests: fixed counts, an error, or a hang
// that ignores its context (as a Redis client without deadlines does).
type counts struct {
	n    map[string]int64
	err  error
	hang chan struct{}
}

func (c counts) Counts(ctx context.Context) (map[string]int64, error) {
	if c.hang != nil {
		<-c.hang
	}
	return c.n, c.err
}

func scrape(t *testing.T, src metrics.StatusCounter) (int, string) {
	t.Helper()
	reg := metrics.Registry()
	metrics.RegisterStatuses(reg, src)
	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Code, rec.Body.String()
}

func TestStatusGaugeIsLeftOutWhenCountsCannotBeRead(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	for _, tc := range []struct {
		name      string
		src       counts
		wantGauge string
		wantRead  bool
	}{
		{"counts read", counts{n: map[string]int64{"failed": 3}}, `leadbridge_submissions{status="failed"} 3`, true},
		{"source fails", counts{err: errors.New("redis: connection refused")}, "", false},
		{"source hangs and ignores its context", counts{hang: hang}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := scrape(t, tc.src)
			if code != http.StatusOK {
				t.Fatalf("status: got %d, want 200:\n%s", code, body)
			}
			if tc.wantGauge != "" && !strings.Contains(body, tc.wantGauge) {
				t.Errorf("page lacks %s:\n%s", tc.wantGauge, body)
			}
			if tc.wantGauge == "" && strings.Contains(body, "leadbridge_submissions{") {
				t.Errorf("page shows counts it could not read:\n%s", body)
			}
			never := strings.Contains(body, "leadbridge_submissions_last_read_timestamp_seconds 0\n")
			if !strings.Contains(body, "leadbridge_submissions_last_read_timestamp_seconds ") || never == tc.wantRead {
				t.Errorf("last read timestamp: want it set = %v:\n%s", tc.wantRead, body)
			}
		})
	}
}
