// Package health serves what both programs answer to their operators:
// GET /healthz (the process is up), GET /readyz (its Redis answers) and
// GET /metrics (Prometheus). The API mounts it on its router, the worker
// serves it on its own port.
package health

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// readyTimeout bounds a readiness check: a Redis that does not answer
// within it is not ready, and the probe gets its answer in time.
const readyTimeout = 2 * time.Second

// New returns the handler of /healthz, /readyz and /metrics. ping checks
// Redis; it gets a context with a deadline, but /readyz answers when the
// deadline passes even if ping does not return. The reason a check failed
// goes to log, never to the anonymous caller.
func New(ping func(context.Context) error, metrics http.Handler, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := check(r.Context(), ping); err != nil {
			log.Warn("not ready: redis did not answer", "err", err)
			w.Header().Set("Retry-After", "5")
			reply(w, http.StatusServiceUnavailable, `{"status":"unavailable"}`)
			return
		}
		reply(w, http.StatusOK, `{"status":"ok"}`)
	})
	mux.Handle("GET /metrics", metrics)
	return mux
}

// check runs ping with readyTimeout and stops waiting when that passes.
func check(ctx context.Context, ping func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ping(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
