package lease

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// What the tests look at that production code does not need.

// Token returns the lease's fencing token.
func (le *Lease) Token() int64 { return le.token }

var checkScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return 1
`)

// Check returns nil if the lease is still held, ErrLost if not, or a Redis
// error.
func (le *Lease) Check(ctx context.Context) error {
	held, err := checkScript.Run(ctx, le.rdb, []string{le.holder}, le.tokenString()).Int()
	if err != nil {
		return fmt.Errorf("lease: check: %w", err)
	}
	if held != 1 {
		return ErrLost
	}
	return nil
}
