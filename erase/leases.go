package erase

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// forgetLeases deletes the delivery leases, and their fencing counters,
// whose key match is true for, and returns how many Redis keys it deleted
// (with apply false, how many it would). Lease keys name a person (an
// address, a phone number), so an erasure must remove them; a holder whose
// lease goes loses it at its next renewal and its work is cancelled.
//
// The names follow package lease's layout — "<prefix>:{<key>}" holds the
// lease, "<prefix>:{<key>}:fence" its fencing counter — read here rather
// than through package lease, which the API (whose admin console erases)
// must not link: it belongs to the delivery side. TestEraseLeavesNoTrace-
// AndOthersIntact takes its leases with package lease, so a change of
// layout there fails it. Keys are found with SCAN on every primary.
func forgetLeases(ctx context.Context, rdb redis.UniversalClient, prefix string, match func(string) bool, apply bool) (int, error) {
	n := 0
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, prefix+":{*", 500).Iterator()
		for iter.Next(ctx) {
			name := iter.Val()
			inner, ok := strings.CutPrefix(name, prefix+":{")
			if !ok {
				continue
			}
			key, ok := strings.CutSuffix(strings.TrimSuffix(inner, ":fence"), "}")
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
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		one := make(chan struct{}, 1) // one primary at a time: n is shared
		err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			one <- struct{}{}
			defer func() { <-one }()
			return scan(ctx, m)
		})
	} else {
		err = scan(ctx, rdb)
	}
	if err != nil {
		return n, fmt.Errorf("erase: leases: %w", err)
	}
	return n, nil
}
