package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/metrics"
)

func TestBacklogAndDataverseGauges(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	oldest := time.Now().Add(-90 * time.Second)
	throttled := time.Unix(2000000000, 0)
	cases := []struct {
		name          string
		ping          func(context.Context) error
		backlog       metrics.BacklogFunc
		dataverse     metrics.DataverseFunc
		want, missing []string
	}{
		{
			name:    "read",
			ping:    func(context.Context) error { return nil },
			backlog: func(context.Context) (int64, time.Time, error) { return 7, oldest, nil },
			dataverse: func(context.Context) (metrics.DataverseState, error) {
				return metrics.DataverseState{ThrottledUntil: throttled}, nil
			},
			want: []string{"leadbridge_redis_up 1", "leadbridge_waiting_submissions 7", "leadbridge_oldest_waiting_seconds 9",
				"leadbridge_dataverse_throttled_until_timestamp_seconds 2e+09", "leadbridge_dataverse_last_ok_timestamp_seconds 0"},
		},
		{
			name:      "nothing waits",
			ping:      func(context.Context) error { return nil },
			backlog:   func(context.Context) (int64, time.Time, error) { return 0, time.Time{}, nil },
			dataverse: func(context.Context) (metrics.DataverseState, error) { return metrics.DataverseState{}, nil },
			want:      []string{"leadbridge_waiting_submissions 0", "leadbridge_oldest_waiting_seconds 0"},
		},
		{
			name:    "redis refuses",
			ping:    func(context.Context) error { return errors.New("down") },
			backlog: func(context.Context) (int64, time.Time, error) { return 0, time.Time{}, errors.New("down") },
			dataverse: func(context.Context) (metrics.DataverseState, error) {
				return metrics.DataverseState{}, errors.New("down")
			},
			want:    []string{"leadbridge_redis_up 0"},
			missing: []string{"leadbridge_waiting_submissions", "leadbridge_oldest_waiting_seconds", "leadbridge_dataverse_"},
		},
		{
			name:      "redis hangs",
			ping:      func(context.Context) error { <-hang; return nil },
			backlog:   func(context.Context) (int64, time.Time, error) { <-hang; return 1, oldest, nil },
			dataverse: func(context.Context) (metrics.DataverseState, error) { <-hang; return metrics.DataverseState{}, nil },
			want:      []string{"leadbridge_redis_up 0"},
			missing:   []string{"leadbridge_waiting_submissions", "leadbridge_dataverse_"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := metrics.Registry()
			metrics.RegisterRedisUp(reg, c.ping)
			metrics.RegisterBacklog(reg, c.backlog)
			metrics.RegisterDataverse(reg, c.dataverse)
			rec := httptest.NewRecorder()
			metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			for _, w := range c.want {
				if !strings.Contains(body, "\n"+w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, m := range c.missing {
				if strings.Contains(body, "\n"+m) {
					t.Errorf("the page has %s, which could not be read", m)
				}
			}
		})
	}
}
