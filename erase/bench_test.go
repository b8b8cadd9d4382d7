package erase_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leadbridge/leadbridge/erase"
	"github.com/leadbridge/leadbridge/internal/testenv"
	"github.com/leadbridge/leadbridge/queue"
	"github.com/leadbridge/leadbridge/submission"
)

// BenchmarkEraseAmong10000 is one erasure (a dry run, so that every round
// does the same work) among 10,000 other people's submissions: the cost is
// reading every record once.
func BenchmarkEraseAmong10000(b *testing.B) {
	ctx := context.Background()
	r := testenv.StartRedis(b)
	rdb := r.Client()
	rdb.ConfigSet(ctx, "appendfsync", "no")
	store := submission.NewStore(rdb, time.Hour)
	for i := range 10_000 {
		rec := &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{
			"email": fmt.Sprintf("person%d@example.com", i), "last_name": "Someone", "phone": fmt.Sprintf("+1 555 %07d", i), "message": "Hello, please call me back."}}
		if _, err := store.Create(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := store.Create(ctx, &submission.Record{Form: "demo", Source: "form", Fields: map[string]string{"email": "ann@example.com"}}); err != nil {
		b.Fatal(err)
	}
	e := erase.New(rdb, store, queue.NewClient(rdb))
	b.ResetTimer()
	for b.Loop() {
		rep, err := e.Erase(ctx, erase.Person{Email: "ann@example.com", Phone: "555 000 1234"}, true)
		if err != nil || rep.Total() != 2 {
			b.Fatalf("%v %v", rep, err)
		}
	}
}
