package lease

import (
	"context"
	"fmt"
	"strconv"
)

// TryAcquire takes the lease on key if nobody holds it, without waiting:
// ok is false when another holder has it. A lease it returns behaves as one
// from Acquire. Errors are a Redis error (wrapped) or ctx's; the key is left
// out of them.
//
// Batched delivery uses it: a batch that cannot have one person's lease
// leaves that person to the one-at-a-time path, which waits, instead of
// holding a whole batch's leases while it waits for one.
func (l *Locker) TryAcquire(ctx context.Context, key string) (le *Lease, ok bool, err error) {
	holder, fence, channel := l.keys(key)
	res, err := acquireScript.Run(ctx, l.rdb, []string{holder, fence},
		l.ttl.Milliseconds(), fenceTTL.Milliseconds()).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("lease: acquire: %w", err)
	}
	if took, _ := res[0].(int64); took != 1 {
		return nil, false, nil
	}
	s, _ := res[1].(string)
	token, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, false, fmt.Errorf("lease: acquire: bad token %q", s)
	}
	return l.start(ctx, holder, channel, token), true, nil
}
