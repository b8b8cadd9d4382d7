package submission

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/internal/testenv"
)

// BenchmarkReplicated is what LEADBRIDGE_REDIS_WAIT_REPLICAS=1 adds to a
// submission: Create alone, then Create and Replicated (an extra write and
// a WAIT for the replica), one after the other and from 16 goroutines, with
// the AOF fsynced on every write and once a second.
func BenchmarkReplicated(b *testing.B) {
	primary := testenv.StartRedis(b)
	replica := testenv.StartReplica(b, primary)
	s := NewStore(primary.Client(), retention)
	ctx := context.Background()
	create := func(b *testing.B, wait bool) {
		r := &Record{Form: "demo", Fields: map[string]string{"email": "ann@example.com", "last_name": "Lee"}}
		if _, err := s.Create(ctx, r); err != nil {
			b.Fatal(err)
		}
		if wait {
			if err := s.Replicated(ctx, r.ID, 1, time.Second); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, fsync := range []string{"always", "everysec"} {
		for _, n := range []*testenv.Redis{primary, replica} {
			if err := n.Client().ConfigSet(ctx, "appendfsync", fsync).Err(); err != nil {
				b.Fatal(err)
			}
		}
		for _, wait := range []bool{false, true} {
			name := fmt.Sprintf("fsync=%s/wait=%v", fsync, wait)
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					create(b, wait)
				}
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				b.SetParallelism(8)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						create(b, wait)
					}
				})
			})
		}
	}
}
