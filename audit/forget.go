package audit

import (
	"context"
	"fmt"
)

// Forget deletes the entries for which match is true, reading the whole log
// a thousand entries at a time, and returns how many it deleted; with apply
// false it only counts them. An admin's discard reason is free text and may
// name the person a submission was from: erasing that person removes such
// entries (the erasure's own entry says how many).
func (l *Log) Forget(ctx context.Context, match func(Entry) bool, apply bool) (int, error) {
	n, start := 0, "-"
	for {
		msgs, err := l.rdb.XRangeN(ctx, key, start, "+", 1000).Result()
		if err != nil {
			return n, fmt.Errorf("audit: forget: %w", err)
		}
		var drop []string
		for _, m := range msgs {
			if match(entryOf(m)) {
				drop = append(drop, m.ID)
			}
		}
		if len(drop) > 0 && apply {
			if err := l.rdb.XDel(ctx, key, drop...).Err(); err != nil {
				return n, fmt.Errorf("audit: forget: %w", err)
			}
		}
		n += len(drop)
		if len(msgs) < 1000 {
			return n, nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}
