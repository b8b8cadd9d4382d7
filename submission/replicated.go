package submission

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated: fewer replicas than asked for confirmed the writes in
// time. The writes are on the primary, and may yet reach the replicas; but
// a failover now could lose them.
var ErrNotReplicated = errors.New("submission: not confirmed by enough replicas in time")

// keySync is written by Replicated so that its connection has a write to
// wait for (WAIT counts from the connection's last write).
const keySync = "{lb}:sync"

// Replicated waits until record id — and every write the primary took
// before this call, such as the queued task of id on a Sentinel-managed
// primary — has reached at least replicas replicas, for at most timeout
// (Redis WAIT). Asynchronous replication otherwise lets a failover lose
// writes the old primary acknowledged but had not yet passed on.
//
// It returns ErrNotReplicated when fewer replicas confirm in time, and
// ErrNotFound when the primary does not hold the record (it was written to
// a primary that has failed over since, and is lost, or it has expired).
func (s *Store) Replicated(ctx context.Context, id string, replicas int, timeout time.Duration) error {
	key := keyRecord + id
	// WAIT is about the connection it is sent on: the check, the write and
	// the WAIT go down one connection, as one pipeline, to the primary
	// that serves the record's slot.
	var node redis.Cmdable = s.rdb
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		m, err := c.MasterForKey(ctx, key)
		if err != nil {
			return fmt.Errorf("submission: replicated: %w", err)
		}
		node = m
	}
	var exists *redis.IntCmd
	var acked *redis.Cmd
	_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
		exists = p.Exists(ctx, key)
		p.Incr(ctx, keySync)
		// (WAIT is not among a pipeline's typed commands.)
		acked = p.Do(ctx, "WAIT", replicas, timeout.Milliseconds())
		return nil
	})
	if err != nil {
		return fmt.Errorf("submission: replicated: %w", err)
	}
	if exists.Val() == 0 {
		return ErrNotFound
	}
	if n, _ := acked.Int64(); n < int64(replicas) {
		return fmt.Errorf("%w: %d of %d replicas within %s", ErrNotReplicated, n, replicas, timeout)
	}
	return nil
}
