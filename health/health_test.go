package health_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/leadbridge/leadbridge/health"
)

func TestReadinessSaysOnlyWhetherRedisAnswers(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up 1\n") })
	for _, tc := range []struct {
		name       string
		ping       func(context.Context) error
		path       string
		wantStatus int
		wantBody   string
	}{
		{"alive whatever Redis does", func(context.Context) error { return errors.New("down") }, "/healthz", 200, `{"status":"ok"}`},
		{"ready", func(context.Context) error { return nil }, "/readyz", 200, `{"status":"ok"}`},
		{"Redis refuses", func(context.Context) error { return errors.New("dial tcp 10.0.0.7:6379: connection refused") }, "/readyz", 503, `{"status":"unavailable"}`},
		{"Redis hangs and ping ignores its deadline", func(context.Context) error { <-hang; return nil }, "/readyz", 503, `{"status":"unavailable"}`},
		{"metrics", nil, "/metrics", 200, "up 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log strings.Builder
			h := health.New(tc.ping, metrics, slog.New(slog.NewTextHandler(&log, nil)))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.wantStatus || rec.Body.String() != tc.wantBody {
				t.Errorf("GET %s: got %d %s, want %d %s", tc.path, rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
			if tc.wantStatus == 503 && (rec.Header().Get("Retry-After") == "" || !strings.Contains(log.String(), "not ready")) {
				t.Errorf("503: Retry-After %q, log %q; want both set", rec.Header().Get("Retry-After"), log.String())
			}
		})
	}
}
