package lease

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Forget deletes the leases, and their fencing counters, of every key for
// which match is true (match is given the key as passed to Acquire), and
// returns how many Redis keys it deleted; with apply false it only counts
// them. Keys may name a person (an email address, a phone number), so
// erasing that person must remove them. A holder whose lease is deleted
// loses it at its next renewal, and its work's context is cancelled.
// The keys are found with SCAN on every primary: Forget is for rare
// administrative work, not for a delivery's path.
func (l *Locker) Forget(ctx context.Context, match func(key string) bool, apply bool) (int, error) {
	pattern := l.prefix + ":{*"
	n := 0
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			name := iter.Val()
			inner, ok := strings.CutPrefix(name, l.prefix+":{")
			if !ok {
				continue
			}
			inner = strings.TrimSuffix(inner, ":fence")
			key, ok := strings.CutSuffix(inner, "}")
			if !ok || !match(key) {
				continue
			}
			if apply {
				if err := c.Del(ctx, name).Err(); err != nil {
					return err
				}
			}
			n++
		}
		return iter.Err()
	}
	var err error
	if cc, ok := l.rdb.(*redis.ClusterClient); ok {
		mu := make(chan struct{}, 1)
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			mu <- struct{}{} // one primary at a time: n is shared
			defer func() { <-mu }()
			return scan(ctx, m)
		})
	} else {
		err = scan(ctx, l.rdb)
	}
	if err != nil {
		return n, fmt.Errorf("lease: forget: %w", err)
	}
	return n, nil
}
