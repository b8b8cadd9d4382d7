package delivery

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// HoldWhileRedisDown keeps a finished task from handing its end back to
// asynq while Redis does not answer — a failover, a restart — and waits
// until it does, for at most wait (or until the task's context ends).
//
// Once a handler returns, asynq moves the task out of its active list
// (done, or retry). If Redis is unreachable at that moment, asynq v0.26.0
// gives up on the move (its syncer retries with a context that is already
// cancelled), and the task stays "active" until its lease has been expired
// for 30 s and the recoverer, which runs once a minute, finds it: a
// delivery held up for one to two minutes by an outage of a few seconds.
// Waiting here, the move happens as soon as Redis is back. wait should stay
// under asynq's 30 s lease, which is not extended while Redis is away.
func HoldWhileRedisDown(ping func(context.Context) error, wait time.Duration) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			err := next.ProcessTask(ctx, t)
			deadline := time.Now().Add(wait)
			pause := 50 * time.Millisecond
			for !answers(ctx, ping) && time.Now().Add(pause).Before(deadline) {
				timer := time.NewTimer(pause)
				select {
				case <-ctx.Done():
					timer.Stop()
					return err
				case <-timer.C:
				}
				pause = min(2*pause, time.Second)
			}
			return err
		})
	}
}

// answers reports whether ping succeeds within a second.
func answers(ctx context.Context, ping func(context.Context) error) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return ping(ctx) == nil
}

// PingRedis is the probe for HoldWhileRedisDown: a PING to the primary, or
// on Redis Cluster to every primary — a queue lives on the primary of its
// slot, which need not be the one a plain PING reaches.
func PingRedis(rdb redis.UniversalClient) func(context.Context) error {
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return func(ctx context.Context) error {
			return c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.Ping(ctx).Err() })
		}
	}
	return func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
}
