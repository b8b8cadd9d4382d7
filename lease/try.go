package lease

import (
	"context"
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
	took, token, err := l.tryOnce(ctx, holder, fence)
	if err != nil || !took {
		return nil, false, err
	}
	return l.start(ctx, holder, channel, token), true, nil
}
