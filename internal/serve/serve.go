// Package serve runs leadbridge's HTTP servers: the timeouts they share,
// and serving until the process is told to stop.
package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// NewServer is an http.Server for h with the API's timeouts and header
// limit: a slow or stalled client cannot hold a connection for long.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// Run serves srv on ln until ctx ends or serving fails; then it shuts srv
// down, letting requests in flight finish for up to grace.
func Run(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
