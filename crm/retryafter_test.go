package crm

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, header string
		want         time.Duration
		ok           bool
	}{
		{"whole seconds", "12", 12 * time.Second, true},
		{"fraction", "0.5", 500 * time.Millisecond, true},
		{"fraction above one", "12.3", 12300 * time.Millisecond, true},
		{"zero", "0", 0, true},
		{"spaces", " 3 ", 3 * time.Second, true},
		{"HTTP-date", now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{"HTTP-date in the past", now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"absurd seconds capped", "86400", MaxRetryAfter, true},
		{"absurd HTTP-date capped", now.Add(48 * time.Hour).Format(http.TimeFormat), MaxRetryAfter, true},
		{"absent", "", 0, false},
		{"negative", "-1", 0, false},
		{"not a number", "soon", 0, false},
		{"NaN", "NaN", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseRetryAfter(tc.header, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.ok)
			}
		})
	}
}
