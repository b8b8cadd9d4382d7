package audit

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// TrimBefore deletes the entries written before t (the retention of the
// audit log; MaxEntries caps it as well) and returns how many.
func (l *Log) TrimBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := l.rdb.XTrimMinID(ctx, key, strconv.FormatInt(t.UnixMilli(), 10)+"-0").Result()
	if err != nil && err != redis.Nil {
		return 0, fmt.Errorf("audit: trim: %w", err)
	}
	return n, nil
}
