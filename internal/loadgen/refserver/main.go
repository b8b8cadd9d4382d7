// Command refserver is the reference server of `make bench`'s intake
// measurement (package loadgen's Reference): POST any path, the body is
// pushed onto a Redis list with one LPUSH and answered 202. It reads the
// same variables as cmd/api, so that one environment starts either:
//
//	LEADBRIDGE_ADDR=127.0.0.1:8099 LEADBRIDGE_REDIS_URL=redis://127.0.0.1:6379/0 refserver
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/internal/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "refserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	addr := cmp.Or(getenv("LEADBRIDGE_ADDR"), "127.0.0.1:8099")
	opt, err := redis.ParseURL(cmp.Or(getenv("LEADBRIDGE_REDIS_URL"), "redis://127.0.0.1:6379/0"))
	if err != nil {
		return fmt.Errorf("LEADBRIDGE_REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("LEADBRIDGE_ADDR: %w", err)
	}
	// The same server timeouts as cmd/api's.
	srv := &http.Server{
		Handler:           loadgen.Reference(rdb, 64<<10),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintln(stdout, "refserver listening on", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
