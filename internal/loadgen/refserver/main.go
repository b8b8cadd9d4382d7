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
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/leadbridge/leadbridge/internal/loadgen"
	"github.com/leadbridge/leadbridge/internal/serve"
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
	// The same server as cmd/api's.
	srv := serve.NewServer(loadgen.Reference(rdb, 64<<10))
	fmt.Fprintln(stdout, "refserver listening on", ln.Addr())
	return serve.Run(ctx, srv, ln, 5*time.Second)
}
