package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/lease"
)

// TestReleaseDuringAnOutageFreesTheKeyOnceRedisIsBack: a release that
// Redis does not take (it is down: a crash, a failover) is tried again, so
// the next holder gets the key as soon as Redis is back — not only after
// the ttl (an hour here, longer than the test may wait).
func TestReleaseDuringAnOutageFreesTheKeyOnceRedisIsBack(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	first := lease.New(r.Client(), "test:lease", time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held, err := first.Acquire(ctx, "lead:email:ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	r.Kill()
	if err := held.Release(ctx); err == nil || errors.Is(err, lease.ErrLost) {
		t.Fatalf("Release with Redis down: got %v, want a Redis error", err)
	}
	r.Start() // the AOF kept the lease
	if _, err := lease.New(r.Client(), "test:lease", time.Hour).Acquire(ctx, "lead:email:ann@example.com"); err != nil {
		t.Fatalf("Acquire after Redis came back: %v (the first holder's release was not retried)", err)
	}
}
