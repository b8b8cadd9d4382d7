package testenv

import (
	"context"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// CountRoundTrips adds a hook to rdb that counts what it sends to Redis:
// each command, and each pipeline, is one round trip.
func CountRoundTrips(rdb redis.UniversalClient) *atomic.Int32 {
	var n atomic.Int32
	rdb.AddHook(roundTrips{&n})
	return &n
}

type roundTrips struct{ n *atomic.Int32 }

func (roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}
