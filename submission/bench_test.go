package submission

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
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

// BenchmarkCreateWith is intake's one Redis call (a record with an email,
// an idempotency key, the waiting cap and a queue task shaped as asynq's),
// everysec AOF as the stack runs it. It reports the CPU redis-server spent
// per call (INFO cpu), which moves less with the machine's other load than
// the time does.
func BenchmarkCreateWith(b *testing.B) {
	rs := testenv.StartRedis(b)
	rdb := rs.Client()
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "appendfsync", "everysec").Err(); err != nil {
		b.Fatal(err)
	}
	s := NewStore(rdb, retention)
	o := CreateOptions{Entry: benchEntry, WaitingCap: 1e9}
	b.ReportAllocs()
	cpu0 := redisCPUSeconds(b, rs)
	i := 0
	for b.Loop() {
		i++
		r := &Record{Form: "demo", Source: "form", IdempotencyKey: NewID(), ClientIP: "127.0.0.1", UserAgent: "Go-http-client/1.1",
			Fields: map[string]string{"first_name": "Ann", "last_name": "Lee", "email": fmt.Sprintf("ann%d@example.com", i), "company": "Contoso"}}
		if _, err := s.CreateWith(ctx, r, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((redisCPUSeconds(b, rs)-cpu0)*1e6/float64(b.N), "redis-cpu-us/op")
}

// benchEntry is a queue task shaped as asynq's, for the benchmarks.
func benchEntry(r *Record) *QueueEntry {
	q := "deliver:" + r.Origin()
	return &QueueEntry{
		Key:    "asynq:{" + q + "}:t:" + r.ID,
		Fields: []string{"msg", string(make([]byte, 120)), "state", "pending", "pending_since", "1764680000000000000"},
		List:   "asynq:{" + q + "}:pending", Push: r.ID, Set: "asynq:queues", Member: q,
	}
}

func redisCPUSeconds(b *testing.B, rs *testenv.Redis) float64 {
	b.Helper()
	info, err := rs.Client().InfoMap(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	user, _ := strconv.ParseFloat(info["CPU"]["used_cpu_user"], 64)
	sys, _ := strconv.ParseFloat(info["CPU"]["used_cpu_sys"], 64)
	return user + sys
}

// BenchmarkCreateWithConcurrent is BenchmarkCreateWith from 32 goroutines,
// as intake's requests call it, with the calls sent together (createBatch)
// and one at a time. It reports the CPU of redis-server and of this process
// per call, and how many calls a round trip carried.
func BenchmarkCreateWithConcurrent(b *testing.B) {
	for _, batched := range []bool{true, false} {
		b.Run(fmt.Sprintf("batched=%v", batched), func(b *testing.B) {
			rs := testenv.StartRedis(b)
			rdb := rs.Client()
			ctx := context.Background()
			if err := rdb.ConfigSet(ctx, "appendfsync", "everysec").Err(); err != nil {
				b.Fatal(err)
			}
			trips := testenv.CountRoundTrips(rdb)
			s := NewStore(rdb, retention)
			if !batched {
				s.batch = nil
			}
			o := CreateOptions{Entry: benchEntry, WaitingCap: 1e9}
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(16)
			cpu0, self0 := redisCPUSeconds(b, rs), selfCPUSeconds()
			trips.Store(0)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					r := &Record{Form: "demo", Source: "form", IdempotencyKey: NewID(), ClientIP: "127.0.0.1", UserAgent: "Go-http-client/1.1",
						Fields: map[string]string{"first_name": "Ann", "last_name": "Lee", "email": fmt.Sprintf("ann%d@example.com", i), "company": "Contoso"}}
					if _, err := s.CreateWith(ctx, r, o); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric((redisCPUSeconds(b, rs)-cpu0)*1e6/float64(b.N), "redis-cpu-us/op")
			b.ReportMetric((selfCPUSeconds()-self0)*1e6/float64(b.N), "self-cpu-us/op")
			b.ReportMetric(float64(b.N)/float64(trips.Load()), "calls/trip")
		})
	}
}

// selfCPUSeconds is the CPU time this process has used, user and system.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
