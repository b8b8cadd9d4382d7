package throttle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// What the tests look at that production code does not need: the fleet's
// shared state, read back.

// Throttled reports how long the fleet must still wait before sending (0 if
// it may send now). It returns a Redis error (wrapped)
// if the shared state cannot be read.
func (l *Limiter) Throttled(ctx context.Context) (time.Duration, error) {
	ms, err := l.rdb.HGet(ctx, l.keys[1], "until").Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("throttle: read state: %w", err)
	}
	until := time.UnixMilli(ms)
	if local := l.localUntil(); local.After(until) {
		until = local
	}
	return max(until.Sub(l.now()), 0), nil
}

// Cap reports how many requests the fleet may have in flight now. It returns
// a Redis error (wrapped) if the shared state cannot be read.
func (l *Limiter) Cap(ctx context.Context) (int, error) {
	c, err := l.rdb.HGet(ctx, l.keys[1], "cap").Int()
	switch {
	case errors.Is(err, redis.Nil):
		c = 1
	case err != nil:
		return 0, fmt.Errorf("throttle: read state: %w", err)
	}
	return min(c, l.max), nil
}
